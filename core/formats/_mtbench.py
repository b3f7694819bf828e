"""MT-bench (lm-sys/FastChat llm_judge): FastChat's judge prompts for one- and two-turn conversations, English.

Sent through the judge's own chat template with the published system prompt, as FastChat sends them to GPT-4.
Which of FastChat's eight prompts an item gets:

    task       turn 1 (no history)            turn 2 (one earlier turn)
    pairwise   pair-v2 / pair-math-v1         pair-v2-multi-turn / pair-math-v1-multi-turn
    single     single-v1 / single-math-v1     single-v1-multi-turn / single-math-v1-multi-turn

The math (reference-guided) prompt is used, as FastChat uses it, for the categories in its `NEED_REF_CATS` when the
item has a reference answer; at turn 2 it shows the reference of both turns. MT-bench conversations have two
turns, so a third turn has no published prompt and is refused.

The verdict comes after the critique: `[[A]]`, `[[B]]` or `[[C]]` (tie), a rating `[[N]]` from 1 to 10. FastChat
takes the first verdict it finds; judgedesk takes the LAST (a verdict quoted or echoed earlier in the critique
must not stand in for the final one), with FastChat's patterns otherwise.
"""

from __future__ import annotations

import re

from .._errors import FormatError
from ._base import JudgePrompt, OutputSpec, ParsedGrade, ParsedVerdict, Position, PromptFields, Task
from ._ecosystem_prompts import (
    MTBENCH_PAIR_MATH_V1,
    MTBENCH_PAIR_MATH_V1_MULTI_TURN,
    MTBENCH_PAIR_V2,
    MTBENCH_PAIR_V2_MULTI_TURN,
    MTBENCH_PROMPTS,
    MTBENCH_SINGLE_MATH_V1,
    MTBENCH_SINGLE_MATH_V1_MULTI_TURN,
    MTBENCH_SINGLE_V1,
    MTBENCH_SINGLE_V1_MULTI_TURN,
    FastChatJudgePrompt,
)

__all__ = ["MTBENCH_REFERENCE_CATEGORIES", "MTBenchFormat"]

MTBENCH_REFERENCE_CATEGORIES = frozenset({"math", "reasoning", "coding", "arena-hard-200"})
"""FastChat's `NEED_REF_CATS`: the categories judged against a reference answer (llm_judge/common.py)."""

# task -> turn -> (general prompt, reference-guided prompt)
_PROMPTS: dict[str, dict[int, tuple[FastChatJudgePrompt, FastChatJudgePrompt]]] = {
    "pairwise": {1: (MTBENCH_PAIR_V2, MTBENCH_PAIR_MATH_V1),
                 2: (MTBENCH_PAIR_V2_MULTI_TURN, MTBENCH_PAIR_MATH_V1_MULTI_TURN)},
    "single": {1: (MTBENCH_SINGLE_V1, MTBENCH_SINGLE_MATH_V1),
               2: (MTBENCH_SINGLE_V1_MULTI_TURN, MTBENCH_SINGLE_MATH_V1_MULTI_TURN)},
}
_MAX_TURNS = 2
# FastChat asks GPT-4 for at most 2048 tokens (chat_completion_openai(..., max_tokens=2048)).
_MAX_TOKENS = 2048
# The critique pauses at "[[", where the verdict starts, and the constrained options complete it: "[[" + "A]]".
_VERDICT_PHRASE = "[["
_PAIRWISE_STATEMENT = "\n\nFinal verdict: [["
_PAIRWISE_OPTIONS = {"1": "A]]", "2": "B]]", "tie": "C]]"}
_SINGLE_STATEMENT = "\n\nRating: [["
_RATING_GRAMMAR = 'rest ::= ("10" | [1-9] ("." [0-9])?) "]]"\n'
_NOTHING_GRAMMAR = 'rest ::= ""\n'
_PAIR_VERDICT = re.compile(r"\[\[([ABC])\]\]")
_VERDICT_WINNER: dict[str, Position] = {"A": "1", "B": "2", "C": "tie"}
# FastChat's one_score_pattern and its backup, tried in that order (common.py).
_RATING_PATTERNS = (re.compile(r"\[\[(\d+\.?\d*)\]\]"), re.compile(r"\[(\d+\.?\d*)\]"))
# Words that introduce the verdict belong to it, not to the critique (e.g. our own appended statement).
_VERDICT_OPENING = re.compile(r"(?:(?:my\s+)?final\s+verdict(?:\s+is)?|rating)\s*:?\s*$", re.IGNORECASE)


def _question(instruction: str, context: str) -> str:
    # FastChat's questions have no separate input; an item's input is shown as part of its question.
    return f"{instruction}\n\n{context}" if context.strip() else instruction


def _turn(fields: PromptFields) -> int:
    turn = len(fields.history) + 1
    if turn > _MAX_TURNS:
        raise FormatError(f"this item is turn {turn} of a conversation, and MT-bench's judge prompts show at most "
                          f"{_MAX_TURNS} turns (FastChat judges turn 1 and turn 2 only)")
    return turn


