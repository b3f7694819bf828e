"""The message over the views, in the real main window: it never moves a widget, info goes away by itself, an
error stays until dismissed (✕ or Esc), and a message stays with the view it came from."""

from __future__ import annotations

from pathlib import Path

import pytest
from judgedesk.desktop._main_window import MainWindow
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton, QToolButton, QWidget


@pytest.fixture
def window(app_context, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))  # a judge library of this test's own
    app_context.messages.info_timeout_ms = 150  # short, so the test needs no sleeps of seconds
    main = MainWindow(app_context)
    qtbot.addWidget(main)
    main.resize(1024, 700)
    main.show()
    qtbot.waitExposed(main)
    return main


def _geometries(view: QWidget) -> dict[int, tuple[str, QPoint, object]]:
    """Where every visible widget of `view` is, in window coordinates."""
    window = view.window()
    return {id(w): (w.objectName() or type(w).__name__, w.mapTo(window, QPoint(0, 0)), w.size())
            for w in [view, *view.findChildren(QWidget)] if w.isVisible()}


def test_a_message_moves_no_widget_and_info_goes_away_by_itself(window: MainWindow, qtbot) -> None:
    window.show_view(window.view_index(window.compare))
    bar = window.context.messages
    before = _geometries(window.compare)
    window.compare.card.card_did_copy.emit("json")  # what Copy as JSON says when it has copied
    assert bar.isVisible() and bar.kind == "info" and bar.current_text() == "Verdict copied as JSON."
    qtbot.wait(10)  # let any layout pass run
    assert _geometries(window.compare) == before
    stack = window.stack
    assert stack.rect().contains(bar.geometry())  # it floats inside the views' area, over them
    qtbot.waitUntil(bar.isHidden, timeout=3000)
    assert bar.current_text() == "" and _geometries(window.compare) == before


def test_an_error_stays_until_dismissed_with_esc_or_the_close_button(window: MainWindow, qtbot) -> None:
    window.show_view(window.view_index(window.compare))
    bar = window.context.messages
    before = _geometries(window.compare)
    run = window.compare.findChild(QPushButton, "runButton")
    qtbot.mouseClick(run, Qt.MouseButton.LeftButton)  # nothing typed: an error names what is missing
    assert bar.kind == "error" and bar.current_text().startswith("Instruction is empty")
    qtbot.wait(600)  # four info timeouts: an error is still there
    assert bar.isVisible() and bar.kind == "error"
    assert _geometries(window.compare) == before
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert bar.isHidden() and bar.current_text() == ""

    qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
    assert bar.isVisible()
    qtbot.mouseClick(bar.findChild(QToolButton, "messageClose"), Qt.MouseButton.LeftButton)
    assert bar.isHidden() and bar.kind is None
    assert _geometries(window.compare) == before


def _not_gguf(tmp_path: Path) -> Path:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(bytes(256))
    return weights


def test_a_judges_view_error_is_not_shown_in_the_batch_view(window: MainWindow, qtbot, tmp_path: Path) -> None:
    bar = window.context.messages
    QTest.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.judges
    task = window.judges.import_gguf(_not_gguf(tmp_path), copy=True)
    qtbot.waitSignal(task.task_did_fail, timeout=30_000).wait()
    assert bar.isVisible() and "not a GGUF model file" in bar.current_text()

    QTest.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.batch
    assert bar.isHidden() and bar.current_text() == ""
    QTest.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert bar.isVisible() and "not a GGUF model file" in bar.current_text()  # still that view's latest


def test_a_task_that_fails_after_its_view_was_left_keeps_its_error_there(window: MainWindow, qtbot,
                                                                          tmp_path: Path) -> None:
    bar = window.context.messages
    window.show_view(window.view_index(window.judges))
    task = window.judges.import_gguf(_not_gguf(tmp_path), copy=True)
    window.show_view(window.view_index(window.batch))  # before the failure can reach the GUI thread
    qtbot.waitSignal(task.task_did_fail, timeout=30_000).wait()
    assert bar.isHidden() and bar.current_text() == ""
    window.show_view(window.view_index(window.judges))
    assert bar.kind == "error" and "not a GGUF model file" in bar.current_text()


def test_an_info_message_of_a_hidden_view_waits_for_it(window: MainWindow, qtbot) -> None:
    bar = window.context.messages
    window.show_view(window.view_index(window.compare))
    window.compare.card.card_did_copy.emit("text")
    window.show_view(window.view_index(window.settings_view))
    qtbot.wait(400)  # longer than the timeout, out of sight
    window.show_view(window.view_index(window.compare))
    assert bar.current_text() == "Verdict copied as text."
    qtbot.waitUntil(bar.isHidden, timeout=3000)
