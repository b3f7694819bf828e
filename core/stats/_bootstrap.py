"""The item bootstrap shared by every interval: which outcomes belong together, how items are redrawn, and the
percentile interval read off the redraws.

The unit of resampling is the item, not the outcome: both orders of an item, and every pair judged on the same
item, are drawn (or left out) together, because they share the instruction and so are not independent. Every
bootstrap starts from `numpy.random.default_rng(seed)`, so the same input, rounds and seed give the same interval.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

CONFIDENCE = 0.95
"""Coverage of every bootstrap interval."""


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
