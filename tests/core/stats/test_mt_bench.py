"""MT-bench tables as FastChat's show_result.py computes them, on small inputs computed by hand: mean scores per
turn and overall with −1 dropped, and pairwise win rates with g1/g2 combined FastChat's way."""

from __future__ import annotations

import json

import pytest
from judgedesk.core import InputError
from judgedesk.core.stats import MtBenchGrade, MtBenchPair, mt_bench_scores, mt_bench_win_rates

GRADES = [
    MtBenchGrade("m1", 1, 8.0, "81"), MtBenchGrade("m1", 1, 6.0, "82"), MtBenchGrade("m1", 1, -1, "83"),
    MtBenchGrade("m1", 2, 7.0, "81"), MtBenchGrade("m1", 2, None, "82"),
    MtBenchGrade("m2", 1, 10.0, "81"), MtBenchGrade("m2", 2, 3.0, "81"), MtBenchGrade("m2", 1, 9.0, "82"),
    MtBenchGrade("m3", 1, -1.0, "81"),
]


def test_scores_per_turn_and_overall() -> None:
    rows = {row.model: row for row in mt_bench_scores(GRADES)}
    assert [row.model for row in mt_bench_scores(GRADES)] == ["m2", "m1", "m3"]
    m1, m2, m3 = rows["m1"], rows["m2"], rows["m3"]
    assert (m1.turns, m1.average, m1.counts, m1.n, m1.dropped) == ({1: 7.0, 2: 7.0}, 7.0, {1: 2, 2: 1}, 3, 2)
    # FastChat's "Average" is the mean over all kept judgements: (10 + 9 + 3) / 3, not the mean of 9.5 and 3.
    assert m2.turns == {1: 9.5, 2: 3.0}
    assert m2.average == pytest.approx(22 / 3)
    assert (m3.turns, m3.average, m3.n, m3.dropped) == ({}, None, 0, 1)


PAIRS = [
    MtBenchPair("m1", "m2", 1, "model_1", "model_1", "1"),  # m1 wins
    MtBenchPair("m1", "m2", 1, "tie", "model_1", "2"),      # a tie in g1: a tie
    MtBenchPair("m1", "m2", 1, "model_1", "model_2", "3"),  # orders disagree: a tie
    MtBenchPair("m1", "m2", 2, "model_2", "model_2", "4"),  # m2 wins
    MtBenchPair("m2", "m3", 2, "model_1", "tie", "5"),      # orders disagree: a tie
    MtBenchPair("m1", "m3", 2, "error", "model_1", "6"),    # dropped
    MtBenchPair("m1", "m3", 1, "model_2", "model_2", "7"),  # m3 wins
]


def _table(rows: tuple) -> dict[str, tuple]:
    return {row.model: (row.wins, row.losses, row.ties, row.win_rate, row.loss_rate, row.win_rate_adjusted)
            for row in rows}


def test_pairwise_all_pools_turns_and_counts_disagreement_as_a_tie() -> None:
    result = mt_bench_win_rates(PAIRS)
    assert result.errors == 1 and result.baseline is None
    assert [row.model for row in result.overall] == ["m3", "m2", "m1"]
    assert _table(result.overall) == {"m1": (1, 2, 2, 0.2, 0.4, 0.4), "m2": (1, 1, 3, 0.2, 0.2, 0.5),
                                      "m3": (1, 0, 1, 0.5, 0.0, 0.75)}
    assert list(result.by_turn) == [1, 2]
    assert [row.model for row in result.by_turn[1]] == ["m3", "m1", "m2"]
    assert _table(result.by_turn[1]) == {"m1": (1, 1, 2, 0.25, 0.25, 0.5), "m2": (0, 1, 2, 0.0, 1 / 3, 1 / 3),
                                         "m3": (1, 0, 0, 1.0, 0.0, 1.0)}
    assert [row.model for row in result.by_turn[2]] == ["m2", "m3", "m1"]
    assert _table(result.by_turn[2]) == {"m1": (0, 1, 0, 0.0, 1.0, 0.0), "m2": (1, 0, 1, 0.5, 0.0, 0.75),
                                         "m3": (0, 0, 1, 0.0, 0.0, 0.5)}


def test_pairwise_against_a_baseline_keeps_its_records_and_drops_its_row() -> None:
    result = mt_bench_win_rates(PAIRS, baseline="m1")
    assert _table(result.overall) == {"m2": (1, 1, 2, 0.25, 0.25, 0.5), "m3": (1, 0, 0, 1.0, 0.0, 1.0)}
    assert [row.model for row in result.overall] == ["m3", "m2"]


def test_bad_records_are_named() -> None:
    with pytest.raises(InputError, match="item 'q9', field 'g2_winner'"):
        MtBenchPair("a", "b", 1, "model_1", "A", "q9")
    with pytest.raises(InputError, match="item 'q9', field 'turn'"):
        MtBenchGrade("a", 0, 5.0, "q9")


def test_results_serialise_to_json() -> None:
    for result in (*mt_bench_scores(GRADES), mt_bench_win_rates(PAIRS)):
        plain = result.to_dict()
        assert json.loads(json.dumps(plain, allow_nan=False)) == plain
