"""The item bootstrap shared by every interval: which outcomes belong together, how items are redrawn, the
percentile interval read off the redraws, and when there is no interval to give.

The unit of resampling is the item, not the outcome: both orders of an item, and every pair judged on the same
item, are drawn (or left out) together, because they share the instruction and so are not independent. Every
bootstrap starts from `numpy.random.default_rng(seed)`, so the same input, rounds and seed give the same interval.

An interval is only given when it can mean something. Below `MIN_GAMES_FOR_INTERVAL` games, or when the redraws do
not vary (every item went the same way, or the figure is fixed by definition), the percentile interval would be a
single point, [1000, 1000] or [50%, 50%], which reads as certainty where there is almost no evidence. Such a figure
gets no interval and a reason instead ("too few games for an interval (n = 1)"), which every report shows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._outcome import to_plain

__all__ = ["CONFIDENCE", "MIN_GAMES_FOR_INTERVAL", "BootstrapInterval", "bootstrap_interval", "too_few_games"]

CONFIDENCE = 0.95
"""Coverage of every bootstrap interval."""
MIN_GAMES_FOR_INTERVAL = 10
"""Fewest games (or graded responses) a 95% interval is computed from: judgedesk's rule. A share of n games takes
only n + 1 values, so with a handful of games the percentile bootstrap has a few coarse steps to choose from and
covers far less than the 95% it claims (with n = 1 every redraw equals the estimate). Below this the estimate is
shown with its n and the words "too few games for an interval"."""


@dataclass(frozen=True)
class BootstrapInterval:
    """A 95% percentile interval, or the reason there is none."""

    low: float | None
    """Lower end; None when there is no interval."""
    high: float | None
    """Upper end; None when there is no interval."""
    missing: str | None
    """Why there is no interval (too few games, redraws that do not vary, no rounds); None when there is one."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def item_clusters(item_ids: Sequence[str]) -> tuple[np.ndarray, int]:
    """For each outcome, the index of its item (by first appearance), and how many items there are."""
    index: dict[str, int] = {}
    cluster = np.fromiter((index.setdefault(item, len(index)) for item in item_ids), dtype=np.intp,
                          count=len(item_ids))
    return cluster, len(index)


def item_draws(seed: int, n_items: int, rounds: int) -> Iterator[np.ndarray]:
    """How many times each item is drawn, one array per round: `n_items` draws with replacement each round."""
    if n_items == 0:
        return
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        yield np.bincount(rng.integers(0, n_items, size=n_items), minlength=n_items)


def percentile_interval(values: Sequence[float] | np.ndarray) -> tuple[float | None, float | None]:
    """The central 95% percentile interval of the finite values; (None, None) when there are none."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return None, None
    tail = 100.0 * (1.0 - CONFIDENCE) / 2.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def too_few_games(games: int, unit: str = "games") -> str:
    """The reason given for an estimate from fewer than `MIN_GAMES_FOR_INTERVAL` games (or other `unit`)."""
    return f"too few {unit} for an interval (n = {games})"


def bootstrap_interval(redrawn: Sequence[float] | np.ndarray, *, games: int, rounds: int,
                       unit: str = "games") -> BootstrapInterval:
    """The 95% interval of an estimate from `games` games, read off its `rounds` redraws, or why there is none.

    No interval when the bootstrap was off (`rounds` 0), when `games` is below `MIN_GAMES_FOR_INTERVAL`, or when
    the redraws' interval has no width (every redraw gave the same value): a point is no interval. `unit` names
    what was counted in the reason ("games", "scores").
    """
    if rounds <= 0:
        return BootstrapInterval(None, None, "no interval: the bootstrap was off (0 rounds)")
    if games < MIN_GAMES_FOR_INTERVAL:
        return BootstrapInterval(None, None, too_few_games(games, unit))
    low, high = percentile_interval(redrawn)
    if low is None or high is None:
        return BootstrapInterval(None, None, f"no interval: no redraw held a game (n = {games})")
    if high - low <= 1e-12 * max(1.0, abs(high)):
        return BootstrapInterval(None, None, f"no interval: the redraws do not vary (n = {games})")
    return BootstrapInterval(low, high, None)
