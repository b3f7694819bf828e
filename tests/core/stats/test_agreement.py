"""Agreement with human labels: PandaLM's one-order metrics and Auto-J's both-order agreement, by hand."""

from __future__ import annotations

import json

import pytest
from judgedesk.core import InputError
from judgedesk.core.stats import agreement, order_agreement

# gold A:   predicted A x4, B x1, None x1
# gold B:   predicted A x1, B x3, tie x1
# gold tie: predicted A x1, tie x2, unparsed x1, inconsistent x1
GOLD = ["A"] * 6 + ["B"] * 5 + ["tie"] * 5
PREDICTED = (["A"] * 4 + ["B", None]
             + ["A", "B", "B", "B", "tie"]
             + ["A", "tie", "tie", "unparsed", "inconsistent"])


def test_confusion_matrix_metrics_by_hand() -> None:
    result = agreement(PREDICTED, GOLD)
    assert result.confusion == ((4, 1, 0, 1), (1, 3, 1, 0), (1, 0, 2, 2))
    assert (result.n, result.correct, result.n_unparsed, result.n_inconsistent) == (16, 9, 2, 1)
    assert result.accuracy == pytest.approx(9 / 16)
    # per class (precision, recall, F1):
    #   A:   4/6, 4/6, 4/6
    #   B:   3/4, 3/5, 2*(3/4)*(3/5) / (3/4 + 3/5) = 2/3
    #   tie: 2/3, 2/5, 2*(2/3)*(2/5) / (2/3 + 2/5) = 1/2
    assert result.precision == pytest.approx((4 / 6 + 3 / 4 + 2 / 3) / 3)   # 25/36
    assert result.recall == pytest.approx((4 / 6 + 3 / 5 + 2 / 5) / 3)      # 5/9
    assert result.f1 == pytest.approx((4 / 6 + 2 / 3 + 1 / 2) / 3)          # 11/18
    # kappa: observed 9/16; gold margins 6, 5, 5; predicted margins 6, 4, 3 (and 3 outside the classes)
    chance = (6 * 6 + 5 * 4 + 5 * 3) / 16**2                               # 71/256
    assert result.kappa == pytest.approx((9 / 16 - chance) / (1 - chance))  # 73/185


def test_matches_scikit_learn() -> None:
    from sklearn import metrics
    predicted = [label if label in ("A", "B", "tie") else "none" for label in PREDICTED]
    result = agreement(PREDICTED, GOLD)
    labels = ["A", "B", "tie"]
    assert result.precision == pytest.approx(metrics.precision_score(GOLD, predicted, labels=labels,
                                                                     average="macro", zero_division=0))
    assert result.recall == pytest.approx(metrics.recall_score(GOLD, predicted, labels=labels, average="macro",
                                                               zero_division=0))
    assert result.f1 == pytest.approx(metrics.f1_score(GOLD, predicted, labels=labels, average="macro",
                                                       zero_division=0))
    assert result.kappa == pytest.approx(metrics.cohen_kappa_score(GOLD, predicted))


def test_unparsed_predictions_count_as_wrong() -> None:
    result = agreement([None, "unparsed", "A", "inconsistent"], ["A", "A", "A", "B"])
    assert (result.n, result.correct, result.n_unparsed, result.n_inconsistent) == (4, 1, 2, 1)
    assert result.accuracy == pytest.approx(1 / 4)
    # Only class A is ever predicted: precision_A = 1/1, recall_A = 1/3, F1_A = 1/2; B and tie score 0.
    assert result.precision == pytest.approx(1 / 3)
    assert result.recall == pytest.approx((1 / 3) / 3)
    assert result.f1 == pytest.approx((1 / 2) / 3)


def test_unlabelled_items_are_left_out() -> None:
    result = agreement(["A", "B", "tie"], ["A", None, "tie"])
    assert (result.n, result.unlabelled, result.accuracy) == (2, 1, 1.0)
    assert result.kappa == pytest.approx(1.0)


def test_kappa_is_undefined_when_chance_agreement_is_certain() -> None:
    result = agreement(["A", "A"], ["A", "A"])
    assert result.accuracy == 1.0 and result.kappa is None
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["kappa"] is None


def test_bad_input_is_refused() -> None:
    with pytest.raises(InputError, match="gold has 1"):
        agreement(["A", "B"], ["A"])
    with pytest.raises(InputError, match="'C'"):
        agreement(["C"], ["A"])
    with pytest.raises(InputError, match="gold"):
        agreement(["A"], ["unparsed"])
    with pytest.raises(InputError, match="predicted_ba"):
        order_agreement(["A"], ["inconsistent"], ["A"])


def test_order_agreement_by_hand() -> None:
    ab = ["A", "A", "tie", None, "B", "A", "unparsed"]
    ba = ["A", "B", "tie", "A", "B", "A", "unparsed"]
    gold = ["A", "A", "B", "A", "B", None, "tie"]
    result = order_agreement(ab, ba, gold)
    # labelled: items 1-5 and 7; correct in both orders: 1, 5; same verdict both ways: 1, 3, 5; unreadable: 4, 7
    assert (result.n, result.unlabelled, result.n_unparsed) == (6, 1, 2)
    assert (result.correct_both, result.consistent) == (2, 3)
    assert result.agreement == pytest.approx(2 / 6)
    assert result.consistency == pytest.approx(3 / 6)


def test_empty_input() -> None:
    result = agreement([], [])
    assert (result.n, result.accuracy, result.precision, result.recall, result.f1, result.kappa) == (
        0, None, None, None, None, None)
    assert result.confusion == ((0, 0, 0, 0),) * 3
    ordered = order_agreement([], [], [])
    assert (ordered.n, ordered.agreement, ordered.consistency) == (0, None, None)
