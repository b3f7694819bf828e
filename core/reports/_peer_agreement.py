"""Agreement of a run's judge with another judge's run on the same items: "does my local judge agree with the GPT-4
annotations I already have?"

The other run (a peer) is any other pairwise run in the same run folder — typically judgements imported with
`judgedesk import-verdicts` beside a local batch run. Items are matched by content (the texts that decide a
verdict, and so the same pair shown the same way), never by position. The peer's verdicts are taken as the labels:
per order where both runs judged that order, and for the final decision. A peer decision that is not A, B or tie
(inconsistent, unparsed) is no label: the item is counted as unlabelled, as an item without a human label is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..stats import agreement
from ._results import RunResults

__all__ = ["peer_agreement"]

_CLASSES = frozenset({"A", "B", "tie"})


def peer_agreement(results: RunResults, peers: Sequence[RunResults]) -> list[dict[str, Any]]:
    """One entry per pairwise peer run sharing at least one finished item with `results`: the run's key and
    label, the items compared, and `agreement` (accuracy, macro F1, Cohen's kappa, confusion) per order judged by
    both and for the final decision."""
    if results.info.mode != "pairwise":
        return []
    own = {row.task.content: row for row in results.rows}
    entries = []
    for peer in peers:
        if peer.info.mode != "pairwise" or peer.info.run_key == results.info.run_key:
            continue
        matched = [(own[row.task.content], row) for row in peer.rows if row.task.content in own]
        if not matched:
            continue
        entry: dict[str, Any] = {"run_key": peer.info.run_key, "label": peer.info.label, "matched": len(matched)}
        for side, name in (("AB", "first_order"), ("BA", "second_order")):
            if side in results.info.orders and side in peer.info.orders:
                pairs = [(mine.winner(side), theirs.winner(side)) for mine, theirs in matched
                         if side in mine.sides and side in theirs.sides]
                entry[name] = _agreement(pairs)
        decisions = [(mine.decision(results.info.orders), theirs.decision(peer.info.orders))
                     for mine, theirs in matched]
        entry["final_decision"] = _agreement([(m, t) for m, t in decisions if m is not None and t is not None])
        entries.append(entry)
    return entries


def _agreement(pairs: Iterable[tuple[str | None, str | None]]) -> dict[str, Any]:
    pairs = list(pairs)
    predicted = [mine for mine, _ in pairs]
    gold = [theirs if theirs in _CLASSES else None for _, theirs in pairs]
    return agreement(predicted, gold).to_dict()
