"""Calibrated Bradley–Terry ratings: PPI++ in its M-estimation form for the Bradley–Terry logistic model.

Every outcome between two models is a row with x = e_a − e_b (the anchor's column dropped), the human's Y and the
judge's score f (`judge_score`; unparsed outcomes left out). The log-likelihood gradient of a row at log-strengths
β is (t − σ(x·β))·x for target t; summed over an item's outcomes it is the item's gradient g_t, the item being the
unit the analysts sample. The calibrated ratings solve PPI++'s estimating equation

    λ·mean_N(g_f(β)) + mean_n(g_Y(β) − λ·g_f(β)) = 0,

the minimiser of the convex loss λ·L_N(f) + L_n(Y) − λ·L_n(f): the Hessian of a logistic loss does not depend on
its targets, so the loss's Hessian is λ·H_N + (1 − λ)·H_n, positive for λ in [0, 1], and the fit is the soft-target
logistic fit of `_logistic` with weights λ/N, 1/n and −λ/n. λ̂ is PPI++'s for an M-estimator: the value that
minimises the trace of the covariance below (covariances read off the labelled items), fitted first at λ = 1,
then refitted at λ̂ (clipped to [0, 1]).

The covariance is the sandwich H⁻¹·V·H⁻¹ with H = λ·H_N + (1 − λ)·H_n per item and, as for the win rate
(see `_calibration`), V = (1 − n/N)·S(g_Y − λ·g_f)/n for the ratings the humans would give the N items
("items"), plus S(g_Y)/N for the population they came from ("source"). With two models this is exactly the
calibrated win rate through the logistic link. Ratings are on core/stats' Elo scale, anchored at 1000 like
`bradley_terry`; intervals are rating ± t·standard error, t as for the win rate (n − 2 degrees of freedom
when λ was tuned).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from ._bootstrap import MIN_GAMES_FOR_INTERVAL, too_few_games
from ._bradley_terry import ANCHOR_NO_INTERVAL, ELO_BASE, ELO_SCALE
from ._calibration import POPULATIONS, Population, critical_value, judge_score
from ._logistic import fit_logistic, sigmoid
from ._outcome import Outcome, model_order, score_of_a, to_plain

__all__ = ["CalibratedRating", "CalibratedRatings", "calibrated_bradley_terry"]

_RUNAWAY = 30.0
"""Log-strength gap beyond which a fit is taken to run off to infinity (odds of e^30, about 5200 Elo points)."""


@dataclass(frozen=True)
class CalibratedRating:
    """One model's calibrated rating."""

    model: str
    """The model."""
    rating: float
    """Calibrated Bradley–Terry rating on the Elo scale (the anchor 1000, +400 for ten times its strength)."""
    ci_low: float | None
    """Lower end of the 95% interval, rating − t·std_error (t as for `calibrated_win_rate`); None without one."""
    ci_high: float | None
    """Upper end of the 95% interval, rating + t·std_error; None without one."""
    std_error: float | None
    """Standard error of the rating in Elo points; None for the anchor or when it cannot be computed."""
    games: int
    """Outcomes the model played that have a judge score."""
    labelled_games: int
    """Of those, outcomes on labelled items: the labels its correction rests on."""
    no_interval: str | None
    """Why there is no interval (the anchor, too few labelled games); None when there is one."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


@dataclass(frozen=True)
class CalibratedRatings:
    """Calibrated Bradley–Terry ratings of every model with a judged game, best first."""

    models: tuple[CalibratedRating, ...]
    """The ratings, highest first (equal ratings by first appearance); empty when there is no fit."""
    anchor: str | None
    """The model fixed at 1000: the baseline when given, else the first model to appear."""
    n: int
    """Labelled items (every outcome of the item carries a human label)."""
    N: int
    """Items with at least one judged outcome."""
    lam: float | None
    """The judge's weight λ (tuned or given); None when there is no fit."""
    population: str
    """'items' or 'source', as for `calibrated_win_rate`."""
    unparsed: int
    """Outcomes left out because the judge gave no score."""
    no_fit: str | None
    """Why there are no ratings (fewer than two models, a fit that runs off to infinity); None when there are."""

    def rating(self, model: str) -> CalibratedRating:
        """The rating of one model; KeyError names a model that was not rated."""
        for entry in self.models:
            if entry.model == model:
                return entry
        raise KeyError(model)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


