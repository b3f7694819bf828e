"""Finding runs again and stopping them clearly (issue 17), on the real demo judge: the run history, the latest run
opened at start, Results following a running batch, the earlier-runs list with live progress, date and the
settings that differ, the new-run notice, closing during a batch, Esc and Cancel in the Batch view."""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from judgedesk.core import Sampling
from judgedesk.desktop._batch_view import BatchView
from judgedesk.desktop._context import AppContext
from judgedesk.desktop._main_window import MainWindow
from judgedesk.desktop._run_history import HISTORY_FILE, RunHistory, differing_settings
from judgedesk.desktop._settings import AppSettings
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

pytestmark = pytest.mark.real_model

LIMIT = 1  # 1 item x 3 models = 3 pairs


def _open(view: BatchView, path: Path, qtbot) -> None:
    task = view.open_path(path)
    assert task is not None
    qtbot.waitSignal(task.task_did_end, timeout=30000).wait()


def _prepared(view: BatchView, data: Path, qtbot, *, both_orders: bool = False) -> None:
    view.picker.set_format("pandalm")
    view.limit_box.setValue(LIMIT)
    view.both_orders.setChecked(both_orders)
    _open(view, data, qtbot)


def _history(settings: AppSettings) -> RunHistory:
    return RunHistory(settings.path.parent / HISTORY_FILE)


@pytest.fixture
def view(app_context, qtbot) -> Iterator[BatchView]:
    widget = BatchView(app_context)
    qtbot.addWidget(widget)
    yield widget
    widget.view_will_close()  # as the window does before the services shut down


def test_differing_settings_name_only_what_tells_runs_apart() -> None:
    first = {"seed": 1, "judge_sha256": "x", "decoding": {"n_ctx": 4096, "temperature": 0.0, "n_threads": 2}}
    second = {"seed": 2, "judge_sha256": "x", "decoding": {"n_ctx": 2048, "temperature": 0.0, "n_threads": 8}}
    assert differing_settings([first, second]) == ["seed 1 · context 4096", "seed 2 · context 2048"]
    assert differing_settings([first]) == ["seed 1"]


def test_the_history_is_owner_only_and_keeps_the_start_date(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "data" / HISTORY_FILE)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.sqlite").write_bytes(b"")
    first = history.record(folder=tmp_path / "run", run_key="k1", source="/d/demo", label="J / generic",
                           mode="pairwise", orders=("AB",), settings={"seed": 1}, done=1, total=3)
    again = history.record(folder=tmp_path / "run", run_key="k1", source="/d/demo", label="J / generic",
                           mode="pairwise", orders=("AB",), settings={"seed": 1}, done=3, total=3)
    assert len(history.entries()) == 1 and again.started == first.started and again.done == 3
    assert history.latest() == again
    assert stat.S_IMODE(history.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(history.path.parent.stat().st_mode) == 0o700


def test_earlier_runs_show_final_progress_date_and_differing_settings_and_a_new_run_is_announced(
        view: BatchView, demo_folder: Path, qtbot) -> None:
    settings = view.context.settings
    _prepared(view, demo_folder, qtbot)
    first = view.start()
    qtbot.waitSignal(first.task_did_finish, timeout=120000).wait()  # type: ignore[union-attr]
    # The list shows where the run ended, not where it was when the list was read.
    qtbot.waitUntil(lambda: view.earlier_table.rowCount() == 1
                    and view.earlier_table.item(0, 3).text() == "3 / 3", timeout=10000)
    assert view.earlier_table.item(0, 1).text() == f"seed {settings.seed}"
    assert view.earlier_table.item(0, 4).text()[:2] == "20"  # a local date such as 2026-12-06 22:10
    qtbot.waitUntil(lambda: "continues the earlier run" in view.run_notice.text(), timeout=30000)
    entry = _history(settings).latest()
    assert entry is not None and entry.done == entry.total == 3 and entry.folder == str(view.folder)

    settings.seed, settings.n_ctx = 7, 2048
    view.context.settings_did_change.emit()
    qtbot.waitUntil(lambda: "start a new run" in view.run_notice.text(), timeout=30000)
    assert "seed 7" in view.run_notice.text() and "context 2048" in view.run_notice.text()
    second = view.start()
    qtbot.waitSignal(second.task_did_finish, timeout=120000).wait()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: view.earlier_table.rowCount() == 2, timeout=10000)
    shown = {view.earlier_table.item(row, 1).text() for row in range(2)}
    assert shown == {f"seed {Sampling().seed} · context 4096", "seed 7 · context 2048"}
    assert [view.earlier_table.item(row, 3).text() for row in range(2)] == ["3 / 3", "3 / 3"]


