"""Label plans: which of a run's tasks an analyst labels, drawn uniformly at random with a recorded seed.

A calibrated estimate (prediction-powered inference) is valid only if the labelled tasks are a uniform random
sample of the run's tasks: labels the analyst chose to give (overrides set where the judge looked wrong) are a
biased sample and must not be used as one. So the sample is drawn here, not picked:

- The population is the run's distinct task contents in stored order (a content that appears twice is one task:
  its verdicts and its override are keyed by content). Pairwise runs sample pairs, single-grading runs responses.
- `numpy.random.default_rng(seed).choice(population, n, replace=False)` draws n of them; the order it returns is
  the order they are labelled in. The seed is stored (a fresh random one when none is given), so anyone can redraw
  the same sample from the same run and check it.
- A plan is never replaced. Extending it draws m more, uniformly, from the tasks not yet planned, with a new
  recorded seed. The union is still a uniform sample of n + m tasks: for any set U of that size,
  P(union = U) = C(n+m, n) / (C(N, n) C(N-n, m)) = 1 / C(N, n+m). That holds if the decision to extend does not
  depend on the labels seen; decide the total up front when you can. An extension of a run whose tasks changed
  since the first draw is refused (the union would be a uniform sample of neither task list).
- Labels are the analyst's overrides (`RunStore.set_override`, note "label plan"), so they show wherever overrides
  show and live as long as the run. An override of a planned task counts as its label whoever set it and when;
  overrides of tasks outside the plan are not part of the sample.

`load_label_plan(folder, run_key)` gives what calibration needs: `LabelledSample.sampled` (the planned contents)
and `LabelledSample.labels` (content -> label of each labelled one).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .._errors import InputError
from ._store import DB_NAME, LabelDraw, Override, RunInfo, RunStore, StoredTask, content_hash

__all__ = [
    "LABEL_PLAN_NOTE",
    "LabelPlan",
    "LabelPlanExistsError",
    "LabelledSample",
    "PlannedItem",
    "draw_label_plan",
    "label_planned_task",
    "label_population",
    "load_label_plan",
    "resolve_run",
]

LABEL_PLAN_NOTE = "label plan"
"""The note of an override stored as a label of a planned task (from the CLI's import or the desktop dialog)."""


class LabelPlanExistsError(InputError):
    """A run already has a label plan and the caller asked for a new one instead of extending it."""

    def __init__(self, message: str, *, path: Path, plan: LabelPlan) -> None:
        super().__init__(message, path=path)
        self.plan = plan


@dataclass(frozen=True)
class LabelPlan:
    """A run's label plan: its draws, first first."""

    run_key: str
    """The run the plan samples."""
    draws: tuple[LabelDraw, ...]
    """The first draw and any extensions, each with its seed, population and time."""

    @property
    def contents(self) -> tuple[str, ...]:
        """Every planned task's content hash, in the order drawn (the labelling order)."""
        return tuple(content for draw in self.draws for content in draw.contents)

    @property
    def n(self) -> int:
        return sum(len(draw.contents) for draw in self.draws)

    @property
    def seed(self) -> int:
        """The first draw's seed."""
        return self.draws[0].seed

    @property
    def created(self) -> str:
        """When the first draw was made."""
        return self.draws[0].created

    @property
    def population(self) -> int:
        """How many tasks the first draw chose from: the run's size when the plan was made."""
        return self.draws[0].population


@dataclass(frozen=True)
class PlannedItem:
    """One planned task with its label, if it has one yet."""

    position: int
    """1-based place in the plan's order."""
    content: str
    """The task's content hash."""
    task: StoredTask | None
    """The task as stored now; None if the run no longer holds it (its input changed)."""
    override: Override | None
    """The analyst's label: an override of this task, whoever set it."""

    @property
    def label(self) -> str | float | None:
        """A, B or tie (pairwise) or a score (single grading); None while unlabelled."""
        return None if self.override is None else self.override.value


@dataclass(frozen=True)
class LabelledSample:
    """A run's label plan read together with the labels given so far."""

    folder: Path
    info: RunInfo
    plan: LabelPlan
    items: tuple[PlannedItem, ...]
    """The planned tasks in plan order."""

    @property
    def sampled(self) -> frozenset[str]:
        """The content hashes of every planned task: the uniform random sample."""
        return frozenset(self.plan.contents)

    @property
    def labels(self) -> dict[str, str | float]:
        """Content hash -> the analyst's label, for each labelled planned task (the labelled part of the sample)."""
        return {item.content: item.label for item in self.items if item.label is not None}

    @property
    def labelled(self) -> int:
        return sum(item.label is not None for item in self.items)

    def to_dict(self) -> dict[str, object]:
        return {
            "folder": str(self.folder), "run_key": self.info.run_key, "run": self.info.label, "mode": self.info.mode,
            "n": self.plan.n, "labelled": self.labelled,
            "draws": [{"seed": d.seed, "n": len(d.contents), "population": d.population, "created": d.created,
                       "population_hash": d.population_hash} for d in self.plan.draws],
            "items": [{"position": item.position, "content": item.content,
                       "item_id": item.task.item_id if item.task else None,
                       "model_a": item.task.model_a if item.task else None,
                       "model_b": item.task.model_b if item.task else None,
                       "label": item.label,
                       "note": item.override.note if item.override else None} for item in self.items],
        }


def resolve_run(store: RunStore, run_key: str | None = None) -> RunInfo:
    """The run `run_key` (a unique prefix) names in the store's folder, or its latest run."""
    runs = store.runs()
    if not runs:
        raise InputError("the run folder holds no run yet", path=store.folder)
    if run_key is None:
        return runs[-1]
    matches = [r for r in runs if r.run_key.startswith(run_key)]
    if len(matches) != 1:
        known = ", ".join(r.run_key[:12] for r in runs)
        raise InputError(f"run {run_key!r} matches {len(matches)} runs (known: {known})", path=store.folder)
    return matches[0]


def label_population(tasks: list[StoredTask]) -> list[StoredTask]:
    """The tasks a plan samples from: one per distinct content, in stored order (first occurrence)."""
    seen: set[str] = set()
    out = []
    for task in tasks:
        if task.content not in seen:
            seen.add(task.content)
            out.append(task)
    return out


def draw_label_plan(folder: str | Path, n: int, *, run_key: str | None = None, seed: int | None = None,
                    extend: bool = False) -> LabelledSample:
    """Draw a uniform random sample of `n` of the run's tasks and store it as the run's label plan.

    seed: numpy default_rng seed (a non-negative integer); None draws a fresh random one, stored like a given one.
    extend: the run has a plan: draw `n` more from the tasks not in it (see the module docstring for why the union
        is still uniform). Without it, an existing plan is an error (`LabelPlanExistsError`, carrying the plan).
    """
    folder = _run_folder(folder)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"the sample size is a positive whole number, not {n!r}", field="n")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InputError(f"a seed is a non-negative whole number, not {seed!r}", field="seed")
    with RunStore(folder) as store:
        info = resolve_run(store, run_key)
        tasks = label_population(store.tasks(info.run_key))
        if not tasks:
            raise InputError(f"run {info.run_key[:12]} holds no task to sample", path=folder)
        population_hash = content_hash(*(task.content for task in tasks))
        draws = store.label_draws(info.run_key)
        if draws and not extend:
            plan = LabelPlan(info.run_key, tuple(draws))
            raise LabelPlanExistsError(
                f"run {info.run_key[:12]} already has a label plan of {plan.n} tasks (seed {plan.seed}, drawn "
                f"{plan.created}); it is never replaced: extend it with --extend to draw more", path=folder,
                plan=plan)
        if draws and draws[0].population_hash != population_hash:
            raise InputError(f"run {info.run_key[:12]}'s tasks changed since its label plan was drawn "
                             f"({draws[0].population} tasks then, {len(tasks)} now): an extension would not be a "
                             "uniform sample of either; the plan stays as it is", path=folder)
        planned = {content for draw in draws for content in draw.contents}
        pool = [task.content for task in tasks if task.content not in planned]
        if n > len(pool):
            left = "tasks" if not draws else "tasks not yet planned"
            raise InputError(f"cannot draw {n}: run {info.run_key[:12]} has {len(pool)} {left}", field="n")
        if seed is None:
            seed = secrets.randbits(32)
        picks = np.random.default_rng(seed).choice(len(pool), size=n, replace=False)
        draw = LabelDraw(seed=seed, population=len(pool), population_hash=population_hash,
                         contents=tuple(pool[int(i)] for i in picks),
                         created=datetime.now(UTC).replace(microsecond=0).isoformat())
        store.add_label_draw(info.run_key, draw)
    sample = load_label_plan(folder, info.run_key)
    assert sample is not None  # just stored
    return sample


