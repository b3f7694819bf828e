"""Agreement of a judge with another judge's run on the same items (issue 18): two mock judges over one data set
in one run folder, the figures checked against a hand count (accuracy 0.8, Cohen's kappa 0.6)."""

from __future__ import annotations

import json
from pathlib import Path

from judgedesk.core import DecodingSettings, EvalItem, Judge, Sampling
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.reports import build_summary, load_peer_results, load_results, write_reports
from judgedesk.core.runs import run_batch


def _judge(wrong_on: frozenset[int], seed: int) -> Judge:
    """Prefers the response that says 'good', except on the items numbered in `wrong_on`."""

    def scores(prompt: str, options: list[str]) -> list[float]:
        number = int(prompt.split("question ")[1].split()[0])
        good_first = prompt.find("good") < prompt.find("bad")
        first_wins = good_first != (number in wrong_on)
        return [0.0 if (o == "1") == first_wins and o in ("1", "2") else -9.0 for o in options]

    return Judge(MockBackend(option_scores=scores), format="pandalm",
                 decoding=DecodingSettings(sampling=Sampling(seed=seed)))


def _dataset(count: int = 10) -> Dataset:
    """Item n's good response is A when n is even, B when odd."""
    tasks = []
    for n in range(count):
        responses = (f"good {n}", f"bad {n}") if n % 2 == 0 else (f"bad {n}", f"good {n}")
        tasks.append(PairTask(item=EvalItem(id=f"q{n}", instruction=f"question {n} here", responses=responses),
                              model_a="alpha", model_b="beta"))
    return Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta"), pairs=tuple(tasks), grades=())


def test_a_judge_is_measured_against_another_judges_run_of_the_same_items(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    run_batch(folder, _dataset(), _judge(frozenset(), seed=1))  # the peer: right everywhere
    run_batch(folder, _dataset(), _judge(frozenset({0, 1}), seed=2))  # wrong on one A item and one B item
    results = load_results(folder)
    peers = load_peer_results(results)
    assert len(peers) == 1
    summary = build_summary(results, rounds=20, peers=peers)
    [entry] = summary["peer_agreement"]
    assert entry["run_key"] == peers[0].info.run_key and entry["matched"] == 10
    for name in ("first_order", "second_order", "final_decision"):
        figures = entry[name]
        assert figures["n"] == 10 and figures["correct"] == 8
        assert abs(figures["kappa"] - 0.6) < 1e-9, name
        assert figures["confusion"][0][:2] == [4, 1] and figures["confusion"][1][:2] == [1, 4]


def test_items_the_peer_did_not_judge_are_left_out(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    run_batch(folder, _dataset(6), _judge(frozenset(), seed=1))
    run_batch(folder, _dataset(10), _judge(frozenset(), seed=2))
    summary = build_summary(load_results(folder), rounds=20, peers=load_peer_results(load_results(folder)))
    [entry] = summary["peer_agreement"]
    assert entry["matched"] == 6 and entry["final_decision"]["accuracy"] == 1.0


def test_summary_json_carries_the_agreement_and_a_run_alone_has_none(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    run_batch(folder, _dataset(), _judge(frozenset(), seed=1))
    _, alone = write_reports(folder, rounds=20)
    assert "peer_agreement" not in alone
    run_batch(folder, _dataset(), _judge(frozenset({0, 1}), seed=2))
    write_reports(folder, rounds=20)
    written = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert written["peer_agreement"][0]["final_decision"]["correct"] == 8


def test_the_html_report_shows_the_agreement_with_the_other_judge(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    run_batch(folder, _dataset(), _judge(frozenset(), seed=1))
    run_batch(folder, _dataset(), _judge(frozenset({0, 1}), seed=2))
    files, summary = write_reports(folder, rounds=20)
    html = files.report.read_text(encoding="utf-8")
    assert "Agreement with other judges on the same items" in html
    assert summary["peer_agreement"][0]["label"] in html and "0.600" in html
