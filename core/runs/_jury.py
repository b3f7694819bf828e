"""A jury: several judges' runs of the same items combined into one more run, the jury's verdicts.

The members are runs already in one run folder (local batch runs by different judges or formats, imported
judgements). The jury is stored as a run like any other, so every report, the Results view and the agreement with
other judges work on it unchanged:

- its key is "jury-" and a hash of the member run keys (as a set) and the method, so building it again with the
  same members replaces the same run: after a member has judged more items, or retried unparsed ones, a rebuild
  refreshes the jury's verdicts from what the members have now;
- its tasks are the members' common tasks, matched by content (the texts that decide a verdict), in the first
  member's order; a human label any member's data set gave is kept;
- its orders are every order some member judged; for each task and order the jury decides over the members that
  judged that order (a member whose run has only order AB, e.g. AlpacaEval's annotations, abstains on BA). While a
  member has still to judge that order the jury's verdict stays pending, so a resumed member completes it.

How the jury decides one task in one order (`jury_verdict`):

    majority   each member's winner is one vote; the label with the most votes wins; when two or more labels share
               the most votes the jury says tie (2 members: A and B -> tie; 3: A, B, tie -> tie).
    average    each member's option probabilities (A, B, tie; five-level keys summed into the winner they name;
               normalised to sum 1; a member without probabilities counts as one-hot on its winner) are averaged;
               the jury's winner is the argmax, and a tie for the largest mean is a tie. The means are stored as
               the jury's `probabilities`.

A member whose verdict did not parse, or failed with an error, abstains: it casts no vote and no probabilities.
When every member abstains the jury has no verdict either: it is stored unparsed (status UNPARSED, winner None),
kept and reported, and left out of the figures like any unparsed verdict — never mapped to a tie. The jury's
verdict is TRUNCATED when a voting member's was (its responses were cut to fit that judge's context).

Each jury record keeps every member's winner (`members`: {member name: winner, None when it abstained}), the
`votes` per label, who `abstained`, and the `method`; the run's settings record the members and the method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from .._errors import InputError
from .._records import Label, Status, winner_probabilities
from ._lock import RunFolderLock
from ._runner import prepare_folder
from ._store import DB_NAME, RunInfo, RunStore, StoredTask, StoredVerdict, content_hash

__all__ = ["JURY_METHODS", "JuryBallot", "JuryMethod", "JuryResult", "build_jury", "jury_run_key", "jury_verdict"]

JuryMethod = Literal["majority", "average"]
JURY_METHODS: tuple[JuryMethod, ...] = ("majority", "average")
"""How a jury decides: the majority of the members' winners, or the argmax of their mean option probabilities."""

_LABELS: tuple[Label, ...] = ("A", "B", "tie")
_ORDERS = ("AB", "BA")
_VOTING = frozenset({Status.OK, Status.TRUNCATED})


@dataclass(frozen=True)
class JuryBallot:
    """One member's judgement of a task in one order, as the jury reads it."""

    member: str
    """The member's name (its run label, or label and key prefix when two members share a label)."""
    status: Status
    """The member's status for this order: OK and TRUNCATED vote; UNPARSED and ERROR abstain."""
    record: Mapping[str, Any]
    """The member's stored record (a verdict, or {'error': ...})."""

    @property
    def winner(self) -> Label | None:
        """The member's winner, None when it abstains."""
        winner = self.record.get("winner") if self.status in _VOTING else None
        return winner if winner in _LABELS else None


@dataclass(frozen=True)
class JuryResult:
    """What building a jury stored."""

    run_key: str
    """The jury run's key."""
    members: tuple[str, ...]
    """The member run keys, in the order given."""
    method: JuryMethod
    """majority or average."""
    tasks: int
    """Tasks common to every member: the jury's tasks."""
    verdicts: int
    """Jury verdicts stored (one per task content and order that every member concerned has judged)."""
    abstained: int
    """Of those, verdicts where every member abstained, stored unparsed."""
    pending: int
    """Task contents and orders a member has still to judge: the jury decides them when rebuilt."""


def jury_run_key(member_keys: Sequence[str], method: JuryMethod) -> str:
    """The jury run's key: the same for the same members (in any order) and method."""
    return "jury-" + content_hash("jury", method, *sorted(member_keys))[:40]