@dataclass(frozen=True)
class _Rows:
    """The outcomes as design rows, grouped by item."""

    x: np.ndarray
    """(rows, models − 1): +1 at model_a, −1 at model_b, the anchor's column dropped."""
    f: np.ndarray
    """The judge's score per row."""
    y: np.ndarray
    """The human's score per row (NaN on unlabelled items)."""
    item: np.ndarray
    """Each row's item index."""
    labelled: np.ndarray
    """Per item, whether it is labelled."""
    first: np.ndarray
    """Each row's model_a, by model order."""
    second: np.ndarray
    """Each row's model_b, by model order."""


def calibrated_bradley_terry(outcomes: Iterable[Outcome], *, soft_scores: Mapping[str, float] | None = None,
                             baseline: str | None = None, lam: float | None = None,
                             population: Population = "items") -> CalibratedRatings:
    """PPI++ Bradley–Terry ratings from the judge's decisions on every outcome and the human labels on some items.

    `soft_scores` may give, per item id, the judge's score for the outcome's model_a instead of its decision (only
    with one outcome per item). An item is labelled when every outcome on it has a human label; an item with some
    labelled outcomes and some not is an InputError (the sample is drawn by item). `lam` fixes λ. A model with
    fewer than `MIN_GAMES_FOR_INTERVAL` labelled games gets its rating without an interval, and the reason.
    """
    if population not in POPULATIONS:
        raise InputError(f"population {population!r} is not one of {', '.join(POPULATIONS)}", field="population")
    if lam is not None and not math.isfinite(lam):
        raise InputError(f"λ must be a finite number (got {lam})", field="lam")
    kept, unparsed = _scored(outcomes, soft_scores)
    order = model_order(outcome for outcome, _ in kept)
    models = list(order)
    if baseline is not None and baseline not in order:
        raise InputError(f"the baseline {baseline!r} played no judged game; models: {', '.join(models)}",
                         field="baseline")
    anchor = baseline if baseline is not None else (models[0] if models else None)
    rows = _rows(kept, order, anchor)
    n, size = int(rows.labelled.sum()), len(rows.labelled)

    def empty(reason: str) -> CalibratedRatings:
        return CalibratedRatings(models=(), anchor=anchor, n=n, N=size, lam=None, population=population,
                                 unparsed=unparsed, no_fit=reason)

    if len(models) < 2:
        return empty("fewer than two models with a judged game")
    if n == 0 and lam is None:
        lam = 1.0  # nothing to tune on: the judge's own fit, which has no interval below
    beta = _fit(rows, 1.0 if lam is None else lam)
    tuned = lam is None
    if lam is None:
        lam = _tuned_lambda(rows, beta)
        beta = _fit(rows, lam)
    if not np.all(np.isfinite(beta)) or float(np.max(np.abs(beta))) > _RUNAWAY:
        return empty("the ratings run off to infinity: some model won or lost every game it played, by the judge's "
                     "and the labels' account together")
    covariance = _covariance(rows, beta, lam, population)
    anchor_index = models.index(anchor) if anchor is not None else 0
    theta = np.insert(beta, anchor_index, 0.0)
    errors = np.insert(np.sqrt(np.clip(np.diag(covariance), 0.0, None)), anchor_index, np.nan)
    size_models = len(models)
    games_of = np.bincount(rows.first, minlength=size_models) + np.bincount(rows.second, minlength=size_models)
    on_labelled = rows.labelled[rows.item].astype(float)
    labelled_of = (np.bincount(rows.first, weights=on_labelled, minlength=size_models)
                   + np.bincount(rows.second, weights=on_labelled, minlength=size_models))
    rated = []
    for index, model in enumerate(models):
        games, labelled_games = int(games_of[index]), int(labelled_of[index])
        rating = ELO_BASE + ELO_SCALE * float(theta[index])
        error = None if index == anchor_index else ELO_SCALE * float(errors[index])
        reason = None
        if index == anchor_index:
            reason = ANCHOR_NO_INTERVAL
        elif n < MIN_GAMES_FOR_INTERVAL:
            reason = too_few_games(n, "labelled items")
        elif labelled_games < MIN_GAMES_FOR_INTERVAL:
            reason = too_few_games(labelled_games, "labelled games")
        elif not error and not (n == size and population == "items"):
            reason = f"no interval: the labelled residuals do not vary (n = {n})"
        low = high = None
        if reason is None and error is not None:
            half = critical_value(n - 1 - int(tuned)) * error
            low, high = rating - half, rating + half
        rated.append(CalibratedRating(model=model, rating=rating, ci_low=low, ci_high=high, std_error=error,
                                      games=games, labelled_games=labelled_games, no_interval=reason))
    rated.sort(key=lambda entry: (-entry.rating, order[entry.model]))
    return CalibratedRatings(models=tuple(rated), anchor=anchor, n=n, N=size, lam=float(lam), population=population,
                             unparsed=unparsed, no_fit=None)


