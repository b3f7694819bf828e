"""MT-bench's tables as FastChat's `show_result.py` computes them: mean single-answer scores per model per turn and
overall, and pairwise win rates.

Single grading (`display_result_single`): a judgement scored −1 (FastChat's "no rating could be read") is
dropped; a model's turn score is the mean over its judgements of that turn, and its overall score the mean over
all its judgements, not the mean of the two turn means (they differ when a turn lost more judgements).

Pairwise grading (`display_result_pairwise`): each record judged a pair in two orders, g1 (model_1 shown first)
and g2 (model_2 shown first), each winner already mapped back to "model_1", "model_2", "tie" or "error". A record
with an "error" in either order is dropped. Otherwise it is a win for one model and a loss for the other only when
both orders name the same winner; a tie in g1, or two orders that disagree, is a tie for both models (FastChat
counts an inconsistent pair as a tie here). Each model's row: wins, losses, ties, win_rate = wins / n,
loss_rate = losses / n and win_rate_adjusted = (wins + 0.5 · ties) / n, n = wins + losses + ties. With a baseline
("pairwise-baseline" mode) only records involving it count, and it gets no row of its own. FastChat pools both
turns in one table; here that is `overall`, and each turn gets its table too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import InputError
from ._outcome import share, to_plain

__all__ = ["MtBenchGrade", "MtBenchModelScore", "MtBenchPair", "MtBenchPairwise", "MtBenchWinRate",
           "mt_bench_scores", "mt_bench_win_rates"]

NO_RATING = -1.0
"""FastChat's score for a judgement whose rating could not be read; dropped from every mean."""
WINNERS: frozenset[str] = frozenset({"model_1", "model_2", "tie", "error"})


@dataclass(frozen=True)
class MtBenchGrade:
    """One single-answer judgement: a model's answer to one turn of a question, and its score."""

    model: str
    """The model graded."""
    turn: int
    """The turn judged (1 or 2 in MT-bench)."""
    score: float | None
    """The rating (1–10 in MT-bench); −1 or None when no rating could be read (dropped)."""
    question_id: str | None = None
    """The question, for error messages."""

    def __post_init__(self) -> None:
        _check_turn(self.turn, self.question_id)


@dataclass(frozen=True)
class MtBenchPair:
    """One pairwise judgement in both orders, winners named as FastChat stores them."""

    model_1: str
    """The model shown first in order g1."""
    model_2: str
    """The model shown first in order g2."""
    turn: int
    """The turn judged."""
    g1_winner: str
    """Winner of order g1: "model_1", "model_2", "tie" or "error"."""
    g2_winner: str
    """Winner of order g2, mapped back the same way."""
    question_id: str | None = None
    """The question, for error messages."""

    def __post_init__(self) -> None:
        for name in ("g1_winner", "g2_winner"):
            if getattr(self, name) not in WINNERS:
                raise InputError(f"{getattr(self, name)!r} is not one of {', '.join(sorted(WINNERS))}",
                                 item=self.question_id, field=name)
        _check_turn(self.turn, self.question_id)


@dataclass(frozen=True)
class MtBenchModelScore:
    """One model's row of MT-bench's score tables."""

    model: str
    """The model."""
    turns: dict[int, float]
    """Mean score per turn (turns with a kept judgement only)."""
    average: float | None
    """Mean over all its kept judgements (FastChat's "Average" table); None when none was kept."""
    counts: dict[int, int]
    """Kept judgements per turn."""
    n: int
    """Kept judgements."""
    dropped: int
    """Judgements dropped for having no rating (−1 or None)."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


@dataclass(frozen=True)
class MtBenchWinRate:
    """One model's row of MT-bench's pairwise table."""

    model: str
    """The model."""
    wins: int
    """Records both orders gave to it."""
    losses: int
    """Records both orders gave to its opponent."""
    ties: int
    """Records with a tie in g1 or orders that disagree."""
    win_rate: float
    """wins / (wins + losses + ties)."""
    loss_rate: float
    """losses / (wins + losses + ties)."""
    win_rate_adjusted: float
    """(wins + 0.5 · ties) / (wins + losses + ties)."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


