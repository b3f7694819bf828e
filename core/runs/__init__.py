"""Batch runs: a data set judged into a run folder, resumable, crash-safe and cancellable.

The run folder holds `run.sqlite` (every judged order, committed at once, keyed by content) and the reports.
The CLI's `judgedesk batch` and the desktop app's batch view both call `run_batch`.
"""

from __future__ import annotations

from ._lock import RunFolderLock
from ._runner import BatchOptions, BatchProgress, BatchResult, JudgedOrder, RunInterrupted, run_batch, run_key_for
from ._store import Override, RunInfo, RunStore, content_hash
from ._terminal import TerminalProgress, format_duration

__all__ = [
    "BatchOptions",
    "BatchProgress",
    "BatchResult",
    "JudgedOrder",
    "Override",
    "RunFolderLock",
    "RunInfo",
    "RunInterrupted",
    "RunStore",
    "TerminalProgress",
    "content_hash",
    "format_duration",
    "run_batch",
    "run_key_for",
]
