"""The fidelity check: does the quantized judge decide like the original?

Both judges run the same judge format over the same pairs, in both orders, with fast verdicts from logits, so each
order yields a probability for every verdict option. The report gives what a user needs to trust a quantized
judge: how often the verdicts agree, the mean KL divergence of the option distributions (how far the confidence
moved even where the verdict did not), and every flipped order with both distributions.

The two judges are loaded one after the other, never together, so a 13B reference and its quant need the memory
of the larger one only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from judgedesk.core import (
    CancelFlag,
    DecodingSettings,
    EvalItem,
    InputError,
    Judge,
    Label,
    Progress,
    Status,
    demo_data_path,
    load_judge,
)
from judgedesk.core.datasets import load_dataset

from ._errors import QuantizeCancelled

__all__ = ["FidelityReport", "FlippedVerdict", "verify_fidelity"]

"""progress(done, total, stage): stage is 'reference' or 'candidate'; total counts judged orders of one judge."""

_EPSILON = 1e-12  # floor for probabilities in the KL divergence: a judge never gives an option exactly zero


@dataclass(frozen=True)
class FlippedVerdict:
    """One judged order where the two judges picked different winners."""

    pair: str
    """The pair: item id and the two models, as the data names them."""
    order: str
    """AB (response A shown first) or BA."""
    reference: Label | None
    candidate: Label | None
    reference_probabilities: Mapping[str, float] | None
    candidate_probabilities: Mapping[str, float] | None


@dataclass(frozen=True)
class FidelityReport:
    """Verdict agreement and distribution shift of a candidate judge against a reference judge."""

    reference: str
    """The reference judge: its name and file or folder."""
    candidate: str
    format: str
    data: str
    """The data judged."""
    orders: int
    """Judged orders (pairs x orders)."""
    agreeing: int
    """Orders where both judges picked the same winner."""
    mean_kl: float | None
    """Mean KL(reference || candidate) of the verdict-option distributions, in nats; None without probabilities."""
    max_kl: float | None
    flipped: tuple[FlippedVerdict, ...] = field(default=())
    unparsed: tuple[int, int] = (0, 0)
    """Orders whose verdict did not parse: (reference, candidate)."""

    @property
    def agreement(self) -> float:
        """Share of judged orders with the same winner, 0..1."""
        return self.agreeing / self.orders if self.orders else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["agreement"] = self.agreement
        data["flipped"] = [asdict(f) for f in self.flipped]
        return data

    def format_text(self, *, max_flips: int = 20) -> str:
        """The report as a user reads it in a terminal."""
        kl = "n/a" if self.mean_kl is None else f"{self.mean_kl:.4f} nats (max {self.max_kl:.4f})"
        lines = [
            f"reference: {self.reference}",
            f"candidate: {self.candidate}",
            f"format {self.format}, data {self.data}",
            f"verdict agreement: {self.agreeing}/{self.orders} orders ({self.agreement:.1%})",
            f"mean KL divergence of the verdict options: {kl}",
        ]
        if any(self.unparsed):
            lines.append(f"unparsed verdicts: reference {self.unparsed[0]}, candidate {self.unparsed[1]}")
        if self.flipped:
            lines.append(f"flipped ({len(self.flipped)}):")
            for flip in self.flipped[:max_flips]:
                lines.append(f"  {flip.pair} [{flip.order}]: {flip.reference} -> {flip.candidate}"
                             f"  {_probabilities(flip.reference_probabilities)} -> "
                             f"{_probabilities(flip.candidate_probabilities)}")
            if len(self.flipped) > max_flips:
                lines.append(f"  ... and {len(self.flipped) - max_flips} more")
        else:
            lines.append("no verdict flipped")
        return "\n".join(lines)


def verify_fidelity(reference: str | Path, candidate: str | Path, *, data: str | Path | None = None,
                    fmt: str | None = None, limit: int | None = None, both_orders: bool = True, n_ctx: int = 4096,
                    n_threads: int | None = None, device: str = "cpu", progress: Progress | None = None,
                    cancel: CancelFlag | None = None) -> FidelityReport:
    """Judge the pairs of `data` (default: the demo data) with both judges and compare their verdicts.

    fmt: the judge format (default: the reference judge's own, chosen as every judge's is; the candidate is
    judged in the same one). limit: the first N items.
    cancel: an object with is_set() (threading.Event); when set, raises QuantizeCancelled between orders.
    """
    source = Path(data) if data is not None else demo_data_path()
    dataset = load_dataset(source, limit=limit)
    if not dataset.pairs:
        raise InputError("no pairs to judge (a fidelity check needs at least two models or a pairs file)",
                         path=source)
    items = [_labelled(task.item, task.model_a, task.model_b) for task in dataset.pairs]
    chosen_format = fmt
    runs: list[tuple[str, list[tuple[Any, Any]]]] = []
    for stage, judge in (("reference", reference), ("candidate", candidate)):
        with load_judge(judge, format=chosen_format, decoding=DecodingSettings(fast=True), n_ctx=n_ctx,
                        n_threads=n_threads, device=device) as engine:
            chosen_format = engine.format.name
            info = engine.backend.info
            description = f"{info.name} ({info.file_type}, {judge})"
            runs.append((description, _judge_all(engine, items, both_orders, stage, progress, cancel)))
    assert chosen_format is not None
    return _compare(runs, chosen_format, str(source))


def _labelled(item: EvalItem, model_a: str, model_b: str) -> EvalItem:
    # Pairs of an outputs folder share item ids; the label says which two models a flipped pair compares.
    return replace(item, id=f"{item.id} ({model_a} vs {model_b})")


def _judge_all(engine: Judge, items: Sequence[EvalItem], both_orders: bool, stage: str,
               progress: Progress | None, cancel: CancelFlag | None) -> list[tuple[Any, Any]]:
    orders = ("AB", "BA") if both_orders else ("AB",)
    total = len(items) * len(orders)
    verdicts = []
    for item in items:
        for order in orders:
            if cancel is not None and cancel.is_set():
                raise QuantizeCancelled("fidelity check cancelled")
            verdicts.append((item.id, engine.compare(item, order=order)))
            if progress is not None:
                progress(len(verdicts), total, stage)
    return verdicts


def _compare(runs: list[tuple[str, list[tuple[Any, Any]]]], fmt: str, data: str) -> FidelityReport:
    (reference_name, reference), (candidate_name, candidate) = runs
    flipped, divergences = [], []
    agreeing = 0
    for (pair, ref), (_, cand) in zip(reference, candidate, strict=True):
        if ref.winner == cand.winner:
            agreeing += 1
        else:
            flipped.append(FlippedVerdict(pair=pair, order=ref.order, reference=ref.winner, candidate=cand.winner,
                                          reference_probabilities=ref.probabilities,
                                          candidate_probabilities=cand.probabilities))
        if ref.probabilities and cand.probabilities:
            divergences.append(kl_divergence(ref.probabilities, cand.probabilities))
    return FidelityReport(
        reference=reference_name, candidate=candidate_name, format=fmt, data=data, orders=len(reference),
        agreeing=agreeing, mean_kl=sum(divergences) / len(divergences) if divergences else None,
        max_kl=max(divergences) if divergences else None, flipped=tuple(flipped),
        unparsed=(sum(v.status == Status.UNPARSED for _, v in reference),
                  sum(v.status == Status.UNPARSED for _, v in candidate)),
    )


def kl_divergence(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """KL(p || q) in nats over the options of p; both are renormalised over those options."""
    keys = list(p)
    p_total = sum(p[k] for k in keys) or 1.0
    q_total = sum(q.get(k, 0.0) for k in keys) or 1.0
    value = 0.0
    for key in keys:
        pk = p[key] / p_total
        if pk <= 0:
            continue
        qk = max(q.get(key, 0.0) / q_total, _EPSILON)
        value += pk * math.log(pk / qk)
    return max(value, 0.0)


def _probabilities(probabilities: Mapping[str, float] | None) -> str:
    if not probabilities:
        return "-"
    return "{" + ", ".join(f"{k}: {v:.2f}" for k, v in probabilities.items()) + "}"
