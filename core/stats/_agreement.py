"""Agreement of the judge with human labels, by the two published protocols.

- `agreement` is PandaLM's: one verdict per item against the human label, reported as accuracy, macro precision,
  recall and F1 over the three classes A, B and tie, and Cohen's kappa.
- `order_agreement` is Auto-J's: the item is judged in both orders, and counts as agreeing only when both orders
  match the human label; consistency is the share of items whose two orders give the same verdict.

A verdict that could not be read (None or "unparsed"), or an "inconsistent" decision, is never dropped and never
mapped to a tie: it counts as a wrong answer and is reported in its own count. Items without a human label (gold
None) are left out and counted as unlabelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from ._outcome import DECISIONS, LABELS, share, to_plain

__all__ = ["Agreement", "OrderAgreement", "agreement", "order_agreement"]

CLASSES: tuple[str, ...] = ("A", "B", "tie")
"""The three classes, in the order of the confusion matrix."""


@dataclass(frozen=True)
class Agreement:
    """One-order verdicts against human labels (PandaLM's protocol)."""

    n: int
    """Labelled items compared."""
    correct: int
    """Items whose verdict equals the human label."""
    accuracy: float | None
    """correct / n."""
    precision: float | None
    """Macro precision: the mean over A, B and tie of TP / (TP + FP), a class never predicted giving 0."""
    recall: float | None
    """Macro recall: the mean over A, B and tie of TP / (TP + FN), a class never labelled giving 0."""
    f1: float | None
    """Macro F1: the mean over the three classes of each class's F1 (0 when its precision and recall are both 0)."""
    kappa: float | None
    """Cohen's kappa; non-class verdicts form a column of their own, so they count as disagreement. None when
    chance agreement is 1 (every label and verdict the same single class)."""
    n_unparsed: int
    """Verdicts that could not be read (None or 'unparsed'), counted wrong."""
    n_inconsistent: int
    """Decisions 'inconsistent', counted wrong."""
    unlabelled: int
    """Items left out because they had no human label."""
    confusion: tuple[tuple[int, ...], ...]
    """confusion[g][p]: items labelled CLASSES[g] judged CLASSES[p]; the fourth column gathers unparsed and
    inconsistent verdicts."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


@dataclass(frozen=True)
class OrderAgreement:
    """Both-order verdicts against human labels (Auto-J's protocol)."""

    n: int
    """Labelled items compared."""
    correct_both: int
    """Items judged as the human label in both orders."""
    agreement: float | None
    """correct_both / n."""
    consistent: int
    """Items whose two orders gave the same parsed verdict."""
    consistency: float | None
    """consistent / n."""
    n_unparsed: int
    """Items with at least one unreadable order: counted as neither correct nor consistent."""
    unlabelled: int
    """Items left out because they had no human label."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def agreement(predicted: Sequence[str | None], gold: Sequence[str | None]) -> Agreement:
    """Compare one verdict per item (A, B, tie, or None / 'unparsed' / 'inconsistent') with the human labels."""
    _check_lengths(predicted=predicted, gold=gold)
    pairs = []
    for index, (verdict, label) in enumerate(zip(predicted, gold, strict=True)):
        _check_value(verdict, DECISIONS, "predicted", index)
        _check_value(label, LABELS, "gold", index)
        if label is not None:
            pairs.append((verdict, label))
    confusion = np.zeros((len(CLASSES), len(CLASSES) + 1), dtype=np.int64)
    for verdict, label in pairs:
        column = CLASSES.index(verdict) if verdict in CLASSES else len(CLASSES)
        confusion[CLASSES.index(label), column] += 1

    n = len(pairs)
    correct = int(np.trace(confusion[:, : len(CLASSES)]))
    precision = recall = f1 = kappa = None
    if n:
        true_positive = np.diag(confusion[:, : len(CLASSES)]).astype(float)
        predicted_as = confusion[:, : len(CLASSES)].sum(axis=0)
        labelled_as = confusion.sum(axis=1)
        class_precision = _ratio(true_positive, predicted_as)
        class_recall = _ratio(true_positive, labelled_as)
        class_f1 = _ratio(2 * class_precision * class_recall, class_precision + class_recall)
        precision, recall, f1 = (float(values.mean()) for values in (class_precision, class_recall, class_f1))
        observed = correct / n
        chance = float((labelled_as * predicted_as).sum()) / (n * n)
        kappa = (observed - chance) / (1.0 - chance) if chance < 1.0 else None

    verdicts = [verdict for verdict, _ in pairs]
    return Agreement(
        n=n, correct=correct, accuracy=share(correct, n), precision=precision, recall=recall, f1=f1, kappa=kappa,
        n_unparsed=sum(verdict is None or verdict == "unparsed" for verdict in verdicts),
        n_inconsistent=verdicts.count("inconsistent"), unlabelled=len(gold) - n,
        confusion=tuple(tuple(int(count) for count in row) for row in confusion),
    )


def order_agreement(predicted_ab: Sequence[str | None], predicted_ba: Sequence[str | None],
                    gold: Sequence[str | None]) -> OrderAgreement:
    """Compare verdicts of both orders (the B-first one already mapped back to A/B) with the human labels."""
    _check_lengths(predicted_ab=predicted_ab, predicted_ba=predicted_ba, gold=gold)
    single_order = LABELS | {"unparsed"}
    n = correct_both = consistent = unparsed = 0
    for index, (ab, ba, label) in enumerate(zip(predicted_ab, predicted_ba, gold, strict=True)):
        _check_value(ab, single_order, "predicted_ab", index)
        _check_value(ba, single_order, "predicted_ba", index)
        _check_value(label, LABELS, "gold", index)
        if label is None:
            continue
        n += 1
        if ab in LABELS and ba in LABELS:
            correct_both += ab == label and ba == label
            consistent += ab == ba
        else:
            unparsed += 1
    return OrderAgreement(n=n, correct_both=correct_both, agreement=share(correct_both, n), consistent=consistent,
                          consistency=share(consistent, n), n_unparsed=unparsed, unlabelled=len(gold) - n)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator elementwise, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    out = np.zeros(len(numerator))
    defined = denominator > 0
    out[defined] = numerator[defined] / denominator[defined]
    return out


def _check_lengths(**sequences: Sequence[str | None]) -> None:
    lengths = {name: len(values) for name, values in sequences.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise InputError(f"the sequences must have one entry per item: {described}")


def _check_value(value: str | None, allowed: frozenset[str], name: str, index: int) -> None:
    if value is not None and value not in allowed:
        raise InputError(f"entry {index} is {value!r}, not one of {', '.join(sorted(allowed))} or None", field=name)
