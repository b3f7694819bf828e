"""The one place the app shows errors and notices: a bar above the views.

Errors carry core's message as it is (it names the file, line, item or field); no traceback ever reaches the
user, and a cancelled job says nothing.
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from ._tasks import Task

__all__ = ["MessageBar", "install_unexpected_error_hook", "report_task_errors"]

_STYLES = {
    "error": "QFrame#messageBar { background: #fdecea; border: 1px solid #e0a39c; border-radius: 4px; }"
             " QLabel { color: #611a15; }",
    "info": "QFrame#messageBar { background: #e8f1fb; border: 1px solid #a8c5e6; border-radius: 4px; }"
            " QLabel { color: #0d3c61; }",
}


class MessageBar(QFrame):
    """Shows one message at a time (the latest); hidden when there is none."""

    message_did_show = Signal(str, str)
    """(kind, text): kind is 'error' or 'info'."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.kind: str | None = None
        self._label = QLabel()
        self._label.setObjectName("messageText")
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse |
                                            Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self._label.setTextFormat(Qt.TextFormat.PlainText)  # file names and model text are never markup
        close = QToolButton()
        close.setObjectName("messageClose")
        close.setText("✕")
        close.setToolTip("Dismiss (Esc)")
        close.setAutoRaise(True)
        close.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self._label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_error(self, text: str) -> None:
        self._show("error", text)

    def show_info(self, text: str) -> None:
        self._show("info", text)

    def clear(self) -> None:
        self.kind = None
        self._label.clear()
        self.hide()

    def current_text(self) -> str:
        return self._label.text() if self.kind else ""

    def _show(self, kind: str, text: str) -> None:
        self.kind = kind
        self.setStyleSheet(_STYLES[kind])
        self._label.setText(text)
        self.show()
        self.message_did_show.emit(kind, text)


def report_task_errors(task: Task, bar: MessageBar) -> Task:
    """Show `task`'s failure in `bar`; its cancellation stays quiet. Returns the task."""
    task.task_did_fail.connect(bar.show_error)
    return task


def install_unexpected_error_hook(bar: MessageBar) -> None:
    """A bug in a GUI-thread slot shows one line in `bar` (the traceback goes to stderr), instead of the default
    of printing it where an analyst never looks while the app carries on as if nothing happened."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        traceback.print_exception(kind, error, tb, file=sys.stderr)
        if isinstance(error, KeyboardInterrupt):
            return
        bar.show_error(f"unexpected error: {kind.__name__}: {error}")

    sys.excepthook = hook