def jury_verdict(item_id: str, order: str, ballots: Sequence[JuryBallot], method: JuryMethod) -> tuple[Status,
                                                                                                      dict[str, Any]]:
    """The jury's verdict on one task in one order from its members' ballots: (status, stored record)."""
    _check_method(method)
    voters = [ballot for ballot in ballots if ballot.winner is not None]
    votes = {label: sum(ballot.winner == label for ballot in voters) for label in _LABELS}
    probabilities = None
    winner: Label | None
    if not voters:
        winner = None
    elif method == "majority":
        winner = _single_top(votes)
    else:
        shares = [_option_shares(ballot) for ballot in voters]
        probabilities = {label: sum(share[label] for share in shares) / len(shares) for label in _LABELS}
        winner = _single_top(probabilities)
    if winner is None:
        status = Status.UNPARSED
    else:
        status = Status.TRUNCATED if any(b.status == Status.TRUNCATED for b in voters) else Status.OK
    members = {ballot.member: ballot.winner for ballot in ballots}
    tally = ", ".join(f"{name} {'abstains' if choice is None else choice}" for name, choice in members.items())
    outcome = "every member abstained: no verdict" if winner is None else f"jury: {winner}"
    record = {
        "item_id": item_id, "order": order, "winner": winner, "status": str(status), "raw_output": "",
        "reason": f"{method} of {len(ballots)}: {tally} -> {outcome}", "reference": None,
        "probabilities": probabilities, "cut_tokens": max((int(b.record.get("cut_tokens") or 0) for b in voters),
                                                          default=0),
        "manifest": None, "method": method, "members": members, "votes": votes,
        "abstained": [ballot.member for ballot in ballots if ballot.winner is None],
    }
    return status, record


def build_jury(folder: str | Path, member_keys: Sequence[str], *, method: JuryMethod = "majority",
               name: str | None = None) -> JuryResult:
    """Combine the runs `member_keys` (full keys or unique prefixes) of `folder` into a jury run, or refresh it.

    name: the jury's label (default "jury (<method>) of <member labels>"), set when the jury is first built.
    Raises `InputError` for fewer than two distinct members, a key that matches no run or several, a member that
    is not a pairwise run, or members without a task in common.
    """
    _check_method(method)
    folder = Path(folder)
    if not (folder / DB_NAME).exists():
        raise InputError("not a judgedesk run folder (no run.sqlite); judge or import the members first", path=folder)
    prepare_folder(folder)
    with RunFolderLock(folder), RunStore(folder) as store:
        members = _resolve_members(store, member_keys, folder)
        names = _member_names(members)
        keys = tuple(info.run_key for info in members)
        run_key = jury_run_key(keys, method)
        tasks = _common_tasks(store, members, folder)
        orders = tuple(side for side in _ORDERS if any(side in info.orders for info in members))
        label = name or f"jury ({method}) of {', '.join(names)}"
        settings = {
            "judge_name": label, "format": "jury", "mode": "pairwise", "orders": list(orders), "seed": None,
            "decoding": {"mode": "jury"},
            "jury": {"method": method, "members": [{"run_key": info.run_key, "label": info.label,
                                                    "name": member, "orders": list(info.orders)}
                                                   for info, member in zip(members, names, strict=True)]},
        }
        store.ensure_run(RunInfo(run_key, label, "pairwise", orders, settings, members[0].source))
        store.touch_run(run_key)
        store.replace_tasks(run_key, tasks)
        store.replace_problems(run_key, [])
        stored = {info.run_key: store.verdicts(info.run_key) for info in members}
        decided: list[tuple[str, str, Status, Mapping[str, Any]]] = []
        pending = 0
        for task in _unique_contents(tasks):
            for side in orders:
                ballots = _ballots(task, side, members, names, stored)
                if ballots is None:
                    pending += 1
                    continue
                decided.append((task.content, side, *jury_verdict(task.item_id, side, ballots, method)))
        # Every verdict is decided again from what the members hold now (a retried member's verdict changes the
        # jury's); verdicts are keyed by content, so replacing them is the whole refresh.
        store.put_verdicts(run_key, decided)
    abstained = sum(status == Status.UNPARSED for _, _, status, _ in decided)
    return JuryResult(run_key=run_key, members=keys, method=method, tasks=len(tasks), verdicts=len(decided),
                      abstained=abstained, pending=pending)


