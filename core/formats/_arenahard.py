"""Arena-Hard-Auto v0.1 (lmarena/arena-hard-auto): the five-level pairwise judge, English, single-turn.

Sent through the judge's own chat template with Arena-Hard's system prompt (`OG_ARENA_HARD_PROMPT`) and the user
template of `config/arena-hard-v0.1.yaml`. The judge first answers the prompt itself, then compares, and ends with
one of five verdicts: `[[A>>B]]`, `[[A>B]]`, `[[A=B]]`, `[[B>A]]`, `[[B>>A]]`. The verdict is kept as written (the
strength), not only as a winner, because Arena-Hard's scores weight a strong verdict more than a slight one.

Parsing follows Arena-Hard's `get_score`: its regexes in order, the first that matches anywhere decides, and of its
matches the LAST one (a verdict quoted earlier, such as the prompt's own example, cannot win). A match that is not
one of the five labels leaves the output unparsed, as Arena-Hard's scoring leaves it out.
"""

from __future__ import annotations

import re
from typing import get_args

from .._errors import FormatError
from .._records import Strength
from ._base import JudgePrompt, OutputSpec, ParsedGrade, ParsedVerdict, Position, PromptFields, Task
from ._ecosystem_prompts import ARENA_HARD_SYSTEM, ARENA_HARD_TEMPLATE, ARENA_HARD_VERDICT_PATTERNS

__all__ = ["ArenaHardFormat"]

_STRENGTHS: dict[str, Strength] = {label: label for label in get_args(Strength)}
_POSITION: dict[str, Position] = {"A>>B": "1", "A>B": "1", "A=B": "tie", "B>A": "2", "B>>A": "2"}
# arena-hard-v0.1.yaml's max_tokens.
_MAX_TOKENS = 4096
# The critique pauses at "[[", where the verdict starts; the constrained options complete it: "[[" + "A>B]]".
_VERDICT_PHRASE = "[["
# Appended when the judge never reached a verdict in its budget, in the words of the system prompt's example.
_VERDICT_STATEMENT = "\n\nMy final verdict is: [["
_OPTIONS = {label: f"{label}]]" for label in _STRENGTHS}
_NOTHING_GRAMMAR = 'rest ::= ""\n'
# Arena-Hard matches its patterns on judgment.upper(); matching case-insensitively keeps the positions in the
# original text (upper() can change a text's length) and reads the same verdicts.
_PATTERNS = tuple(re.compile(pattern, re.IGNORECASE) for pattern in ARENA_HARD_VERDICT_PATTERNS)


def _question(fields: PromptFields) -> str:
    # Arena-Hard's questions have no separate input; an item's input is shown as part of its prompt.
    return f"{fields.instruction}\n\n{fields.input}" if fields.input.strip() else fields.instruction


class ArenaHardFormat:
    """Arena-Hard-Auto v0.1's judge: its own answer, a comparison, then one of five verdicts; chat template."""

    name = "arenahard"
    description = ("Arena-Hard-Auto v0.1: the judge answers first, compares, then [[A>>B]] ... [[B>>A]] (five levels "
                   "kept as strength); pairwise, single-turn; chat template")
    tasks: frozenset[Task] = frozenset({"pairwise"})
    languages = frozenset({"en"})
    uses_chat_template = True
    takes_rubric = False
    has_tie = True
    takes_conversation = False

    def prompt(self, task: Task, fields: PromptFields, lang: str) -> JudgePrompt:
        if task != "pairwise":
            raise FormatError("format 'arenahard' does only pairwise judging")
        user = ARENA_HARD_TEMPLATE.format(QUESTION=_question(fields), ANSWER_A=fields.responses[0],
                                          ANSWER_B=fields.responses[1])
        return JudgePrompt(user=user, system=ARENA_HARD_SYSTEM, chat=True)

    def output(self, task: Task, lang: str) -> OutputSpec:
        if task != "pairwise":
            raise FormatError("format 'arenahard' does only pairwise judging")
        return OutputSpec(verdict_first=False, options=_OPTIONS, rest_grammar=_NOTHING_GRAMMAR, max_tokens=_MAX_TOKENS,
                          verdict_phrase=_VERDICT_PHRASE, verdict_statement=_VERDICT_STATEMENT)

    def parse_pairwise(self, text: str, lang: str) -> ParsedVerdict:
        for pattern in _PATTERNS:
            matches = list(pattern.finditer(text))
            if matches:
                last = matches[-1]
                break
        else:
            return ParsedVerdict(winner=None, problem="no [[A>>B]], [[A>B]], [[A=B]], [[B>A]] or [[B>>A]] verdict")
        label = last.group(1).upper()
        if label not in _STRENGTHS:
            return ParsedVerdict(winner=None, problem=f"the last verdict {last.group(0)!r} is not one of A>>B, A>B, "
                                                      f"A=B, B>A, B>>A")
        return ParsedVerdict(winner=_POSITION[label], reason=text[:last.start()].strip() or None,
                             strength=_STRENGTHS[label])

    def parse_grade(self, text: str, lang: str) -> ParsedGrade:
        return ParsedGrade(score=None, problem="format 'arenahard' does not grade single responses")

    def template_texts(self) -> tuple[str, ...]:
        return (ARENA_HARD_SYSTEM, ARENA_HARD_TEMPLATE, *ARENA_HARD_VERDICT_PATTERNS, _VERDICT_PHRASE,
                _VERDICT_STATEMENT, _NOTHING_GRAMMAR)
