"""The pool for background work that does not need the loaded judge: reading data sets, converting and
quantizing models, fidelity checks, hashing big files, statistics and reports."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QObject

from ._tasks import Task, Work

__all__ = ["JobRunner"]


class JobRunner(QObject):
    """A small thread pool; `submit(work)` returns a `Task` whose signals fire in the GUI thread."""

    def __init__(self, workers: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judgedesk-job")
        self._tasks: set[Task] = set()

    def submit(self, work: Work, name: str = "") -> Task:
        task = Task(name, parent=self)
        self._keep(task)
        self._executor.submit(task.execute, work)
        return task

    def running(self) -> list[Task]:
        return [t for t in self._tasks if t.is_running]

    def shutdown(self) -> None:
        """Cancel what runs and wait for it to stop (every work function checks its cancel event)."""
        for task in list(self._tasks):
            task.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _keep(self, task: Task) -> None:
        # A Task must outlive its work; it is dropped once its outcome has been delivered.
        self._tasks.add(task)
        task.task_did_end.connect(lambda: self._tasks.discard(task))
