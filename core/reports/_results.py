"""A run's results read back from its database: one row per task with its judged orders, final decision and the
analyst's override, if any."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import InputError
from .._records import Decision, Label, Status, decide_winners
from ..runs import DB_NAME, Override, RunInfo, RunStore, StoredTask
from ..stats import Outcome

__all__ = ["ResultRow", "RunResults", "load_peer_results", "load_results"]


@dataclass(frozen=True)
class ResultRow:
    """A task and what the judge made of it."""

    task: StoredTask
    """The task (item, models, human label)."""
    sides: Mapping[str, Mapping[str, Any]]
    """Judged side ('AB', 'BA' or 'single') -> its stored record (a verdict, a grade, or an error)."""
    statuses: Mapping[str, Status]
    """Judged side -> status: OK, TRUNCATED, UNPARSED or ERROR."""
    override: Override | None = None
    """The analyst's correction of this task, if any (the judge's records above are never changed)."""

    def winner(self, side: str) -> Label | None:
        record = self.sides.get(side)
        return None if record is None else record.get("winner")

    def decision(self, orders: tuple[str, ...], *, inconsistent_as_tie: bool = False) -> Decision | None:
        """Final decision over the run's orders; None while an order is still to be judged."""
        if any(side not in self.sides for side in orders):
            return None
        return decide_winners([self.winner(side) for side in orders],
                              inconsistent_as_tie=inconsistent_as_tie)

    @property
    def score(self) -> float | None:
        record = self.sides.get("single")
        return None if record is None else record.get("score")


@dataclass(frozen=True)
class RunResults:
    """Everything stored for one run key."""

    folder: Path
    """The run folder."""
    info: RunInfo
    """The run key's settings."""
    rows: tuple[ResultRow, ...]
    """One row per task, in input order."""
    problems: tuple[tuple[str, int | None, str, str | None], ...] = ()
    """Input problems skipped when the data was read: (path, line, reason, item)."""

    @property
    def complete(self) -> int:
        return sum(all(side in row.sides for side in self.info.orders) for row in self.rows)

    @property
    def overridden(self) -> int:
        """Tasks with an analyst's override."""
        return sum(row.override is not None for row in self.rows)

    def outcomes(self, *, inconsistent_as_tie: bool = False, apply_overrides: bool = False) -> list[Outcome]:
        """Finished pairwise rows as statistics inputs.

        apply_overrides: an overridden task's decision is the analyst's label instead of the judge's (and the task
            counts even when the judge has not finished it); the per-order winners stay the judge's.
        """
        out = []
        for row in self.rows:
            decision = row.decision(self.info.orders, inconsistent_as_tie=inconsistent_as_tie)
            if apply_overrides and row.override is not None and row.override.label is not None:
                decision = row.override.label  # type: ignore[assignment]
            if decision is None or row.task.model_b is None:
                continue
            responses = row.task.payload["responses"]
            out.append(Outcome(
                item_id=row.task.item_id, model_a=row.task.model_a, model_b=row.task.model_b, decision=decision,
                ab=row.winner("AB"), ba=row.winner("BA") if "BA" in self.info.orders else None,
                len_a=len(responses[0]), len_b=len(responses[1]), category=row.task.category,
                human=row.task.human,  # type: ignore[arg-type]
            ))
        return out


def load_results(folder: str | Path, run_key: str | None = None) -> RunResults:
    """Read a run folder's results for `run_key` (default: the latest run)."""
    folder = Path(folder)
    if not (folder / DB_NAME).exists():
        raise InputError("not a judgedesk run folder (no run.sqlite); run `judgedesk batch` first", path=folder)
    with RunStore(folder) as store:
        runs = store.runs()
        if not runs:
            raise InputError("the run folder holds no run yet", path=folder)
        if run_key is None:
            info = runs[-1]
        else:
            matches = [r for r in runs if r.run_key.startswith(run_key)]
            if len(matches) != 1:
                known = ", ".join(r.run_key[:12] for r in runs)
                raise InputError(f"run {run_key!r} matches {len(matches)} runs (known: {known})", path=folder)
            info = matches[0]
        tasks = store.tasks(info.run_key)
        verdicts = store.verdicts(info.run_key)
        problems = tuple(store.problems(info.run_key))
        overrides = store.overrides(info.run_key)
    return _assembled(folder, info, tasks, verdicts, problems, overrides)


def load_peer_results(results: RunResults) -> list[RunResults]:
    """The other runs stored in `results`' folder with the same mode (other judges, imported judgements), for
    agreement between judges."""
    with RunStore(results.folder) as store:
        return [_assembled(results.folder, info, store.tasks(info.run_key), store.verdicts(info.run_key), (),
                           store.overrides(info.run_key))
                for info in store.runs() if info.run_key != results.info.run_key and info.mode == results.info.mode]


def _assembled(folder: Path, info: RunInfo, tasks: list[StoredTask], verdicts: Mapping[tuple[str, str], Any],
               problems: tuple[tuple[str, int | None, str, str | None], ...],
               overrides: Mapping[str, Override]) -> RunResults:
    rows = []
    for task in tasks:
        sides = {side: verdicts[(task.content, side)] for side in info.orders if (task.content, side) in verdicts}
        rows.append(ResultRow(task=task, sides={s: v.record for s, v in sides.items()},
                              statuses={s: v.status for s, v in sides.items()}, override=overrides.get(task.content)))
    return RunResults(folder=folder, info=info, rows=tuple(rows), problems=problems)