def test_restart_opens_the_latest_run_and_the_last_data(app_settings: AppSettings, demo_folder: Path,
                                                        qtbot) -> None:
    context = AppContext(settings=app_settings)
    window = MainWindow(context)
    qtbot.addWidget(window)
    _prepared(window.batch, demo_folder, qtbot)
    run = window.batch.start()
    qtbot.waitSignal(run.task_did_finish, timeout=120000).wait()  # type: ignore[union-attr]
    folder, key = window.batch.folder, run.result.run_key  # type: ignore[union-attr]
    window.close()

    again = MainWindow(AppContext(settings=AppSettings(app_settings.path)))
    qtbot.addWidget(again)
    assert again.results.folder == folder and again.results.run_key == key
    assert "No run open" not in again.results.summary_label.text()
    qtbot.waitUntil(lambda: again.batch.path_edit.text() == str(demo_folder), timeout=5000)
    qtbot.waitUntil(lambda: again.batch.dataset is not None, timeout=30000)
    again.close()


def test_ctrl_3_during_a_batch_shows_the_running_run_with_rows_as_they_land(app_settings: AppSettings,
                                                                           demo_folder: Path, qtbot) -> None:
    window = MainWindow(AppContext(settings=app_settings))
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    batch = window.batch
    _prepared(batch, demo_folder, qtbot, both_orders=True)
    run = batch.start()
    qtbot.waitUntil(lambda: batch.live_model.rowCount() >= 1, timeout=60000)
    QTest.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.results
    results = window.results
    assert results.folder == batch.folder and results.run_key is not None
    assert "No run open" not in results.summary_label.text()
    qtbot.waitSignal(run.task_did_finish, timeout=120000).wait()  # type: ignore[union-attr]
    assert results.run_key == run.result.run_key  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: "3 of 3 tasks complete" in results.summary_label.text(), timeout=30000)
    window.close()


def test_ctrl_3_before_the_first_verdict_says_a_batch_is_starting(app_settings: AppSettings, demo_folder: Path,
                                                                  qtbot) -> None:
    window = MainWindow(AppContext(settings=app_settings))
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    batch, results = window.batch, window.results
    _prepared(batch, demo_folder, qtbot, both_orders=False)
    assert results.folder is None and "No run open" in results.summary_label.text()
    run = batch.start()
    QTest.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is results
    # No event has been handled since Start, so no verdict can have reached the GUI thread: the run is not open yet.
    assert results.folder is None
    assert "A batch is starting" in results.summary_label.text() and str(batch.folder) in results.summary_label.text()
    qtbot.waitSignal(run.task_did_finish, timeout=120000).wait()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: results.run_key == run.result.run_key, timeout=30000)  # type: ignore[union-attr]
    window.close()


def _answer_when_asked(button_text: str, asked: list[str]) -> None:
    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, answer)
            return
        asked.append(box.text() + " " + box.informativeText())
        next(b for b in box.buttons() if b.text() == button_text).click()

    QTimer.singleShot(50, answer)


