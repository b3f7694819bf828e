"""Prometheus 2 (prometheus-eval): absolute grading (1-5) and relative grading (A / B), with a rubric.

Sent through the model's own chat template with the published system prompt. Outputs end with `[RESULT] n`
(absolute) or `[RESULT] A|B` (relative; Prometheus has no tie). The LAST `[RESULT]` is taken.
"""

from __future__ import annotations

import re

from ._base import JudgePrompt, OutputSpec, ParsedGrade, ParsedVerdict, PromptFields, Task
from ._published import (
    PROMETHEUS_ABS_SYSTEM,
    PROMETHEUS_ABSOLUTE,
    PROMETHEUS_ABSOLUTE_WO_REF,
    PROMETHEUS_REL_SYSTEM,
    PROMETHEUS_RELATIVE,
    PROMETHEUS_RELATIVE_WO_REF,
    PROMETHEUS_RUBRIC_TEMPLATE,
)

__all__ = ["DEFAULT_PROMETHEUS_RUBRIC", "PrometheusFormat"]

# judgedesk's default criteria, written in Prometheus's published rubric shape; users pass their own with --rubric.
DEFAULT_PROMETHEUS_RUBRIC = PROMETHEUS_RUBRIC_TEMPLATE.format(
    criteria="Does the response fulfil the instruction helpfully, correctly and completely?",
    score1_description="The response ignores the instruction, or is wrong or harmful.",
    score2_description="The response addresses the instruction only partly and has major errors or omissions.",
    score3_description="The response addresses the instruction with some errors or omissions.",
    score4_description="The response fulfils the instruction well, with minor issues.",
    score5_description="The response fulfils the instruction completely and correctly, clearly written.",
)
_RESULT = "[RESULT]"
_ABS_GRAMMAR = 'rest ::= " " [1-5]\n'
_REL_GRAMMAR = 'rest ::= ""\n'
_ABS_RESULT = re.compile(r"\[RESULT\]\s*\(?\s*(\d{1,3}(?:\.\d{1,3})?)")
_REL_RESULT = re.compile(r"\[RESULT\]\s*\(?\s*[\"']?(?:Response\s+)?(A|B)\b")


def _instruction(fields: PromptFields) -> str:
    # "An instruction (might include an Input inside it)": Prometheus reads the input as part of the instruction.
    return f"{fields.instruction}\n\n{fields.input}" if fields.input.strip() else fields.instruction


def _critique(text: str, end: int) -> str | None:
    critique = text[:end].strip()
    critique = critique.removeprefix("Feedback:").strip()
    return critique or None


class PrometheusFormat:
    """Prometheus-2-7B / 8x7B's absolute and relative grading."""

    name = "prometheus"
    description = "Prometheus 2: rubric-based 1-5 grading and A/B relative grading (no tie), chat template"
    tasks: frozenset[Task] = frozenset({"pairwise", "single"})
    languages = frozenset({"en"})
    uses_chat_template = True
    takes_rubric = True
    has_tie = False
    takes_conversation = False

    def prompt(self, task: Task, fields: PromptFields, lang: str) -> JudgePrompt:
        rubric = fields.rubric or DEFAULT_PROMETHEUS_RUBRIC
        instruction = _instruction(fields)
        if task == "pairwise":
            template = PROMETHEUS_RELATIVE if fields.reference else PROMETHEUS_RELATIVE_WO_REF
            user = template.format(instruction=instruction, response_A=fields.responses[0],
                                   response_B=fields.responses[1], reference_answer=fields.reference or "",
                                   rubric=rubric)
            return JudgePrompt(user=user, system=PROMETHEUS_REL_SYSTEM, chat=True)
        template = PROMETHEUS_ABSOLUTE if fields.reference else PROMETHEUS_ABSOLUTE_WO_REF
        user = template.format(instruction=instruction, response=fields.responses[0],
                               reference_answer=fields.reference or "", rubric=rubric)
        return JudgePrompt(user=user, system=PROMETHEUS_ABS_SYSTEM, chat=True)

    def output(self, task: Task, lang: str) -> OutputSpec:
        if task == "pairwise":
            return OutputSpec(verdict_first=False, options={"1": " A", "2": " B"}, rest_grammar=_REL_GRAMMAR,
                              max_tokens=1024, verdict_phrase=_RESULT, verdict_statement=" " + _RESULT)
        return OutputSpec(verdict_first=False, options={}, rest_grammar=_ABS_GRAMMAR, max_tokens=1024,
                          verdict_phrase=_RESULT, verdict_statement=" " + _RESULT, scale=(1, 5))

    def parse_pairwise(self, text: str, lang: str) -> ParsedVerdict:
        matches = list(_REL_RESULT.finditer(text))
        if not matches or text.rfind(_RESULT) != matches[-1].start():
            return ParsedVerdict(winner=None, problem="no '[RESULT] A' or '[RESULT] B' at the last [RESULT]")
        last = matches[-1]
        winner = "1" if last.group(1) == "A" else "2"
        return ParsedVerdict(winner=winner, reason=_critique(text, last.start()))  # type: ignore[arg-type]

    def parse_grade(self, text: str, lang: str) -> ParsedGrade:
        matches = list(_ABS_RESULT.finditer(text))
        if not matches or text.rfind(_RESULT) != matches[-1].start():
            return ParsedGrade(score=None, problem="no '[RESULT] n' at the last [RESULT]")
        last = matches[-1]
        score = float(last.group(1))
        if score != int(score) or not 1 <= score <= 5:
            return ParsedGrade(score=None, problem=f"result {last.group(1)} is not an integer from 1 to 5")
        return ParsedGrade(score=score, critique=_critique(text, last.start()))

    def template_texts(self) -> tuple[str, ...]:
        return (PROMETHEUS_ABS_SYSTEM, PROMETHEUS_REL_SYSTEM, PROMETHEUS_ABSOLUTE, PROMETHEUS_ABSOLUTE_WO_REF,
                PROMETHEUS_RELATIVE, PROMETHEUS_RELATIVE_WO_REF, DEFAULT_PROMETHEUS_RUBRIC, _ABS_GRAMMAR,
                _REL_GRAMMAR)
