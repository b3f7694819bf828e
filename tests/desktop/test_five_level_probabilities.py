"""Five-level verdicts (arenahard) in the app: the verdict card shows the five probabilities in reading order, each
bar in its winner's colour, and the live table's confidence is the probability of the winner (the sum of the levels
that name it). Three-level verdicts look as they always did.
"""

from __future__ import annotations

import pytest
from judgedesk.core import BothOrdersResult, PairwiseVerdict, Status
from judgedesk.core.runs import JudgedOrder
from judgedesk.desktop._live_verdicts import LiveVerdictsModel
from judgedesk.desktop._verdict_card import ProbabilityBars, result_as_text

FIVE = {"B>>A": 0.05, "A=B": 0.1, "A>B": 0.2, "B>A": 0.15, "A>>B": 0.5}


def test_bars_show_the_five_levels_in_reading_order(qtbot) -> None:
    bars = ProbabilityBars()
    qtbot.addWidget(bars)
    bars.set_probabilities(FIVE)
    assert list(bars.probabilities) == ["A>>B", "A>B", "A=B", "B>A", "B>>A"]
    assert bars.probabilities == pytest.approx(FIVE)
    assert bars.toolTip() == "P(A>>B)=0.500  P(A>B)=0.200  P(A=B)=0.100  P(B>A)=0.150  P(B>>A)=0.050"
    bars.resize(300, bars.sizeHint().height())
    bars.grab()  # paints every bar: a five-level label must find its winner's colour
    assert bars.sizeHint().height() > 5 * ProbabilityBars._ROW


def test_bars_of_a_three_level_verdict_are_unchanged(qtbot) -> None:
    bars = ProbabilityBars()
    qtbot.addWidget(bars)
    bars.set_probabilities({"tie": 0.1, "B": 0.3, "A": 0.6})
    assert list(bars.probabilities) == ["A", "B", "tie"]
    assert bars.toolTip() == "P(A)=0.600  P(B)=0.300  P(tie)=0.100"
    bars.set_probabilities(None)
    assert bars.probabilities == {} and not bars.isVisible()


def test_copied_text_lists_the_five_levels() -> None:
    verdict = PairwiseVerdict(item_id="q1", order="AB", winner="A", status=Status.OK, raw_output="... [[A>>B]]",
                              probabilities=FIVE, strength="A>>B")
    text = result_as_text(BothOrdersResult(item_id="q1", ab=verdict, ba=None, decision="A"))
    assert "P(A>>B)=0.500  P(A>B)=0.200  P(A=B)=0.100  P(B>A)=0.150  P(B>>A)=0.050" in text


@pytest.mark.parametrize(("winner", "shown"), [("A", "70%"), ("B", "20%"), ("tie", "10%")])
def test_live_confidence_is_the_winners_summed_probability(qapp, winner: str, shown: str) -> None:
    model = LiveVerdictsModel()
    model.append(JudgedOrder(position=0, item_id="q1", model_a="m1", model_b="m2", category=None, side="AB",
                             status=Status.OK, record={"winner": winner, "probabilities": FIVE}))
    model.append(JudgedOrder(position=1, item_id="q2", model_a="m1", model_b="m2", category=None, side="AB",
                             status=Status.OK, record={"winner": "B", "probabilities": {"A": 0.2, "B": 0.7,
                                                                                        "tie": 0.1}}))
    assert model.data(model.index(0, 6)) == shown
    assert model.data(model.index(1, 6)) == "70%"
