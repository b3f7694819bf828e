"""A run's calibrated estimates: what the analysts would have concluded had they labelled every pair, from the
judge's verdicts on all of them and human labels on a random sample (prediction-powered inference, core/stats).

Which labels: the run's label plan (`judgedesk label-plan`, the app's "Label a sample…"), a uniform random sample
drawn with a recorded seed, when it holds any label; else the data set's own human labels (a pairs file's
annotators, a `human_labels.jsonl`), which are valid here only if the pairs that carry them are a random sample of
the pairs (the summary says so: `assumption`). Overrides outside a plan are never used: an analyst picks those pairs
by hand, and a hand-picked sample can bias the correction whichever way it leans.

The unit of the sample is the task (the pair as judged, keyed by its content), as the plan draws it, so a data set
with several pairs per instruction is handled pair by pair, and tasks with the very same texts count once. Per
model pair: the calibrated, labels-only and judge-only win rates side by side; over all models: calibrated
Bradley–Terry ratings. The judge's score of a pair is its probability-weighted preference when every order carries
option probabilities, else its decision.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from .._errors import InputError
from ..runs import load_label_plan
from ..stats import Outcome, calibrated_bradley_terry, calibrated_pair_win_rate, judge_score
from ._results import RunResults

__all__ = ["calibration_figures"]

_PLAN_SOURCE = "the run's label plan: a uniform random sample drawn with seed {seed}, {labelled} of {n} labelled"
_HUMAN_SOURCE = "the data set's human labels"
_HUMAN_ASSUMPTION = ("the intervals hold if the labelled pairs are a random sample of the pairs; draw a label plan "
                     "(judgedesk label-plan, or Label a sample… in the app) to be sure of it")


def calibration_figures(results: RunResults, *, baseline: str | None = None) -> dict[str, Any]:
    """The summary's `calibration` entry: {label_source, assumption, labelled, pairs: [...], ratings}; {} for a
    single-grading run or a run without labels."""
    if results.info.mode != "pairwise":
        return {}
    labels, source, assumption = _labels(results)
    if not labels:
        return {}
    outcomes, soft = [], {}
    orders = results.info.orders
    seen: set[str] = set()
    for row in results.rows:
        decision = row.decision(orders)
        content = row.task.content
        # Tasks with the very same texts (two ids) share one judgement and are one unit of the label plan's draw.
        if decision is None or row.task.model_b is None or row.task.model_a == row.task.model_b or content in seen:
            continue
        seen.add(content)
        outcomes.append(Outcome(item_id=content, model_a=row.task.model_a, model_b=row.task.model_b,
                                decision=decision, human=labels.get(content)))  # type: ignore[arg-type]
        score = judge_score(decision, probabilities=[row.sides[side].get("probabilities") for side in orders])
        if score is not None:
            soft[content] = score
    models = list(dict.fromkeys(m for o in outcomes for m in (o.model_a, o.model_b)))
    pairs = []
    for model_a, model_b in combinations(models, 2):
        mine = [o for o in outcomes if {o.model_a, o.model_b} == {model_a, model_b}]
        if not mine:
            continue
        first = mine[0]
        estimate = calibrated_pair_win_rate(mine, model_a=first.model_a, model_b=first.model_b, soft_scores=soft)
        pairs.append({"model_a": first.model_a, "model_b": first.model_b, **estimate.to_dict()})
    figures: dict[str, Any] = {"label_source": source, "assumption": assumption,
                               "labelled": sum(o.human is not None for o in outcomes), "pairs": pairs}
    if len(models) >= 2:
        anchor = next((m for m in (baseline, results.info.settings.get("baseline")) if m in models), None)
        try:
            figures["ratings"] = calibrated_bradley_terry(outcomes, baseline=anchor).to_dict()
            # λ = 0: the labelled pairs alone, the classical interval the calibrated one is measured against (the
            # judge-only ratings are the summary's own `ratings`).
            figures["ratings_labels_only"] = calibrated_bradley_terry(outcomes, baseline=anchor, lam=0.0).to_dict()
        except InputError as exc:  # the labels cannot be fitted (e.g. a model pair meeting twice on one task)
            figures["ratings"] = {"no_fit": str(exc), "models": []}
    return figures


def _labels(results: RunResults) -> tuple[dict[str, str], str, str | None]:
    """Task content -> human label (A, B or tie), where the labels came from, and what validity assumes."""
    sample = load_label_plan(results.folder, results.info.run_key)
    if sample is not None and sample.labelled:
        labels = {content: str(label) for content, label in sample.labels.items() if label in ("A", "B", "tie")}
        source = _PLAN_SOURCE.format(seed=sample.plan.seed, labelled=sample.labelled, n=sample.plan.n)
        return labels, source, None
    labels = {row.task.content: row.task.human for row in results.rows if row.task.human is not None}
    return labels, _HUMAN_SOURCE, _HUMAN_ASSUMPTION
