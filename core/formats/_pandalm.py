"""PandaLM (WeOpenML/PandaLM): pairwise, verdict first, raw completion without a chat wrapper.

Output: `{result}\\n\\n### Reason: {reason}\\n\\n### Reference: {reference}\\n` with result `1`, `2` or `Tie`.
PandaLM's own parser maps anything unrecognised to a tie; judgedesk does not: such output is unparsed.
"""

from __future__ import annotations

import re

from ._base import JudgePrompt, OutputSpec, ParsedGrade, ParsedVerdict, PromptFields, Task
from ._published import PANDALM_WITH_INPUT, PANDALM_WITHOUT_INPUT

__all__ = ["PandaLMFormat", "clean_pandalm_response"]

# PandaLM strips these special-token strings from each response before formatting (pandalm_inference.py).
_SPECIAL_STRINGS = (
    "<unk>", "<pad>", "<s>", "</s>", "[PAD]", "<|endoftext|>", "[UNK]", "[CLS]", "[MASK]",
    "<|startofpiece|>", "<|endofpiece|>", "[gMASK]", "[sMASK]",
)
_RESULTS = {"1": "1", "2": "2", "tie": "tie"}
# One pass over all strings, as PandaLM's own re.sub does, so nested strings like "<<s>/s>" come out the same.
_SPECIAL_PATTERN = re.compile("|".join(re.escape(s) for s in _SPECIAL_STRINGS))
_REST_GRAMMAR = (
    'rest ::= "\\n\\n### Reason: " line "\\n\\n### Reference: " line "\\n"\n'
    "line ::= [^\\n]+\n"
)
_EVALUATION_HEADER = "### Evaluation:"


def clean_pandalm_response(text: str) -> str:
    """PandaLM's response clean-up: strip, remove special-token strings, strip again."""
    return _SPECIAL_PATTERN.sub("", text.strip()).strip()


class PandaLMFormat:
    """PandaLM-7B's pairwise format."""

    name = "pandalm"
    description = "PandaLM-7B: pairwise, verdict first (1 / 2 / Tie), reason and reference answer"
    tasks: frozenset[Task] = frozenset({"pairwise"})
    languages = frozenset({"en"})
    uses_chat_template = False
    takes_rubric = False
    has_tie = True
    takes_conversation = False

    def prompt(self, task: Task, fields: PromptFields, lang: str) -> JudgePrompt:
        first, second = (clean_pandalm_response(r) for r in fields.responses)
        if fields.input:  # PandaLM: `if input:`
            text = PANDALM_WITH_INPUT.format(instruction=fields.instruction, input=fields.input,
                                             response1=first, response2=second)
        else:
            text = PANDALM_WITHOUT_INPUT.format(instruction=fields.instruction, response1=first, response2=second)
        return JudgePrompt(user=text)

    def output(self, task: Task, lang: str) -> OutputSpec:
        return OutputSpec(verdict_first=True, options={"1": "1", "2": "2", "tie": "Tie"},
                          rest_grammar=_REST_GRAMMAR, max_tokens=512)

    def parse_pairwise(self, text: str, lang: str) -> ParsedVerdict:
        # The verdict is positional: the first line of the evaluation. Only when the output does not open with one
        # (the judge echoed the prompt) is the text after the LAST evaluation header read, so neither an echoed
        # header nor a header inside the reason can replace the verdict the judge wrote first.
        body = text.lstrip()
        if _first_line_result(body) is None and _EVALUATION_HEADER in body:
            body = body.rsplit(_EVALUATION_HEADER, 1)[-1].lstrip()
        result = _first_line_result(body)
        if result is None:
            first_line = body.split("\n", 1)[0].strip()
            return ParsedVerdict(winner=None, problem=f"the first line is {first_line[:40]!r}, not 1, 2 or Tie")
        reason = _section(body, "### Reason:", "### Reference:")
        reference = _section(body, "### Reference:", None)
        return ParsedVerdict(winner=result, reason=reason, reference=reference)  # type: ignore[arg-type]

    def parse_grade(self, text: str, lang: str) -> ParsedGrade:
        return ParsedGrade(score=None, problem="PandaLM does not grade single responses")

    def template_texts(self) -> tuple[str, ...]:
        return (PANDALM_WITH_INPUT, PANDALM_WITHOUT_INPUT, _REST_GRAMMAR, *_SPECIAL_STRINGS)


def _first_line_result(body: str) -> str | None:
    return _RESULTS.get(body.split("\n", 1)[0].strip().lower())


def _section(body: str, start: str, end: str | None) -> str | None:
    index = body.find(start)
    if index < 0:
        return None
    rest = body[index + len(start):]
    if end is not None:
        rest = re.split(re.escape(end), rest, maxsplit=1)[0]
    return rest.strip() or None
