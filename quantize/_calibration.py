"""Calibration text for GPTQ: the prompts the quantized judge will actually read.

GPTQ picks each layer's rounding to preserve the activations of its calibration text, so a judge is best
calibrated on judge prompts in its own format, not on web text. The demo data (assets/demo: 20 instructions
answered by 3 models, and 12 labelled pairs) is rendered with judgedesk's own formats: every pair in both orders
for pairwise formats, every response on its own for grading formats. The order is fixed, so the same judge and
format always get the same calibration set.
"""

from __future__ import annotations

from typing import Any

from judgedesk.core import InputError, demo_data_path, get_format, render_chat
from judgedesk.core.datasets import load_dataset
from judgedesk.core.formats import JudgeFormat, JudgePrompt, PromptFields, Task

__all__ = ["calibration_prompts"]

_PAIRS_FILE = "pairs.jsonl"


def calibration_prompts(fmt: str = "pandalm", *, count: int = 256, tokenizer: Any = None,
                        lang: str = "en") -> list[str]:
    """Up to `count` judge prompts of format `fmt`, rendered from the demo data, in a fixed order.

    Pairwise formats get each pair in both orders (A first, then B first); grading formats each response alone;
    formats that do both get both. With more prompts than `count`, an evenly spaced subset is kept.
    tokenizer: a Hugging Face tokenizer; chat formats (generic, prometheus) are wrapped in its chat template, as
        the judge will see them. Without one (or without a template) the system and user texts are joined plainly.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError(f"count must be a whole number of at least 1, not {count!r}", field="count")
    judge_format = get_format(fmt)
    if lang not in judge_format.languages:
        raise InputError(f"format {fmt!r} has no {lang!r} prompt (languages: "
                         f"{', '.join(sorted(judge_format.languages))})", field="lang")
    root = demo_data_path()
    datasets = [load_dataset(root), load_dataset(root / _PAIRS_FILE)]
    fields: list[tuple[Task, PromptFields]] = []
    if "pairwise" in judge_format.tasks:
        for dataset in datasets:
            for task in dataset.pairs:
                item = task.item
                first, second = item.responses
                if not (first.strip() or second.strip()):
                    continue
                for shown in ((first, second), (second, first)):
                    fields.append(("pairwise", PromptFields(instruction=item.instruction, responses=shown,
                                                            input=item.input, reference=item.reference)))
    if "single" in judge_format.tasks:
        for dataset in datasets:
            for grade in dataset.grades:
                item = grade.item
                if item.responses[0].strip():
                    fields.append(("single", PromptFields(instruction=item.instruction, responses=item.responses,
                                                          input=item.input, reference=item.reference)))
    if len(fields) > count:
        fields = [fields[index * len(fields) // count] for index in range(count)]
    return [_render(judge_format, judge_format.prompt(task, f, lang), tokenizer) for task, f in fields]


def _render(judge_format: JudgeFormat, prompt: JudgePrompt, tokenizer: Any) -> str:
    """The prompt as one text, prefill included, wrapped in the tokenizer's chat template for chat formats."""
    if not prompt.chat:
        return f"{prompt.user}{prompt.prefill}"
    template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if isinstance(template, dict):
        template = template.get("default")
    if not isinstance(template, str):
        head = f"{prompt.system}\n\n" if prompt.system else ""
        return f"{head}{prompt.user}{prompt.prefill}"
    segments = render_chat(template, prompt.system, prompt.user, bos_token=tokenizer.bos_token or "",
                           eos_token=tokenizer.eos_token or "",
                           model_name=str(getattr(tokenizer, "name_or_path", "") or judge_format.name))
    return f"{''.join(segment.text for segment in segments)}{prompt.prefill}"
