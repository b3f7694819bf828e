"""What every view is given: the judge service, the job pool, the settings, the message bar, and the signals
views use to tell each other what changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ._gui_thread_gc import hold_gui_thread_gc, release_gui_thread_gc
from ._jobs import JobRunner
from ._judge_service import JudgeService
from ._messages import MessageBar
from ._settings import AppSettings

__all__ = ["AppContext"]


class AppContext(QObject):
    """Shared services of one app window."""

    judges_did_change = Signal()
    """The judge library changed (import, delete): pickers refresh."""
    settings_did_change = Signal()
    """A preference changed in the Settings view."""
    run_did_update = Signal(object)
    """A run folder (Path) got new verdicts; emitted by the batch view while it runs, at most every second."""

    def __init__(self, *, settings: AppSettings | None = None, messages: MessageBar | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        hold_gui_thread_gc()  # before any worker thread starts: see _gui_thread_gc
        self._gc_held = True
        self.settings = settings or AppSettings()
        self.messages = messages or MessageBar()
        self.service = JudgeService(self)
        # A server that judges with less than asked (no logprobs, no grammar) is said once, in plain words.
        self.service.server_did_limit_decoding.connect(self.messages.show_info)
        self.jobs = JobRunner(parent=self)
        self._results_opener: Callable[[Path, str | None], None] | None = None

    def set_results_opener(self, opener: Callable[[Path, str | None], None]) -> None:
        """The main window's way of showing a run in the Results view."""
        self._results_opener = opener

    def open_results(self, folder: Path, run_key: str | None = None) -> None:
        """Show the run folder's results (the Results view, switched to)."""
        if self._results_opener is not None:
            self._results_opener(Path(folder), run_key)

    def shutdown(self) -> None:
        """Stop all background work and free the model."""
        self.jobs.shutdown()
        self.service.shutdown()
        if self._gc_held:
            self._gc_held = False
            release_gui_thread_gc()
