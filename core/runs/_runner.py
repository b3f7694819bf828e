"""Running a batch: every task of a data set judged in every order, committed one order at a time.

The runner is the same for the CLI and the desktop app: progress goes to a callback, cancellation comes through a
`CancelFlag` (the app's `threading.Event`) checked between judgements, and Ctrl-C stops cleanly. Nothing is held
in memory that the database does not already have, so stopping at any moment (even `kill -9`) and running again
continues exactly where it stopped and ends with the same results as an uninterrupted run.

A backend that allows several judgements at once (an inference server) gets them from a bounded pool; each is
still committed by this thread the moment it ends, so resuming and `kill -9` safety are the same. A server that
stops answering stops the run (`ServerUnavailableError`, everything judged saved) instead of failing every item.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._engine import VERDICT_DECODING_KEYS, Judge
from .._errors import Cancelled, JudgedeskError, ServerUnavailableError
from .._owner_only import make_owner_only_folder
from .._progress import CancelFlag
from .._records import EvalItem, PriorTurn, Status
from ..datasets import Dataset
from ._lock import RunFolderLock
from ._store import RunInfo, RunStore, StoredTask, content_hash

__all__ = [
    "BatchOptions",
    "BatchProgress",
    "BatchResult",
    "JudgedOrder",
    "RunInterrupted",
    "prepare_folder",
    "run_batch",
    "run_key_for",
    "task_rows",
]

Mode = Literal["pairwise", "single"]


class RunInterrupted(Cancelled):
    """The run was stopped (Ctrl-C or cancel); everything judged so far is saved, and running again continues."""

    def __init__(self, folder: Path, done: int, total: int) -> None:
        super().__init__(_stopped_message(folder, done, total))
        self.folder = folder
        """The run folder holding what was judged."""
        self.done = done
        """Tasks fully judged when it stopped, including those done in earlier sessions."""
        self.total = total
        """Tasks in the run."""

    def __reduce__(self) -> tuple[type[RunInterrupted], tuple[Path, int, int]]:
        return type(self), (self.folder, self.done, self.total)  # copy and pickle rebuild it from its fields


@dataclass(frozen=True)
class BatchOptions:
    """How a batch is judged."""

    mode: Mode = "pairwise"
    """Pairwise comparison of each pair, or single grading of each response."""
    both_orders: bool = True
    """Judge each pair as (A, B) and as (B, A)."""
    retry_unparsed: bool = False
    """Judge again the orders whose verdict did not parse (or failed), replacing them."""


@dataclass(frozen=True)
class JudgedOrder:
    """One judgement just stored, for a live table of verdicts."""

    position: int
    """The task's position in the input."""
    item_id: str
    """The item judged."""
    model_a: str
    """The model whose response is A (the graded model when grading)."""
    model_b: str | None
    """The model whose response is B; None when grading."""
    category: str | None
    """The item's category."""
    side: str
    """'AB', 'BA' or 'single'."""
    status: Status
    """OK, TRUNCATED, UNPARSED or ERROR."""
    record: Mapping[str, Any]
    """The stored record: a verdict, a grade, or {'error': ...}."""


@dataclass(frozen=True)
class BatchProgress:
    """Where a run stands, for a progress bar."""

    done: int
    """Tasks (pairs, or responses when grading) fully judged, including those done in earlier sessions."""
    total: int
    """Tasks in the run."""
    judged_now: int
    """Judgements made in this session."""
    per_minute: float
    """Tasks per minute in this session (0 until one is done)."""
    eta_seconds: float | None
    """Estimated seconds left, when a rate is known."""
    last_item: str | None
    """The item just judged."""
    last: JudgedOrder | None = None
    """The judgement just stored."""


@dataclass(frozen=True)
class BatchResult:
    """What a run call did."""

    run_key: str
    """The run key the verdicts are stored under."""
    total: int
    """Tasks in the run."""
    judged_now: int
    """Judgements made in this call: one per content and order, tasks with the same texts sharing one."""
    already_done: int
    """Judgements found done and skipped (counted the same way)."""
    unparsed: int
    """Stored judgements whose verdict did not parse."""
    errors: int
    """Stored judgements that failed with an error (e.g. an input too long for the context)."""


ProgressCallback = Callable[[BatchProgress], None]


def _orders(options: BatchOptions) -> tuple[str, ...]:
    if options.mode == "single":
        return ("single",)
    return ("AB", "BA") if options.both_orders else ("AB",)


def run_key_for(judge: Judge, options: BatchOptions) -> tuple[str, dict[str, Any]]:
    """The run key: a hash of everything that decides the verdicts, and the settings it was computed from."""
    manifest = judge.manifest(options.mode, fast=judge.decoding.fast and options.mode == "pairwise"
                              and judge.format.output(options.mode, judge.lang).verdict_first)
    settings = {
        "judge_sha256": manifest.judge_sha256, "judge_name": manifest.judge_name, "file_type": manifest.file_type,
        "format": manifest.format, "template_sha256": manifest.template_sha256, "decoding": dict(manifest.decoding),
        "seed": manifest.seed, "backend": manifest.backend, "mode": options.mode, "orders": list(_orders(options)),
    }
    # The key leaves out how the judge runs (backend, threads, GPU layers, a server's endpoint): those are in the
    # settings and every verdict's manifest, and leaving them out lets a run continue on another backend.
    keyed = {name: value for name, value in settings.items() if name != "backend"}
    keyed["decoding"] = {k: v for k, v in manifest.decoding.items() if k in VERDICT_DECODING_KEYS}
    return content_hash(repr(sorted(keyed.items()))), settings


