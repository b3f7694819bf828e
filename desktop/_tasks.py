"""Background work and how its outcome reaches the GUI thread.

A `Task` is one piece of work: a function that runs in a worker thread and never touches a widget. Everything it
reports (progress, its result, its failure, its cancellation) crosses to the GUI thread through a queued signal,
so the public signals always fire in the GUI thread and any callable may be connected to them. Cancellation is a
`threading.Event` the work checks between steps (core's `CancelFlag`: the batch runner, the library import, the
converter, the quantizer and `Judge.judge_both_orders` all take one), so a cancel never kills a thread half-way
through writing a file. Work that stops on it raises core's `Cancelled`, and the task ends quietly as cancelled.
"""

from __future__ import annotations

import enum
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from judgedesk.core import Cancelled, Judge, JudgedeskError
from PySide6.QtCore import QObject, Qt, Signal, Slot

__all__ = ["Task", "TaskState", "Work", "WorkContext", "is_cancellation"]


class TaskState(enum.Enum):
    """Where a `Task` stands, as seen from the GUI thread."""

    PENDING = "pending"
    """Submitted, not started yet."""
    RUNNING = "running"
    """The work is running in a worker thread."""
    FINISHED = "finished"
    """The work returned; `Task.result` holds what it returned."""
    FAILED = "failed"
    """The work raised an error; `Task.error` holds the message shown."""
    CANCELLED = "cancelled"
    """The work stopped on the user's cancel (or never started)."""


@dataclass
class WorkContext:
    """What a work function gets: its cancel event, a progress reporter, and (for judge work) the judge."""

    cancel: threading.Event
    """Set when the user cancels; check it between steps."""
    progress: Callable[[object], None]
    """Report progress (any object); delivered to the GUI thread as `task_did_progress`."""
    judge: Judge | None = field(default=None)
    """The loaded judge, for work submitted to the judge service."""

    def check_cancelled(self) -> None:
        """Raise core's `Cancelled` when the user has cancelled."""
        if self.cancel.is_set():
            raise Cancelled("cancelled by the user")


Work = Callable[[WorkContext], Any]


def is_cancellation(exc: BaseException) -> bool:
    """Whether `exc` means "stopped because the user asked", which is never shown as an error."""
    return isinstance(exc, Cancelled)


class Task(QObject):
    """One piece of background work; its signals fire in the GUI thread."""

    task_did_progress = Signal(object)
    task_did_finish = Signal(object)
    task_did_fail = Signal(str)
    task_was_cancelled = Signal()
    task_did_end = Signal()
    """After whichever of finish / fail / cancelled."""

    _relay = Signal(str, object)

    def __init__(self, name: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.cancel_event = threading.Event()
        self.state: TaskState = TaskState.PENDING
        """Where the task stands; set in the GUI thread only, as each outcome is delivered."""
        self.result: Any = None
        self.error: str | None = None
        # Queued: emitted from the worker thread, delivered by this object's (the GUI) thread's event loop.
        self._relay.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def is_running(self) -> bool:
        return self.state in (TaskState.PENDING, TaskState.RUNNING)

    def cancel(self) -> None:
        """Ask the work to stop at its next check; the task then ends with `task_was_cancelled`."""
        self.cancel_event.set()

    # -- worker side ----------------------------------------------------------------------------------------

    def execute(self, work: Work, judge: Judge | None = None) -> None:
        """Run `work` in the calling (worker) thread and post its outcome to the GUI thread."""
        if self.cancel_event.is_set():
            self._relay.emit("cancelled", None)
            return
        self._relay.emit("running", None)
        context = WorkContext(cancel=self.cancel_event, progress=lambda p: self._relay.emit("progress", p),
                              judge=judge)
        try:
            result = work(context)
        except BaseException as exc:  # noqa: B036 - every outcome must reach the GUI, or it waits forever
            self.post_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._relay.emit("finished", result)

    def post_exception(self, exc: BaseException) -> None:
        """Post a failure (or a cancellation) from the worker thread."""
        if is_cancellation(exc):
            self._relay.emit("cancelled", None)
        elif isinstance(exc, JudgedeskError):
            self._relay.emit("failed", str(exc))
        else:
            # A bug, not a user error: the user gets one line, the developer the traceback on stderr.
            traceback.print_exception(exc, file=sys.stderr)
            self._relay.emit("failed", f"unexpected error in {self.name or 'background work'}: "
                                       f"{type(exc).__name__}: {exc}")

    # -- GUI side -------------------------------------------------------------------------------------------

    @Slot(str, object)
    def _deliver(self, kind: str, payload: object) -> None:
        if kind == "running":
            self.state = TaskState.RUNNING
        elif kind == "progress":
            self.task_did_progress.emit(payload)
        elif kind == "finished":
            self.state, self.result = TaskState.FINISHED, payload
            self.task_did_finish.emit(payload)
            self.task_did_end.emit()
        elif kind == "failed":
            self.state, self.error = TaskState.FAILED, str(payload)
            self.task_did_fail.emit(str(payload))
            self.task_did_end.emit()
        elif kind == "cancelled":
            self.state = TaskState.CANCELLED
            self.task_was_cancelled.emit()
            self.task_did_end.emit()
