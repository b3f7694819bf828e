"""The judge's behaviour figures on a hand-made table, each share checked against its counts."""

from __future__ import annotations

import pytest
from judgedesk.core.stats import Outcome, judge_behaviour

TABLE = [
    # both orders agree on A; A-first order: first shown won; B-first order: A (shown second) won; longer A won
    Outcome("1", "X", "Y", "A", ab="A", ba="A", len_a=100, len_b=50),
    # orders disagree: each order picked the response shown first
    Outcome("2", "X", "Y", "inconsistent", ab="A", ba="B", len_a=10, len_b=20),
    # both tie: consistent, no non-tie order verdict
    Outcome("3", "X", "Y", "tie", ab="tie", ba="tie"),
    # both B: A-first order picked the second shown, B-first order the first shown; longer B won
    Outcome("4", "Y", "X", "B", ab="B", ba="B", len_a=30, len_b=40),
    # B-first order unparsed: not a both-order outcome
    Outcome("5", "X", "Y", "unparsed", ab="A"),
    # one-order run; equal lengths say nothing about length
    Outcome("6", "X", "Y", "B", ab="B", len_a=50, len_b=50),
    Outcome("7", "X", "Y", "unparsed"),
    # one-order run: the shorter response won
    Outcome("8", "X", "Y", "A", ab="A", len_a=5, len_b=500),
]


def test_figures_by_hand() -> None:
    behaviour = judge_behaviour(TABLE)
    assert behaviour.n == 8
    # both orders: 1, 2, 3, 4; consistent: 1, 3, 4
    assert (behaviour.both_orders, behaviour.consistent) == (4, 3)
    assert behaviour.position_consistency == pytest.approx(3 / 4)
    # non-tie order verdicts: 1ab A (first), 1ba A (second), 2ab A (first), 2ba B (first), 4ab B (second),
    # 4ba B (first) -> 4 of 6 to the first shown
    assert (behaviour.order_verdicts, behaviour.first_shown_won) == (6, 4)
    assert behaviour.first_position_preference == pytest.approx(4 / 6)
    # decisive with different lengths: 1 (longer won), 4 (longer won), 8 (shorter won)
    assert (behaviour.length_decided, behaviour.longer_won) == (3, 2)
    assert behaviour.length_preference == pytest.approx(2 / 3)
    assert (behaviour.ties, behaviour.inconsistent, behaviour.unparsed) == (1, 1, 2)
    assert behaviour.tie_rate == pytest.approx(1 / 8)
    assert behaviour.inconsistent_rate == pytest.approx(1 / 8)
    assert behaviour.unparsed_rate == pytest.approx(2 / 8)


def test_an_unbiased_judge_reads_one_half() -> None:
    table = [Outcome("1", "X", "Y", "inconsistent", ab="A", ba="B", len_a=1, len_b=2),
             Outcome("2", "X", "Y", "inconsistent", ab="B", ba="A", len_a=1, len_b=2),
             Outcome("3", "X", "Y", "A", ab="A", ba="A", len_a=1, len_b=2),
             Outcome("4", "X", "Y", "A", ab="A", ba="A", len_a=2, len_b=1)]
    behaviour = judge_behaviour(table)
    assert behaviour.first_position_preference == pytest.approx(0.5)
    assert behaviour.length_preference == pytest.approx(0.5)
    assert behaviour.position_consistency == pytest.approx(0.5)


def test_empty_input() -> None:
    behaviour = judge_behaviour([])
    assert behaviour.n == 0
    assert behaviour.position_consistency is None
    assert behaviour.first_position_preference is None
    assert behaviour.length_preference is None
    assert behaviour.tie_rate is None and behaviour.unparsed_rate is None and behaviour.inconsistent_rate is None
    assert behaviour.to_dict()["n"] == 0