def _scored(outcomes: Iterable[Outcome], soft_scores: Mapping[str, float] | None,
            ) -> tuple[list[tuple[Outcome, float]], int]:
    """The outcomes between two different models that have a judge score, with it; and how many were unparsed."""
    kept, unparsed = [], 0
    outcomes = list(outcomes)
    if soft_scores:
        counts = Counter(outcome.item_id for outcome in outcomes if outcome.model_a != outcome.model_b)
        crowded = next((item for item in soft_scores if counts[item] > 1), None)
        if crowded is not None:
            raise InputError("a soft score is given per item, but the item holds several pairs: soft scores need one "
                             "outcome per item", item=crowded, field="soft_scores")
    for outcome in outcomes:
        if outcome.model_a == outcome.model_b:
            continue
        if soft_scores is not None and outcome.item_id in soft_scores:
            score: float | None = float(soft_scores[outcome.item_id])
            if not 0.0 <= score <= 1.0:  # type: ignore[operator]
                raise InputError(f"{score} is not in [0, 1]", item=outcome.item_id, field="soft_scores")
        else:
            score = judge_score(outcome.decision)
        if score is None:
            unparsed += 1
        else:
            kept.append((outcome, score))
    return kept, unparsed


def _rows(kept: list[tuple[Outcome, float]], order: dict[str, int], anchor: str | None) -> _Rows:
    first = np.array([order[outcome.model_a] for outcome, _ in kept], dtype=np.intp)
    second = np.array([order[outcome.model_b] for outcome, _ in kept], dtype=np.intp)
    x: np.ndarray = np.zeros((len(kept), len(order)))
    x[np.arange(len(kept)), first] = 1.0
    x[np.arange(len(kept)), second] = -1.0
    if anchor is not None:
        x = np.delete(x, order[anchor], axis=1)
    items: dict[str, int] = {}
    item = np.fromiter((items.setdefault(outcome.item_id, len(items)) for outcome, _ in kept), dtype=np.intp,
                       count=len(kept))
    y = np.array([np.nan if outcome.human is None else score_of_a(outcome.human, inconsistent_as_tie=False)
                  for outcome, _ in kept], dtype=float)
    has_label = ~np.isnan(y)
    rows_per_item = np.bincount(item, minlength=len(items))
    labels_per_item = np.bincount(item, weights=has_label, minlength=len(items))
    partial = np.flatnonzero((labels_per_item > 0) & (labels_per_item < rows_per_item))
    if partial.size:
        item_id = next(key for key, index in items.items() if index == partial[0])
        raise InputError(f"{int(labels_per_item[partial[0]])} of the item's {rows_per_item[partial[0]]} judged pairs "
                         "have a human label; the labelled sample is drawn by item, so label all of an item's pairs "
                         "or none", item=item_id)
    return _Rows(x=x, f=np.array([score for _, score in kept], dtype=float), y=y, item=item,
                 labelled=labels_per_item > 0, first=first, second=second)


