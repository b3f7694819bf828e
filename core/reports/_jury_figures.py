"""A jury run's own figures: how far its judges agree with one another (Fleiss' kappa), with the jury, and with
the human labels.

The jury (`judgedesk jury`, `runs.build_jury`) is a run like any other, so the summary's usual figures (ratings,
behaviour, agreement with humans, agreement with each other run of the folder) already cover it; this adds what only a
jury has. Items are matched by content, never by position.

Fleiss' kappa is computed over the members' final decisions on the jury's tasks, in four categories: A, B, tie and
inconsistent (a judge whose two orders contradict each other said something, and two judges that both contradict
themselves on an item agree that it is hard; mapping it to a tie would hide position bias, leaving the item out
would flatter the kappa). With `inconsistent_as_tie` (PandaLM's protocol, as everywhere else) it is a tie, and the
categories are A, B and tie. An item where a member's decision is unparsed, or still pending, has no category from
that member and is left out (Fleiss' formula needs every rater on every item); the count is reported.

A member's agreement with the jury takes the jury's decisions as the labels (the run-to-run agreement of
`peer_agreement`); its agreement with humans is over the jury's tasks that carry a human label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..stats import agreement, fleiss_kappa
from ._peer_agreement import peer_agreement
from ._results import RunResults

__all__ = ["jury_figures"]

_DECIDED = frozenset({"A", "B", "tie", "inconsistent"})


def jury_figures(results: RunResults, members: Sequence[RunResults], *,
                 inconsistent_as_tie: bool = False) -> dict[str, Any]:
    """The `jury` entry of a jury run's summary; {} when `results` is not a jury run.

    members: the member runs' results; other runs are ignored, so the folder's peers (`load_peer_results`) will do.

    Returns {method, members: [{run_key, label, name, matched, agreement_with_jury, agreement_with_humans}],
    items, fleiss (FleissKappa.to_dict plus `categories` and `left_out`), jury_agreement_with_humans}; the
    agreement entries are `Agreement.to_dict()` over the final decision, None when nothing can be compared.
    """
    jury = results.info.settings.get("jury")
    if not isinstance(jury, dict) or results.info.mode != "pairwise":
        return {}
    by_key = {member.info.run_key: member for member in members}
    listed = [entry for entry in jury.get("members", []) if entry.get("run_key") in by_key]
    runs = [by_key[entry["run_key"]] for entry in listed]
    decisions = [_decisions(run, inconsistent_as_tie) for run in runs]
    contents = [row.task.content for row in results.rows]
    categories = ("A", "B", "tie") if inconsistent_as_tie else ("A", "B", "tie", "inconsistent")
    # An unparsed or pending decision is no category: Fleiss' kappa leaves its item out (and counts it).
    ratings = [[_category(mine.get(content)) for mine in decisions] for content in contents]
    kappa = fleiss_kappa(ratings, categories) if len(runs) >= 2 else None
    humans = [row.task.human for row in results.rows]
    labelled = any(human is not None for human in humans)
    entries = []
    for entry, run, mine in zip(listed, runs, decisions, strict=True):
        with_jury = next(iter(peer_agreement(run, [results])), None)  # none when no finished item is shared
        entries.append({
            "run_key": run.info.run_key, "label": run.info.label, "name": entry.get("name", run.info.label),
            "matched": None if with_jury is None else with_jury["matched"],
            "agreement_with_jury": None if with_jury is None else with_jury["final_decision"],
            "agreement_with_humans": _with_humans(mine, contents, humans) if labelled else None,
        })
    own = _decisions(results, inconsistent_as_tie)
    return {
        "method": jury.get("method"), "members": entries, "items": len(contents),
        "fleiss": None if kappa is None else kappa.to_dict(),
        "jury_agreement_with_humans": _with_humans(own, contents, humans) if labelled else None,
    }


def _decisions(run: RunResults, inconsistent_as_tie: bool) -> dict[str, str]:
    """Content -> the run's final decision (A, B, tie, inconsistent or unparsed); pending tasks are absent."""
    out: dict[str, str] = {}
    for row in run.rows:
        decision = row.decision(run.info.orders, inconsistent_as_tie=inconsistent_as_tie)
        if decision is not None:
            out.setdefault(row.task.content, decision)
    return out


def _category(decision: str | None) -> str | None:
    return decision if decision in _DECIDED else None


def _with_humans(decisions: dict[str, str], contents: Sequence[str],
                 humans: Sequence[str | None]) -> dict[str, Any] | None:
    """Agreement of the decisions with the human labels, over the labelled tasks the run has decided or left
    unparsed (pending ones are left out: they are not a wrong answer yet)."""
    pairs = [(decisions.get(content), human) for content, human in zip(contents, humans, strict=True)
             if human is not None and content in decisions]
    if not pairs:
        return None
    return agreement([p for p, _ in pairs], [h for _, h in pairs]).to_dict()
