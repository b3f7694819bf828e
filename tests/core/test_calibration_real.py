"""Calibration end to end on the real embedded demo judge (issue 19), through the command line: a batch over
PandaLM's human-labelled pairs, a label plan drawn with a seed, the sample exported, labelled (from PandaLM's own
annotators, standing in for the analyst) and imported, and the report's calibrated estimates computed from exactly
those labels: n of them, N judged pairs, the three estimators side by side."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from judgedesk.core.cli import main
from judgedesk.core.runs import load_label_plan

from tests.reference_data import PANDALM_TESTSET

pytestmark = pytest.mark.real_model


def test_a_label_plans_labels_calibrate_the_demo_judges_figures(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["batch", str(PANDALM_TESTSET), "--out", str(out), "--format", "pandalm", "--limit", "30",
                 "--threads", "2", "--ctx", "1024"]) == 0
    sample = tmp_path / "sample.csv"
    assert main(["label-plan", str(out), "--n", "20", "--seed", "3", "--export", str(sample)]) == 0
    with sqlite3.connect(f"file:{out / 'run.sqlite'}?mode=ro", uri=True) as db:
        human = dict(db.execute("SELECT content, human FROM tasks").fetchall())
        distinct = db.execute("SELECT COUNT(DISTINCT content) FROM tasks").fetchone()[0]
    with sample.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["label"] = human[row["content"]]
    with sample.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["label-plan", str(out), "--import", str(sample)]) == 0
    plan = load_label_plan(out)
    assert plan is not None and plan.labelled == 20 and plan.plan.seed == 3
    capsys.readouterr()

    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    calibration = summary["calibration"]
    assert calibration["label_source"].startswith("the run's label plan: a uniform random sample drawn with seed 3")
    assert calibration["labelled"] == 20
    assert sum(pair["n"] for pair in calibration["pairs"]) == 20
    # Pairs with the very same texts (PandaLM has some under two ids) are one unit of the draw, counted once.
    assert sum(pair["N"] + pair["unparsed"] for pair in calibration["pairs"]) == distinct
    for pair in calibration["pairs"]:
        assert {"calibrated", "labels_only", "judge_only"} <= set(pair)
    assert "calibrated by" in printed
    assert "Calibrated win rates (judge + 20 human labels)" in (out / "report.html").read_text(encoding="utf-8")
