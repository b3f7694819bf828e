"""Fleiss' kappa: agreement among several raters (a jury's judges) on the same items, beyond chance.

Each item is rated by the same number of raters into one of a fixed set of categories (Fleiss 1971, "Measuring
nominal scale agreement among many raters"). With n raters, n_ij of whom put item i in category j:

    P_i = (sum_j n_ij^2 - n) / (n (n - 1))      agreement on item i: the share of rater pairs that agree
    P   = mean_i P_i                            observed agreement
    p_j = sum_i n_ij / (N n)                    the share of all ratings in category j
    Pe  = sum_j p_j^2                           agreement expected by chance
    kappa = (P - Pe) / (1 - Pe)

An item where some rater gave no category (None: an unparsed verdict, a pending one) cannot enter the formula,
which needs the same number of raters on every item; it is left out and counted, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from ._outcome import to_plain

__all__ = ["FleissKappa", "fleiss_kappa"]


@dataclass(frozen=True)
class FleissKappa:
    """Agreement of several raters over the same items."""

    kappa: float | None
    """Fleiss' kappa; None without items, or when chance agreement is 1 (every rating the same category)."""
    observed: float | None
    """Mean agreement per item: the share of rater pairs that put an item in the same category."""
    expected: float | None
    """Agreement expected by chance from the categories' overall shares."""
    n_items: int
    """Items rated by every rater, the ones the kappa is computed over."""
    raters: int
    """Raters per item."""
    categories: tuple[str, ...]
    """The categories, in the order of `shares`."""
    shares: tuple[float, ...]
    """Each category's share of all ratings of the items counted."""
    left_out: int
    """Items left out because some rater gave no category (None)."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def fleiss_kappa(ratings: Sequence[Sequence[str | None]], categories: Sequence[str]) -> FleissKappa:
    """Fleiss' kappa of `ratings` (one row per item, one entry per rater, every row as long) over `categories`.

    An entry None is no rating: its item is left out and counted in `left_out`. An entry that is not one of the
    categories is an error naming the item and the rater.
    """
    categories = tuple(categories)
    if len(categories) < 2 or len(set(categories)) != len(categories):
        raise InputError(f"Fleiss' kappa needs at least two distinct categories, not {list(categories)}",
                         field="categories")
    raters = len(ratings[0]) if ratings else 0
    index = {category: column for column, category in enumerate(categories)}
    counts = []
    left_out = 0
    for item, row in enumerate(ratings):
        if len(row) != raters:
            raise InputError(f"item {item} has {len(row)} ratings, the first item {raters}: every item needs one "
                             f"entry per rater (None where a rater gave no category)", field="ratings")
        for rater, value in enumerate(row):
            if value is not None and value not in index:
                raise InputError(f"item {item}, rater {rater}: {value!r} is not one of {', '.join(categories)}",
                                 field="ratings")
        if any(value is None for value in row):
            left_out += 1
            continue
        line = [0] * len(categories)
        for value in row:
            line[index[value]] += 1  # type: ignore[index]  # None was excluded above
        counts.append(line)
    if ratings and raters < 2:
        raise InputError(f"Fleiss' kappa needs at least two raters per item, not {raters}", field="ratings")
    return _kappa(np.array(counts, dtype=float).reshape(len(counts), len(categories)), raters, categories,
                  left_out)


def _kappa(table: np.ndarray, raters: int, categories: tuple[str, ...], left_out: int) -> FleissKappa:
    n_items = table.shape[0]
    if n_items == 0:
        return FleissKappa(None, None, None, 0, raters, categories, tuple(0.0 for _ in categories), left_out)
    per_item = ((table * table).sum(axis=1) - raters) / (raters * (raters - 1))
    observed = float(per_item.mean())
    shares = table.sum(axis=0) / (n_items * raters)
    expected = float((shares * shares).sum())
    kappa = (observed - expected) / (1.0 - expected) if expected < 1.0 - 1e-12 else None
    return FleissKappa(kappa=kappa, observed=observed, expected=expected, n_items=n_items, raters=raters,
                       categories=categories, shares=tuple(float(s) for s in shares), left_out=left_out)