def _check_method(method: str) -> None:
    if method not in JURY_METHODS:
        raise InputError(f"a jury decides by {' or '.join(JURY_METHODS)}, not {method!r}", field="method")


def _single_top(values: Mapping[Label, float] | Mapping[Label, int]) -> Label:
    """The label with the largest value; a tie when two or more share it."""
    top = max(values.values())
    leaders = [label for label, value in values.items() if abs(value - top) <= 1e-12]
    return leaders[0] if len(leaders) == 1 else "tie"


def _option_shares(ballot: JuryBallot) -> dict[Label, float]:
    """A voting member's probability per label (A, B, tie), summing to 1; one-hot on its winner without any."""
    given = ballot.record.get("probabilities")
    by_winner = winner_probabilities(given) if isinstance(given, Mapping) else {}
    shares: dict[Label, float] = {label: max(float(by_winner.get(label, 0.0)), 0.0) for label in _LABELS}
    total = sum(shares.values())
    if total <= 0.0:
        return {label: float(label == ballot.winner) for label in _LABELS}
    return {label: value / total for label, value in shares.items()}


def _resolve_members(store: RunStore, member_keys: Sequence[str], folder: Path) -> list[RunInfo]:
    runs = store.runs()
    members: list[RunInfo] = []
    for key in member_keys:
        matches = [info for info in runs if info.run_key.startswith(key)]
        if len(matches) != 1:
            known = ", ".join(f"{info.run_key[:12]} ({info.label})" for info in runs)
            raise InputError(f"run {key!r} matches {len(matches)} runs (known: {known})", path=folder, field="runs")
        info = matches[0]
        if info.mode != "pairwise":
            raise InputError(f"run {key!r} ({info.label}) grades single responses: a jury combines pairwise runs",
                             path=folder, field="runs")
        if any(member.run_key == info.run_key for member in members):
            raise InputError(f"run {info.run_key[:12]!r} is named twice", path=folder, field="runs")
        members.append(info)
    if len(members) < 2:
        raise InputError(f"a jury needs at least two member runs, not {len(members)}", path=folder, field="runs")
    return members


def _member_names(members: Sequence[RunInfo]) -> list[str]:
    """Each member's name in the jury's records: its label, with its key's start when two members share one."""
    labels = [info.label for info in members]
    return [label if labels.count(label) == 1 else f"{label} [{info.run_key[:8]}]"
            for label, info in zip(labels, members, strict=True)]


def _common_tasks(store: RunStore, members: Sequence[RunInfo], folder: Path) -> list[StoredTask]:
    """The first member's tasks whose content every member has, renumbered, each with a human label if any
    member's task of that content had one."""
    task_lists = [store.tasks(info.run_key) for info in members]
    shared = set.intersection(*({task.content for task in tasks} for tasks in task_lists))
    if not shared:
        raise InputError("the member runs have no task in common (matched by content): were they run on the same "
                         "data set?", path=folder, field="runs")
    humans: dict[str, str] = {}
    for tasks in task_lists:
        for task in tasks:
            if task.human is not None:
                humans.setdefault(task.content, task.human)
    common = [task for task in task_lists[0] if task.content in shared]
    return [replace(task, position=position, human=task.human or humans.get(task.content))
            for position, task in enumerate(common)]


def _unique_contents(tasks: Sequence[StoredTask]) -> list[StoredTask]:
    """One task per content: tasks with the same texts share their verdicts, as in a judged run."""
    seen: dict[str, StoredTask] = {}
    for task in tasks:
        seen.setdefault(task.content, task)
    return list(seen.values())


def _ballots(task: StoredTask, side: str, members: Sequence[RunInfo], names: Sequence[str],
             stored: Mapping[str, Mapping[tuple[str, str], StoredVerdict]]) -> list[JuryBallot] | None:
    """Every member's ballot for this task and order; None while a member that judges this order has not yet."""
    ballots = []
    for info, name in zip(members, names, strict=True):
        if side not in info.orders:
            ballots.append(JuryBallot(name, Status.UNPARSED, {"error": f"{name} does not judge order {side}"}))
            continue
        verdict = stored[info.run_key].get((task.content, side))
        if verdict is None:
            return None
        ballots.append(JuryBallot(name, verdict.status, verdict.record))
    return ballots
