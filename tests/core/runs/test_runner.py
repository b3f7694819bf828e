"""The batch runner and run store on the mock backend: resume, retry, cancel, per-item errors, progress, keys."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge, PairwiseVerdict, Status, to_json
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, GradeTask, PairTask
from judgedesk.core.reports import load_results, write_reports
from judgedesk.core.runs import DB_NAME, BatchOptions, RunInterrupted, RunStore, run_batch


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
    # Position 1 holds whichever response appears first in the prompt.
    first_is_good = prompt.find("good") < prompt.find("bad")
    return [0.0 if (o == "1") == first_is_good and o in ("1", "2") else -9.0 for o in options]


def _judge(**kwargs: object) -> Judge:
    backend = MockBackend(option_scores=_prefers_good, **kwargs)  # type: ignore[arg-type]
    return Judge(backend, format="pandalm", decoding=DecodingSettings())


def test_run_then_resume_judges_nothing_twice(tmp_path: Path) -> None:
    judge = _judge()
    first = run_batch(tmp_path / "run", _dataset(), judge)
    assert (first.total, first.judged_now, first.already_done) == (4, 8, 0)
    again = run_batch(tmp_path / "run", _dataset(), judge)
    assert (again.judged_now, again.already_done) == (0, 8)
    results = load_results(tmp_path / "run")
    assert [r.decision(results.info.orders) for r in results.rows] == ["A"] * 4


def test_extended_input_judges_only_the_new_items(tmp_path: Path) -> None:
    judge = _judge()
    run_batch(tmp_path / "run", _dataset(2), judge)
    more = run_batch(tmp_path / "run", _dataset(5), judge)
    assert (more.judged_now, more.already_done) == (6, 4)


def test_retry_unparsed_replaces_only_unparsed(tmp_path: Path) -> None:
    generic = Judge(MockBackend(outputs=lambda prompt: "no verdict here"), format="autoj",
                    decoding=DecodingSettings(constrained=False))
    result = run_batch(tmp_path / "run", _dataset(2), generic)
    assert result.unparsed == 4
    fixed = Judge(MockBackend(outputs=lambda prompt: "So, the final decision is Tie"), format="autoj",
                  decoding=DecodingSettings(constrained=False))
    assert run_batch(tmp_path / "run", _dataset(2), fixed).judged_now == 0  # same key, nothing redone
    retried = run_batch(tmp_path / "run", _dataset(2), fixed, BatchOptions(retry_unparsed=True))
    assert (retried.judged_now, retried.unparsed) == (4, 0)


def test_cancel_stops_between_judgements_and_keeps_what_is_done(tmp_path: Path) -> None:
    cancel = threading.Event()
    seen = []

    def progress(event: object) -> None:
        seen.append(event)
        if len(seen) == 3:
            cancel.set()

    with pytest.raises(RunInterrupted, match="stopped after 1 of 4"):
        run_batch(tmp_path / "run", _dataset(), _judge(), progress=progress, cancel=cancel)
    with RunStore(tmp_path / "run") as store:
        assert store.count_verdicts(store.latest_run().run_key) == 3  # type: ignore[union-attr]
    assert seen[-1].done == 1 and seen[-1].total == 4 and seen[-1].judged_now == 3


def test_an_item_too_long_is_an_error_row_not_a_stopped_run(tmp_path: Path) -> None:
    data = _dataset(2)
    long_item = EvalItem(id="huge", instruction="x" * 5000, responses=("a", "b"))
    data = Dataset(source=data.source, kind="pairs", models=data.models,
                   pairs=data.pairs + (PairTask(long_item, "alpha", "beta"),), grades=())
    result = run_batch(tmp_path / "run", data, _judge(n_ctx=1024))
    assert result.errors == 2 and result.judged_now == 6
    rows = load_results(tmp_path / "run").rows
    assert "item 'huge'" in rows[-1].sides["AB"]["error"]


def test_changing_the_decoding_opens_a_new_run_key(tmp_path: Path) -> None:
    backend = MockBackend(outputs=lambda prompt: "\n\n### Reason: r\n\n### Reference: r\n", option_scores=_prefers_good)
    first = run_batch(tmp_path / "run", _dataset(1), Judge(backend, format="pandalm"))
    second = run_batch(tmp_path / "run", _dataset(1),
                       Judge(backend, format="pandalm", decoding=DecodingSettings(explain=True, max_tokens=4)),
                       BatchOptions())
    assert first.run_key != second.run_key
    with RunStore(tmp_path / "run") as store:
        assert [r.run_key for r in store.runs()] == [first.run_key, second.run_key]


def test_single_grading_mode_and_reports(tmp_path: Path) -> None:
    backend = MockBackend(outputs=lambda prompt: '7, "critique": "fine"}' if "good" in prompt
                          else '3, "critique": "poor"}', chat_template="{{ messages[-1]['content'] }}")
    judge = Judge(backend, format="generic", decoding=DecodingSettings())
    result = run_batch(tmp_path / "run", _dataset(3), judge, BatchOptions(mode="single"))
    assert result.total == 6 and result.unparsed == 0
    files, summary = write_reports(tmp_path / "run")
    assert [m["model"] for m in summary["grades"]["models"]] == ["alpha", "beta"]
    assert summary["grades"]["models"][0]["mean"] == 7.0
    assert files.battles is None
    assert "Mean score per model" in files.report.read_text(encoding="utf-8")


def test_reports_carry_statistics_and_agreement(tmp_path: Path) -> None:
    run_batch(tmp_path / "run", _dataset(6), _judge())
    files, summary = write_reports(tmp_path / "run", rounds=50)
    assert summary["pairs"][0]["wins"] == 6
    assert summary["agreement"]["final_decision"]["accuracy"] == 1.0
    assert summary["agreement"]["both_orders"]["agreement"] == 1.0
    assert summary["judge_behaviour"]["position_consistency"] == 1.0
    battles = [json.loads(line) for line in files.battles.read_text(encoding="utf-8").splitlines()]  # type: ignore[union-attr]
    assert {b["winner"] for b in battles} == {"model_a"} and len(battles) == 6
    assert set(summary["categories"]) == {"qa", "writing"}


def test_progress_carries_each_stored_judgement_for_a_live_table(tmp_path: Path) -> None:
    seen = []
    run_batch(tmp_path / "run", _dataset(2), _judge(), progress=seen.append)
    judged = [(e.last.item_id, e.last.side, e.last.status, e.last.record["winner"]) for e in seen]
    assert judged == [("i0", "AB", "ok", "A"), ("i0", "BA", "ok", "A"), ("i1", "AB", "ok", "A"),
                      ("i1", "BA", "ok", "A")]
    first = seen[0].last
    assert (first.position, first.model_a, first.model_b, first.category) == (0, "alpha", "beta", "writing")
    assert seen[0].last_item == "i0"


def test_items_with_the_same_texts_are_judged_once_and_both_complete(tmp_path: Path) -> None:
    # Two ids, one content: the verdict is keyed by content, so one judgement serves both tasks.
    base = _dataset(2)
    twin = PairTask(item=EvalItem(id="i0-copy", instruction="Task 0", responses=("good 0", "bad 0"),
                                  category="writing"), model_a="alpha", model_b="beta", human="A")
    data = Dataset(source=base.source, kind="pairs", models=base.models, pairs=(base.pairs[0], twin, base.pairs[1]),
                   grades=())
    seen = []
    result = run_batch(tmp_path / "run", data, _judge(), progress=seen.append)
    assert (result.total, result.judged_now, result.already_done) == (3, 4, 0)
    assert [(e.done, e.total) for e in seen] == [(0, 3), (2, 3), (2, 3), (3, 3)]
    results = load_results(tmp_path / "run")
    assert [(r.task.item_id, r.decision(results.info.orders)) for r in results.rows] == [
        ("i0", "A"), ("i0-copy", "A"), ("i1", "A")]
    again = run_batch(tmp_path / "run", data, _judge())
    assert (again.judged_now, again.already_done) == (0, 4)


def test_statuses_are_stored_as_plain_text_and_read_back_as_members(tmp_path: Path) -> None:
    data = _dataset(1)
    long_item = EvalItem(id="huge", instruction="x" * 5000, responses=("a", "b"))
    data = Dataset(source=data.source, kind="pairs", models=data.models,
                   pairs=data.pairs + (PairTask(long_item, "alpha", "beta"),), grades=())
    result = run_batch(tmp_path / "run", data, _judge(n_ctx=1024))
    with sqlite3.connect(tmp_path / "run" / DB_NAME) as db:
        stored = set(db.execute("SELECT status, typeof(status) FROM verdicts"))
    assert stored == {("ok", "text"), ("error", "text")}
    with RunStore(tmp_path / "run") as store:
        done = store.done(result.run_key)
        verdicts = store.verdicts(result.run_key)
    assert sorted(done.values()) == [Status.ERROR, Status.ERROR, Status.OK, Status.OK]
    assert all(type(status) is Status for status in done.values())
    assert {v.status for v in verdicts.values()} == {Status.OK, Status.ERROR} == {"ok", "error"}
    row_ok, row_error = load_results(tmp_path / "run").rows
    assert row_ok.statuses == {"AB": Status.OK, "BA": Status.OK}
    assert row_error.statuses["AB"] is Status.ERROR
    files, summary = write_reports(tmp_path / "run", rounds=10)
    # The reports hold the plain strings, as before statuses were an enum.
    assert summary["progress"]["statuses"] == {"error": 2, "ok": 2}
    assert all(type(name) is str for name in summary["progress"]["statuses"])
    assert json.loads(files.summary.read_text(encoding="utf-8"))["progress"]["statuses"] == {"error": 2, "ok": 2}
    page = files.report.read_text(encoding="utf-8")
    assert '<span class="tag bad">AB: error</span>' in page and "Status." not in page
    with files.verdicts.open(encoding="utf-8", newline="") as handle:
        assert [r["status"] for r in csv.DictReader(handle)] == ["ok", "ok", "error", "error"]


def test_a_record_writes_its_status_as_the_plain_string() -> None:
    verdict = PairwiseVerdict(item_id="i", order="AB", winner=None, status=Status.UNPARSED, raw_output="?")
    assert '"status": "unparsed"' in to_json(verdict)
    assert json.loads(to_json(verdict))["status"] == "unparsed" == Status.UNPARSED
    assert json.dumps({Status.OK: Status.TRUNCATED}) == '{"ok": "truncated"}'
