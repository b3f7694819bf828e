"""The Compare view's "Show prompt" dialog, driven through its widgets on the real demo judge.

The dialog's prompt must be what Run then judges: the ids llama.cpp evaluates during the comparison are recorded
(a spy around the llama.cpp backend) and compared with the ids of the prompt the dialog showed, in each order.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest
from judgedesk.core import Judge
from judgedesk.core.backends._llamacpp import LlamaCppBackend
from judgedesk.desktop._compare_view import CompareView
from judgedesk.desktop._prompt_dialog import PromptDialog
from judgedesk.desktop._tasks import TaskState
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QPlainTextEdit, QPushButton

INSTRUCTION = "What is the capital of France? Answer in one sentence."
PARIS = "The capital of France is Paris."
LYON = "The capital of France is Lyon."
TIMEOUT = 120000


@pytest.fixture
def view(app_context, qtbot) -> CompareView:
    app_context.settings.threads = 1
    view = CompareView(app_context)
    qtbot.addWidget(view)
    view.resize(1150, 790)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.fixture
def evaluated(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The ids of every prompt the demo judge evaluates, in order."""
    seen: list[list[int]] = []
    score_options = LlamaCppBackend.score_options

    def recorded(self: LlamaCppBackend, prompt: Sequence[int], options: Any) -> Any:
        seen.append(list(prompt))
        return score_options(self, prompt, options)

    monkeypatch.setattr(LlamaCppBackend, "score_options", recorded)
    return seen


def _open(view: CompareView, qtbot) -> PromptDialog:
    qtbot.mouseClick(view.findChild(QPushButton, "showPromptButton"), Qt.MouseButton.LeftButton)
    dialog = view.prompt_dialog
    assert dialog is not None and dialog.isVisible(), view.context.messages.current_text()
    _wait(dialog, qtbot)
    return dialog


def _wait(dialog: PromptDialog, qtbot) -> None:
    qtbot.waitUntil(lambda: dialog.preview is not None or dialog.task is None, timeout=TIMEOUT)
    assert dialog.preview is not None, dialog.findChild(QLabel, "promptDetails").text()


@pytest.mark.real_model
def test_show_prompt_shows_what_run_then_judges_in_either_order(view: CompareView, qtbot, evaluated,
                                                                monkeypatch) -> None:
    threads: list[str] = []
    preview = Judge.prompt_preview

    def on_which_thread(self: Judge, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return preview(self, *args, **kwargs)

    monkeypatch.setattr(Judge, "prompt_preview", on_which_thread)
    view.picker.set_format("generic")
    view.set_pair(INSTRUCTION, PARIS, LYON)

    dialog = _open(view, qtbot)
    text = dialog.findChild(QPlainTextEdit, "promptText")
    ab = dialog.preview
    assert ab is not None and ab.order == "AB" and text.toPlainText() == ab.text
    assert text.isReadOnly() and QFontInfo(text.font()).fixedPitch()
    assert ab.text.startswith("<|im_start|>system\n") and ab.text.index(PARIS) < ab.text.index(LYON)
    summary = dialog.findChild(QLabel, "promptSummary").text()
    assert summary == f"{ab.token_count:,} tokens of 4,096 · nothing cut"
    assert "wrapped in the model's chat template" in dialog.findChild(QLabel, "promptDetails").text()

    order = dialog.findChild(QComboBox, "promptOrderBox")
    order.setCurrentIndex(order.findData("BA"))
    _wait(dialog, qtbot)
    ba = dialog.preview
    assert ba is not None and ba.order == "BA" and text.toPlainText() == ba.text
    assert ba.text.index(LYON) < ba.text.index(PARIS)

    qtbot.mouseClick(dialog.findChild(QPushButton, "promptCopy"), Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == ba.text
    assert all(name.startswith("judgedesk-judge") for name in threads) and len(threads) == 2
    dialog.close()

    task = view.run()
    assert task is not None
    qtbot.waitSignal(task.task_did_end, timeout=TIMEOUT).wait()
    assert task.state is TaskState.FINISHED, task.error
    assert evaluated == [list(ab.tokens), list(ba.tokens)]


@pytest.mark.real_model
def test_a_pair_too_long_for_the_context_shows_the_cut(app_context, view: CompareView, qtbot) -> None:
    app_context.settings.n_ctx = 512
    view.picker.set_format("pandalm")
    view.set_pair(INSTRUCTION, "Paris is the capital. " * 200 + "That is all.", LYON)

    dialog = _open(view, qtbot)

    preview = dialog.preview
    assert preview is not None and preview.cut_tokens > 0 and preview.n_ctx == 512
    assert dialog.findChild(QLabel, "promptSummary").text() == \
        f"{preview.token_count:,} tokens of 512 · {preview.cut_tokens:,} tokens cut from the responses"
    assert "\n[...]\n" in dialog.findChild(QPlainTextEdit, "promptText").toPlainText()


def test_a_missing_field_is_the_message_and_no_dialog(view: CompareView, qtbot, monkeypatch) -> None:
    submitted: list[object] = []
    monkeypatch.setattr(view.context.service, "submit", lambda *args, **kw: submitted.append(args))
    view.set_pair(INSTRUCTION, PARIS, "")

    qtbot.mouseClick(view.findChild(QPushButton, "showPromptButton"), Qt.MouseButton.LeftButton)

    assert view.prompt_dialog is None and submitted == []
    assert view.context.messages.current_text().startswith("Response B is empty")


def test_a_judge_that_cannot_load_is_said_in_the_dialog(view: CompareView, qtbot, monkeypatch, tmp_path) -> None:
    from judgedesk.desktop._judge_service import JudgeSpec

    monkeypatch.setattr(view, "current_spec", lambda: JudgeSpec(judge=str(tmp_path / "nothing.gguf")))
    view.set_pair(INSTRUCTION, PARIS, LYON)

    qtbot.mouseClick(view.findChild(QPushButton, "showPromptButton"), Qt.MouseButton.LeftButton)
    dialog = view.prompt_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.task is None, timeout=TIMEOUT)

    assert dialog.preview is None and not dialog.findChild(QPushButton, "promptCopy").isEnabled()
    assert dialog.findChild(QLabel, "promptSummary").text() == "The prompt could not be rendered:"
    assert "nothing.gguf" in dialog.findChild(QLabel, "promptDetails").text()
