"""Calibrated estimates in a run's summary (issue 19): labels from the run's label plan (a uniform sample drawn with
a recorded seed) or, without one, the data set's own human labels with the assumption said; the three estimators
side by side per model pair, calibrated ratings, and report.html showing them (mock judges)."""

from __future__ import annotations

from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, GradeTask, PairTask
from judgedesk.core.reports import build_summary, load_results, write_reports
from judgedesk.core.runs import BatchOptions, draw_label_plan, label_planned_task, load_label_plan, run_batch
from judgedesk.core.stats import calibrated_win_rate

COUNT = 30


def _judge() -> Judge:
    """Right on items not divisible by 4 (so it agrees with the humans well above chance), wrong on the others."""

    def scores(prompt: str, options: list[str]) -> list[float]:
        number = int(prompt.split("question ")[1].split()[0])
        first_wins = (prompt.find("good") < prompt.find("bad")) != (number % 4 == 0)
        return [0.0 if (o == "1") == first_wins and o in ("1", "2") else -9.0 for o in options]

    return Judge(MockBackend(option_scores=scores), format="pandalm", decoding=DecodingSettings())


def _truth(n: int) -> str:
    return "A" if n % 3 else "B"


def _dataset(*, human: bool) -> Dataset:
    pairs = []
    for n in range(COUNT):
        responses = (f"good {n}", f"bad {n}") if _truth(n) == "A" else (f"bad {n}", f"good {n}")
        pairs.append(PairTask(item=EvalItem(id=f"q{n}", instruction=f"question {n} here", responses=responses),
                              model_a="alpha", model_b="beta", human=_truth(n) if human else None))
    return Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta"), pairs=tuple(pairs), grades=())


def test_a_label_plans_labels_calibrate_the_judges_win_rate(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    run_batch(folder, _dataset(human=False), _judge())
    assert "calibration" not in build_summary(load_results(folder), rounds=20)  # no labels yet
    draw_label_plan(folder, 12, seed=7)
    sample = load_label_plan(folder)
    assert sample is not None
    results = load_results(folder)
    by_content = {row.task.content: row for row in results.rows}
    for content in sample.plan.contents:
        number = int(by_content[content].task.item_id[1:])
        label_planned_task(folder, results.info.run_key, content, _truth(number))
    summary = build_summary(load_results(folder), rounds=20)
    calibration = summary["calibration"]
    assert calibration["label_source"].startswith("the run's label plan: a uniform random sample drawn with seed 7")
    assert calibration["assumption"] is None and calibration["labelled"] == 12
    [pair] = calibration["pairs"]
    assert (pair["model_a"], pair["model_b"], pair["n"], pair["N"]) == ("alpha", "beta", 12, COUNT)
    # The same figures from the estimator itself, over the same pairs.
    rows = load_results(folder).rows
    predictions = [1.0 if row.decision(("AB", "BA")) == "A" else 0.0 for row in rows]
    labelled = set(sample.plan.contents)
    labels = [(1.0 if _truth(int(row.task.item_id[1:])) == "A" else 0.0) if row.task.content in labelled else None
              for row in rows]
    direct = calibrated_win_rate(predictions, labels)
    # The summary scores the judge by its option probabilities (a logit gap of 9: within 1e-3 of its decisions).
    assert pair["calibrated"]["estimate"] == pytest.approx(direct.calibrated.estimate, abs=1e-3)
    assert pair["labels_only"]["ci_low"] == pytest.approx(direct.labels_only.ci_low, abs=1e-9)
    assert pair["judge_only"]["estimate"] == pytest.approx(sum(predictions) / COUNT, abs=1e-3)
    assert calibration["ratings"]["n"] == 12 and calibration["ratings_labels_only"]["lam"] == 0.0
    labels_only = {m["model"]: m for m in calibration["ratings_labels_only"]["models"]}
    calibrated = {m["model"]: m for m in calibration["ratings"]["models"]}
    assert calibrated["beta"]["ci_low"] is not None and labels_only["beta"]["ci_low"] is not None
    # The judge tracks the humans well above chance: calibrated is narrower than the labelled pairs alone.
    def width(ratings: dict) -> float:
        return ratings["beta"]["ci_high"] - ratings["beta"]["ci_low"]

    assert width(calibrated) < width(labels_only)


def test_the_data_sets_human_labels_are_used_with_their_assumption_said(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    run_batch(folder, _dataset(human=True), _judge())
    files, summary = write_reports(folder, rounds=20)
    calibration = summary["calibration"]
    assert calibration["label_source"] == "the data set's human labels"
    assert "random sample" in calibration["assumption"]
    [pair] = calibration["pairs"]
    truth = sum(_truth(n) == "A" for n in range(COUNT)) / COUNT
    # Every pair labelled: the calibrated estimate is the humans' win rate itself.
    assert pair["calibrated"]["estimate"] == pytest.approx(truth) and pair["n"] == COUNT
    html = files.report.read_text(encoding="utf-8")
    assert "Calibrated win rates (judge + 30 human labels)" in html and "random sample" in html
    assert "Bradley–Terry ratings (Elo scale, anchored at alpha = 1000) on the same labels" in html


def test_a_grading_run_has_no_calibration(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    backend = MockBackend(lambda prompt: "Fine. [RESULT] 4")
    grades = Dataset(source=Path("mem"), kind="pairs", models=("alpha",), pairs=(),
                     grades=tuple(GradeTask(item=EvalItem(id=p.item.id, instruction=p.item.instruction,
                                                          responses=p.item.responses[:1]), model="alpha")
                                  for p in _dataset(human=True).pairs[:3]))
    run_batch(folder, grades, Judge(backend, format="prometheus", decoding=DecodingSettings()),
              BatchOptions(mode="single"))
    assert "calibration" not in build_summary(load_results(folder), rounds=20)
