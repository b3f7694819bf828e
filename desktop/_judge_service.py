"""The judge service: the one worker thread that owns the loaded judge model.

A llama.cpp context serves one thread at a time, so every piece of judge work (a comparison, a batch run) is
queued on a single-worker executor, which loads the model the work asks for, keeps it loaded for the next piece
of work with the same model settings, and frees it when the model changes, on `unload()` and on shutdown. The
format, language, rubric and decoding settings are cheap to change: a new `Judge` is built over the loaded model
for each request, so switching format never reloads the weights.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from judgedesk.core import (
    Backend,
    DecodingSettings,
    Judge,
    ModelInfo,
    create_backend,
    default_format_for,
    recorded_format,
    resolve_judge,
)
from PySide6.QtCore import QObject, Qt, Signal

from ._tasks import Task, Work, WorkContext

__all__ = ["JudgeService", "JudgeSpec", "LoadedJudge"]


@dataclass(frozen=True)
class JudgeSpec:
    """Which judge to use and how: everything that decides its verdicts."""

    judge: str | None = None
    """A library name, a .gguf path, or None for the demo judge."""
    format: str | None = None
    """A judge format; None = the one recorded in (or recognisable from) the model file, else generic."""
    lang: str = "en"
    """Prompt language ('zh' for Auto-J's Chinese prompts)."""
    rubric: str | None = None
    """Evaluation criteria for formats that take one; None = the format's default."""
    decoding: DecodingSettings = field(default_factory=DecodingSettings)
    """Greedy, constrained, fast verdicts unless changed."""
    n_ctx: int = 4096
    """Context size in tokens."""
    n_threads: int | None = None
    """CPU threads; None = llama.cpp's choice for this machine."""
    n_gpu_layers: int = 0
    """Layers offloaded to the GPU (needs a CUDA or Metal build of llama-cpp-python)."""


@dataclass(frozen=True)
class LoadedJudge:
    """What the service has loaded: the spec it was loaded for, the model and its resolved format."""

    spec: JudgeSpec
    path: Path
    info: ModelInfo
    format: str


class JudgeService(QObject):
    """Runs judge work one piece at a time on the thread that owns the loaded model."""

    judge_did_load = Signal(object)
    """A `LoadedJudge`, after a (re)load."""
    judge_did_unload = Signal()
    service_did_change_busy = Signal(bool)

    _loaded_relay = Signal(object)
    _unloaded_relay = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judgedesk-judge")
        # Touched only on the worker thread.
        self._backend: Backend | None = None
        self._backend_key: tuple[object, ...] | None = None
        self._tasks: set[Task] = set()
        self.loaded: LoadedJudge | None = None
        """The judge loaded now (updated in the GUI thread)."""
        self._loaded_relay.connect(self._did_load, Qt.ConnectionType.QueuedConnection)
        self._unloaded_relay.connect(self._did_unload, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        return any(t.is_running for t in self._tasks)

    def submit(self, spec: JudgeSpec, work: Work, name: str = "") -> Task:
        """Queue `work`; it runs with `ctx.judge` loaded for `spec`, after the work queued before it."""
        task = Task(name, parent=self)
        self._keep(task)
        self._executor.submit(self._run, task, spec, work)
        return task

    def preload(self, spec: JudgeSpec) -> Task:
        """Load the judge for `spec` now, so the first comparison does not wait for it."""
        return self.submit(spec, lambda ctx: None, name="loading the judge")

    def unload(self) -> Task:
        """Free the loaded model after the queued work (e.g. before its file is deleted)."""
        task = Task("unloading the judge", parent=self)
        self._keep(task)
        self._executor.submit(task.execute, self._unload_work)
        return task

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def shutdown(self) -> None:
        """Cancel everything, free the model and stop the worker thread (called before the app exits)."""
        self.cancel_all()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._close_backend()  # the worker thread has ended, so nothing else can be using the model
        if self.loaded is not None:  # the queued notice would arrive after the window is gone
            self._did_unload()

    # -- worker thread --------------------------------------------------------------------------------------

    def _run(self, task: Task, spec: JudgeSpec, work: Work) -> None:
        def with_judge(ctx: WorkContext) -> object:
            ctx.check_cancelled()
            ctx.judge = self._judge_for(spec)
            return work(ctx)

        task.execute(with_judge)

    def _judge_for(self, spec: JudgeSpec) -> Judge:
        path = resolve_judge(spec.judge)
        seed = spec.decoding.sampling.seed
        # Not the seed: the backend sets the request's seed on every sampling call, so a new seed needs no reload.
        key = (str(path.resolve()), spec.n_ctx, spec.n_threads, spec.n_gpu_layers)
        if key != self._backend_key or self._backend is None:
            self._close_backend()
            self._backend = create_backend("llama.cpp", path=path, n_ctx=spec.n_ctx, n_threads=spec.n_threads,
                                           n_gpu_layers=spec.n_gpu_layers, seed=seed)
            self._backend_key = key
        info = self._backend.info
        chosen = spec.format or recorded_format(spec.judge) or default_format_for(info.judge_format, info.name,
                                                                                  path.name)
        judge = Judge(self._backend, format=chosen, lang=spec.lang, rubric=spec.rubric, decoding=spec.decoding)
        self._loaded_relay.emit(LoadedJudge(spec=spec, path=path, info=info, format=chosen))
        return judge

    def _unload_work(self, ctx: WorkContext) -> None:
        self._close_backend()

    def _close_backend(self) -> None:
        if self._backend is not None:
            backend, self._backend, self._backend_key = self._backend, None, None
            backend.close()
            self._unloaded_relay.emit()

    # -- GUI thread -----------------------------------------------------------------------------------------

    def _did_load(self, loaded: LoadedJudge) -> None:
        changed = self.loaded is None or (self.loaded.path, self.loaded.format, self.loaded.spec) != \
            (loaded.path, loaded.format, loaded.spec)
        self.loaded = loaded
        if changed:
            self.judge_did_load.emit(loaded)

    def _did_unload(self) -> None:
        self.loaded = None
        self.judge_did_unload.emit()

    def _keep(self, task: Task) -> None:
        was_busy = self.busy
        self._tasks.add(task)
        if not was_busy:
            self.service_did_change_busy.emit(True)
        task.task_did_end.connect(lambda: self._forget(task))

    def _forget(self, task: Task) -> None:
        self._tasks.discard(task)
        if not self.busy:
            self.service_did_change_busy.emit(False)
