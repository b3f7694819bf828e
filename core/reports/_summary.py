"""Every figure of a run in one JSON-safe dictionary: the content of summary.json and of the HTML report."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from .._version import __version__
from ..stats import (
    agreement,
    bradley_terry,
    by_category,
    judge_behaviour,
    order_agreement,
    pair_summary,
    win_rate_matrix,
)
from ._results import RunResults

__all__ = ["build_summary"]


def build_summary(results: RunResults, *, inconsistent_as_tie: bool = False, baseline: str | None = None,
                  rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """All statistics of `results`; bootstraps are seeded, so the same run always gives the same numbers."""
    info = results.info
    statuses = Counter(status for row in results.rows for status in row.statuses.values())
    summary: dict[str, Any] = {
        "judgedesk": __version__,
        "run": {"run_key": info.run_key, "label": info.label, "mode": info.mode, "orders": list(info.orders),
                "source": info.source, "settings": dict(info.settings)},
        "progress": {"tasks": len(results.rows), "complete": results.complete,
                     "judgements": sum(statuses.values()), "statuses": dict(sorted(statuses.items()))},
        "input_problems": [{"path": p[0], "line": p[1], "reason": p[2], "item": p[3]} for p in results.problems],
        "options": {"inconsistent_as_tie": inconsistent_as_tie, "bootstrap_rounds": rounds, "seed": seed},
    }
    if info.mode == "single":
        summary["grades"] = _grades(results, rounds=rounds, seed=seed)
        return summary
    outcomes = results.outcomes(inconsistent_as_tie=inconsistent_as_tie)
    models = list(dict.fromkeys(m for o in outcomes for m in (o.model_a, o.model_b)))
    summary["decisions"] = dict(sorted(Counter(o.decision for o in outcomes).items()))
    summary["pairs"] = [p.to_dict() for p in pair_summary(outcomes, inconsistent_as_tie=inconsistent_as_tie,
                                                           rounds=rounds, seed=seed)]
    if len(models) >= 2:
        anchor = baseline if baseline in models else None
        summary["ratings"] = bradley_terry(outcomes, baseline=anchor, inconsistent_as_tie=inconsistent_as_tie,
                                           rounds=rounds, seed=seed).to_dict()
        summary["win_rate_matrix"] = win_rate_matrix(outcomes, inconsistent_as_tie=inconsistent_as_tie).to_dict()
    categories = by_category(outcomes, inconsistent_as_tie=inconsistent_as_tie, rounds=rounds, seed=seed)
    summary["categories"] = {name: [p.to_dict() for p in rows] for name, rows in sorted(categories.items())}
    summary["judge_behaviour"] = judge_behaviour(outcomes).to_dict()
    labelled = [o for o in outcomes if o.human is not None]
    if labelled:
        gold = [o.human for o in labelled]
        summary["agreement"] = {
            # PandaLM's protocol: one order (A shown first) against the majority label.
            "first_order": agreement([o.ab for o in labelled], gold).to_dict(),
            # The final both-order decision, inconsistent counted wrong (or as a tie when asked).
            "final_decision": agreement([o.decision for o in labelled], gold).to_dict(),
        }
        if "BA" in info.orders:
            # Auto-J's protocol: right in both orders, and consistency across orders.
            summary["agreement"]["both_orders"] = order_agreement([o.ab for o in labelled], [o.ba for o in labelled],
                                                                  gold).to_dict()
    return summary


def _grades(results: RunResults, *, rounds: int, seed: int) -> dict[str, Any]:
    by_model: dict[str, list[tuple[str, float]]] = defaultdict(list)
    unparsed: Counter[str] = Counter()
    per_category: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    scale = None
    for row in results.rows:
        record = row.sides.get("single")
        if record is None:
            continue
        scale = scale or record.get("scale")
        if row.score is None:
            unparsed[row.task.model_a] += 1
            continue
        by_model[row.task.model_a].append((row.task.item_id, float(row.score)))
        if row.task.category:
            per_category[row.task.category][row.task.model_a].append(float(row.score))
    models = []
    for model, scored in by_model.items():
        values = np.array([s for _, s in scored])
        low, high = _bootstrap_mean(values, rounds=rounds, seed=seed)
        models.append({"model": model, "n": len(values), "mean": float(values.mean()), "ci_low": low,
                       "ci_high": high, "unparsed": unparsed[model]})
    models.sort(key=lambda m: -m["mean"])
    categories = {cat: {m: float(np.mean(v)) for m, v in sorted(per.items())}
                  for cat, per in sorted(per_category.items())}
    return {"scale": scale, "models": models, "categories": categories}


def _bootstrap_mean(values: np.ndarray, *, rounds: int, seed: int) -> tuple[float | None, float | None]:
    if len(values) < 2 or rounds <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(rounds, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))