def _fit(rows: _Rows, lam: float) -> np.ndarray:
    """The β solving the calibrated estimating equation at λ, as one weighted soft-target logistic fit."""
    size, n = len(rows.labelled), int(rows.labelled.sum())
    on_labelled = rows.labelled[rows.item]
    parts_x, parts_t, parts_w = [rows.x], [rows.f], [np.full(len(rows.f), lam / size)]
    if n:
        parts_x += [rows.x[on_labelled], rows.x[on_labelled]]
        parts_t += [rows.y[on_labelled], rows.f[on_labelled]]
        parts_w += [np.full(int(on_labelled.sum()), 1.0 / n), np.full(int(on_labelled.sum()), -lam / n)]
    return fit_logistic(np.vstack(parts_x), np.concatenate(parts_t), np.concatenate(parts_w))


def _item_gradients(rows: _Rows, beta: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per item (of the rows in `mask`), the summed log-likelihood gradient (t − σ(x·β))·x."""
    per_row = (targets - sigmoid(rows.x @ beta))[:, None] * rows.x
    out = np.zeros((len(rows.labelled), rows.x.shape[1]))
    np.add.at(out, rows.item[mask], per_row[mask])
    return out


def _hessian(rows: _Rows, beta: np.ndarray, lam: float) -> np.ndarray:
    """λ·H_N + (1 − λ)·H_n: the per-item Fisher information of the calibrated loss (targets do not enter it)."""
    p = sigmoid(rows.x @ beta)
    weight = np.full(len(p), lam / len(rows.labelled))
    n = int(rows.labelled.sum())
    if n:
        weight = weight + rows.labelled[rows.item] * (1.0 - lam) / n
    result: np.ndarray = (rows.x * (weight * p * (1.0 - p))[:, None]).T @ rows.x
    return result


def _tuned_lambda(rows: _Rows, beta: np.ndarray) -> float:
    """PPI++'s λ̂ = Tr(H⁻¹(C_Yf + C_fY)H⁻¹) / (2·Tr(H⁻¹ C_ff H⁻¹)), clipped to [0, 1]; 1 with under 2 labels.

    The covariances are read off the labelled items, C_ff too, for the reason `_calibration._tuned_lambda` gives;
    with two models this is the win rate's λ̂ exactly.
    """
    labelled = rows.labelled
    if labelled.sum() < 2:
        return 1.0
    g_f = _item_gradients(rows, beta, rows.f, labelled[rows.item])
    g_y = _item_gradients(rows, beta, np.nan_to_num(rows.y), labelled[rows.item])[labelled]
    inverse = np.linalg.pinv(_hessian(rows, beta, 1.0))
    joint = np.atleast_2d(np.cov(np.hstack([g_y, g_f[labelled]]), rowvar=False, ddof=1))
    k = g_y.shape[1]
    c_yf, c_ff = joint[:k, k:], joint[k:, k:]
    denominator = 2.0 * float(np.trace(inverse @ c_ff @ inverse))
    if denominator <= 0.0:
        return 0.0
    return float(np.clip(np.trace(inverse @ (c_yf + c_yf.T) @ inverse) / denominator, 0.0, 1.0))


def _covariance(rows: _Rows, beta: np.ndarray, lam: float, population: str) -> np.ndarray:
    """The sandwich H⁻¹·V·H⁻¹ of β at λ (see the module docstring); NaN with under 2 labelled items."""
    labelled = rows.labelled
    n, size, k = int(labelled.sum()), len(labelled), rows.x.shape[1]
    if n < 2:
        return np.full((k, k), np.nan)
    on_labelled = labelled[rows.item]
    g_y = _item_gradients(rows, beta, np.nan_to_num(rows.y), on_labelled)[labelled]
    g_f = _item_gradients(rows, beta, rows.f, on_labelled)[labelled]
    middle = (1.0 - n / size) * np.atleast_2d(np.cov(g_y - lam * g_f, rowvar=False, ddof=1)) / n
    if population == "source":
        middle = middle + np.atleast_2d(np.cov(g_y, rowvar=False, ddof=1)) / size
    inverse = np.linalg.pinv(_hessian(rows, beta, lam))
    result: np.ndarray = inverse @ middle @ inverse
    return result
