"""The judge service: the one worker thread that owns the loaded judge model.

A llama.cpp context serves one thread at a time, so every piece of judge work (a comparison, a batch run) is
queued on a single-worker executor, which loads the model the work asks for, keeps it loaded for the next piece
of work with the same model settings, and frees it when the model changes, on `unload()` and on shutdown. The
format, language, rubric and decoding settings are cheap to change: a new `Judge` is built over the loaded model
for each request (core's `judge_with_backend`, not owning it: closing that judge leaves the model loaded), so
switching format never reloads the weights. The service alone frees the model.

With an inference server (`JudgeSpec.server`) the "loaded model" is a connection: the key that decides reloads
holds the server options, so editing them in Settings reconnects. A server that cannot do what was asked (no
token probabilities, no grammars) judges with less; the user is told once per connection.
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
    ServerOptions,
    decoding_limits,
    judge_with_backend,
    open_judge_backend,
    resolve_judge,
)
from PySide6.QtCore import QObject, Qt, Signal

from ._tasks import Task, Work, WorkContext

__all__ = ["JudgeService", "JudgeSpec", "LoadedJudge", "decoding_notice"]


@dataclass(frozen=True)
class JudgeSpec:
    """Which judge to use and how: everything that decides its verdicts."""

    judge: str | None = None
    """A library name, a .gguf path, or None for the demo judge; with a server, the local copy of the file it
    serves (its identity and tokenizer), or None to know the judge by the server's model name."""
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
    server: ServerOptions | None = None
    """Judge through this inference server instead of loading the model here; None = in this process."""


@dataclass(frozen=True)
class LoadedJudge:
    """What the service has loaded: the spec it was loaded for, the model and its resolved format."""

    spec: JudgeSpec
    path: Path | None
    """The judge's file here; None for a server's judge known only by its model name."""
    info: ModelInfo
    format: str
    endpoint: str | None = None
    """'host:port' of the server judging, None when the model runs in this process."""
    offload_note: str | None = None
    """Why the GPU layers asked for do not run on a GPU (the backend's `capabilities.offload_note`); None when they
    do."""


class JudgeService(QObject):
    """Runs judge work one piece at a time on the thread that owns the loaded model."""

    judge_did_load = Signal(object)
    """A `LoadedJudge`, after a (re)load."""
    judge_did_unload = Signal()
    service_did_change_busy = Signal(bool)
    server_did_limit_decoding = Signal(str)
    """A plain-words notice: the server cannot decode as asked, so verdicts are made with less (once a connection)."""

    _loaded_relay = Signal(object)
    _unloaded_relay = Signal()
    _limited_relay = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judgedesk-judge")
        # Touched only on the worker thread.
        self._backend: Backend | None = None
        self._backend_key: tuple[object, ...] | None = None
        self._notices_told: set[str] = set()
        self._tasks: set[Task] = set()
        self.loaded: LoadedJudge | None = None
        """The judge loaded now (updated in the GUI thread)."""
        self._loaded_relay.connect(self._did_load, Qt.ConnectionType.QueuedConnection)
        self._unloaded_relay.connect(self._did_unload, Qt.ConnectionType.QueuedConnection)
        self._limited_relay.connect(self.server_did_limit_decoding, Qt.ConnectionType.QueuedConnection)

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
        """A new Judge for `spec` over the loaded model, (re)loading it when the model settings changed."""
        server = spec.server
        path = resolve_judge(spec.judge) if server is None or spec.judge else None
        where = None if path is None else str(path.resolve())
        # Not the seed: the backend sets the request's seed on every sampling call, so a new seed needs no reload.
        # The server options are frozen and hashable: a changed URL, model, timeout or in-flight count reconnects.
        key = (where, spec.n_ctx, spec.n_threads, spec.n_gpu_layers) if server is None else \
            ("server", server, where, spec.n_ctx)
        if key != self._backend_key or self._backend is None:
            self._close_backend()
            self._backend = open_judge_backend(path, n_ctx=spec.n_ctx, n_threads=spec.n_threads,
                                               n_gpu_layers=spec.n_gpu_layers, seed=spec.decoding.sampling.seed,
                                               server=server, sequences="auto")  # several per pass on a GPU
            self._backend_key = key
            self._notices_told = set()
        backend = self._backend
        judge = judge_with_backend(backend, judge=spec.judge, format=spec.format, lang=spec.lang, rubric=spec.rubric,
                                   decoding=spec.decoding, owns_backend=False)
        capabilities = backend.capabilities
        if capabilities.endpoint is not None:
            notice = decoding_notice(spec.decoding, judge.decoding, capabilities.endpoint)
            if notice is not None and notice not in self._notices_told:
                self._notices_told.add(notice)
                self._limited_relay.emit(notice)
        self._loaded_relay.emit(LoadedJudge(spec=spec, path=path, info=backend.info, format=judge.format.name,
                                            endpoint=capabilities.endpoint, offload_note=capabilities.offload_note))
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


# -- server helpers (no Qt) ----------------------------------------------------------------------------------


def decoding_notice(asked: DecodingSettings, used: DecodingSettings, endpoint: str) -> str | None:
    """What the user is told when the server judges with less than was asked; None when nothing differs."""
    parts = decoding_limits(asked, used)
    if not parts:
        return None
    return f"The server at {endpoint} cannot judge exactly as set: " + "; ".join(parts) + \
        ". Every verdict's manifest records how it was made."