def task_rows(dataset: Dataset, mode: Mode) -> list[StoredTask]:
    """The run's tasks for `dataset` in `mode`, in input order, each keyed by the content that decides its verdict."""
    rows = []
    if mode == "pairwise":
        for position, pair in enumerate(dataset.pairs):
            item = pair.item
            content = content_hash("pair", item.instruction, item.input, *item.responses, item.reference,
                                   *_history_texts(item))
            rows.append(StoredTask(position, item.id, content, pair.model_a, pair.model_b, item.category, pair.human,
                                   _payload(item)))
    else:
        for position, grade in enumerate(dataset.grades):
            item = grade.item
            content = content_hash("single", item.instruction, item.input, *item.responses, item.reference,
                                   *_history_texts(item))
            rows.append(StoredTask(position, item.id, content, grade.model, None, item.category, None,
                                   _payload(item)))
    return rows


def _history_texts(item: EvalItem) -> list[str | None]:
    """A conversation's earlier turns, for the content hash; nothing for a single-turn item, whose hash (and so
    every stored run) stays as it was before conversations existed."""
    texts: list[str | None] = []
    for turn in item.history:
        texts += ["turn", turn.question, *turn.answers, turn.reference]
    return texts


def _payload(item: EvalItem) -> dict[str, Any]:
    payload: dict[str, Any] = {"instruction": item.instruction, "input": item.input,
                               "responses": list(item.responses), "reference": item.reference}
    if item.history:
        payload["history"] = [{"question": t.question, "answers": list(t.answers), "reference": t.reference}
                              for t in item.history]
    return payload


def _item(task: StoredTask) -> EvalItem:
    p = task.payload
    history = tuple(PriorTurn(t["question"], tuple(t["answers"]), t.get("reference")) for t in p.get("history", ()))
    return EvalItem(id=task.item_id, instruction=p["instruction"], input=p["input"],
                    responses=tuple(p["responses"]), reference=p["reference"], category=task.category,
                    history=history)


def prepare_folder(folder: Path) -> None:
    """Create the run folder readable by its owner only (it will hold confidential texts), or tighten an existing
    one that others can read (`make_owner_only_folder` says why tightening rather than a warning)."""
    make_owner_only_folder(folder)


def run_batch(folder: str | Path, dataset: Dataset, judge: Judge, options: BatchOptions | None = None, *,
              progress: ProgressCallback | None = None, cancel: CancelFlag | None = None) -> BatchResult:
    """Judge `dataset` into the run folder, skipping what is done; returns what happened.

    Raises `RunInterrupted` after Ctrl-C or `cancel.set()`, with everything judged so far committed.
    """
    options = options or BatchOptions()
    folder = Path(folder)
    if not judge.format.takes_conversation:
        # Judged as single turns, a conversation's later turn would lose what it answers; its first turn is whole.
        dataset = dataset.without_conversations(
            f"format {judge.format.name!r} cannot show a conversation; judge them with a format that can (mtbench)")
    prepare_folder(folder)
    with RunFolderLock(folder), RunStore(folder) as store:
        run_key, settings = run_key_for(judge, options)
        orders = _orders(options)
        label = f"{settings['judge_name']} ({settings['file_type']}) / {settings['format']}"
        store.ensure_run(RunInfo(run_key, label, options.mode, orders, settings, str(dataset.source)))
        store.touch_run(run_key)
        tasks = task_rows(dataset, options.mode)
        store.replace_tasks(run_key, tasks)
        store.replace_problems(run_key, [(p.path, p.line, p.reason, p.item) for p in dataset.problems])
        done = store.done(run_key)
        redo = {Status.UNPARSED, Status.ERROR} if options.retry_unparsed else set()
        # Verdicts are keyed by content, so tasks with the same texts (two ids, or two models that answered alike)
        # share one judgement: it is made once, for the first of them, and completes them all. Judging it again
        # would only replace the same row and count one task's progress twice.
        sharing: dict[str, list[StoredTask]] = {}
        for task in tasks:
            sharing.setdefault(task.content, []).append(task)
        todo = [(group[0], side) for content, group in sharing.items() for side in orders
                if (content, side) not in done or done[(content, side)] in redo]
        already = len(sharing) * len(orders) - len(todo)
        remaining_sides = {content: sum((content, s) not in done or done[(content, s)] in redo for s in orders)
                           for content in sharing}
        complete = sum(len(group) for content, group in sharing.items() if remaining_sides[content] == 0)
        started = time.monotonic()
        judged = 0
        finished_now = 0
        in_flight = max(1, judge.backend.capabilities.max_in_flight)
        try:
            for task, side, status, record in _judgements(judge, todo, in_flight, cancel):
                store.put_verdict(run_key, task.content, side, status, record)
                judged += 1
                remaining_sides[task.content] -= 1
                if remaining_sides[task.content] == 0:
                    complete += len(sharing[task.content])
                    finished_now += len(sharing[task.content])
                if progress is not None:
                    last = JudgedOrder(task.position, task.item_id, task.model_a, task.model_b, task.category, side,
                                       status, record)
                    progress(_progress(complete, len(tasks), judged, finished_now, started, last))
        except (Cancelled, KeyboardInterrupt):
            raise RunInterrupted(folder, complete, len(tasks)) from None
        except ServerUnavailableError as exc:
            raise ServerUnavailableError(f"{exc}\nThe run {_stopped_message(folder, complete, len(tasks))}") from exc
        final = store.done(run_key)
        statuses = [final.get((t.content, s)) for t in tasks for s in orders]
        return BatchResult(run_key=run_key, total=len(tasks), judged_now=judged, already_done=already,
                           unparsed=statuses.count(Status.UNPARSED), errors=statuses.count(Status.ERROR))


