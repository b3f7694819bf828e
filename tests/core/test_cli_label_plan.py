"""`judgedesk label-plan` on a mock-judged run: draw with a printed seed, refuse a second plan, extend, export the
planned items, import labels back as overrides, and report every bad row of a labels file by file and line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.cli import main
from judgedesk.core.datasets import Dataset, GradeTask, PairTask
from judgedesk.core.reports import load_results
from judgedesk.core.runs import LABEL_CSV_COLUMNS, LABEL_PLAN_NOTE, BatchOptions, load_label_plan, run_batch


def _dataset(n: int) -> Dataset:
    pairs = tuple(PairTask(item=EvalItem(id=f"i{k}", instruction=f"Task {k}", input=f"context {k}" if k % 2 else "",
                                         responses=(f"good {k}\nsecond line, \"quoted\"", f"bad {k}")),
                           model_a="alpha", model_b="beta") for k in range(n))
    grades = tuple(GradeTask(item=EvalItem(id=p.item.id, instruction=p.item.instruction, responses=(r,)), model=m)
                   for p in pairs for r, m in zip(p.item.responses, ("alpha", "beta"), strict=True))
    return Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta"), pairs=pairs, grades=grades)


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, str]:
    judge = Judge(MockBackend(option_scores=lambda prompt, options: [0.0] * len(options)), format="pandalm",
                  decoding=DecodingSettings())
    result = run_batch(tmp_path / "run", _dataset(8), judge, BatchOptions(both_orders=False))
    return tmp_path / "run", result.run_key


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_plan_export_import_round_trip(run: tuple[Path, str], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder, key = run
    assert main(["label-plan", str(folder), "--n", "4"]) == 0
    out, err = capsys.readouterr()
    seed = int(err.split("with seed ")[1].split()[0])  # a fresh seed, printed ...
    plan = load_label_plan(folder)
    assert plan is not None and plan.plan.seed == seed and plan.plan.n == 4  # ... and stored
    assert "label plan of run" in out and "0 of 4 labelled" in out and "alpha vs beta" in out

    # A second draw is refused, and shows the plan it kept.
    assert main(["label-plan", str(folder), "--n", "4", "--seed", "1"]) == 1
    out, err = capsys.readouterr()
    assert "already has a label plan of 4 tasks" in err and "0 of 4 labelled" in out
    assert load_label_plan(folder).plan.contents == plan.plan.contents

    exported = tmp_path / "labels.csv"
    assert main(["label-plan", str(folder), "--export", str(exported)]) == 0
    capsys.readouterr()
    rows = _read(exported)
    assert [r["content"] for r in rows] == list(plan.plan.contents)
    assert [r["position"] for r in rows] == ["1", "2", "3", "4"]
    for row, item in zip(rows, plan.items, strict=True):
        payload = item.task.payload
        assert row["item_id"] == item.task.item_id and row["instruction"] == payload["instruction"]
        assert (row["response_a"], row["response_b"]) == tuple(payload["responses"])  # newlines and quotes survive
        assert row["input"] == (payload.get("input") or "") and row["label"] == ""

    for row, label in zip(rows, ["a", "B", "Tie", ""], strict=True):
        row["label"] = label
    _write(exported, list(reversed(rows)))  # the order of rows does not matter
    assert main(["label-plan", str(folder), "--import", str(exported), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "stored 3 label(s)" in err and "1 row(s) left blank" in err
    shown = json.loads(out)
    assert shown["labelled"] == 3 and [i["label"] for i in shown["items"]] == ["A", "B", "tie", None]
    assert shown["draws"][0]["seed"] == seed

    # Stored as overrides: the Results view, reports and --apply-overrides see them.
    results = load_results(folder, key)
    overridden = {row.task.content: row.override for row in results.rows if row.override is not None}
    assert {c: o.label for c, o in overridden.items()} == dict(zip(plan.plan.contents[:3], ["A", "B", "tie"],
                                                                   strict=True))
    assert {o.note for o in overridden.values()} == {LABEL_PLAN_NOTE}

    # Extending keeps the plan and its labels.
    assert main(["label-plan", str(folder), "--n", "2", "--extend", "--seed", "11"]) == 0
    out, err = capsys.readouterr()
    assert "drew 2 of 4 tasks with seed 11 (plan now 6 tasks)" in err and "3 of 6 labelled" in out
    extended = load_label_plan(folder)
    assert extended.plan.contents[:4] == plan.plan.contents and len(extended.labels) == 3


def test_bad_rows_are_reported_by_file_and_line_and_nothing_is_stored(run: tuple[Path, str], tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder, key = run
    assert main(["label-plan", str(folder), "--n", "3", "--seed", "5", "--export", str(tmp_path / "x.csv")]) == 0
    capsys.readouterr()
    rows = _read(tmp_path / "x.csv")
    planned = {r["content"] for r in rows}
    outside = next(row.task for row in load_results(folder, key).rows if row.task.content not in planned)
    rows[0]["label"] = "A"  # good: but nothing is stored while another row is bad
    rows[1]["label"] = "maybe"
    rows[2]["item_id"], rows[2]["label"] = "i999", "B"
    stray = dict(rows[0], item_id=outside.item_id, content=outside.content, label="A")
    conflicting = dict(rows[0], label="B")
    bad = tmp_path / "bad.csv"
    _write(bad, [*rows, stray, conflicting])
    # Each response of the first row spans two lines: rows start on lines 2, 4, 6, 8 and 10.
    assert main(["label-plan", str(folder), "--import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "5 bad row(s), nothing stored" not in err  # four are bad, the first is good
    assert "4 bad row(s), nothing stored" in err
    assert f"{bad}:4: item '{rows[1]['item_id']}': label 'maybe' is not A, B or tie" in err
    assert f"{bad}:6: item 'i999' does not match its content hash" in err
    assert f"{bad}:8: content '{outside.content[:12]}' is not a task of this run's label plan" in err
    assert f"{bad}:10: item '{rows[0]['item_id']}' labelled 'B' here and 'A' on line 2" in err
    assert load_label_plan(folder).labels == {}

    (tmp_path / "headless.csv").write_text("id,verdict\nx,A\n", encoding="utf-8")
    assert main(["label-plan", str(folder), "--import", str(tmp_path / "headless.csv")]) == 1
    assert "headless.csv:1: missing column(s) item_id, content, label" in capsys.readouterr().err


def test_usage_errors(run: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, _key = run
    assert main(["label-plan", str(folder)]) == 1
    assert "no label plan yet: draw one with --n N" in capsys.readouterr().err
    assert main(["label-plan", str(folder), "--extend"]) == 1
    assert "--extend needs --n" in capsys.readouterr().err
    assert main(["label-plan", str(folder), "--n", "9"]) == 1
    assert "cannot draw 9" in capsys.readouterr().err
    assert main(["label-plan", str(tmp_path / "none"), "--n", "2"]) == 1
    assert "no run.sqlite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["label-plan", str(folder), "--export", "a.csv", "--import", "b.csv"])
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["label-plan", str(folder), "--n", "2", "--seed", "3"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["label-plan", "--help"])
    help_text = capsys.readouterr().out
    assert "overrides" in help_text and "uniform random sample" in help_text
