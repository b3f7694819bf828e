"""The record every statistic reads, the model order they all share, and the JSON form of their results.

An `Outcome` is one judged pair reduced to what statistics need: who met whom on which item, the final decision,
each order's winner, the responses' lengths, an optional category and an optional human label. Keeping the input
this small makes every function here a pure function over plain data, testable with hand-made tables.

Models are ordered by first appearance (model_a, then model_b, outcome by outcome), so pair tables, the win-rate
matrix and the default rating anchor come out the same way on every run over the same input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from .._errors import InputError
from .._records import Decision, Label

__all__ = ["Outcome"]

DECISIONS: frozenset[str] = frozenset({"A", "B", "tie", "inconsistent", "unparsed"})
LABELS: frozenset[str] = frozenset({"A", "B", "tie"})


@dataclass(frozen=True)
class Outcome:
    """One judged pair: the input of every statistic in `judgedesk.core.stats`."""

    item_id: str
    """The item judged; outcomes sharing an item id are resampled together by the bootstraps."""
    model_a: str
    """The model that wrote response A."""
    model_b: str
    """The model that wrote response B."""
    decision: Decision
    """Final decision over both orders (or the single order's winner): A, B, tie, inconsistent or unparsed."""
    ab: Label | None = None
    """Winner of the A-first order in the caller's labels; None when unparsed or not judged."""
    ba: Label | None = None
    """Winner of the B-first order, mapped back to A/B; None when unparsed or only one order was judged."""
    len_a: int = 0
    """Length of response A in characters."""
    len_b: int = 0
    """Length of response B in characters."""
    category: str | None = None
    """The item's category, for per-category tables; None when it has none."""
    human: Label | None = None
    """The human label (A, B or tie), when the data set has one."""

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise InputError(f"decision {self.decision!r} is not one of {sorted(DECISIONS)}", item=self.item_id,
                             field="decision")
        for name in ("ab", "ba", "human"):
            value = getattr(self, name)
            if value is not None and value not in LABELS:
                raise InputError(f"{value!r} is not one of A, B, tie or None", item=self.item_id, field=name)
        for name in ("len_a", "len_b"):
            if getattr(self, name) < 0:
                raise InputError("a length cannot be negative", item=self.item_id, field=name)


def model_order(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """Each model's position by first appearance (model_a before model_b within an outcome)."""
    order: dict[str, int] = {}
    for outcome in outcomes:
        for model in (outcome.model_a, outcome.model_b):
            order.setdefault(model, len(order))
    return order


def score_of_a(decision: str, *, inconsistent_as_tie: bool) -> float | None:
    """What the decision is worth to model A: 1 win, 0 loss, 0.5 tie; None when it does not count.

    Unparsed never counts (an unscored grade is left out of metrics, never mapped to a tie). Inconsistent counts
    as a tie only when asked (PandaLM's published swap protocol); otherwise it is left out, so position bias
    shows in the inconsistent count instead of quietly pulling every win rate towards one half.
    """
    if decision == "A":
        return 1.0
    if decision == "B":
        return 0.0
    if decision == "tie" or (decision == "inconsistent" and inconsistent_as_tie):
        return 0.5
    return None


def check_rounds(rounds: int) -> None:
    if rounds < 0:
        raise InputError(f"the number of bootstrap rounds cannot be negative (got {rounds})", field="rounds")


def share(part: int | float, whole: int | float) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return float(part) / float(whole) if whole else None


def to_plain(record: Any) -> Any:
    """A JSON-safe copy of a result: dataclasses to dicts, tuples to lists, numpy scalars and NaN to plain values."""
    if is_dataclass(record) and not isinstance(record, type):
        return {f.name: to_plain(getattr(record, f.name)) for f in fields(record)}
    if isinstance(record, dict):
        return {str(key): to_plain(value) for key, value in record.items()}
    if isinstance(record, Sequence) and not isinstance(record, str):
        return [to_plain(value) for value in record]
    if isinstance(record, bool) or record is None or isinstance(record, str):
        return record
    if isinstance(record, int | float) or hasattr(record, "item"):
        value = record.item() if hasattr(record, "item") else record
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    return record
