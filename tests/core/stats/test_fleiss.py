"""Fleiss' kappa: a hand-computed example, the published worked example (Fleiss 1971 as tabulated on Wikipedia),
a brute-force count of agreeing rater pairs, statsmodels' implementation when it is installed, and bad input."""

from __future__ import annotations

import itertools
import random

import pytest
from judgedesk.core import InputError
from judgedesk.core.stats import fleiss_kappa

_CATEGORIES = ("A", "B", "tie")


def test_a_hand_computed_jury_of_three() -> None:
    # P_i: 1, 1/3, 1/3, 0 -> P = 5/12; shares A 1/2, B 1/3, tie 1/6 -> Pe = 7/18; kappa = (1/36) / (11/18) = 1/22.
    ratings = [["A", "A", "A"], ["A", "A", "B"], ["B", "B", "tie"], ["tie", "A", "B"], ["A", None, "A"]]
    result = fleiss_kappa(ratings, _CATEGORIES)
    assert result.n_items == 4 and result.raters == 3 and result.left_out == 1
    assert result.observed == pytest.approx(5 / 12)
    assert result.expected == pytest.approx(7 / 18)
    assert result.kappa == pytest.approx(1 / 22)
    assert result.shares == pytest.approx((1 / 2, 1 / 3, 1 / 6))
    assert result.to_dict()["categories"] == ["A", "B", "tie"]


def test_the_published_worked_example() -> None:
    # 10 subjects, 14 raters, 5 categories: P = 0.378, Pe = 0.213, kappa = 0.210 (rounded as published).
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    categories = ("1", "2", "3", "4", "5")
    ratings = [[c for c, count in zip(categories, row, strict=True) for _ in range(count)] for row in table]
    result = fleiss_kappa(ratings, categories)
    assert result.observed == pytest.approx(0.378, abs=5e-4)
    assert result.expected == pytest.approx(0.213, abs=5e-4)
    assert result.kappa == pytest.approx(0.210, abs=5e-4)


def _brute_force(ratings: list[list[str]], categories: tuple[str, ...]) -> float:
    """Kappa from its definition: the share of agreeing rater pairs per item, against chance from the shares."""
    per_item = [sum(a == b for a, b in itertools.combinations(row, 2)) / (len(row) * (len(row) - 1) / 2)
                for row in ratings]
    everything = [value for row in ratings for value in row]
    expected = sum((everything.count(c) / len(everything)) ** 2 for c in categories)
    return (sum(per_item) / len(per_item) - expected) / (1 - expected)


@pytest.mark.parametrize("seed", range(20))
def test_random_tables_match_a_count_of_agreeing_pairs(seed: int) -> None:
    rng = random.Random(seed)
    raters = rng.randint(2, 6)
    categories = ("A", "B", "tie", "inconsistent")[: rng.randint(2, 4)]
    bias = [rng.random() + 0.1 for _ in categories]
    ratings = [rng.choices(categories, weights=bias, k=raters) for _ in range(rng.randint(3, 40))]
    result = fleiss_kappa(ratings, categories)
    if result.kappa is None:
        assert result.expected == pytest.approx(1.0)
    else:
        assert result.kappa == pytest.approx(_brute_force(ratings, categories), abs=1e-12)


def test_perfect_agreement_and_agreement_below_chance() -> None:
    assert fleiss_kappa([["A", "A"], ["B", "B"], ["tie", "tie"]], _CATEGORIES).kappa == pytest.approx(1.0)
    assert fleiss_kappa([["A", "B"], ["B", "A"]], _CATEGORIES).kappa == pytest.approx(-1.0)


def test_no_kappa_when_every_rating_is_one_category_or_nothing_is_rated() -> None:
    same = fleiss_kappa([["A", "A"], ["A", "A"]], _CATEGORIES)
    assert same.kappa is None and same.observed == 1.0 and same.expected == 1.0
    empty = fleiss_kappa([["A", None], [None, "B"]], _CATEGORIES)
    assert empty.kappa is None and empty.n_items == 0 and empty.left_out == 2
    assert fleiss_kappa([], _CATEGORIES).n_items == 0


@pytest.mark.parametrize(("ratings", "categories", "message"), [
    ([["A", "B"], ["A"]], _CATEGORIES, "item 1 has 1 ratings, the first item 2"),
    ([["A", "C"]], _CATEGORIES, r"item 0, rater 1: 'C' is not one of A, B, tie"),
    ([["A"], ["B"]], _CATEGORIES, "at least two raters"),
    ([["A", "A"]], ("A",), "at least two distinct categories"),
])
def test_bad_input_is_named(ratings: list[list[str | None]], categories: tuple[str, ...], message: str) -> None:
    with pytest.raises(InputError, match=message):
        fleiss_kappa(ratings, categories)
