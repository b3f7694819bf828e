"""`quantize verify`: verdict agreement and KL divergence between a reference judge and a candidate."""

from __future__ import annotations

import json
import math

import pytest
from judgedesk.core import InputError, PairwiseVerdict
from judgedesk.core.cli import main
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


@pytest.mark.real_model
def test_a_judge_agrees_with_itself_on_the_demo_data():
    report = verify_fidelity("demo", "demo", limit=2)
    assert isinstance(report, FidelityReport)
    assert report.orders == 12  # 2 prompts x 3 model pairs x 2 orders
    assert report.agreement == 1.0 and not report.flipped
    assert report.mean_kl == pytest.approx(0.0, abs=1e-12)


@pytest.mark.real_model
def test_cli_verify_prints_json(capsys):
    assert main(["quantize", "verify", "demo", "demo", "--limit", "1", "--one-order", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["orders"] == 3 and report["agreement"] == 1.0 and report["flipped"] == []
