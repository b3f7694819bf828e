"""What a judge format is: its prompt, its output grammar, its verdict options and its parser.

A format knows nothing about models or tokens. The engine asks it for a `JudgePrompt` (the filled text, and
whether the model's chat template wraps it), an `OutputSpec` (where the verdict sits in the output, how each option
is written, the GBNF grammar that makes a parseable output certain) and parses raw output with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from .._records import PriorTurn, Strength

__all__ = [
    "JudgeFormat",
    "JudgePrompt",
    "OutputSpec",
    "ParsedGrade",
    "ParsedVerdict",
    "PromptFields",
    "Task",
    "gbnf_literal",
    "hash_texts",
]

Task = Literal["pairwise", "single"]
Position = Literal["1", "2", "tie"]
"""A verdict in the judge's own positions: the response shown first, second, or a tie."""


@dataclass(frozen=True)
class PromptFields:
    """The item's texts in the order the judge will see them."""

    instruction: str
    """The task."""
    responses: tuple[str, ...]
    """The responses in shown order: two for pairwise, one for grading."""
    input: str = ""
    """Optional context for the task."""
    reference: str | None = None
    """Optional reference answer."""
    rubric: str | None = None
    """Optional user rubric, for formats that take one; None means the format's default."""
    category: str | None = None
    """The item's category, for formats whose prompt depends on it (MT-bench's reference-guided prompt)."""
    history: tuple[PriorTurn, ...] = ()
    """A conversation's earlier turns (answers in shown order); only formats with `takes_conversation` show them."""


@dataclass(frozen=True)
class JudgePrompt:
    """A filled prompt, before the model's tokenizer sees it."""

    user: str
    """The filled prompt; for raw formats, the whole prompt text."""
    system: str | None = None
    """System message, for chat formats."""
    chat: bool = False
    """Wrap in the model's own chat template (system + user); otherwise `user` is sent as is after BOS."""
    prefill: str = ""
    """The start of the answer, written for the judge; it is part of the output and parsed with it."""


@dataclass(frozen=True)
class OutputSpec:
    """How a format's output is shaped, for one task and language."""

    verdict_first: bool
    """True when the verdict opens the output (after `prefill`), so it can be read from one forward pass."""
    options: Mapping[str, str]
    """Pairwise: position ('1', '2', 'tie') -> how the judge writes it; five-level formats key them by strength in
    shown positions ('A>>B', 'A>B', 'A=B', 'B>A', 'B>>A'). Empty for grading."""
    rest_grammar: str
    """GBNF rules defining `rest`: what follows the option (verdict-first) or the verdict tail (grading)."""
    max_tokens: int
    """The published output budget."""
    verdict_phrase: str = ""
    """Verdict-last formats: the phrase after which the verdict is written; generation pauses there."""
    verdict_statement: str = ""
    """Verdict-last formats: appended when the judge never wrote `verdict_phrase` within its budget."""
    scale: tuple[int, int] | None = None
    """Grading: lowest and highest score."""

    def grammar(self) -> str:
        """GBNF for a whole constrained generation: the options then `rest` (verdict-first), or `rest` alone."""
        if self.options:
            alternatives = " | ".join(gbnf_literal(text) for text in self.options.values())
            return f"root ::= ({alternatives}) rest\n{self.rest_grammar}"
        return f"root ::= rest\n{self.rest_grammar}"

    def rest_only_grammar(self) -> str:
        """GBNF for what follows an already chosen option."""
        return f"root ::= rest\n{self.rest_grammar}"


@dataclass(frozen=True)
class ParsedVerdict:
    """A pairwise verdict read from raw output, in the judge's positions."""

    winner: Position | None
    """'1', '2', 'tie', or None when the output holds no verdict."""
    reason: str | None = None
    """The explanation, when present."""
    reference: str | None = None
    """A reference answer, when the format writes one."""
    problem: str | None = None
    """Why the output could not be parsed."""
    strength: Strength | None = None
    """Five-level formats: the verdict as written (A>>B, A>B, A=B, B>A, B>>A), A being the response shown first."""


@dataclass(frozen=True)
class ParsedGrade:
    """A grade read from raw output."""

    score: float | None
    """The score, or None when the output holds no valid score."""
    critique: str | None = None
    """The feedback before the score."""
    problem: str | None = None
    """Why the output could not be parsed."""


@runtime_checkable
class JudgeFormat(Protocol):
    """A judge prompt format: what the judge was trained to read and write."""

    name: str
    description: str
    tasks: frozenset[Task]
    languages: frozenset[str]
    takes_rubric: bool
    uses_chat_template: bool
    has_tie: bool
    takes_conversation: bool
    """Whether the prompt can show a multi-turn conversation (items with `history`); others refuse such items."""

    def prompt(self, task: Task, fields: PromptFields, lang: str) -> JudgePrompt:
        """Fill the published prompt for `task` in `lang`."""
        ...

    def output(self, task: Task, lang: str) -> OutputSpec:
        """The output shape for `task` in `lang`."""
        ...

    def parse_pairwise(self, text: str, lang: str) -> ParsedVerdict:
        """Read a pairwise verdict from raw output; never raises."""
        ...

    def parse_grade(self, text: str, lang: str) -> ParsedGrade:
        """Read a grade from raw output; never raises."""
        ...

    def template_texts(self) -> tuple[str, ...]:
        """Every template string the format uses, for the manifest's template hash."""
        ...


def gbnf_literal(text: str) -> str:
    """A GBNF string literal for `text`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def hash_texts(*texts: str) -> str:
    """SHA-256 over texts, each length-prefixed so different splits never collide."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()
