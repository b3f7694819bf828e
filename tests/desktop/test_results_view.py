"""The Results view on runs judged by the real embedded demo judge, driven through its widgets: open a run, pick a
run key, filter, select a row (both orders side by side), override a verdict (stored, marked, measured), export
the reports, and follow a run that is still being judged."""

from __future__ import annotations

import json
import shutil
import stat
import time
from pathlib import Path

import pytest
from judgedesk.core import demo_data_path, load_judge
from judgedesk.core.datasets import load_dataset
from judgedesk.core.reports import load_results
from judgedesk.core.runs import BatchOptions, RunStore, run_batch
from judgedesk.desktop._results_model import COLUMNS
from judgedesk.desktop._results_view import ResultsView
from openpyxl import load_workbook
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTextBrowser,
)

pytestmark = pytest.mark.real_model
WAIT = 60_000


@pytest.fixture(scope="module")
def judged_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One folder, two real run keys of the demo judge on the first demo prompt (3 models): single grading of the
    3 responses, then (the latest) the 3 pairs in both orders, one with a human label. Returns the folder and the
    single-grading run key."""
    base = tmp_path_factory.mktemp("results_view")
    data = base / "demo"
    shutil.copytree(demo_data_path(), data)
    judge = load_judge(n_ctx=2048, n_threads=1)
    folder = base / "run"
    try:
        single = run_batch(folder, load_dataset(data, limit=1), judge, BatchOptions(mode="single"))
        run_batch(folder, load_dataset(data, limit=1), judge)
    finally:
        judge.close()
    return folder, single.run_key


@pytest.fixture
def view(app_context: object, qtbot: object) -> ResultsView:
    results = ResultsView(app_context)  # type: ignore[arg-type]
    results.rounds = 50
    qtbot.addWidget(results)  # type: ignore[attr-defined]
    results.resize(1200, 900)
    results.show()
    return results


def _open(view: ResultsView, qtbot: object, folder: Path, run_key: str | None = None) -> None:
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        view.open_run(folder, run_key)


def _find(view: ResultsView, kind: type, name: str):  # the widget's own type
    widget = view.findChild(kind, name)
    assert widget is not None, name
    return widget


def test_open_filter_select_override_and_export(view: ResultsView, qtbot: object, judged_run: tuple[Path, str],
                                                tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(judged_run[0], folder)
    _open(view, qtbot, folder)
    messages = view.context.messages
    assert messages.kind != "error", messages.current_text()

    # The latest run key (pairwise, both orders) is shown; the picker offers the other one.
    picker = _find(view, QComboBox, "runPicker")
    assert picker.count() == 2 and picker.isEnabled() and picker.currentIndex() == 1
    summary = _find(view, QLabel, "resultsSummary").text()
    assert "3 of 3 tasks complete" in summary and "AB+BA" in summary
    assert view.summary is not None and view.summary["agreement"]["final_decision"]["n"] >= 1  # human labels
    assert view.behaviour_chart.has_data() and view.agreement_chart.has_data()
    assert view.category_table.rowCount() >= 3  # the three model pairs, then categories

    view.tabs.setCurrentIndex(1)
    table = _find(view, QTableView, "resultsTable")
    model = table.model()
    assert model.rowCount() == 3 and model.columnCount() == len(COLUMNS)

    # Filters through the widgets.
    filter_model = _find(view, QComboBox, "filterModel")
    filter_model.setCurrentIndex(filter_model.findText("model-gamma"))
    assert model.rowCount() == 2
    filter_model.setCurrentIndex(0)
    decisions = [model.data(model.index(r, COLUMNS.index("Decision"))) for r in range(3)]
    filter_decision = _find(view, QComboBox, "filterDecision")
    filter_decision.setCurrentIndex(filter_decision.findText(decisions[0]))
    assert model.rowCount() == decisions.count(decisions[0])
    filter_decision.setCurrentIndex(0)
    inconsistent = _find(view, QCheckBox, "filterInconsistent")
    inconsistent.setChecked(True)
    assert model.rowCount() == decisions.count("inconsistent")
    inconsistent.setChecked(False)
    qtbot.keyClicks(_find(view, QLineEdit, "filterText"), "no such item")  # type: ignore[attr-defined]
    assert model.rowCount() == 0 and "0 of 3 rows" in _find(view, QLabel, "filterCount").text()
    _find(view, QLineEdit, "filterText").clear()
    assert model.rowCount() == 3

    # Selecting a row shows the item and both orders.
    table.selectRow(0)
    row = view.selected_row()
    assert row is not None
    ab = _find(view, QTextBrowser, "detailOrderAB").toPlainText()
    ba = _find(view, QTextBrowser, "detailOrderBA").toPlainText()
    assert "A shown first" in ab and "B shown first" in ba and "Raw output" in ab and "Probabilities" in ab
    assert row.task.payload["instruction"] in view.detail.instruction.toPlainText()
    assert view.detail.response_a.toPlainText() == row.task.payload["responses"][0]
    assert view.detail.response_b.toPlainText() == row.task.payload["responses"][1]

    # Override through the widgets: stored, marked, measured.
    judge_said = model.data(model.index(0, COLUMNS.index("Decision")))
    label = "B" if judge_said == "A" else "A"
    qtbot.keyClicks(_find(view, QLineEdit, "overrideNote"), "the judge missed it")  # type: ignore[attr-defined]
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        qtbot.mouseClick(_find(view, QPushButton, f"override{label}"), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    with RunStore(folder) as store:
        stored = store.overrides(view.run_key)  # type: ignore[arg-type]
    assert stored[row.task.content].label == label and stored[row.task.content].note == "the judge missed it"
    assert model.data(model.index(0, COLUMNS.index("Override"))) == f"✎ {label}"
    assert "Override: " + label in _find(view, QLabel, "overrideCurrent").text()
    over = view.summary["agreement"]["overrides"]
    assert over["count"] == 1 and over["n"] == 1 and over["correct"] == 0
    assert any(r.label.startswith("Overrides") for r in view.agreement_chart.rows)
    assert "1 overridden" in _find(view, QLabel, "resultsSummary").text()
    assert view.selected_row() is not None and view.selected_row().task.content == row.task.content
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        _find(view, QCheckBox, "applyOverrides").setChecked(True)
    assert view.summary["options"]["apply_overrides"] is True
    assert view.summary["decisions"][label] >= 1

    # Export through the buttons: the files are written into the run folder and named in the message bar.
    with qtbot.waitSignal(view.export_did_finish, timeout=WAIT) as exported:  # type: ignore[attr-defined]
        qtbot.mouseClick(_find(view, QPushButton, "exportReport"), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert exported.args[0] == [folder / "report.html"]
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert f"override: {label}" in html and "the judge missed it" in html
    assert "report.html" in messages.current_text()
    with qtbot.waitSignal(view.export_did_finish, timeout=WAIT):  # type: ignore[attr-defined]
        qtbot.mouseClick(_find(view, QPushButton, "exportTables"), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert "override_note" in (folder / "verdicts.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "the judge missed it" in (folder / "pairs.csv").read_text(encoding="utf-8")
    elsewhere = tmp_path / "exported"
    with qtbot.waitSignal(view.export_did_finish, timeout=WAIT) as exported:  # type: ignore[attr-defined]
        view.export_to(elsewhere)
    assert sorted(p.name for p in exported.args[0]) == ["battles.jsonl", "pairs.csv", "pairs.xlsx", "report.html",
                                                        "summary.json", "verdicts.csv"]
    assert json.loads((elsewhere / "summary.json").read_text(encoding="utf-8"))["agreement"]["overrides"]["count"] == 1

    # Clearing the override.
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        qtbot.mouseClick(_find(view, QPushButton, "overrideClear"), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert load_results(folder).overridden == 0
    assert "overrides" not in view.summary["agreement"]

    # The other run key (single grading) through the picker.
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        picker.setCurrentIndex(0)
    assert model.rowCount() == 3 and "single" in _find(view, QLabel, "resultsSummary").text()
    assert _find(view, QTextBrowser, "detailOrderBA").isHidden()


def test_single_grading_run(view: ResultsView, qtbot: object, judged_run: tuple[Path, str],
                            tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(judged_run[0], folder)
    view.open_run(folder)  # the pairwise run starts loading; picking another run drops that load
    _open(view, qtbot, folder, judged_run[1][:8])
    assert view.run_key == judged_run[1] and view.summary["run"]["mode"] == "single"  # type: ignore[index]
    qtbot.wait(300)  # type: ignore[attr-defined]
    assert view.model.single and view.summary["run"]["mode"] == "single"  # type: ignore[index]
    model = view.model
    assert model.rowCount() == 3 and model.headerData(6, Qt.Orientation.Horizontal) == "Score"
    assert not view.grades_chart.isHidden() and view.heat_map.isHidden()
    graded = [r for r in range(3) if model.row_at(r).score is not None]
    if graded:
        assert view.grades_chart.has_data()
    view.table.selectRow(0)
    assert not _find(view, QPushButton, "overrideSetScore").isHidden()
    assert _find(view, QPushButton, "overrideA").isHidden()
    view.detail.override_score.setValue(4)
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        qtbot.mouseClick(_find(view, QPushButton, "overrideSetScore"), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert load_results(folder, judged_run[1]).rows[0].override.score == 4.0  # type: ignore[union-attr]
    assert view.summary["agreement"]["overrides"]["count"] == 1
    assert not _find(view, QPushButton, "exportBattles").isEnabled()


def test_a_folder_that_is_not_a_run_is_an_error_in_the_bar(view: ResultsView, tmp_path: Path) -> None:
    view.open_run(tmp_path)
    assert view.context.messages.kind == "error" and "not a judgedesk run folder" in \
        view.context.messages.current_text()
    assert view.folder is None


def test_a_running_run_is_watched_at_most_every_two_seconds(view: ResultsView, qtbot: object,
                                                            judged_run: tuple[Path, str], tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(judged_run[0], folder)
    _open(view, qtbot, folder)
    loads: list[float] = []
    view.results_did_load.connect(lambda _results: loads.append(time.monotonic()))
    started = time.monotonic()
    for _ in range(5):
        view.context.run_did_update.emit(folder)
    view.context.run_did_update.emit(tmp_path / "elsewhere")
    qtbot.waitUntil(lambda: len(loads) >= 1, timeout=10_000)  # type: ignore[attr-defined]
    qtbot.wait(2500)  # type: ignore[attr-defined]
    assert len(loads) == 1  # five updates in a burst: one reload
    assert loads[0] - started >= 1.5  # not before two seconds after the open's own load


def test_export_buttons_write_what_they_say_and_offer_the_folder(
        view: ResultsView, qtbot: object, judged_run: tuple[Path, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "run"
    shutil.copytree(judged_run[0], folder)  # judged, no report written yet
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    _open(view, qtbot, folder)
    messages = view.context.messages
    open_folder = _find(view, QPushButton, "openExportFolder")
    assert open_folder.isEnabled() and str(folder) in open_folder.toolTip()
    assert view.minimumSizeHint().width() <= 1024 - 130 - 40  # the export row fits the smallest window's view

    # "HTML report" writes report.html and nothing else.
    with qtbot.waitSignal(view.export_did_finish, timeout=WAIT) as exported:  # type: ignore[attr-defined]
        qtbot.mouseClick(_find(view, QPushButton, "exportReport"), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert exported.args[0] == [folder / "report.html"]
    assert [name for name in ("verdicts.csv", "pairs.csv", "pairs.xlsx", "summary.json", "battles.jsonl")
            if (folder / name).exists()] == []
    assert messages.kind == "info" and f"report.html to {folder}" in messages.current_text()

    # "Tables" writes the per-pair table (CSV and workbook) and verdicts.csv, owner-only, and says where.
    with qtbot.waitSignal(view.export_did_finish, timeout=WAIT) as exported:  # type: ignore[attr-defined]
        qtbot.mouseClick(_find(view, QPushButton, "exportTables"), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert exported.args[0] == [folder / "pairs.csv", folder / "pairs.xlsx", folder / "verdicts.csv"]
    assert not (folder / "summary.json").exists() and not (folder / "battles.jsonl").exists()
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in exported.args[0])
    assert f"pairs.csv, pairs.xlsx and verdicts.csv to {folder}" in messages.current_text()
    assert "Open folder" in messages.current_text()

    # The workbook is the Verdicts tab: same rows, positions, decisions; no formula anywhere.
    model = view.model
    sheet = load_workbook(folder / "pairs.xlsx").active
    header = [cell.value for cell in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [row[header.index("position")] for row in rows] == [
        int(model.headerData(r, Qt.Orientation.Vertical)) for r in range(model.rowCount())] == [1, 2, 3]
    assert [row[header.index("decision")] for row in rows] == [
        model.data(model.index(r, COLUMNS.index("Decision"))) for r in range(model.rowCount())]
    assert [row[header.index("response_a")] for row in rows] == [
        model.row_at(r).task.payload["responses"][0] for r in range(model.rowCount())]
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)

    # "Open folder" opens where the files went.
    qtbot.mouseClick(open_folder, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert opened == [QUrl.fromLocalFile(str(folder))]

    # "Export to…" writes everything there, and the folder on offer follows.
    elsewhere = tmp_path / "shared"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(elsewhere))
    with qtbot.waitSignal(view.export_did_finish, timeout=WAIT) as exported:  # type: ignore[attr-defined]
        qtbot.mouseClick(_find(view, QPushButton, "exportTo"), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert {path.name for path in elsewhere.iterdir()} == {"report.html", "pairs.csv", "pairs.xlsx", "verdicts.csv",
                                                            "summary.json", "battles.jsonl"}
    assert str(elsewhere) in messages.current_text() and view.export_folder == elsewhere
    qtbot.mouseClick(open_folder, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert opened[-1] == QUrl.fromLocalFile(str(elsewhere))

    # A desktop without a file manager is said, not swallowed.
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    qtbot.mouseClick(open_folder, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert messages.kind == "error" and str(elsewhere) in messages.current_text()
