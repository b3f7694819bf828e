"""Figures from few games (issue 17): every estimate carries its n, an interval is given only when it can mean
something (a degenerate bootstrap is no interval, and says why), and a model without a counted game is listed with
the reason instead of silently dropped."""

from __future__ import annotations

import numpy as np
import pytest
from judgedesk.core.stats import (
    MIN_GAMES_FOR_INTERVAL,
    Outcome,
    bootstrap_interval,
    bradley_terry,
    by_category,
    pair_summary,
    too_few_games,
    win_rate_matrix,
)


def _games(model_a: str, model_b: str, decision: str, count: int, prefix: str, **extra: object) -> list[Outcome]:
    return [Outcome(f"{prefix}{i}", model_a, model_b, decision, **extra) for i in range(count)]  # type: ignore[arg-type]


# The demo judge's run in miniature: alpha's pairs all inconsistent, one decisive game between beta and gamma.
DEMO_LIKE = [*_games("alpha", "beta", "inconsistent", 4, "ab"), *_games("alpha", "gamma", "inconsistent", 4, "ag"),
             Outcome("bg0", "beta", "gamma", "A"), *_games("beta", "gamma", "inconsistent", 3, "bg", category="x")]


def test_the_rule_is_documented_and_worded_once() -> None:
    assert MIN_GAMES_FOR_INTERVAL == 10
    assert too_few_games(1) == "too few games for an interval (n = 1)"
    assert too_few_games(3, "scores") == "too few scores for an interval (n = 3)"


def test_bootstrap_interval_refuses_degenerate_redraws() -> None:
    spread = np.linspace(0.2, 0.8, 200)
    assert bootstrap_interval(spread, games=MIN_GAMES_FOR_INTERVAL, rounds=200).missing is None
    below = bootstrap_interval(spread, games=MIN_GAMES_FOR_INTERVAL - 1, rounds=200)
    assert (below.low, below.high, below.missing) == (None, None, "too few games for an interval (n = 9)")
    flat = bootstrap_interval(np.full(200, 0.5), games=40, rounds=200)
    assert (flat.low, flat.high, flat.missing) == (None, None, "no interval: the redraws do not vary (n = 40)")
    assert bootstrap_interval([], games=40, rounds=0).missing == "no interval: the bootstrap was off (0 rounds)"


def test_one_game_is_a_win_rate_with_its_n_and_no_interval() -> None:
    [alpha_beta, alpha_gamma, beta_gamma] = pair_summary(DEMO_LIKE, rounds=200)
    assert (beta_gamma.win_rate, beta_gamma.games, beta_gamma.n) == (1.0, 1, 4)
    assert (beta_gamma.ci_low, beta_gamma.ci_high) == (None, None)
    assert beta_gamma.no_interval == "too few games for an interval (n = 1)"
    # No games at all: no rate, and nothing to say about an interval of it.
    assert (alpha_beta.win_rate, alpha_beta.games, alpha_beta.no_interval) == (None, 0, None)
    assert alpha_gamma.inconsistent == 4


def test_all_ties_is_no_interval_rather_than_fifty_to_fifty() -> None:
    # The demo judge's categories with "inconsistent as tie": every game half a win, every redraw 50%.
    [summary] = pair_summary(_games("X", "Y", "inconsistent", 4, "i"), inconsistent_as_tie=True, rounds=200)
    assert (summary.win_rate, summary.games, summary.ci_low) == (0.5, 4, None)
    assert summary.no_interval == "too few games for an interval (n = 4)"
    [many] = pair_summary(_games("X", "Y", "inconsistent", 30, "i"), inconsistent_as_tie=True, rounds=200)
    assert (many.win_rate, many.games, many.ci_low) == (0.5, 30, None)
    assert many.no_interval == "no interval: the redraws do not vary (n = 30)"
    assert (many.ties, many.inconsistent) == (0, 30)  # still counted as what the judge said


def test_enough_varied_games_keep_their_interval() -> None:
    table = [*_games("X", "Y", "A", 7, "w"), *_games("X", "Y", "B", 5, "l")]
    [summary] = pair_summary(table, rounds=300)
    assert summary.games == 12 and summary.no_interval is None
    assert summary.ci_low is not None and summary.ci_high is not None
    assert summary.ci_low < summary.win_rate < summary.ci_high  # type: ignore[operator]


def test_categories_carry_their_own_n() -> None:
    [[category]] = by_category(DEMO_LIKE, rounds=200).values()
    assert (category.n, category.games, category.win_rate) == (3, 0, None)
    table = [*_games("X", "Y", "A", 3, "w", category="code"), *_games("X", "Y", "B", 1, "l", category="code")]
    [[code]] = by_category(table, rounds=200).values()
    assert (code.games, code.win_rate, code.no_interval) == (4, 0.75, "too few games for an interval (n = 4)")


def test_ratings_from_one_game_have_no_interval_and_unrated_models_are_listed() -> None:
    ratings = bradley_terry(DEMO_LIKE, rounds=200)
    assert [(m.model, m.games) for m in ratings.models] == [("beta", 1), ("gamma", 1)]
    beta, gamma = ratings.models
    assert (beta.rating, beta.ci_low, beta.ci_high, beta.no_interval) == (1000.0, None, None,
                                                                          "the anchor: 1000 by definition")
    assert (gamma.ci_low, gamma.ci_high, gamma.no_interval) == (None, None, "too few games for an interval (n = 1)")
    [alpha] = ratings.unrated
    assert (alpha.model, alpha.n, alpha.inconsistent, alpha.unparsed) == ("alpha", 8, 8, 0)
    assert alpha.reason == "no decisive games — all 8 inconsistent"
    assert ratings.to_dict()["unrated"][0]["reason"] == alpha.reason
    # Counted as ties, alpha's pairs are games: everyone is rated.
    assert bradley_terry(DEMO_LIKE, inconsistent_as_tie=True, rounds=0).unrated == ()


@pytest.mark.parametrize(("outcomes", "reason"), [
    (_games("X", "Y", "unparsed", 3, "u"), "no decisive games — all 3 unparsed"),
    (_games("X", "Y", "inconsistent", 1, "i"), "no decisive games — its one pair inconsistent"),
    ([*_games("X", "Y", "inconsistent", 2, "i"), *_games("X", "Y", "unparsed", 1, "u")],
     "no decisive games — 2 inconsistent and 1 unparsed of 3"),
    (_games("X", "X", "A", 2, "s"), "judged only against itself"),
])
def test_every_unrated_model_says_why(outcomes: list[Outcome], reason: str) -> None:
    ratings = bradley_terry([*outcomes, *_games("V", "W", "A", 2, "vw")], rounds=0)
    assert [m.model for m in ratings.models] == ["V", "W"]
    assert {entry.reason for entry in ratings.unrated} == {reason}


def test_the_matrix_counts_the_games_behind_each_cell() -> None:
    matrix = win_rate_matrix(DEMO_LIKE)
    assert matrix.games == ((0, 0, 0), (0, 0, 1), (0, 1, 0))
    assert matrix.rate("beta", "gamma") == 1.0 and matrix.rate("alpha", "beta") is None