def _references(fields: PromptFields) -> tuple[str, ...] | None:
    """The references the reference-guided prompt shows (one per turn), or None for the general prompt."""
    if (fields.category or "").strip().lower() not in MTBENCH_REFERENCE_CATEGORIES:
        return None
    references = (*(turn.reference for turn in fields.history), fields.reference)
    given = [bool(ref and ref.strip()) for ref in references]
    if not any(given):
        return None
    if not all(given):
        missing = ", ".join(str(n) for n, ok in enumerate(given, start=1) if not ok)
        raise FormatError(f"MT-bench judges category {fields.category!r} against a reference answer for every turn "
                          f"shown, and this item has none for turn {missing}: give every turn's reference, or none "
                          f"(then the general prompt is used)")
    return tuple(ref or "" for ref in references)


def _reason(text: str) -> str | None:
    return _VERDICT_OPENING.sub("", text.rstrip()).strip() or None


class MTBenchFormat:
    """FastChat's MT-bench judge: pairwise [[A]]/[[B]]/[[C]] and 1-10 ratings, turn 1 or 2, through a chat template."""

    name = "mtbench"
    description = ("MT-bench (FastChat): critique then [[A]]/[[B]]/[[C]] or a 1-10 [[rating]]; two-turn "
                   "conversations; reference-guided for math, reasoning, coding; chat template")
    tasks: frozenset[Task] = frozenset({"pairwise", "single"})
    languages = frozenset({"en"})
    uses_chat_template = True
    takes_rubric = False
    has_tie = True
    takes_conversation = True

    def prompt(self, task: Task, fields: PromptFields, lang: str) -> JudgePrompt:
        turn = _turn(fields)
        references = _references(fields)
        general, guided = _PROMPTS[task][turn]
        chosen = general if references is None else guided
        values = {f"ref_answer_{n}": ref for n, ref in enumerate(references or (), start=1)}
        question = _question(fields.instruction, fields.input)
        if turn == 1:
            values["question"] = question
            if task == "pairwise":
                values.update(answer_a=fields.responses[0], answer_b=fields.responses[1])
            else:
                values["answer"] = fields.responses[0]
        else:
            earlier = fields.history[0]
            values.update(question_1=earlier.question, question_2=question)
            if task == "pairwise":
                values.update(answer_a_1=earlier.answers[0], answer_b_1=earlier.answers[1],
                              answer_a_2=fields.responses[0], answer_b_2=fields.responses[1])
            else:
                values.update(answer_1=earlier.answers[0], answer_2=fields.responses[0])
        return JudgePrompt(user=chosen.template.format(**values), system=chosen.system, chat=True)

    def output(self, task: Task, lang: str) -> OutputSpec:
        if task == "pairwise":
            return OutputSpec(verdict_first=False, options=_PAIRWISE_OPTIONS, rest_grammar=_NOTHING_GRAMMAR,
                              max_tokens=_MAX_TOKENS, verdict_phrase=_VERDICT_PHRASE,
                              verdict_statement=_PAIRWISE_STATEMENT)
        return OutputSpec(verdict_first=False, options={}, rest_grammar=_RATING_GRAMMAR, max_tokens=_MAX_TOKENS,
                          verdict_phrase=_VERDICT_PHRASE, verdict_statement=_SINGLE_STATEMENT, scale=(1, 10))

    def parse_pairwise(self, text: str, lang: str) -> ParsedVerdict:
        # The LAST [[A]] / [[B]] / [[C]] decides; FastChat checks "[[A]]" in the text first, then B, then C.
        matches = list(_PAIR_VERDICT.finditer(text))
        if not matches:
            return ParsedVerdict(winner=None, problem="no [[A]], [[B]] or [[C]] verdict")
        last = matches[-1]
        winner = _VERDICT_WINNER[last.group(1)]
        return ParsedVerdict(winner=winner, reason=_reason(text[:last.start()]))

    def parse_grade(self, text: str, lang: str) -> ParsedGrade:
        # FastChat's patterns in its order ("[[N]]", then "[N]" only when there is none), each bound to its LAST
        # match rather than FastChat's first, so an example rating quoted before the real one cannot win.
        for pattern in _RATING_PATTERNS:
            matches = list(pattern.finditer(text))
            if matches:
                last = matches[-1]
                break
        else:
            return ParsedGrade(score=None, problem="no [[rating]] (nor [rating])")
        score = float(last.group(1))
        if not 1 <= score <= 10:
            return ParsedGrade(score=None, problem=f"rating {last.group(1)} is outside 1-10")
        return ParsedGrade(score=score, critique=_reason(text[:last.start()]))

    def template_texts(self) -> tuple[str, ...]:
        texts: list[str] = []
        for published in MTBENCH_PROMPTS.values():
            texts += [published.name, published.system, published.template]
        return (*texts, *sorted(MTBENCH_REFERENCE_CATEGORIES), _VERDICT_PHRASE, _PAIRWISE_STATEMENT,
                _SINGLE_STATEMENT, _RATING_GRAMMAR, _NOTHING_GRAMMAR)
