"""Which models are compared with which: every pair, or each model against a baseline.

The baseline is always `model_b`, so a pair reads "model_a against the baseline" and a win for A is a win over
the baseline. Given with pairing "all", a baseline only decides that orientation in the pairs it is part of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from .._errors import InputError
from .._records import Label
from ._records import PairTask

__all__ = ["PAIRINGS", "Pairing", "check_pairing", "model_pairs", "put_baseline_second"]

Pairing = Literal["all", "baseline"]
"""all: every unordered pair of models; baseline: each other model against the baseline."""
PAIRINGS: tuple[Pairing, ...] = ("all", "baseline")

_SWAPPED: dict[Label, Label] = {"A": "B", "B": "A", "tie": "tie"}


def check_pairing(models: Sequence[str], baseline: str | None, pairing: str) -> None:
    """Raise `InputError` for an unknown pairing, a missing baseline, or a baseline that is not one of `models`."""
    if pairing not in PAIRINGS:
        raise InputError(f"unknown pairing {pairing!r}; use one of: {', '.join(PAIRINGS)}", field="pairing")
    known = ", ".join(models) or "none"
    if baseline is None:
        if pairing == "baseline":
            raise InputError(f"pairing 'baseline' needs a baseline model; models: {known}", field="baseline")
        return
    if baseline not in models:
        raise InputError(f"unknown baseline model {baseline!r}; models: {known}", field="baseline")


def model_pairs(models: Sequence[str], baseline: str | None, pairing: Pairing) -> list[tuple[str, str]]:
    """(model_a, model_b) pairs in model order: (m_i, m_j) for i < j, or (m, baseline) for each other model."""
    if pairing == "baseline":
        return [(model, baseline) for model in models if model != baseline] if baseline is not None else []
    pairs = []
    for i, first in enumerate(models):
        for second in models[i + 1:]:
            pairs.append((second, first) if first == baseline else (first, second))
    return pairs


def put_baseline_second(pair: PairTask, baseline: str) -> PairTask:
    """The pair with the baseline as model_b: responses (and earlier turns' answers) swapped and the human label
    mirrored if needed."""
    if pair.model_a != baseline or pair.model_b == baseline:
        return pair
    item = pair.item
    metadata = {**item.metadata, "model_a": pair.model_b, "model_b": pair.model_a, "swapped": True}
    human = None if pair.human is None else _SWAPPED[pair.human]
    if "human" in metadata:
        metadata["human"] = human
    history = tuple(replace(turn, answers=tuple(reversed(turn.answers))) for turn in item.history)
    swapped = replace(item, responses=tuple(reversed(item.responses)), metadata=metadata, history=history)
    return PairTask(item=swapped, model_a=pair.model_b, model_b=pair.model_a, human=human)
