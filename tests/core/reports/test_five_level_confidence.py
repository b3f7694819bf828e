"""Five-level verdicts (arenahard) where a winner's probability is read: the per-pair table's confidence and the
CLI's verdict lines. A five-level judge's options are A>>B ... B>>A, so the probability of winner A is the sum of
A>>B and A>B; looking up "A" directly would find nothing.
"""

from __future__ import annotations

import pytest
from judgedesk.core import BothOrdersResult, PairwiseVerdict, Status
from judgedesk.core.cli._render import render_both_orders
from judgedesk.core.reports import ResultRow, row_confidence
from judgedesk.core.runs import StoredTask

FIVE_AB = {"A>>B": 0.5, "A>B": 0.2, "A=B": 0.1, "B>A": 0.15, "B>>A": 0.05}
FIVE_BA = {"A>>B": 0.1, "A>B": 0.5, "A=B": 0.3, "B>A": 0.05, "B>>A": 0.05}


def _row(sides: dict[str, dict[str, object]]) -> ResultRow:
    task = StoredTask(position=0, item_id="q1", content="c", model_a="m1", model_b="m2", category=None, human=None,
                      payload={})
    return ResultRow(task=task, sides=sides, statuses={side: Status.OK for side in sides})


def test_confidence_sums_the_levels_that_name_the_winner() -> None:
    row = _row({"AB": {"winner": "A", "strength": "A>>B", "probabilities": FIVE_AB},
                "BA": {"winner": "A", "strength": "A>B", "probabilities": FIVE_BA}})
    # A: 0.5 + 0.2 in order AB, 0.1 + 0.5 in order BA.
    assert row_confidence(row, ("AB", "BA")) == pytest.approx(0.65)


def test_confidence_of_a_tie_is_the_probability_of_a_equals_b() -> None:
    row = _row({"AB": {"winner": "tie", "strength": "A=B", "probabilities": FIVE_AB}})
    assert row_confidence(row, ("AB",)) == 0.1


def test_three_level_confidence_is_unchanged() -> None:
    row = _row({"AB": {"winner": "B", "probabilities": {"A": 0.1, "B": 0.8, "tie": 0.1}}})
    assert row_confidence(row, ("AB",)) == 0.8


def _verdict(order: str, probabilities: dict[str, float], winner: str, strength: str | None) -> PairwiseVerdict:
    return PairwiseVerdict(item_id="q1", order=order, winner=winner, status=Status.OK, raw_output="",  # type: ignore[arg-type]
                           probabilities=probabilities, strength=strength)  # type: ignore[arg-type]


def test_cli_shows_each_level_in_order_then_the_winners_they_add_up_to() -> None:
    result = BothOrdersResult(item_id="q1", ab=_verdict("AB", FIVE_AB, "A", "A>>B"),
                              ba=_verdict("BA", FIVE_BA, "A", "A>B"), decision="A")
    lines = render_both_orders(result, explain=False).splitlines()
    assert lines[2] == "  A shown first: A  [A>>B 50%, A>B 20%, A=B 10%, B>A 15%, B>>A 5%; A 70%, B 20%, tie 10%]"
    assert lines[3] == "  B shown first: A  [A>>B 10%, A>B 50%, A=B 30%, B>A 5%, B>>A 5%; A 60%, B 10%, tie 30%]"


def test_cli_three_level_line_is_unchanged() -> None:
    verdict = _verdict("AB", {"tie": 0.1, "B": 0.2, "A": 0.7}, "A", None)
    result = BothOrdersResult(item_id="q1", ab=verdict, ba=None, decision="A")
    assert render_both_orders(result, explain=False).splitlines()[2] == "  A shown first: A  [A 70%, B 20%, tie 10%]"
