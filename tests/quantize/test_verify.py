"""`quantize verify`: verdict agreement and KL divergence between a reference judge and a candidate."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import pytest
from judgedesk.core import (
    DecodingSettings,
    InputError,
    Judge,
    PairwiseVerdict,
    create_backend,
    demo_data_path,
)
from judgedesk.core.cli import main
from judgedesk.core.datasets import load_dataset
from judgedesk.quantize import FidelityReport, verify_fidelity
from judgedesk.quantize._verify import _compare, kl_divergence


def _verdict(item: str, winner: str, probabilities: dict[str, float], order: str = "AB") -> PairwiseVerdict:
    return PairwiseVerdict(item_id=item, order=order, winner=winner, status="ok", raw_output=winner,
                           probabilities=probabilities)


# -- unit ---------------------------------------------------------------------------------------------------


def test_kl_divergence_matches_the_definition():
    p = {"A": 0.7, "B": 0.2, "tie": 0.1}
    q = {"A": 0.5, "B": 0.4, "tie": 0.1}
    expected = 0.7 * math.log(0.7 / 0.5) + 0.2 * math.log(0.2 / 0.4)
    assert kl_divergence(p, q) == pytest.approx(expected)
    assert kl_divergence(p, p) == 0.0
    assert kl_divergence({"A": 1.0, "B": 0.0}, {"A": 0.0, "B": 1.0}) > 20  # floored, not infinite


def test_compare_counts_agreement_and_lists_flips():
    reference = [("x", _verdict("x", "A", {"A": 0.9, "B": 0.1})), ("y", _verdict("y", "B", {"A": 0.4, "B": 0.6}))]
    candidate = [("x", _verdict("x", "A", {"A": 0.8, "B": 0.2})), ("y", _verdict("y", "A", {"A": 0.6, "B": 0.4}))]
    report = _compare([("ref", reference), ("cand", candidate)], "pandalm", "data")
    assert (report.orders, report.agreeing, report.agreement) == (2, 1, 0.5)
    assert [(f.pair, f.reference, f.candidate) for f in report.flipped] == [("y", "B", "A")]
    expected = (kl_divergence({"A": 0.9, "B": 0.1}, {"A": 0.8, "B": 0.2})
                + kl_divergence({"A": 0.4, "B": 0.6}, {"A": 0.6, "B": 0.4})) / 2
    assert report.mean_kl == pytest.approx(expected)
    text = report.format_text()
    assert "1/2 orders (50.0%)" in text and "y [AB]: B -> A" in text
    assert json.loads(json.dumps(report.to_dict()))["agreement"] == 0.5


def test_no_pairs_is_a_clear_error(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "only-model.jsonl").write_text('{"id": "1", "instruction": "hi", "output": "hello"}\n')
    with pytest.raises(InputError, match="no pairs"):
        verify_fidelity("demo", "demo", data=tmp_path)


# -- real judge ---------------------------------------------------------------------------------------------
# The demo judge (Q4_1) against its own requantization to Q2_K: two quantizations of one model, which must show
# what a real comparison shows (moved probabilities, maybe flips), where a judge against itself agrees by
# construction.


def _judged_orders(judge: Path, fmt: str) -> list[PairwiseVerdict]:
    """What `verify_fidelity(..., limit=1)` must have compared, judged here through the engine on its own."""
    pairs = load_dataset(demo_data_path(), limit=1).pairs
    backend = create_backend("llama.cpp", path=judge, n_ctx=2048, n_threads=1)
    with Judge(backend, format=fmt, decoding=DecodingSettings(fast=True)) as engine:
        return [engine.compare(task.item, order=order) for task in pairs for order in ("AB", "BA")]


def _most_probable(probabilities: Mapping[str, float] | None) -> str:
    assert probabilities
    return max(probabilities, key=lambda label: probabilities[label])


@pytest.mark.real_model
def test_the_demo_judge_against_its_requantized_copy(demo_path: Path, requantized_demo_path: Path) -> None:
    report = verify_fidelity("demo", requantized_demo_path, limit=1, n_ctx=2048, n_threads=1)
    assert isinstance(report, FidelityReport)
    assert report.reference.endswith("(Q4_1, demo)") and "Q2_K" in report.candidate
    assert report.orders == 6  # 1 prompt x 3 model pairs x 2 orders
    assert report.agreeing + len(report.flipped) == report.orders
    assert 0.0 <= report.agreement <= 1.0 and report.agreement == pytest.approx(report.agreeing / report.orders)
    assert report.unparsed == (0, 0)
    # Two roundings of the same weights: the verdict options' probabilities move, however few winners flip.
    assert report.mean_kl is not None and report.max_kl is not None
    assert 0.0 < report.mean_kl <= report.max_kl
    for flip in report.flipped:
        assert flip.order in ("AB", "BA") and flip.reference != flip.candidate
        assert _most_probable(flip.reference_probabilities) == flip.reference
        assert _most_probable(flip.candidate_probabilities) == flip.candidate

    # Order by order, the report is what the two judges say when asked one at a time.
    reference = _judged_orders(demo_path, report.format)
    candidate = _judged_orders(requantized_demo_path, report.format)
    expected_flips = [(ref.order, ref.winner, cand.winner) for ref, cand in zip(reference, candidate, strict=True)
                      if ref.winner != cand.winner]
    assert [(f.order, f.reference, f.candidate) for f in report.flipped] == expected_flips
    divergences = [kl_divergence(ref.probabilities or {}, cand.probabilities or {})
                   for ref, cand in zip(reference, candidate, strict=True)]
    assert report.mean_kl == pytest.approx(sum(divergences) / len(divergences), rel=1e-6)
    assert report.max_kl == pytest.approx(max(divergences), rel=1e-6)


@pytest.mark.real_model
def test_cli_verify_prints_json(requantized_demo_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quantize", "verify", "demo", str(requantized_demo_path), "--limit", "1", "--one-order",
                 "--ctx", "2048", "--threads", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["orders"] == 3  # 1 prompt x 3 model pairs, AB only
    assert report["agreeing"] + len(report["flipped"]) == 3
    assert report["agreement"] == pytest.approx(report["agreeing"] / 3)
    assert report["mean_kl"] > 0 and report["candidate"].endswith(f"(Q2_K, {requantized_demo_path})")
    assert all(flip["order"] == "AB" and flip["reference"] != flip["candidate"] for flip in report["flipped"])