@dataclass(frozen=True)
class MtBenchPairwise:
    """MT-bench's pairwise win-rate tables, over all turns and per turn, each sorted by win_rate_adjusted."""

    overall: tuple[MtBenchWinRate, ...]
    """Both turns pooled, as FastChat's show_result prints it."""
    by_turn: dict[int, tuple[MtBenchWinRate, ...]]
    """One table per turn, turns in increasing order."""
    baseline: str | None
    """The baseline of "pairwise-baseline" mode; None for "pairwise-all"."""
    errors: int
    """Records dropped for an "error" in either order."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def mt_bench_scores(grades: Iterable[MtBenchGrade]) -> tuple[MtBenchModelScore, ...]:
    """Each model's mean score per turn and overall, best average first (equal ones by first appearance)."""
    kept: dict[str, list[tuple[int, float]]] = {}
    dropped: dict[str, int] = {}
    for grade in grades:
        kept.setdefault(grade.model, [])
        dropped.setdefault(grade.model, 0)
        if grade.score is None or grade.score == NO_RATING:
            dropped[grade.model] += 1
        else:
            kept[grade.model].append((grade.turn, float(grade.score)))
    rows = []
    for model, members in kept.items():
        per_turn: dict[int, list[float]] = {}
        for turn, score in sorted(members, key=lambda member: member[0]):
            per_turn.setdefault(turn, []).append(score)
        scores = [score for _, score in members]
        rows.append(MtBenchModelScore(model=model, turns={turn: sum(v) / len(v) for turn, v in per_turn.items()},
                                      average=share(sum(scores), len(scores)),
                                      counts={turn: len(v) for turn, v in per_turn.items()}, n=len(scores),
                                      dropped=dropped[model]))
    order = {model: index for index, model in enumerate(kept)}
    rows.sort(key=lambda row: (row.average is None, -(row.average or 0.0), order[row.model]))
    return tuple(rows)


def mt_bench_win_rates(pairs: Iterable[MtBenchPair], *, baseline: str | None = None) -> MtBenchPairwise:
    """FastChat's pairwise tables: against `baseline` when given ("pairwise-baseline"), else between all pairs."""
    pairs = list(pairs)
    valid = [pair for pair in pairs if "error" not in (pair.g1_winner, pair.g2_winner)]
    errors = len(pairs) - len(valid)
    if baseline is not None:
        valid = [pair for pair in valid if baseline in (pair.model_1, pair.model_2)]
    turns = sorted({pair.turn for pair in valid})
    return MtBenchPairwise(overall=_table(valid, baseline),
                           by_turn={turn: _table([p for p in valid if p.turn == turn], baseline) for turn in turns},
                           baseline=baseline, errors=errors)


def _check_turn(turn: object, question_id: str | None) -> None:
    if isinstance(turn, bool) or not isinstance(turn, int) or turn < 1:
        raise InputError(f"a turn is a whole number from 1, got {turn!r}", item=question_id, field="turn")


def _table(pairs: Sequence[MtBenchPair], baseline: str | None) -> tuple[MtBenchWinRate, ...]:
    counts: dict[str, list[int]] = {}  # model -> [wins, losses, ties]
    for pair in pairs:
        for model in (pair.model_1, pair.model_2):
            counts.setdefault(model, [0, 0, 0])
        if pair.g1_winner == "tie" or pair.g1_winner != pair.g2_winner:
            counts[pair.model_1][2] += 1
            counts[pair.model_2][2] += 1
        else:
            winner, loser = ((pair.model_1, pair.model_2) if pair.g1_winner == "model_1"
                             else (pair.model_2, pair.model_1))
            counts[winner][0] += 1
            counts[loser][1] += 1
    rows = []
    for model, (wins, losses, ties) in counts.items():
        if model == baseline:
            continue
        n = wins + losses + ties
        rows.append(MtBenchWinRate(model=model, wins=wins, losses=losses, ties=ties, win_rate=wins / n,
                                   loss_rate=losses / n, win_rate_adjusted=(wins + 0.5 * ties) / n))
    order = {model: index for index, model in enumerate(counts)}
    rows.sort(key=lambda row: (-row.win_rate_adjusted, order[row.model]))
    return tuple(rows)
