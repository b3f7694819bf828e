"""Analyst overrides on the mock backend: stored by content, kept across resumes, marked in every report, measured
as agreement, and applied to the statistics only when asked."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, InputError, Judge
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, GradeTask, PairTask
from judgedesk.core.reports import build_summary, load_results, write_reports
from judgedesk.core.runs import BatchOptions, Override, RunStore, run_batch


def _dataset(n: int = 4) -> Dataset:
    pairs = tuple(
        PairTask(item=EvalItem(id=f"i{k}", instruction=f"Task {k}", responses=(f"good {k}", f"bad {k}"),
                               category="qa" if k % 2 else "writing"),
                 model_a="alpha", model_b="beta", human="A")
        for k in range(n))
    grades = tuple(GradeTask(item=EvalItem(id=p.item.id, instruction=p.item.instruction, responses=(r,)), model=m)
                   for p in pairs for r, m in zip(p.item.responses, ("alpha", "beta"), strict=True))
    return Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta"), pairs=pairs, grades=grades)


def _prefers_good(prompt: str, options: list[str]) -> list[float]:
    first_is_good = prompt.find("good") < prompt.find("bad")
    return [0.0 if (o == "1") == first_is_good and o in ("1", "2") else -9.0 for o in options]


def _judge() -> Judge:
    return Judge(MockBackend(option_scores=_prefers_good), format="pandalm", decoding=DecodingSettings())


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, str]:
    """A finished pairwise run of four tasks where the judge always picks A (and so does the human)."""
    result = run_batch(tmp_path / "run", _dataset(), _judge())
    return tmp_path / "run", result.run_key


def test_set_read_replace_and_clear(run: tuple[Path, str]) -> None:
    folder, key = run
    with RunStore(folder) as store:
        content = store.tasks(key)[0].content
        first = store.set_override(key, content, "B", "the judge missed the factual error")
        assert isinstance(first, Override) and first.label == "B" and first.score is None
        assert first.created.endswith("+00:00")
        store.set_override(key, content, "tie")
        assert store.overrides(key) == {content: Override("tie", None, None, store.overrides(key)[content].created)}
        assert store.clear_override(key, content) is True
        assert store.clear_override(key, content) is False
        assert store.overrides(key) == {}


@pytest.mark.parametrize("label", ["a", "inconsistent", 3, None])
def test_a_pairwise_override_is_a_label(run: tuple[Path, str], label: object) -> None:
    folder, key = run
    with RunStore(folder) as store, pytest.raises(InputError, match="A, B or tie"):
        store.set_override(key, store.tasks(key)[0].content, label)  # type: ignore[arg-type]


def test_an_unknown_run_key_or_task_is_refused(run: tuple[Path, str]) -> None:
    folder, key = run
    with RunStore(folder) as store:
        with pytest.raises(InputError, match="no run"):
            store.set_override("0" * 64, "x", "A")
        with pytest.raises(InputError, match="no task"):
            store.set_override(key, "0" * 64, "A")


def test_overrides_survive_a_resumed_and_extended_run(run: tuple[Path, str]) -> None:
    folder, key = run
    with RunStore(folder) as store:
        content = store.tasks(key)[1].content
        store.set_override(key, content, "B", "note")
    again = run_batch(folder, _dataset(6), _judge())
    assert again.run_key == key and again.judged_now == 4
    rows = load_results(folder).rows
    assert [r.override.label if r.override else None for r in rows] == [None, "B", None, None, None, None]
    assert rows[1].override.note == "note"  # type: ignore[union-attr]


def test_summary_measures_the_judge_against_overrides_and_keeps_its_own_figures(run: tuple[Path, str]) -> None:
    folder, key = run
    plain = build_summary(load_results(folder), rounds=20)
    assert "overrides" not in plain.get("agreement", {}) and plain["progress"]["overrides"] == 0
    with RunStore(folder) as store:
        tasks = store.tasks(key)
        store.set_override(key, tasks[0].content, "A")
        store.set_override(key, tasks[1].content, "B")
    results = load_results(folder)
    summary = build_summary(results, rounds=20)
    over = summary["agreement"]["overrides"]
    assert (over["count"], over["n"], over["correct"], over["accuracy"]) == (2, 2, 1, 0.5)
    assert summary["pairs"] == plain["pairs"]  # the judge's own statistics are unchanged
    assert summary["agreement"]["final_decision"] == plain["agreement"]["final_decision"]
    applied = build_summary(results, rounds=20, apply_overrides=True)
    assert applied["options"]["apply_overrides"] is True
    assert (applied["pairs"][0]["wins"], applied["pairs"][0]["losses"]) == (3, 1)
    assert applied["judge_behaviour"] == plain["judge_behaviour"]  # behaviour always describes the judge


def test_reports_mark_overrides(run: tuple[Path, str]) -> None:
    folder, key = run
    with RunStore(folder) as store:
        store.set_override(key, store.tasks(key)[2].content, "tie", "both <b>fine</b>")
    files, summary = write_reports(folder, rounds=10)
    rows = list(csv.DictReader(io.StringIO(files.verdicts.read_text(encoding="utf-8"))))
    marked = [(r["item_id"], r["side"], r["override"], r["override_note"]) for r in rows if r["override"]]
    assert marked == [("i2", "AB", "tie", "both <b>fine</b>"), ("i2", "BA", "tie", "both <b>fine</b>")]
    html = files.report.read_text(encoding="utf-8")
    assert "override: tie" in html and "Agreement with the analyst" in html
    assert "both &lt;b&gt;fine&lt;/b&gt;" in html
    battles = [json.loads(line) for line in files.battles.read_text(encoding="utf-8").splitlines()]  # type: ignore[union-attr]
    assert {b["winner"] for b in battles} == {"model_a"}  # the judge's, unless applied
    files, _ = write_reports(folder, rounds=10, apply_overrides=True)
    battles = [json.loads(line) for line in files.battles.read_text(encoding="utf-8").splitlines()]  # type: ignore[union-attr]
    assert [b["winner"] for b in battles] == ["model_a", "model_a", "tie", "model_a"]


def test_grade_overrides_are_scores(tmp_path: Path) -> None:
    backend = MockBackend(outputs=lambda prompt: '7, "critique": "fine"}' if "good" in prompt
                          else '3, "critique": "poor"}', chat_template="{{ messages[-1]['content'] }}")
    judge = Judge(backend, format="generic", decoding=DecodingSettings())
    result = run_batch(tmp_path / "run", _dataset(2), judge, BatchOptions(mode="single"))
    with RunStore(tmp_path / "run") as store:
        tasks = store.tasks(result.run_key)
        with pytest.raises(InputError, match="finite score"):
            store.set_override(result.run_key, tasks[0].content, "A")
        store.set_override(result.run_key, tasks[0].content, 9, "better than that")
        store.set_override(result.run_key, tasks[1].content, 3)
    results = load_results(tmp_path / "run")
    summary = build_summary(results, rounds=10)
    assert summary["agreement"]["overrides"] == {"count": 2, "n": 2, "exact": 0.5, "mean_absolute_difference": 1.0}
    assert summary["grades"]["models"][0]["mean"] == 7.0
    applied = build_summary(results, rounds=10, apply_overrides=True)
    assert applied["grades"]["models"][0]["mean"] == 8.0
    files, _ = write_reports(tmp_path / "run", rounds=10)
    assert "Same score" in files.report.read_text(encoding="utf-8")


def test_an_older_run_database_gains_the_overrides_table(run: tuple[Path, str]) -> None:
    folder, key = run
    with sqlite3.connect(folder / "run.sqlite") as db:
        db.execute("DROP TABLE overrides")
    assert load_results(folder).rows[0].override is None
    with RunStore(folder) as store:
        store.set_override(key, store.tasks(key)[0].content, "A")
    assert load_results(folder).overridden == 1


def test_bulk_verdicts(tmp_path: Path) -> None:
    result = run_batch(tmp_path / "run", _dataset(1), _judge())
    with RunStore(tmp_path / "run") as store:
        content = store.tasks(result.run_key)[0].content
        store.put_verdicts(result.run_key, [(content, "AB", "unparsed", {"winner": None})])
        assert store.done(result.run_key)[(content, "AB")] == "unparsed"


def test_report_command_applies_overrides_when_asked(run: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    from judgedesk.core.cli import main

    folder, key = run
    with RunStore(folder) as store:
        store.set_override(key, store.tasks(key)[0].content, "B")
    assert main(["report", str(folder)]) == 0
    assert json.loads((folder / "summary.json").read_text(encoding="utf-8"))["options"]["apply_overrides"] is False
    assert main(["report", str(folder), "--apply-overrides"]) == 0
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["options"]["apply_overrides"] is True and summary["pairs"][0]["losses"] == 1
    capsys.readouterr()
