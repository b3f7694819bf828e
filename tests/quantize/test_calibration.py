"""Calibration prompts: the demo data rendered in a judge format, pairs in both orders, in a fixed order."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from judgedesk.core import FormatError, InputError, demo_data_path
from judgedesk.core.formats import DEFAULT_GENERIC_RUBRIC
from judgedesk.quantize._calibration import calibration_prompts

# assets/demo: 20 instructions x 3 models (3 pairs each) and 12 labelled pairs; 20 x 3 + 12 x 2 responses to grade.
PAIRS = 20 * 3 + 12
RESPONSES = 20 * 3 + 12 * 2


@dataclass
class _Tokenizer:
    """The three attributes calibration reads from a Hugging Face tokenizer."""

    chat_template: str
    bos_token: str = "<s>"
    eos_token: str = "</s>"
    name_or_path: str = "test-tokenizer"


CHATML = ("{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


def test_pairwise_format_gets_every_pair_in_both_orders():
    prompts = calibration_prompts("pandalm", count=1000)
    assert len(prompts) == 2 * PAIRS
    first_pair = json.loads((demo_data_path() / "pairs.jsonl").read_text(encoding="utf-8").splitlines()[0])
    a, b = first_pair["response_a"], first_pair["response_b"]
    shown = [p for p in prompts if first_pair["instruction"] in p]
    assert len(shown) == 2
    assert f"### Response 1:\n{a}\n\n### Response 2:\n{b}" in shown[0]
    assert f"### Response 1:\n{b}\n\n### Response 2:\n{a}" in shown[1]
    assert all(p.rstrip().endswith("### Evaluation:") for p in prompts)


def test_grading_formats_add_single_prompts_and_the_default_count_caps():
    assert len(calibration_prompts("generic", count=1000)) == 2 * PAIRS + RESPONSES
    assert len(calibration_prompts("prometheus", count=1000)) == 2 * PAIRS + RESPONSES
    assert len(calibration_prompts("autoj", count=1000, lang="zh")) == 2 * PAIRS + RESPONSES
    assert len(calibration_prompts("generic")) == 2 * PAIRS + RESPONSES  # 228, under the default 256
    assert len(calibration_prompts("pandalm")) == 2 * PAIRS


def test_count_keeps_an_evenly_spread_subset_in_the_same_order():
    everything = calibration_prompts("generic", count=1000)
    subset = calibration_prompts("generic", count=10)
    assert len(subset) == 10
    positions = [everything.index(p) for p in subset]
    assert positions == sorted(positions)
    assert positions[-1] >= len(everything) - len(everything) // 10 - 1  # grading prompts at the end are kept too
    assert calibration_prompts("generic", count=10) == subset


def test_chat_formats_use_the_tokenizers_template():
    plain = calibration_prompts("generic", count=3)
    assert plain[0].startswith("You are an impartial judge.") and DEFAULT_GENERIC_RUBRIC in plain[0]
    assert plain[0].endswith('{"winner": "')
    templated = calibration_prompts("generic", count=3, tokenizer=_Tokenizer(CHATML))
    assert templated[0].startswith("<s><|system|>\nYou are an impartial judge.")
    assert templated[0].endswith('<|end|>\n<|assistant|>\n{"winner": "')
    assert calibration_prompts("pandalm", count=3, tokenizer=_Tokenizer(CHATML)) == \
        calibration_prompts("pandalm", count=3)  # raw-completion formats never use a template


def test_bad_arguments_are_errors():
    with pytest.raises(InputError, match="count"):
        calibration_prompts("pandalm", count=0)
    with pytest.raises(FormatError, match="unknown judge format"):
        calibration_prompts("nonsense")
    with pytest.raises(InputError, match="no 'zh' prompt"):
        calibration_prompts("pandalm", lang="zh")