def test_closing_during_a_batch_asks_and_stops_cleanly(app_settings: AppSettings, demo_folder: Path, qtbot,
                                                       capfd: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    window = MainWindow(AppContext(settings=app_settings))
    qtbot.addWidget(window)
    window.show()
    batch = window.batch
    _prepared(batch, demo_folder, qtbot, both_orders=True)
    run = batch.start()
    qtbot.waitUntil(lambda: batch.live_model.rowCount() >= 1, timeout=60000)

    asked: list[str] = []
    _answer_when_asked("Keep running", asked)
    assert not window.close()
    assert asked and "A batch is running" in asked[0] and run.is_running  # type: ignore[union-attr]

    _answer_when_asked("Stop and quit", asked)
    assert window.close()
    assert "open the same data again" in asked[1]
    assert not run.is_running and batch.state == "idle"  # type: ignore[union-attr]
    assert window.context.service.loaded is None
    for _ in range(20):  # whatever was queued for the closed window arrives now, and schedules nothing
        QTest.qWait(25)
    captured = capfd.readouterr()
    assert "RuntimeError" not in captured.err and "cannot schedule" not in captured.err
    assert not unraisable
    entry = _history(app_settings).latest()
    assert entry is not None and 0 < entry.done <= entry.total == 3  # recorded where it stopped


def test_esc_cancels_and_says_cancelling(view: BatchView, demo_folder: Path, qtbot) -> None:
    view.show()
    _prepared(view, demo_folder, qtbot, both_orders=True)
    run = view.start()
    qtbot.waitUntil(lambda: view.live_model.rowCount() >= 1, timeout=60000)
    QTest.keyClick(view.live_table, Qt.Key.Key_Escape)
    assert view.state == "cancelling"
    assert "cancelling…" in view.rate_label.text() and view.cancel_button.text() == "Cancelling…"
    qtbot.waitSignal(run.task_did_end, timeout=60000).wait()  # type: ignore[union-attr]
    assert "cancelled after" in view.rate_label.text() and "open the same data again" in view.rate_label.text()
    assert view.cancel_button.text() == "Cancel" and view.start_button.isEnabled()


def test_cancel_while_paused_and_another_file_clears_the_run(view: BatchView, demo_folder: Path, tmp_path: Path,
                                                             qtbot) -> None:
    _prepared(view, demo_folder, qtbot, both_orders=True)
    run = view.start()
    qtbot.waitUntil(lambda: view.live_model.rowCount() >= 1, timeout=60000)
    qtbot.mouseClick(view.pause_button, Qt.MouseButton.LeftButton)
    assert "pausing…" in view.rate_label.text()
    qtbot.waitSignal(run.task_did_end, timeout=60000).wait()  # type: ignore[union-attr]
    assert view.state == "paused" and view.cancel_button.isEnabled()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    assert view.state == "idle" and view.start_button.text() == "Start"
    assert "cancelled after" in view.rate_label.text()

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"id": "1", "instruction": "Say hi", "response_a": "Hi!", "response_b": "Hello."}\n',
                     encoding="utf-8")
    task = view.open_path(pairs)
    assert view.live_model.rowCount() == 0 and view.progress_bar.value() <= 0
    assert view.rate_label.text() == "" and view.earlier_table.rowCount() == 0
    qtbot.waitSignal(task.task_did_end, timeout=30000).wait()  # type: ignore[union-attr]
    assert "1 pair(s) to judge" in view.preview_text.toPlainText()


def test_the_results_run_list_offers_recent_runs_of_other_data(app_context, qtbot, tmp_path: Path) -> None:
    from judgedesk.core.runs import RunInfo, RunStore
    from judgedesk.desktop._results_view import ResultsView

    history = _history(app_context.settings)
    for name, key in (("first-data", "k1"), ("second-data", "k2")):
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        with RunStore(folder) as store:
            store.ensure_run(RunInfo(key, f"Judge {key} / generic", "pairwise", ("AB",), {"seed": 1}, name))
        history.record(folder=folder, run_key=key, source=f"/data/{name}", label=f"Judge {key} / generic",
                       mode="pairwise", orders=("AB",), settings={"seed": 1}, done=0, total=0)
    view = ResultsView(app_context)
    qtbot.addWidget(view)
    view.open_run(tmp_path / "runs" / "first-data")
    texts = [view.run_picker.itemText(i) for i in range(view.run_picker.count())]
    assert any(text.startswith("second-data · Judge k2 / generic") for text in texts)
    view.run_picker.setCurrentIndex(next(i for i, text in enumerate(texts) if text.startswith("second-data")))
    assert view.folder == tmp_path / "runs" / "second-data" and view.run_key == "k2"
    view.view_will_close()