def load_label_plan(folder: str | Path, run_key: str | None = None) -> LabelledSample | None:
    """The run's label plan with the labels given so far; None when the run has no plan."""
    folder = _run_folder(folder)
    with RunStore(folder) as store:
        info = resolve_run(store, run_key)
        draws = store.label_draws(info.run_key)
        if not draws:
            return None
        tasks = {task.content: task for task in reversed(store.tasks(info.run_key))}  # first occurrence wins
        overrides = store.overrides(info.run_key)
    return _sample(folder, info, LabelPlan(info.run_key, tuple(draws)), tasks, overrides)


def _sample(folder: Path, info: RunInfo, plan: LabelPlan, tasks: Mapping[str, StoredTask],
            overrides: Mapping[str, Override]) -> LabelledSample:
    items = tuple(PlannedItem(position=i + 1, content=content, task=tasks.get(content), override=overrides.get(content))
                  for i, content in enumerate(plan.contents))
    return LabelledSample(folder=folder, info=info, plan=plan, items=items)


def _run_folder(folder: str | Path) -> Path:
    folder = Path(folder)
    if not (folder / DB_NAME).exists():
        raise InputError("not a judgedesk run folder (no run.sqlite); run `judgedesk batch` first", path=folder)
    return folder


def label_planned_task(folder: str | Path, run_key: str, content: str, label: str | float) -> Override:
    """Store the analyst's label of a planned task as its override (note "label plan"): one short transaction.

    Only planned tasks take a label here, so a label can never widen the sample by hand.
    """
    folder = _run_folder(folder)
    with RunStore(folder) as store:
        info = resolve_run(store, run_key)
        if content not in {c for draw in store.label_draws(info.run_key) for c in draw.contents}:
            raise InputError(f"task {content[:12]} is not in run {info.run_key[:12]}'s label plan", path=folder)
        return store.set_override(info.run_key, content, label, LABEL_PLAN_NOTE)
