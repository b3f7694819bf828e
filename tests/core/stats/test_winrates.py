"""Pair summaries, per-category tables and the win-rate matrix, against counts and rates worked out by hand."""

from __future__ import annotations

import json

import pytest
from judgedesk.core import InputError
from judgedesk.core.stats import Outcome, by_category, pair_summary, win_rate_matrix


def _games(model_a: str, model_b: str, decision: str, count: int, prefix: str, **extra: object) -> list[Outcome]:
    return [Outcome(f"{prefix}{i}", model_a, model_b, decision, **extra) for i in range(count)]  # type: ignore[arg-type]


# Y appears first (outcome 1 lists it as model_a), so the pair reads Y vs X.
MIXED = [
    Outcome("q1", "Y", "X", "B"),             # X wins
    Outcome("q2", "X", "Y", "A"),             # X wins
    Outcome("q3", "X", "Y", "B"),             # Y wins
    Outcome("q4", "X", "Y", "tie"),
    Outcome("q5", "Y", "X", "inconsistent"),
    Outcome("q6", "X", "Y", "unparsed"),
    Outcome("q7", "Y", "X", "A"),             # Y wins
]


def test_counts_are_flipped_to_the_pair_orientation() -> None:
    [summary] = pair_summary(MIXED, rounds=0)
    assert (summary.model_a, summary.model_b) == ("Y", "X")
    assert (summary.n, summary.items) == (7, 7)
    assert (summary.wins, summary.losses, summary.ties, summary.inconsistent, summary.unparsed) == (2, 2, 1, 1, 1)


def test_win_rate_leaves_out_inconsistent_and_unparsed() -> None:
    [summary] = pair_summary(MIXED, rounds=0)
    # Y: 2 wins, 2 losses, 1 tie -> (2 + 1/2) / 5
    assert summary.win_rate == pytest.approx((2 + 0.5) / 5)
    assert summary.ci_low is None and summary.ci_high is None


def test_inconsistent_as_tie_joins_the_denominator() -> None:
    table = [*_games("X", "Y", "A", 2, "w"), *_games("X", "Y", "B", 1, "l"), *_games("X", "Y", "tie", 1, "t"),
             *_games("X", "Y", "inconsistent", 1, "i"), *_games("X", "Y", "unparsed", 1, "u")]
    [plain] = pair_summary(table, rounds=0)
    [as_tie] = pair_summary(table, inconsistent_as_tie=True, rounds=0)
    assert plain.win_rate == pytest.approx((2 + 1 / 2) / 4)
    assert as_tie.win_rate == pytest.approx((2 + 2 / 2) / 5)
    assert as_tie.inconsistent == 1  # still reported


def test_pairs_follow_first_appearance() -> None:
    table = [Outcome("1", "B", "C", "A"), Outcome("2", "A", "B", "A"), Outcome("3", "C", "A", "A"),
             Outcome("4", "A", "A", "A")]
    pairs = [(s.model_a, s.model_b) for s in pair_summary(table, rounds=0)]
    # order B=0, C=1, A=2; the self-pair says nothing about ranking and is left out
    assert pairs == [("B", "C"), ("B", "A"), ("C", "A")]


def test_a_pair_with_only_unparsed_outcomes_has_no_rate() -> None:
    [summary] = pair_summary(_games("X", "Y", "unparsed", 3, "u"), rounds=50)
    assert summary.unparsed == 3
    assert (summary.win_rate, summary.ci_low, summary.ci_high) == (None, None, None)


def test_bootstrap_is_reproducible_and_depends_on_the_seed() -> None:
    table = [*_games("X", "Y", "A", 12, "w"), *_games("X", "Y", "B", 7, "l"), *_games("X", "Y", "tie", 4, "t")]
    first = pair_summary(table, rounds=300, seed=1)
    assert pair_summary(table, rounds=300, seed=1) == first
    other = pair_summary(table, rounds=300, seed=2)
    assert (other[0].ci_low, other[0].ci_high) != (first[0].ci_low, first[0].ci_high)
    assert other[0].win_rate == first[0].win_rate


def test_balanced_table_interval_contains_the_estimate() -> None:
    table = [*_games("X", "Y", "A", 10, "w"), *_games("X", "Y", "B", 10, "l"), *_games("X", "Y", "tie", 5, "t")]
    [summary] = pair_summary(table, rounds=500)
    assert summary.win_rate == pytest.approx(0.5)
    assert summary.ci_low is not None and summary.ci_high is not None
    assert 0.0 <= summary.ci_low < 0.5 < summary.ci_high <= 1.0