Judgement = tuple[StoredTask, str, Status, dict[str, Any]]


def _judgements(judge: Judge, todo: list[tuple[StoredTask, str]], in_flight: int,
                cancel: CancelFlag | None) -> Iterator[Judgement]:
    """Judge `todo`, yielding (task, side, status, record) as each judgement ends, to be committed at once.

    With one in flight (a model in this process) everything runs in the caller's thread, which owns the model.
    With more (a server), a pool keeps exactly `in_flight` requests going: a new one is submitted only when one
    ends (backpressure), and after a cancel or a server that stopped answering, nothing new is submitted while
    the judgements already running are finished and yielded, so nothing judged is lost.
    """
    if in_flight == 1:
        group = judge.backend.capabilities.max_sequences if judge.batches_fast_verdicts else 1
        for first in range(0, len(todo), group):
            if cancel is not None and cancel.is_set():
                raise Cancelled("the batch run was cancelled")  # run_batch adds the run's counts
            if group == 1:
                yield (*todo[first], *_judge_one(judge, *todo[first]))
            else:
                yield from _judge_together(judge, todo[first:first + group])
        return
    queue = iter(todo)
    pending: dict[Future[tuple[Status, dict[str, Any]]], tuple[StoredTask, str]] = {}
    failure: ServerUnavailableError | None = None
    pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="judgedesk-judge")
    try:
        while True:
            stopping = failure is not None or (cancel is not None and cancel.is_set())
            while not stopping and len(pending) < in_flight and (following := next(queue, None)) is not None:
                pending[pool.submit(_judge_one, judge, *following)] = following
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task, side = pending.pop(future)
                try:
                    status, record = future.result()
                except ServerUnavailableError as exc:
                    failure = failure or exc
                    continue
                yield task, side, status, record
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failure is not None:
        raise failure
    if cancel is not None and cancel.is_set() and next(queue, None) is not None:
        raise Cancelled("the batch run was cancelled")


def _judge_together(judge: Judge, todo: list[tuple[StoredTask, str]]) -> Iterator[Judgement]:
    """Judge `todo` with `Judge.compare_many` (several prompts per forward pass): pairwise orders only, a grade or
    an item's error as `_judge_one` would give it."""
    pairwise = [(task, side) for task, side in todo if side != "single"]
    verdicts = iter(judge.compare_many([(_item(task), side) for task, side in pairwise]))
    for task, side in todo:
        if side == "single":
            yield task, side, *_judge_one(judge, task, side)
            continue
        verdict = next(verdicts)
        if isinstance(verdict, JudgedeskError):
            yield task, side, Status.ERROR, {"item_id": task.item_id, "error": str(verdict)}
        else:
            yield task, side, verdict.status, verdict.to_dict()


def _judge_one(judge: Judge, task: StoredTask, side: str) -> tuple[Status, dict[str, Any]]:
    item = _item(task)
    try:
        record = judge.grade(item) if side == "single" else judge.compare(item, order=side)
    except ServerUnavailableError:
        raise  # the server, not the item: the run stops (resumable) instead of failing every item left
    except JudgedeskError as exc:  # one bad item (too long for the context, ...) must not stop the run
        return Status.ERROR, {"item_id": task.item_id, "error": str(exc)}
    return record.status, record.to_dict()


def _progress(complete: int, total: int, judged: int, finished_now: int, started: float,
              last: JudgedOrder) -> BatchProgress:
    elapsed = max(time.monotonic() - started, 1e-9)
    rate = finished_now / elapsed * 60 if finished_now else 0.0
    eta = (total - complete) / rate * 60 if rate > 0 else None
    return BatchProgress(done=complete, total=total, judged_now=judged, per_minute=rate, eta_seconds=eta,
                         last_item=last.item_id, last=last)


def _stopped_message(folder: Path, complete: int, total: int) -> str:
    return (f"stopped after {complete} of {total}; everything judged is saved in {folder}. "
            f"Run the same command again (or add --resume) to continue.")
