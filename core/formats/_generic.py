"""The generic format: any instruct model through its own chat template, with a rubric the user can edit.

The verdict is a small JSON object written winner first, then the reason, so the winner can be read from one
forward pass and a grammar makes the object certain. The answer is prefilled up to the winner's value.
"""

from __future__ import annotations

import json
import re

from ._base import JudgePrompt, OutputSpec, ParsedGrade, ParsedVerdict, PromptFields, Task

__all__ = ["DEFAULT_GENERIC_RUBRIC", "GenericFormat"]

DEFAULT_GENERIC_RUBRIC = (
    "Prefer the response that follows the instruction, is correct, relevant, complete and clearly written. "
    "Do not let the order of the responses, their length or their style decide."
)
PAIRWISE_SYSTEM = (
    "You are an impartial judge. You compare two responses to the same task and decide which one is better, "
    "or whether they are equally good.\n\nEvaluation criteria:\n{rubric}\n\n"
    'Answer with a JSON object only, with two keys: "winner" (one of "A", "B" or "tie"), then "reason" (why, '
    "in one or two sentences)."
)
PAIRWISE_USER = "[Instruction]\n{instruction}\n\n{input_block}[Response A]\n{a}\n\n[Response B]\n{b}"
SINGLE_SYSTEM = (
    "You are an impartial judge. You grade a response to a task on a scale of 1 (worst) to 10 (best).\n\n"
    "Evaluation criteria:\n{rubric}\n\n"
    'Answer with a JSON object only, with two keys: "score" (an integer from 1 to 10), then "critique" (why, '
    "in one or two sentences)."
)
SINGLE_USER = "[Instruction]\n{instruction}\n\n{input_block}[Response]\n{response}"
_STRING_GRAMMAR = 'chars ::= ([^"\\\\\\n] | "\\\\" ["\\\\/nt])*\n'
_PAIRWISE_REST = 'rest ::= "\\", \\"reason\\": \\"" chars "\\"}"\n' + _STRING_GRAMMAR
_SINGLE_REST = 'rest ::= ("10" | [1-9]) ", \\"critique\\": \\"" chars "\\"}"\n' + _STRING_GRAMMAR
_PAIRWISE_PREFILL = '{"winner": "'
_SINGLE_PREFILL = '{"score": '
_WINNER_KEY = re.compile(r'"winner"\s*:\s*')
_WINNER_VALUE = re.compile(r'"(A|B|tie|Tie|TIE)(?:"|$)')
_SCORE_KEY = re.compile(r'"score"\s*:\s*')
_SCORE_VALUE = re.compile(r'"?(\d{1,3}(?:\.\d{1,3})?)')


def _input_block(fields: PromptFields) -> str:
    return f"[Input]\n{fields.input}\n\n" if fields.input.strip() else ""


def _json_string_after(text: str, key: str) -> str | None:
    """The value of `"key": "..."` in possibly unterminated JSON (the output may be cut by the token budget)."""
    match = re.search(rf'"{key}"\s*:\s*"((?:[^"\\]|\\.)*)', text)
    if match is None:
        return None
    body = match.group(1)
    try:
        value = json.loads(f'"{body}"')
    except json.JSONDecodeError:
        value = body
    return value.strip() or None


class GenericFormat:
    """Any instruct model as a judge, with an editable rubric and a JSON verdict."""

    name = "generic"
    description = "Any instruct GGUF: its own chat template, editable rubric, JSON verdict (winner first)"
    tasks: frozenset[Task] = frozenset({"pairwise", "single"})
    languages = frozenset({"en"})
    uses_chat_template = True
    takes_rubric = True
    has_tie = True
    takes_conversation = False

    def prompt(self, task: Task, fields: PromptFields, lang: str) -> JudgePrompt:
        rubric = fields.rubric or DEFAULT_GENERIC_RUBRIC
        if task == "pairwise":
            user = PAIRWISE_USER.format(instruction=fields.instruction, input_block=_input_block(fields),
                                        a=fields.responses[0], b=fields.responses[1])
            return JudgePrompt(user=user, system=PAIRWISE_SYSTEM.format(rubric=rubric), chat=True,
                               prefill=_PAIRWISE_PREFILL)
        user = SINGLE_USER.format(instruction=fields.instruction, input_block=_input_block(fields),
                                  response=fields.responses[0])
        return JudgePrompt(user=user, system=SINGLE_SYSTEM.format(rubric=rubric), chat=True, prefill=_SINGLE_PREFILL)

    def output(self, task: Task, lang: str) -> OutputSpec:
        if task == "pairwise":
            return OutputSpec(verdict_first=True, options={"1": "A", "2": "B", "tie": "tie"},
                              rest_grammar=_PAIRWISE_REST, max_tokens=512)
        return OutputSpec(verdict_first=True, options={}, rest_grammar=_SINGLE_REST, max_tokens=512, scale=(1, 10))

    def parse_pairwise(self, text: str, lang: str) -> ParsedVerdict:
        # The LAST "winner" key decides; if its value is malformed the output is unparsed, never an earlier one.
        keys = list(_WINNER_KEY.finditer(text))
        if not keys:
            return ParsedVerdict(winner=None, problem='no "winner": "A" / "B" / "tie"')
        value = _WINNER_VALUE.match(text, keys[-1].end())
        if value is None:
            return ParsedVerdict(winner=None, problem='the last "winner" is not "A", "B" or "tie"')
        winner = {"A": "1", "B": "2"}.get(value.group(1), "tie")
        return ParsedVerdict(winner=winner, reason=_json_string_after(text[value.end():], "reason"))  # type: ignore[arg-type]

    def parse_grade(self, text: str, lang: str) -> ParsedGrade:
        keys = list(_SCORE_KEY.finditer(text))
        if not keys:
            return ParsedGrade(score=None, problem='no "score": N')
        value = _SCORE_VALUE.match(text, keys[-1].end())
        if value is None:
            return ParsedGrade(score=None, problem='the last "score" is not a number')
        score = float(value.group(1))
        if not 1 <= score <= 10:
            return ParsedGrade(score=None, problem=f"score {score:g} is outside 1-10")
        return ParsedGrade(score=score, critique=_json_string_after(text[value.end():], "critique"))

    def template_texts(self) -> tuple[str, ...]:
        return (DEFAULT_GENERIC_RUBRIC, PAIRWISE_SYSTEM, PAIRWISE_USER, SINGLE_SYSTEM, SINGLE_USER, _PAIRWISE_REST,
                _SINGLE_REST, _PAIRWISE_PREFILL, _SINGLE_PREFILL)
