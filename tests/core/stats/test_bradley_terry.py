"""Bradley–Terry ratings: the two-model closed form, a three-model fit against a direct maximisation of the
log-likelihood written here, the prior that keeps undefeated models finite, anchoring, and the bootstrap."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from judgedesk.core import InputError
from judgedesk.core.stats import Outcome, bradley_terry


def _games(model_a: str, model_b: str, decision: str, count: int, prefix: str) -> list[Outcome]:
    return [Outcome(f"{prefix}{i}", model_a, model_b, decision) for i in range(count)]  # type: ignore[arg-type]


def _table(wins: int, losses: int, ties: int) -> list[Outcome]:
    return [*_games("X", "Y", "A", wins, "w"), *_games("Y", "X", "A", losses, "l"),
            *_games("X", "Y", "tie", ties, "t")]


@pytest.mark.parametrize(("wins", "losses", "ties"), [(7, 3, 2), (5, 5, 0), (1, 9, 4), (2, 0, 1)])
def test_two_models_match_the_closed_form(wins: int, losses: int, ties: int) -> None:
    ratings = bradley_terry(_table(wins, losses, ties), rounds=0)
    ratio = (wins + ties / 2) / (losses + ties / 2)
    assert ratings.prior_wins == 0.0
    assert ratings.anchor == "X"
    assert ratings.rating("X").rating == pytest.approx(1000.0)
    assert ratings.rating("Y").rating == pytest.approx(1000.0 - 400 * math.log10(ratio), abs=1e-7)
    assert ratings.rating("X").games == ratings.rating("Y").games == wins + losses + ties


def test_seven_wins_three_losses_two_ties_is_a_factor_of_two() -> None:
    # (7 + 2/2) / (3 + 2/2) = 2: Y sits 400*log10(2) ~ 120.4 points below X.
    ratings = bradley_terry(_table(7, 3, 2), baseline="Y", rounds=0)
    assert [entry.model for entry in ratings.models] == ["X", "Y"]
    assert ratings.rating("Y").rating == pytest.approx(1000.0)
    assert ratings.rating("X").rating == pytest.approx(1000.0 + 400 * math.log10(2.0))


def _direct_maximum(games: list[tuple[int, int, float]], size: int) -> np.ndarray:
    """Log-strengths maximising sum s*log(sigmoid(t_a - t_b)) + (1 - s)*log(sigmoid(t_b - t_a)), by plain
    gradient ascent with t_0 held at 0."""
    theta = np.zeros(size)
    for _ in range(20000):
        gradient = np.zeros(size)
        for a, b, s in games:
            p = 1.0 / (1.0 + math.exp(theta[b] - theta[a]))
            gradient[a] += s - p
            gradient[b] -= s - p
        gradient[0] = 0.0
        theta += 0.05 * gradient
        if np.max(np.abs(gradient)) < 1e-11:
            break
    return theta


def test_three_models_match_a_direct_maximisation() -> None:
    outcomes = [*_games("X", "Y", "A", 6, "a"), *_games("X", "Y", "B", 3, "b"), *_games("X", "Y", "tie", 2, "c"),
                *_games("Y", "Z", "A", 5, "d"), *_games("Z", "Y", "A", 2, "e"),
                *_games("X", "Z", "A", 4, "f"), *_games("Z", "X", "A", 4, "g"), *_games("Z", "X", "tie", 1, "h")]
    index = {"X": 0, "Y": 1, "Z": 2}
    value = {"A": 1.0, "B": 0.0, "tie": 0.5}
    # Grouped by (a, b, s) with multiplicity, so the test's ascent stays quick.
    counted: dict[tuple[int, int, float], int] = {}
    for o in outcomes:
        key = (index[o.model_a], index[o.model_b], value[o.decision])
        counted[key] = counted.get(key, 0) + 1
    games = [key for key, count in counted.items() for _ in range(count)]
    theta = _direct_maximum(games, 3)

    ratings = bradley_terry(outcomes, rounds=0)
    assert ratings.prior_wins == 0.0
    for model, i in index.items():
        expected = 1000.0 + 400.0 / math.log(10.0) * theta[i]
        assert ratings.rating(model).rating == pytest.approx(expected, abs=1e-6)
    ranked = [entry.rating for entry in ratings.models]
    assert ranked == sorted(ranked, reverse=True)


def test_an_undefeated_model_stays_finite_through_the_prior() -> None:
    ratings = bradley_terry(_games("X", "Y", "A", 5, "w"), rounds=0)
    assert ratings.prior_wins == pytest.approx(0.01)
    # With 0.01 pseudo-wins each way: strength ratio (5 + 0.01) / 0.01.
    assert ratings.rating("Y").rating == pytest.approx(1000.0 - 400 * math.log10(5.01 / 0.01))


def test_models_that_never_met_get_finite_ratings() -> None:
    outcomes = [*_games("X", "Y", "A", 3, "a"), *_games("X", "Y", "B", 2, "b"),
                *_games("U", "V", "A", 2, "c"), *_games("U", "V", "B", 2, "d")]
    ratings = bradley_terry(outcomes, rounds=20)
    assert ratings.prior_wins == pytest.approx(0.01)
    assert all(math.isfinite(entry.rating) for entry in ratings.models)


def test_unparsed_inconsistent_and_self_pairs_are_not_games() -> None:
    outcomes = [*_table(7, 3, 2), *_games("X", "Y", "unparsed", 4, "u"), *_games("X", "Y", "inconsistent", 3, "i"),
                *_games("Z", "Z", "A", 3, "s")]
    ratings = bradley_terry(outcomes, rounds=0)
    assert [entry.model for entry in ratings.models] == ["X", "Y"]
    assert ratings.rating("Y").rating == pytest.approx(1000.0 - 400 * math.log10(2.0))
    # Counted as ties, the three inconsistent outcomes make it (7 + 5/2) / (3 + 5/2).
    as_ties = bradley_terry(outcomes, inconsistent_as_tie=True, rounds=0)
    assert as_ties.rating("Y").rating == pytest.approx(1000.0 - 400 * math.log10(9.5 / 5.5))
    assert as_ties.rating("X").games == 15


def test_unknown_baseline_is_refused() -> None:
    with pytest.raises(InputError, match="'W'"):
        bradley_terry(_table(7, 3, 2), baseline="W", rounds=0)


def test_bootstrap_is_reproducible_and_the_anchor_is_fixed() -> None:
    outcomes = [*_table(9, 6, 3), *_games("Y", "Z", "A", 7, "z"), *_games("Y", "Z", "B", 5, "v")]
    first = bradley_terry(outcomes, rounds=200, seed=7)
    assert bradley_terry(outcomes, rounds=200, seed=7) == first
    other = bradley_terry(outcomes, rounds=200, seed=8)
    assert other.rating("Z").ci_low != first.rating("Z").ci_low
    # The anchor is 1000 by definition: no interval, which would only read [1000, 1000].
    anchor = first.rating("X")
    assert (anchor.rating, anchor.ci_low, anchor.ci_high) == (1000.0, None, None)
    assert anchor.no_interval == "the anchor: 1000 by definition"
    for entry in (entry for entry in first.models if entry.model != "X"):
        assert entry.ci_low is not None and entry.ci_high is not None and entry.no_interval is None
        assert entry.ci_low <= entry.rating <= entry.ci_high


def test_balanced_table_interval_contains_the_rating() -> None:
    ratings = bradley_terry(_table(10, 10, 5), rounds=300)
    y = ratings.rating("Y")
    assert y.rating == pytest.approx(1000.0)
    assert y.ci_low is not None and y.ci_high is not None
    assert y.ci_low < 1000.0 < y.ci_high


def test_to_dict_is_json() -> None:
    ratings = bradley_terry(_table(7, 3, 2), rounds=20)
    plain = json.loads(json.dumps(ratings.to_dict(), allow_nan=False))
    assert plain["anchor"] == "X"
    assert [entry["model"] for entry in plain["models"]] == ["X", "Y"]


def test_empty_input() -> None:
    assert bradley_terry([]).models == ()
    assert bradley_terry([], baseline="X").anchor is None
    assert bradley_terry(_games("X", "Y", "unparsed", 3, "u")).models == ()
