"""Calibrated win rates: the judge's verdicts on all N items corrected by human labels on a random n of them, by
prediction-powered inference (Angelopoulos, Bates, Fannjiang, Jordan, Zrnic, Science 2023) with PPI++'s power
tuning (Angelopoulos, Duchi, Zrnic, "PPI++: Efficient prediction-powered inference", 2023).

The target is θ, the humans' win rate of model A: Y = 1 when the human says A, 0 for B, ½ for a tie. The judge's
score f on an item is its prediction of Y (`judge_score`): A → 1, B → 0, tie → ½, inconsistent (the two orders
disagree) → ½, or, when the option probabilities of every order are given, the mean over orders of
P(A) + ½·P(tie). Any f in [0, 1] keeps the interval valid — f only decides how narrow it is — so mapping an
inconsistent pair to ½ is a prediction, not a claim that it is a tie. An unparsed pair has no prediction: it is
left out of N and, if labelled, of the labelled set too. The labelled sample was drawn uniformly and without
looking at the judge, so the labelled items among the parsed ones are still a uniform sample of the parsed ones,
and every interval here is valid for the human win rate over the parsed items. That equals the rate over all
items when the judge's failures to answer are unrelated to which model the humans prefer (missing at random);
`unparsed` counts the items left out so a report can say so.

The estimator (PPI++'s, with the N items including the n labelled ones):

    θ̂_λ = mean_n(Y) + λ·(mean_N(f) − mean_n(f))

Two targets (`population`):
- "items" (default): the human win rate over the N judged items, what the analysts would have found had they
  labelled every item. The labelled set is a simple random sample of those items, so the error is
  mean_n(r) − mean_N(r) with r = Y − λf, of variance (1 − n/N)·S²(r)/n (the survey sampler's difference
  estimator, exact for sampling without replacement). With every item labelled the estimate is exact.
- "source": the win rate in the population the N items were drawn from (the papers' E[Y]). Then the variance
  gains the N items' own sampling noise, S²(Y)/N. For every λ this equals the papers' sum of two
  independent parts, unlabelled and labelled items: λ²·((N − n)/N)²·Var(f)/(N − n) + Var(Y − λ·(1 − n/N)·f)/n.

λ minimises S²(Y − λf) in both: λ̂ = Cov_n(Y, f) / Var_n(f), PPI++'s formula for a mean when the N items hold the
n labelled ones, with the judge's variance read off the labelled items (see `_tuned_lambda` for why), clipped to
[0, 1] as PPI++ does (λ = 0 is the labels alone, λ = 1 plain PPI). The interval is
estimate ± t·standard error, clipped to [0, 1] (clipping to where θ must lie never lowers coverage), with Student's
t quantile on n − 1 degrees of freedom, n − 2 when λ was tuned on the same labels: the regression estimator's
small-sample allowance, which on PandaLM's test set lifts the coverage of a 60%-accurate judge at n = 50 from 94.0%
to 94.7% over a few thousand draws (t is 1.96 for large n). Like any CLT interval
it needs the residuals Y − λf to vary on more than a handful of labelled items: a judge that disagrees with the
humans on only one or two of them (97% accurate, n = 50) gets an interval that covers about 90% of the time, and
one that agrees on every labelled item gets the reason instead of an interval.

Side by side, with the same items and the same target:
- labels-only: the mean of the n labels with the CLT interval (the same variance with λ = 0, so the calibrated
  estimate at λ = 0 is exactly this one). Not Wilson: Y takes the value ½ for ties, and the CLT form is the one
  PPI's gain is measured against.
- judge-only: the mean of the N scores with the CLT interval over items, the judge's own noise as every other
  interval of core/stats describes it; it knows nothing of the judge's bias, which is why it can miss.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from .._errors import InputError
from .._records import winner_probabilities
from ._bootstrap import CONFIDENCE, MIN_GAMES_FOR_INTERVAL, too_few_games
from ._outcome import DECISIONS, Outcome, score_of_a, to_plain

__all__ = ["POPULATIONS", "CalibratedWinRate", "Population", "WinRateEstimate", "calibrated_pair_win_rate",
           "calibrated_win_rate", "critical_value", "judge_score"]

Population = Literal["items", "source"]
POPULATIONS: tuple[str, ...] = ("items", "source")
"""What an interval is about: the N judged items themselves, or the source they were drawn from."""
Z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2.0)
"""The normal quantile of a two-sided 95% interval (1.95996...)."""
_ROUNDING = 1e-12
"""Standard errors below this are rounding noise on a win rate in [0, 1], read as 0."""
_JUDGE_SCORES = {"A": 1.0, "B": 0.0, "tie": 0.5, "inconsistent": 0.5}


@dataclass(frozen=True)
class WinRateEstimate:
    """One estimator's win rate of model A with its 95% interval, or the reason it has none."""

    estimator: str
    """'calibrated' (PPI++), 'labels-only' (the n labels) or 'judge-only' (the judge's N scores)."""
    estimate: float | None
    """The estimated win rate of model A in [0, 1]; None when the estimator has no data (no labels)."""
    ci_low: float | None
    """Lower end of the 95% interval (estimate − t·std_error), clipped to [0, 1]; None without one."""
    ci_high: float | None
    """Upper end of the 95% interval (estimate + t·std_error), clipped to [0, 1]; None without one."""
    std_error: float | None
    """The estimate's standard error; None when it cannot be computed."""
    n: int
    """Human labels used (0 for judge-only)."""
    N: int
    """Items with a judge score: the population of 'items' (labels-only uses it for the finite-population
    correction only)."""
    lam: float | None
    """The weight λ of the judge's scores: tuned (or given) for calibrated, 0 for labels-only, None for judge-only."""
    effective_n: float | None
    """Calibrated only: the labels the labels-only interval would need for the same variance, n × labels-only
    variance / calibrated variance; None elsewhere or when either variance is 0 or missing."""
    sample_size_gain: float | None
    """Calibrated only: labels-only variance / calibrated variance (effective_n / n); None as effective_n."""
    no_interval: str | None
    """Why there is no interval (too few labels, values that do not vary); None when there is one."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


@dataclass(frozen=True)
class CalibratedWinRate:
    """The three estimates of one pair's human win rate, side by side, over the same items."""

    calibrated: WinRateEstimate
    """PPI++: the judge's scores on all N items corrected by the n labels."""
    labels_only: WinRateEstimate
    """The n labels alone."""
    judge_only: WinRateEstimate
    """The judge's N scores alone."""
    n: int
    """Labelled items among the N (unparsed ones left out)."""
    N: int
    """Items with a judge score."""
    unparsed: int
    """Items left out because the judge gave no score (unparsed), labelled or not."""
    unparsed_labelled: int
    """Of those, items with a human label (their labels are not used)."""
    correlation: float | None
    """Pearson correlation of judge score and label on the labelled items: how well the judge tracks the humans
    (the calibrated interval is narrower the larger its square); None with under 2 labels or no variation."""
    population: str
    """'items' (the human win rate over the N items) or 'source' (over the population they were drawn from)."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def judge_score(decision: str, *, probabilities: Sequence[Mapping[str, float] | None] | None = None) -> float | None:
    """The judge's prediction of Y (model A's score) for one pair; None when unparsed.

    A → 1, B → 0, tie → ½, inconsistent → ½. When `probabilities` holds each judged order's option probabilities
    (caller's labels, five-level keys summed into their winner), the score is instead the mean over the orders of
    P(A) + ½·P(tie), normalised over A, B and tie: a judge's graded confidence predicts Y better than its argmax.
    """
    if decision not in DECISIONS:
        raise InputError(f"decision {decision!r} is not one of {sorted(DECISIONS)}", field="decision")
    if decision == "unparsed":
        return None
    if probabilities and all(order is not None for order in probabilities):
        scores = []
        for order in probabilities:
            by_winner = winner_probabilities(order or {})
            total = sum(by_winner.get(label, 0.0) for label in ("A", "B", "tie"))
            if not total > 0.0:
                raise InputError("option probabilities of A, B and tie sum to 0", field="probabilities")
            scores.append((by_winner.get("A", 0.0) + 0.5 * by_winner.get("tie", 0.0)) / total)
        return float(np.mean(scores))
    return _JUDGE_SCORES[decision]


def calibrated_win_rate(predictions: Sequence[float | None], labels: Sequence[float | None], *,
                        lam: float | None = None, population: Population = "items") -> CalibratedWinRate:
    """Calibrated, labels-only and judge-only win rates of model A from aligned per-item lists.

    `predictions[i]` is the judge's score of item i in [0, 1] (None: unparsed, left out); `labels[i]` the human's
    Y in [0, 1] (None: not labelled). The labelled items must be a uniform random sample of the items, drawn
    without regard to the judge. `lam` fixes λ instead of tuning it. Below `MIN_GAMES_FOR_INTERVAL` labels the
    calibrated and labels-only estimates carry the reason instead of an interval, as every figure of core/stats.
    """
    f_all = _scores(predictions, "predictions")
    y_all = _scores(labels, "labels")
    if len(f_all) != len(y_all):
        raise InputError(f"{len(f_all)} predictions but {len(y_all)} labels: one of each per item", field="labels")
    if population not in POPULATIONS:
        raise InputError(f"population {population!r} is not one of {', '.join(POPULATIONS)}", field="population")
    if lam is not None and not math.isfinite(lam):
        raise InputError(f"λ must be a finite number (got {lam})", field="lam")
    parsed = ~np.isnan(f_all)
    labelled = ~np.isnan(y_all)
    f = f_all[parsed]
    y = y_all[parsed & labelled]
    f_labelled = f_all[parsed & labelled]
    n, size = len(y), len(f)
    correlation = _correlation(y, f_labelled)
    judge = _judge_only(f)
    labels_only = _ppi("labels-only", y, f_labelled, f, 0.0, population)
    tuned = _tuned_lambda(y, f_labelled) if lam is None else float(lam)
    calibrated = _ppi("calibrated", y, f_labelled, f, tuned, population, fitted=1 if lam is None else 0)
    if calibrated.std_error and labels_only.std_error:
        gain = (labels_only.std_error / calibrated.std_error) ** 2
        calibrated = replace(calibrated, effective_n=gain * n, sample_size_gain=gain)
    return CalibratedWinRate(calibrated=calibrated, labels_only=labels_only, judge_only=judge, n=n, N=size,
                             unparsed=int((~parsed).sum()), unparsed_labelled=int((~parsed & labelled).sum()),
                             correlation=correlation, population=population)


def calibrated_pair_win_rate(outcomes: Iterable[Outcome], *, model_a: str | None = None, model_b: str | None = None,
                             soft_scores: Mapping[str, float] | None = None, lam: float | None = None,
                             population: Population = "items") -> CalibratedWinRate:
    """`calibrated_win_rate` of `model_a` over `model_b` from outcomes: the judge's decision is the prediction, the
    outcome's `human` label the label.

    The pair defaults to the first outcome's models; outcomes listing them the other way round are flipped, other
    pairs left out. `soft_scores` may give, per item id, the judge's score for the outcome's own model_a (e.g.
    `judge_score` with probabilities), used instead of its decision. The item is the unit sampled for labelling,
    so a pair may meet once per item (InputError otherwise).
    """
    outcomes = list(outcomes)
    if model_a is None or model_b is None:
        if not outcomes:
            raise InputError("no outcomes to estimate a win rate from", field="outcomes")
        model_a, model_b = model_a or outcomes[0].model_a, model_b or outcomes[0].model_b
    if model_a == model_b:
        raise InputError(f"a model against itself has no win rate ({model_a!r})", field="model_b")
    predictions: list[float | None] = []
    labels: list[float | None] = []
    seen: set[str] = set()
    for outcome in outcomes:
        if {outcome.model_a, outcome.model_b} != {model_a, model_b}:
            continue
        if outcome.item_id in seen:
            raise InputError(f"{model_a!r} and {model_b!r} meet more than once on this item; the labelled sample is "
                             "drawn by item, so each item may hold one outcome of the pair", item=outcome.item_id)
        seen.add(outcome.item_id)
        flipped = outcome.model_a != model_a
        score = (soft_scores[outcome.item_id] if soft_scores is not None and outcome.item_id in soft_scores
                 else judge_score(outcome.decision))
        human = None if outcome.human is None else score_of_a(outcome.human, inconsistent_as_tie=False)
        predictions.append(None if score is None else (1.0 - score if flipped else score))
        labels.append(None if human is None else (1.0 - human if flipped else human))
    return calibrated_win_rate(predictions, labels, lam=lam, population=population)


def _scores(values: Sequence[float | None], field: str) -> np.ndarray:
    """The values as floats, None as NaN; InputError naming the first item outside [0, 1]."""
    try:
        # numpy reads None as NaN in a float array: one pass in C, so a simulation can call this thousands of times.
        array = np.array(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InputError(f"every value must be a number in [0, 1] or None ({exc})", field=field) from exc
    bad = np.flatnonzero(~np.isnan(array) & ~((array >= 0.0) & (array <= 1.0)))
    if bad.size:
        raise InputError(f"{array[bad[0]]} is not in [0, 1]", item=f"#{bad[0]}", field=field)
    return array


def _tuned_lambda(y: np.ndarray, f_labelled: np.ndarray) -> float:
    """λ̂ = Cov_n(Y, f) / Var_n(f), clipped to [0, 1]: 1 (plain PPI) when it cannot be estimated (under 2 labels).

    PPI++ divides by Var_N(f) over all items instead; both tend to the same λ, but the pooled form, measured on
    PandaLM's test set, leaves λ̂ below 1 for a judge that never errs (Var_n(Y) ≠ Var_N(Y)) and its interval then
    covered 43% of the time (82% for a 97%-accurate judge at n = 50). Over the labelled items alone, λ̂ is the
    regression coefficient of Y on f, which makes S²_n(Y − λf) as small as it can be on the very items whose
    residuals the variance is read from: a perfect judge gets λ = 1 and the exact rate.
    """
    if len(y) < 2:
        return 1.0
    variance = float(np.var(f_labelled, ddof=1))
    if variance <= 0.0:
        return 0.0  # a judge constant on the labelled items says nothing about which items humans prefer
    covariance = float(np.cov(y, f_labelled, ddof=1)[0, 1])
    return float(np.clip(covariance / variance, 0.0, 1.0))


def _ppi(estimator: str, y: np.ndarray, f_labelled: np.ndarray, f: np.ndarray, lam: float,
         population: str, *, fitted: int = 0) -> WinRateEstimate:
    """θ̂_λ and its interval; λ = 0 is the labels-only estimate. `fitted` counts the coefficients estimated from
    the same labels (1 for a tuned λ), each costing the t quantile a degree of freedom."""
    n, size = len(y), len(f)
    if n == 0:
        return WinRateEstimate(estimator, None, None, None, None, 0, size, lam, None, None,
                               too_few_games(0, "labelled items"))
    estimate = float(y.mean() + lam * (f.mean() - f_labelled.mean())) if lam else float(y.mean())
    estimate = min(1.0, max(0.0, estimate))
    if n < 2:
        return WinRateEstimate(estimator, estimate, None, None, None, n, size, lam, None, None,
                               too_few_games(n, "labelled items"))
    residual_variance = float(np.var(y - lam * f_labelled, ddof=1))
    variance = (1.0 - n / size) * residual_variance / n
    if population == "source":
        variance += float(np.var(y, ddof=1)) / size
    error = _error(variance)
    if n < MIN_GAMES_FOR_INTERVAL:
        return WinRateEstimate(estimator, estimate, None, None, error, n, size, lam, None, None,
                               too_few_games(n, "labelled items"))
    if error == 0.0 and not (n == size and population == "items"):
        what = "labels" if lam == 0.0 else "labels' residuals (label − λ·judge score)"
        return WinRateEstimate(estimator, estimate, None, None, error, n, size, lam, None, None,
                               f"no interval: the {what} do not vary (n = {n})")
    # With every item labelled the human win rate over the items is known: a zero-width interval is the truth.
    half = critical_value(n - 1 - fitted) * error
    low, high = max(0.0, estimate - half), min(1.0, estimate + half)
    return WinRateEstimate(estimator, estimate, low, high, error, n, size, lam, None, None, None)


def _judge_only(f: np.ndarray) -> WinRateEstimate:
    """The mean judge score with the CLT interval over items."""
    size = len(f)
    if size == 0:
        return WinRateEstimate("judge-only", None, None, None, None, 0, 0, None, None, None,
                               too_few_games(0, "judged items"))
    estimate = float(f.mean())
    error = _error(float(np.var(f, ddof=1)) / size) if size > 1 else None
    reason = None
    if size < MIN_GAMES_FOR_INTERVAL:
        reason = too_few_games(size, "judged items")
    elif not error:
        reason = f"no interval: the judge's scores do not vary (n = {size})"
    if reason is not None or error is None:
        return WinRateEstimate("judge-only", estimate, None, None, error, 0, size, None, None, None, reason)
    half = critical_value(size - 1) * error
    return WinRateEstimate("judge-only", estimate, max(0.0, estimate - half), min(1.0, estimate + half),
                           error, 0, size, None, None, None, None)


def _error(variance: float) -> float:
    """The standard error of a variance; 0 below rounding (a perfect judge's residuals are 1e-17, not 0)."""
    error = math.sqrt(max(variance, 0.0))
    return 0.0 if error < _ROUNDING else error


def critical_value(df: int) -> float:
    """The two-sided 95% quantile of Student's t with `df` degrees of freedom (the normal's for df ≤ 0).

    The Cornish–Fisher expansion of Abramowitz & Stegun 26.7.5, within 2e-4 of the exact value from df = 8 on
    (2.3060 for 8, 2.0106 for 48, 1.9845 for 98): judgedesk computes intervals from 10 labels up, and needs no
    scipy for it.
    """
    if df <= 0:
        return Z
    z, v = Z, float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4))


def _correlation(y: np.ndarray, f: np.ndarray) -> float | None:
    if len(y) < 2 or np.std(y) == 0.0 or np.std(f) == 0.0:
        return None
    return float(np.corrcoef(y, f)[0, 1])

