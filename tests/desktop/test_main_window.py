"""The main window on the real demo judge: started like `make run`, views by shortcut, offline indicator,
results opened from the Batch view, geometry remembered, the model freed on close."""

from __future__ import annotations

from pathlib import Path

import pytest
from judgedesk.desktop._app import start_window
from judgedesk.desktop._settings import AppSettings
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.llama_build import cpu_only_build

pytestmark = pytest.mark.real_model


@pytest.fixture
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # start_window builds its own AppContext, whose settings live under JUDGEDESK_HOME/data.
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))
    AppSettings().runs_dir = tmp_path / "runs"
    return tmp_path


def test_started_like_make_run_with_the_demo_judge_and_the_demo_data(isolated_settings: Path, demo_folder: Path,
                                                                     qtbot) -> None:
    window = start_window(data=str(demo_folder))
    qtbot.addWidget(window)
    assert window.stack.currentWidget() is window.batch
    qtbot.waitUntil(lambda: window.context.service.loaded is not None, timeout=60000)
    assert window.context.service.loaded.info.file_name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "Judge: " in window.judge_label.text()
    qtbot.waitUntil(lambda: window.batch.dataset is not None, timeout=30000)
    assert "3 model(s)" in window.batch.preview_text.toPlainText()
    assert "Offline" in window.offline_label.text() and "blocked" in window.offline_label.text()
    window.close()
    assert window.context.service.loaded is None and window.context.service._backend is None  # model freed


@cpu_only_build
def test_gpu_layers_on_a_cpu_only_build_show_in_the_status_bar(isolated_settings: Path, qtbot) -> None:
    AppSettings().gpu_layers = -1
    window = start_window()
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.context.service.loaded is not None, timeout=60000)
    assert "on the CPU: this llama.cpp build has no GPU support" in window.judge_label.text()
    assert "CMAKE_ARGS" in window.judge_label.toolTip()
    window.close()


def test_shortcuts_switch_views_and_the_window_remembers_itself(isolated_settings: Path, qtbot) -> None:
    window = start_window()
    qtbot.addWidget(window)
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window)
    for number, view in enumerate(window.views, start=1):
        QTest.keyClick(window, Qt.Key(Qt.Key.Key_0 + number), Qt.KeyboardModifier.ControlModifier)
        assert window.stack.currentWidget() is view
    window.show_view(3)
    geometry = window.saveGeometry()
    window.close()
    # The offscreen screen is small, so the restored size is clamped to it: compare what was saved instead.
    assert AppSettings().window_geometry() == geometry
    again = start_window()
    qtbot.addWidget(again)
    assert again.stack.currentIndex() == 3
    again.close()


def test_open_results_switches_to_the_results_view(isolated_settings: Path, demo_folder: Path, qtbot) -> None:
    window = start_window(data=str(demo_folder))
    qtbot.addWidget(window)
    batch = window.batch
    qtbot.waitUntil(lambda: batch.dataset is not None, timeout=30000)
    batch.limit_box.setValue(1)
    task = batch._reload()
    qtbot.waitSignal(task.task_did_end, timeout=30000).wait()  # type: ignore[union-attr]
    run = batch.start()
    qtbot.waitSignal(run.task_did_finish, timeout=120000).wait()  # type: ignore[union-attr]
    qtbot.mouseClick(batch.results_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.results
    window.close()
