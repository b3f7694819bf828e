"""Every figure of a run in one JSON-safe dictionary: the content of summary.json and of the HTML report.

Analyst overrides: by default every statistic describes the judge's own verdicts, and the overrides only show as
`agreement["overrides"]`, the judge's final decision (or score) measured against the analyst's labels taken as
gold. `apply_overrides=True` puts the analyst's label (or score) in place of the judge's decision for the ranking,
win rates, pair and category tables and grades; judge behaviour and agreement still describe the judge itself.

"Inconsistent as tie" is, likewise, a choice for the ranking: it changes the figures listed in
`INCONSISTENT_AS_TIE_CHANGES` (counted as half a win each way), while the decision counts, judge behaviour,
agreement and warnings always show what the judge did, an inconsistent pair staying inconsistent.

Small samples: every figure carries its n, an interval is given only from `MIN_GAMES_FOR_INTERVAL` games up (and
when its redraws vary), and models without a counted game are listed with the reason (`ratings["unrated"]`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._version import __version__
from ..stats import (
    MIN_GAMES_FOR_INTERVAL,
    BootstrapInterval,
    agreement,
    bootstrap_interval,
    bradley_terry,
    by_category,
    judge_behaviour,
    order_agreement,
    pair_summary,
    win_rate_matrix,
)
from ._calibration_figures import calibration_figures
from ._jury_figures import jury_figures
from ._peer_agreement import peer_agreement
from ._protocol_figures import protocol_figures
from ._results import RunResults
from ._warnings import run_warnings, synthetic_judge_warning

__all__ = ["INCONSISTENT_AS_TIE_CHANGES", "build_summary"]

INCONSISTENT_AS_TIE_CHANGES = ("ratings", "win_rate_matrix", "pairs", "categories")
"""The summary's figures that "inconsistent as tie" changes; everything else is the judge's own decisions."""


def build_summary(results: RunResults, *, inconsistent_as_tie: bool = False, baseline: str | None = None,
                  rounds: int = 1000, seed: int = 0, apply_overrides: bool = False,
                  peers: Sequence[RunResults] = ()) -> dict[str, Any]:
    """All statistics of `results`; bootstraps are seeded, so the same run always gives the same numbers.

    peers: other runs of the same items (another judge, imported judgements: `load_peer_results`); the summary's
        `peer_agreement` measures this run's judge against each of them.

    apply_overrides: rank and count with the analyst's overrides in place of the judge's decisions (see the module
        docstring); off by default, so the figures are the judge's.
    """
    info = results.info
    # Plain strings, not Status members: the summary is JSON-safe data, and the CLI prints this dict as it is.
    statuses = Counter(str(status) for row in results.rows for status in row.statuses.values())
    summary: dict[str, Any] = {
        "judgedesk": __version__,
        "run": {"run_key": info.run_key, "label": info.label, "mode": info.mode, "orders": list(info.orders),
                "source": info.source, "settings": dict(info.settings)},
        "progress": {"tasks": len(results.rows), "complete": results.complete,
                     "judgements": sum(statuses.values()), "statuses": dict(sorted(statuses.items())),
                     "overrides": results.overridden},
        "input_problems": [{"path": p[0], "line": p[1], "reason": p[2], "item": p[3]} for p in results.problems],
        "options": {"inconsistent_as_tie": inconsistent_as_tie, "bootstrap_rounds": rounds, "seed": seed,
                    "apply_overrides": apply_overrides, "min_games_for_interval": MIN_GAMES_FOR_INTERVAL,
                    "inconsistent_as_tie_changes": list(INCONSISTENT_AS_TIE_CHANGES)},
        "warnings": [],
    }
    if _synthetic_judge(results):
        summary["run"]["synthetic_judge"] = True  # absent for real judges, whose summaries stay as they were
        summary["warnings"].append(synthetic_judge_warning(sum(statuses.values())).to_dict())
    if info.mode == "single":
        summary["grades"] = _grades(results, rounds=rounds, seed=seed, apply_overrides=apply_overrides)
        if results.overridden:
            summary["agreement"] = {"overrides": _score_agreement(results)}
        summary.update(protocol_figures(results, rounds=rounds, seed=seed))
        return summary
    # The judge's own decisions, inconsistent kept: the statistics map it to a tie themselves where asked, so the
    # pair tables still count it as inconsistent and behaviour and agreement never see the mapping.
    judged = results.outcomes()
    outcomes = results.outcomes(apply_overrides=apply_overrides)
    models = list(dict.fromkeys(m for o in outcomes for m in (o.model_a, o.model_b)))
    summary["decisions"] = dict(sorted(Counter(o.decision for o in outcomes).items()))
    summary["pairs"] = [p.to_dict() for p in pair_summary(outcomes, inconsistent_as_tie=inconsistent_as_tie,
                                                           rounds=rounds, seed=seed)]
    if len(models) >= 2:
        # The baseline asked for, else the one an import recorded (AlpacaEval's generator_1, Arena-Hard's).
        anchor = next((m for m in (baseline, info.settings.get("baseline")) if m in models), None)
        summary["ratings"] = bradley_terry(outcomes, baseline=anchor, inconsistent_as_tie=inconsistent_as_tie,
                                           rounds=rounds, seed=seed).to_dict()
        summary["win_rate_matrix"] = win_rate_matrix(outcomes, inconsistent_as_tie=inconsistent_as_tie).to_dict()
    categories = by_category(outcomes, inconsistent_as_tie=inconsistent_as_tie, rounds=rounds, seed=seed)
    summary["categories"] = {name: [p.to_dict() for p in rows] for name, rows in sorted(categories.items())}
    behaviour = judge_behaviour(judged)
    summary["judge_behaviour"] = behaviour.to_dict()
    summary["warnings"] += [w.to_dict() for w in run_warnings(behaviour, inconsistent_as_tie=inconsistent_as_tie)]
    labelled = [o for o in judged if o.human is not None]
    if labelled:
        gold = [o.human for o in labelled]
        summary["agreement"] = {
            # PandaLM's protocol: one order (A shown first) against the majority label.
            "first_order": agreement([o.ab for o in labelled], gold).to_dict(),
            # The final both-order decision, inconsistent counted wrong whatever the ranking counts it as.
            "final_decision": agreement([o.decision for o in labelled], gold).to_dict(),
        }
        if "BA" in info.orders:
            # Auto-J's protocol: right in both orders, and consistency across orders.
            summary["agreement"]["both_orders"] = order_agreement([o.ab for o in labelled], [o.ba for o in labelled],
                                                                  gold).to_dict()
    if results.overridden:
        summary.setdefault("agreement", {})["overrides"] = _label_agreement(results)
    summary.update(protocol_figures(results, baseline=baseline, rounds=rounds, seed=seed))
    compared = peer_agreement(results, peers)
    if compared:
        summary["peer_agreement"] = compared
    calibration = calibration_figures(results, baseline=baseline)
    if calibration:
        summary["calibration"] = calibration
    jury = jury_figures(results, peers, inconsistent_as_tie=inconsistent_as_tie)
    if jury:
        summary["jury"] = jury
    return summary


def _synthetic_judge(results: RunResults) -> bool:
    """Whether the run's judge is a shape-only file with random weights, as its settings or any of its records'
    manifests say (the manifest carries `synthetic` only when true)."""
    if results.info.settings.get("synthetic") is True:
        return True
    return any(isinstance(record.get("manifest"), dict) and record["manifest"].get("synthetic") is True
               for row in results.rows for record in row.sides.values())


def _label_agreement(results: RunResults) -> dict[str, Any]:
    """The judge's final decision (inconsistent kept) against the analyst's overrides as gold labels, over the
    finished tasks."""
    predicted, gold = [], []
    for row in results.rows:
        decision = row.decision(results.info.orders)
        if row.override is None or row.override.label is None or decision is None:
            continue
        predicted.append(decision)
        gold.append(row.override.label)
    return {**agreement(predicted, gold).to_dict(), "count": results.overridden}


def _score_agreement(results: RunResults) -> dict[str, Any]:
    """The judge's grades against the analyst's scores: exact matches and mean absolute difference."""
    differences = [abs(float(row.score) - float(row.override.score)) for row in results.rows
                   if row.override is not None and row.override.score is not None and row.score is not None]
    n = len(differences)
    return {"count": results.overridden, "n": n,
            "exact": sum(d == 0 for d in differences) / n if n else None,
            "mean_absolute_difference": float(np.mean(differences)) if n else None}


def _grades(results: RunResults, *, rounds: int, seed: int, apply_overrides: bool = False) -> dict[str, Any]:
    by_model: dict[str, list[tuple[str, float]]] = defaultdict(list)
    unparsed: Counter[str] = Counter()
    per_category: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    scale = None
    for row in results.rows:
        record = row.sides.get("single")
        if record is None:
            continue
        scale = scale or record.get("scale")
        score = row.score
        if apply_overrides and row.override is not None and row.override.score is not None:
            score = row.override.score
        if score is None:
            unparsed[row.task.model_a] += 1
            continue
        by_model[row.task.model_a].append((row.task.item_id, float(score)))
        if row.task.category:
            per_category[row.task.category][row.task.model_a].append(float(score))
    models: list[dict[str, Any]] = []
    for model, scored in by_model.items():
        values = np.array([s for _, s in scored])
        interval = _bootstrap_mean(values, rounds=rounds, seed=seed)
        models.append({"model": model, "n": len(values), "mean": float(values.mean()), "ci_low": interval.low,
                       "ci_high": interval.high, "no_interval": interval.missing, "unparsed": unparsed[model]})
    models.sort(key=lambda m: -m["mean"])
    categories = {cat: {m: float(np.mean(v)) for m, v in sorted(per.items())}
                  for cat, per in sorted(per_category.items())}
    category_n = {cat: {m: len(v) for m, v in sorted(per.items())} for cat, per in sorted(per_category.items())}
    return {"scale": scale, "models": models, "categories": categories, "category_n": category_n}


def _bootstrap_mean(values: np.ndarray, *, rounds: int, seed: int) -> BootstrapInterval:
    """The 95% interval of the mean score, or why there is none (the same rule as every pairwise interval)."""
    means = np.empty(0)
    if len(values) >= MIN_GAMES_FOR_INTERVAL and rounds > 0:
        rng = np.random.default_rng(seed)
        means = values[rng.integers(0, len(values), size=(rounds, len(values)))].mean(axis=1)
    return bootstrap_interval(means, games=len(values), rounds=rounds, unit="scores")
