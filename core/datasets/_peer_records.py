"""What reading a file of judgements made elsewhere gives, before it is matched to a data set's pairs and grades.

A pairwise judgement names its two models as the file lists them (`PairJudgement.models`) and gives each order
the judge saw as a `Game` whose labels are in that listed order: A is `models[0]`. Matching a pair of the data set
maps them onto the pair's own A and B (`_verdict_import`), so a file may list the models either way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .._records import Label, Status, Strength
from ._reading import Record
from ._records import Problem

__all__ = ["FileLines", "Game", "GradeJudgement", "JudgementFile", "PairJudgement", "PeerProtocol", "Reading"]

PeerProtocol = Literal["alpaca_eval", "mtbench", "arenahard", "jsonl"]
"""Which project's files: AlpacaEval annotations, FastChat MT-bench judgments, Arena-Hard judgments, or
judgedesk's own JSONL (id, order, winner or output)."""


@dataclass(frozen=True)
class Game:
    """One order of a pairwise judgement, in the labels of the judgement's listed models (A = `models[0]`)."""

    first_shown: int | None
    """Which listed model (0 or 1) the judge saw first; None when the file does not say (AlpacaEval shuffles)."""
    winner: Label | None
    """The winner; None when the judge's output holds no verdict."""
    status: Status
    """OK, or UNPARSED when there is no verdict (kept, reported, left out of metrics)."""
    raw_output: str
    """What the judge wrote (or, for AlpacaEval, the published preference)."""
    reason: str | None = None
    """The judge's explanation, when the file separates it from the verdict."""
    strength: Strength | None = None
    """Arena-Hard's five-level verdict."""
    probabilities: Mapping[str, float] | None = None
    """Probability of each winner (A, B), when the judge gave a soft verdict (AlpacaEval)."""
    preference: float | None = None
    """AlpacaEval's `preference` as published: 1 = models[1] (its output_1) wins, 2 = models[0] (output_2) wins,
    1.5 or 0 a draw."""


@dataclass(frozen=True)
class PairJudgement:
    """A pairwise judgement of one pair, in one or two orders."""

    record: int
    """Where the record is: its line (JSON Lines) or its number (a JSON array; `FileLines` names its line)."""
    games: tuple[Game, ...]
    """Each order judged."""
    models: tuple[str, str] | None = None
    """The two models in the file's order; None when the record names the data set's pair (`task`)."""
    item: str | None = None
    """The item's id as the file gives it (MT-bench: "<question_id>:turn2" past turn 1)."""
    instruction: str | None = None
    """The instruction's text, for matching when the data set's items have other ids (AlpacaEval)."""
    task: str | None = None
    """The data set's own pair id (judgedesk's JSONL `id`)."""


@dataclass(frozen=True)
class GradeJudgement:
    """A single-answer grade of one model's response."""

    record: int
    """Where the record is, as `PairJudgement.record`."""
    item: str
    """The item's id (MT-bench: "<question_id>:turn2" past turn 1)."""
    model: str
    score: float | None
    """The score; None when the judge's output holds none."""
    scale: tuple[int, int]
    status: Status
    raw_output: str


@dataclass(frozen=True)
class FileLines:
    """Where a record of a file is, for problems: JSON Lines count lines; a JSON array's records are numbered and
    the line each starts on is named too, since that is what an editor shows."""

    shown: str
    starts: tuple[int, ...] | None = None
    """The line each record of a JSON array starts on; None for JSON Lines."""

    def line(self, number: int) -> int:
        """The line a record starts on."""
        if self.starts is None or not 1 <= number <= len(self.starts):
            return number
        return self.starts[number - 1]

    def problem(self, number: int | None, reason: str, item: str | None = None) -> Problem:
        """A problem at record (or line) `number`; None for the whole file."""
        if number is None or self.starts is None:
            return Problem(self.shown, number, reason, item)
        return Problem(self.shown, self.line(number), f"record {number}: {reason}", item)


@dataclass
class Reading:
    """What a reader collects from one file while it reads it."""

    lines: FileLines
    records: tuple[Record, ...]
    """The file's records, in file order."""
    pairs: list[PairJudgement] = field(default_factory=list)
    grades: list[GradeJudgement] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    judges: dict[str, None] = field(default_factory=dict)
    """The judges (annotators) the records name, in first-met order."""
    baselines: dict[str, None] = field(default_factory=dict)
    """The baseline models the records name (AlpacaEval's generator_1, Arena-Hard's baseline)."""


@dataclass(frozen=True)
class JudgementFile:
    """Everything read from one file of judgements."""

    path: Path
    lines: FileLines
    """The path as given and where its records are, for problems."""
    sha256: str
    """SHA-256 of the file's bytes ("" when it could not be read)."""
    protocol: PeerProtocol | None
    """Which project's layout; None when the file could not be read or has none."""
    mode: Literal["pairwise", "single"] | None
    pairs: tuple[PairJudgement, ...]
    grades: tuple[GradeJudgement, ...]
    problems: tuple[Problem, ...]
    judges: tuple[str, ...] = ()
    """The judges (AlpacaEval annotators, FastChat "gpt-4/pair-v2", Arena-Hard judge models) the records name."""
    baselines: tuple[str, ...] = ()
    """The baseline models the records name."""

    @property
    def shown(self) -> str:
        """The path as given."""
        return self.lines.shown

    @property
    def count(self) -> int:
        """Judgements read: orders of pairs, or grades."""
        return sum(len(pair.games) for pair in self.pairs) + len(self.grades)
