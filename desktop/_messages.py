"""The one place the app shows errors and notices: a message that floats over the bottom of the current view.

Errors carry core's message as it is (it names the file, line, item or field); no traceback ever reaches the
user, and a cancelled job says nothing.

Where a message shows, and for how long:
- it floats over the views (a child of the view stack, not in any layout), so showing or hiding it never moves
  a widget: a bar in the layout pushed the whole view down and the next click landed on the wrong control. It
  sits at the bottom centre, like a snackbar or an in-app toast (libadwaita, Material, VS Code), over content
  rather than over the toolbars at the top of each view;
- an info message goes away by itself after `info_timeout_ms` of being seen (the clock stops while its view is
  hidden or the pointer rests on it); an error stays until dismissed with ✕ or Esc;
- a message belongs to the view it was shown from (a task's failure to the view that started the task): another
  view does not show it, and coming back to its view shows it again while it is still that view's latest.
"""

from __future__ import annotations

import itertools
import sys
import traceback
from dataclasses import dataclass, field
from types import TracebackType

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QEnterEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsDropShadowEffect,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QToolButton,
    QWidget,
)

from ._tasks import Task

__all__ = ["INFO_TIMEOUT_MS", "MessageBar", "install_unexpected_error_hook", "report_task_errors"]

INFO_TIMEOUT_MS = 8000
"""How long an info message stays in sight: long enough to read two lines, short enough not to linger."""

_MARGIN = 10
_MAX_WIDTH = 760
_STYLES = {
    "error": "QFrame#messageBar { background: #fdecea; border: 1px solid #e0a39c; border-radius: 4px; }"
             " QLabel { color: #611a15; }",
    "info": "QFrame#messageBar { background: #e8f1fb; border: 1px solid #a8c5e6; border-radius: 4px; }"
            " QLabel { color: #0d3c61; }",
}
_ORDER = itertools.count()


class _CurrentView:
    """The `view` default: the view on screen when the message is shown."""


_CURRENT_VIEW = _CurrentView()


@dataclass(eq=False)
class _Message:
    kind: str
    text: str
    owner: QWidget | None
    order: int = field(default_factory=lambda: next(_ORDER))


class MessageBar(QFrame):
    """Shows the current view's latest message; hidden when it has none. Over a view stack once `attach_to` is
    called, a plain widget before (as in unit tests)."""

    message_did_show = Signal(str, str)
    """(kind, text): kind is 'error' or 'info'."""

    def __init__(self, parent: QWidget | None = None, *, info_timeout_ms: int = INFO_TIMEOUT_MS) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.info_timeout_ms = info_timeout_ms
        """How long an info message is seen before it goes away (tests make it short)."""
        self._messages: dict[QWidget | None, _Message] = {}
        self._stack: QStackedWidget | None = None
        self._shown: _Message | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._expire)
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

    # -- placement ------------------------------------------------------------------------------------------

    def attach_to(self, stack: QStackedWidget) -> None:
        """Float over `stack` (outside its layout) and keep each message with the stack's page it came from."""
        self._stack = stack
        self.setParent(stack)
        shadow = QGraphicsDropShadowEffect(self)
        shadow.setBlurRadius(12)
        shadow.setOffset(0, 2)
        shadow.setColor(QColor(0, 0, 0, 70))
        self.setGraphicsEffect(shadow)
        stack.installEventFilter(self)
        stack.currentChanged.connect(lambda _: self._refresh())
        self._refresh()

    def current_view(self) -> QWidget | None:
        """The view on screen (None before `attach_to`)."""
        return self._stack.currentWidget() if self._stack is not None else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._stack and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        stack = self._stack
        if stack is None or self.isHidden():
            return
        width = max(min(stack.width() - 2 * _MARGIN, _MAX_WIDTH), 120)
        layout = self.layout()
        height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else self.sizeHint().height()
        height = min(height, max(stack.height() - 2 * _MARGIN, 40))
        self.setGeometry((stack.width() - width) // 2, stack.height() - height - _MARGIN, width, height)
        self.raise_()

    # -- messages -------------------------------------------------------------------------------------------

    def show_error(self, text: str, *, view: QWidget | None | _CurrentView = _CURRENT_VIEW) -> None:
        """Show an error until dismissed; `view` is the view it belongs to (default: the one on screen)."""
        self._show("error", text, view)

    def show_info(self, text: str, *, view: QWidget | None | _CurrentView = _CURRENT_VIEW) -> None:
        """Show a notice that goes away after `info_timeout_ms` in sight."""
        self._show("info", text, view)

    def clear(self) -> None:
        """Dismiss the message on screen (✕, Esc)."""
        shown = self._displayed()
        if shown is not None:
            self._forget(shown)
        self._refresh()

    @property
    def kind(self) -> str | None:
        """'error' or 'info' for the message on screen, None when there is none."""
        shown = self._displayed()
        return shown.kind if shown is not None else None

    def current_text(self) -> str:
        """The text of the message on screen ('' when there is none)."""
        shown = self._displayed()
        return shown.text if shown is not None else ""

    def _show(self, kind: str, text: str, view: QWidget | None | _CurrentView) -> None:
        owner = self.current_view() if isinstance(view, _CurrentView) else view
        self._messages[owner] = _Message(kind, text, owner)
        self._refresh()
        self.message_did_show.emit(kind, text)

    def _displayed(self) -> _Message | None:
        candidates = [m for m in (self._messages.get(self.current_view()), self._messages.get(None)) if m]
        return max(candidates, key=lambda m: m.order) if candidates else None

    def _forget(self, message: _Message) -> None:
        if self._messages.get(message.owner) is message:
            del self._messages[message.owner]

    def _refresh(self) -> None:
        shown = self._displayed()
        if shown is not self._shown:
            self._timer.stop()
            self._shown = shown
        if shown is None:
            self._label.clear()
            self.hide()
            return
        self.setStyleSheet(_STYLES[shown.kind])
        self._label.setText(shown.text)
        self.show()
        self._place()
        if shown.kind == "info" and not self._timer.isActive() and not self.underMouse():
            self._timer.start(self.info_timeout_ms)

    def _expire(self) -> None:
        if self._shown is not None and self._shown.kind == "info":
            self._forget(self._shown)
        self._refresh()

    def hideEvent(self, event: object) -> None:  # the window minimised, the stack hidden: the clock stops
        self._timer.stop()
        super().hideEvent(event)  # type: ignore[arg-type]

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        if self._shown is not None and self._shown.kind == "info" and not self._timer.isActive():
            self._timer.start(self.info_timeout_ms)

    def enterEvent(self, event: QEnterEvent) -> None:  # being read (or selected to copy): keep it
        self._timer.stop()
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        if self._shown is not None and self._shown.kind == "info":
            self._timer.start(self.info_timeout_ms)
        super().leaveEvent(event)


def report_task_errors(task: Task, bar: MessageBar) -> Task:
    """Show `task`'s failure in `bar`, with the view that started the task; its cancellation stays quiet.
    Returns the task."""
    owner = bar.current_view()
    task.task_did_fail.connect(lambda text: bar.show_error(text, view=owner))
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
