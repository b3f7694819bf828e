"""The Batch view on the real demo judge: preview, run to the end, pause/cancel and resume, problems by line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from judgedesk.core.runs import RunStore
from judgedesk.desktop._batch_runs import find_earlier_runs, run_folder_for
from judgedesk.desktop._batch_view import BatchView
from judgedesk.desktop._tasks import TaskState
from PySide6.QtCore import Qt, QTimer

pytestmark = pytest.mark.real_model

LIMIT = 2  # 2 items x 3 models = 6 pairs, 12 judgements in both orders


@pytest.fixture
def view(app_context, qtbot):
    widget = BatchView(app_context)
    qtbot.addWidget(widget)
    widget.picker.set_format("pandalm")
    widget.limit_box.setValue(LIMIT)
    yield widget
    widget.view_will_close()  # as the window does before the services shut down: nothing is scheduled after


def _open(view: BatchView, path: Path, qtbot) -> None:
    task = view.open_path(path)
    assert task is not None
    qtbot.waitSignal(task.task_did_end, timeout=30000).wait()


def test_preview_then_run_to_the_end_with_a_live_table(view: BatchView, demo_folder: Path, qtbot) -> None:
    _open(view, demo_folder, qtbot)
    preview = view.preview_text.toPlainText()
    assert "3 model(s)" in preview and "6 pair(s) to judge" in preview
    assert view.start_button.isEnabled()
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(25)
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    task = view.run_task
    assert task is not None
    started = time.monotonic()
    qtbot.waitSignal(task.task_did_finish, timeout=120000).wait()
    duration = time.monotonic() - started
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    # What this guards against is judging (or reading the run) in the GUI thread: the window is then frozen for most
    # of the run. A single pause of a second or two is not the app's doing: on a loaded 2-core machine the judge's
    # thread and a garbage collection in this torch-laden test process hold the GIL that long (1.6 s once, with three
    # other test runs on the machine). So: little of the run frozen, and no long freeze.
    frozen = sum(gap for gap in gaps if gap > 0.25)
    assert frozen < 0.3 * duration, f"the window was frozen {frozen:.1f} s of a {duration:.1f} s run"
    assert max(gaps) < 5.0, f"the window froze for {max(gaps):.2f} s during the run"
    assert view.live_model.rowCount() == 12
    assert {view.live_model.judged(r).side for r in range(12)} == {"AB", "BA"}
    assert view.progress_bar.value() == view.progress_bar.maximum() == 6
    assert "pairs/min" in view.rate_label.text() or "6 done" in view.rate_label.text()
    qtbot.waitUntil(lambda: "report" in view.context.messages.current_text(), timeout=30000)
    assert (view.folder / "report.html").exists()  # type: ignore[operator]
    assert view.folder == run_folder_for(view.context.settings.runs_dir, demo_folder)


def test_cancel_midway_then_resume_from_earlier_runs_finishes_without_duplicates(view: BatchView, demo_folder: Path,
                                                                                 qtbot) -> None:
    _open(view, demo_folder, qtbot)
    task = view.start()
    assert task is not None
    qtbot.waitUntil(lambda: view.live_model.rowCount() >= 3, timeout=60000)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    at_cancel = view.live_model.rowCount()
    qtbot.waitSignal(task.task_did_end, timeout=60000).wait()
    assert view.live_model.rowCount() <= at_cancel + 2  # the pair under way (both orders) finishes, no other starts
    assert task.state is TaskState.CANCELLED and view.context.messages.current_text() == ""  # quiet
    assert "cancelled after" in view.rate_label.text()
    qtbot.waitUntil(lambda: view.earlier_table.rowCount() == 1, timeout=10000)
    earlier = find_earlier_runs(view.folder)  # type: ignore[arg-type]
    assert earlier[0].done < earlier[0].total == 6
    view.earlier_table.selectRow(0)
    assert view.resume_earlier.isEnabled()
    qtbot.mouseClick(view.resume_earlier, Qt.MouseButton.LeftButton)
    resumed = view.run_task
    assert resumed is not None and resumed is not task
    qtbot.waitSignal(resumed.task_did_finish, timeout=120000).wait()
    result = resumed.result
    assert result.already_done >= 3 and result.already_done + result.judged_now == 12
    assert result.run_key == earlier[0].info.run_key  # the same run continued, not a new one
    with RunStore(view.folder) as store:  # type: ignore[arg-type]
        assert len(store.runs()) == 1 and store.count_verdicts(result.run_key) == 12


def test_pause_and_resume_with_the_start_button(view: BatchView, demo_folder: Path, qtbot) -> None:
    _open(view, demo_folder, qtbot)
    first = view.start()
    qtbot.waitUntil(lambda: view.live_model.rowCount() >= 2, timeout=60000)
    view.pause()
    qtbot.waitSignal(first.task_did_end, timeout=10000).wait()  # type: ignore[union-attr]
    assert view.state == "paused" and view.start_button.text() == "Resume"
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    second = view.run_task
    qtbot.waitSignal(second.task_did_finish, timeout=120000).wait()  # type: ignore[union-attr]
    assert second.result.judged_now + second.result.already_done == 12  # type: ignore[union-attr]


def test_problems_are_listed_with_file_and_line(view: BatchView, tmp_path: Path, qtbot) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        '{"id": "1", "instruction": "Say hi", "response_a": "Hi!", "response_b": "Hello."}\n'
        '{"id": "2", "instruction": "Say bye", "response_a": "Bye"\n'
        '{"id": "3", "instruction": "Count to 3", "response_a": "1 2 3", "response_b": "1 2"}\n', encoding="utf-8")
    _open(view, pairs, qtbot)
    assert view.problems_table.rowCount() == 1
    assert view.problems_table.item(0, 0).text().endswith("pairs.jsonl")
    assert view.problems_table.item(0, 1).text() == "2"
    assert "2 pair(s) to judge" in view.preview_text.toPlainText()


def test_an_unusable_path_is_an_error_message_and_start_stays_off(view: BatchView, tmp_path: Path,
                                                                  qtbot) -> None:
    _open(view, tmp_path / "missing", qtbot)
    assert "missing" in view.context.messages.current_text()
    assert not view.start_button.isEnabled()