def test_bootstrap_draws_whole_items() -> None:
    # Every item holds one win and one loss for X. Drawn whole, each redraw has rate exactly 1/2, so the redraws do
    # not vary and there is no interval to give; drawn outcome by outcome, the interval would be wide.
    table = [Outcome(f"q{i}", "X", "Y", decision) for i in range(10) for decision in ("A", "B")]
    [summary] = pair_summary(table, rounds=200)
    assert (summary.items, summary.games, summary.win_rate) == (10, 20, 0.5)
    assert (summary.ci_low, summary.ci_high) == (None, None)
    assert summary.no_interval == "no interval: the redraws do not vary (n = 20)"


def test_a_pair_interval_ignores_other_pairs() -> None:
    table = [*_games("X", "Y", "A", 6, "w"), *_games("X", "Y", "B", 4, "l")]
    alone = pair_summary(table, rounds=200, seed=3)
    with_z = pair_summary([*table, *_games("X", "Z", "A", 5, "z")], rounds=200, seed=3)
    assert with_z[0] == alone[0]


def test_negative_rounds_are_refused() -> None:
    with pytest.raises(InputError, match="rounds"):
        pair_summary(MIXED, rounds=-1)


def test_by_category_keeps_the_overall_orientation() -> None:
    table = [
        Outcome("1", "X", "Y", "A", category="code"),
        Outcome("2", "Y", "X", "A", category="math"),   # Y first within math, but the pair still reads X vs Y
        Outcome("3", "Y", "X", "B", category="math"),
        Outcome("4", "X", "Y", "tie", category="math"),
        Outcome("5", "X", "Y", "B"),                     # no category: only in the overall table
    ]
    tables = by_category(table, rounds=0)
    assert list(tables) == ["code", "math"]
    [code] = tables["code"]
    [math_] = tables["math"]
    assert (code.model_a, code.model_b, code.wins, code.n) == ("X", "Y", 1, 1)
    assert (math_.model_a, math_.model_b) == ("X", "Y")
    assert (math_.wins, math_.losses, math_.ties) == (1, 1, 1)
    assert math_.win_rate == pytest.approx((1 + 0.5) / 3)


def test_win_rate_matrix_by_hand() -> None:
    table = [*_games("X", "Y", "A", 3, "a"), *_games("Y", "X", "A", 1, "b"), *_games("X", "Y", "tie", 2, "c"),
             *_games("Y", "Z", "B", 2, "d"), *_games("Z", "Y", "tie", 1, "e"), *_games("X", "Y", "unparsed", 4, "f"),
             Outcome("g", "W", "W", "A")]
    matrix = win_rate_matrix(table)
    assert matrix.models == ("X", "Y", "Z", "W")
    # X vs Y: 3 wins, 1 loss, 2 ties -> (3 + 1) / 6; Y vs Z: 0 wins, 2 losses, 1 tie -> 0.5 / 3
    assert matrix.rate("X", "Y") == pytest.approx(4 / 6)
    assert matrix.rate("Y", "X") == pytest.approx(2 / 6)
    assert matrix.rate("Y", "Z") == pytest.approx(0.5 / 3)
    assert matrix.rate("Z", "Y") == pytest.approx(2.5 / 3)
    assert matrix.rate("X", "Z") is None and matrix.rate("W", "W") is None
    assert matrix.games[0][1] == 6 and matrix.games[1][2] == 3 and matrix.games[3][3] == 0
    size = len(matrix.models)
    for i in range(size):
        assert matrix.rates[i][i] is None
        for j in range(size):
            forward, backward = matrix.rates[i][j], matrix.rates[j][i]
            assert (forward is None) == (backward is None)
            if forward is not None and backward is not None:
                assert forward + backward == pytest.approx(1.0)
    assert json.loads(json.dumps(matrix.to_dict(), allow_nan=False))["models"] == ["X", "Y", "Z", "W"]


def test_empty_input() -> None:
    assert pair_summary([]) == []
    assert by_category([]) == {}
    matrix = win_rate_matrix([])
    assert (matrix.models, matrix.rates, matrix.games) == ((), (), ())
