"""AlpacaEval's length-controlled win rate, in the form of its GLM that needs nothing downloaded.

AlpacaEval 2 (glm_winrate.py) fits, per model, a logistic regression of the soft preference p (the probability
that the model's output beats the baseline's) and reads the win rate off it with the length difference set to
zero. It names three formulas:

- `length_controlled_v1` (the published LC figure):
  `np.tanh(std_delta_len) + instruction_difficulty + not_gamed_baseline.astype(float) - 1`, regularised towards
  two "gamed" baselines (a verbose and a concise gpt4_1106_preview) with weight 0.2;
- `length_controlled_noreg`: the same formula without that regularisation;
- `length_controlled_minimal`: `np.tanh(std_delta_len) + not_gamed_baseline.astype(float) - 1`.

`instruction_difficulty` is a per-instruction table, and the gamed baselines' annotations a data set, both
downloaded from the Hugging Face hub at run time (`instruction_difficulty.csv`, `df_gamed.csv`); they cannot be
fetched here, and a difficulty per instruction cannot be re-estimated from one model's annotations (one
observation per instruction). So this is `length_controlled_minimal`, AlpacaEval's own formula without that term:

    logit P(model beats baseline on item i) = θ · tanh(Δ_i / sd(Δ)) + β,    Δ_i = len(baseline_i) − len(model_i)

(`not_gamed_baseline` is 1 for every real annotation, so its coefficient β is the intercept; lengths are
characters, as pandas' `str.len` counts them; sd has ddof 1). The length-controlled win rate is the prediction at
Δ = 0, the same for every item: 100 · σ(β). A model whose longer outputs the annotator rewarded gets θ < 0 and an
LC win rate below its raw one.

One difference in fitting: AlpacaEval fits with liblinear's L1 penalty, its strength C picked by 5-fold
cross-validation over 10 values; here the maximum of the unpenalised likelihood is used. With two coefficients
and hundreds of items the cross-validation settles on a weak penalty (C in the hundreds or more), whose fit
differs from the unpenalised one by about 0.001 points on the two real models the tests check.

The standard error is not AlpacaEval's `lc_standard_error` (the spread of the per-item predictions, which in this
formula is 0 by construction: every item gets the same prediction): it is the item-bootstrap standard error of the
LC win rate, the whole fit (normalisation included) redone on each redraw, with the redraws' standard deviation
(ddof 1) as the error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._bootstrap import MIN_GAMES_FOR_INTERVAL, item_draws, too_few_games
from ._logistic import fit_logistic, sigmoid

__all__ = ["LengthControlled", "length_controlled_win_rate"]


@dataclass(frozen=True)
class LengthControlled:
    """The length-controlled win rate of one model against the baseline, with its fitted length effect."""

    win_rate: float
    """100 · σ(β): the predicted win rate with the outputs' length difference set to zero."""
    standard_error: float | None
    """Item-bootstrap standard error of win_rate; None without one (see `no_standard_error`)."""
    length_coefficient: float
    """θ, the weight of tanh(standardised baseline-minus-model length): below 0 when longer outputs won more."""
    no_standard_error: str | None
    """Why there is no standard error (bootstrap off, too few items, redraws that do not vary); None with one."""


def length_controlled_win_rate(preferences: np.ndarray, baseline_lengths: np.ndarray, model_lengths: np.ndarray, *,
                               rounds: int, seed: int) -> LengthControlled:
    """Fit the minimal GLM to soft preferences p in [0, 1] (1: the model's output wins) and the outputs' lengths.

    The arrays hold one entry per annotation that counted (a valid preference). The standard error comes from
    `rounds` item redraws seeded with `seed`.
    """
    p = np.asarray(preferences, dtype=float)
    delta = np.asarray(baseline_lengths, dtype=float) - np.asarray(model_lengths, dtype=float)
    theta, beta = _fit(p, delta, np.ones(len(p)))
    point = 100.0 * float(sigmoid(beta))
    if rounds <= 0:
        return LengthControlled(point, None, theta, "no standard error: the bootstrap was off (0 rounds)")
    if len(p) < MIN_GAMES_FOR_INTERVAL:
        return LengthControlled(point, None, theta, too_few_games(len(p), "items"))
    redrawn = [100.0 * float(sigmoid(_fit(p, delta, draws.astype(float))[1]))
               for draws in item_draws(seed, len(p), rounds)]
    spread = float(np.std(redrawn, ddof=1)) if len(redrawn) > 1 else 0.0
    if not spread > 0.0:
        return LengthControlled(point, None, theta, f"no standard error: the redraws do not vary (n = {len(p)})")
    return LengthControlled(point, spread, theta, None)


def _fit(p: np.ndarray, delta: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """(θ, β) fitted to the items drawn `counts` times each, the length difference standardised over those draws."""
    total = counts.sum()
    mean = float(counts @ delta) / total
    sd = float(np.sqrt(counts @ (delta - mean) ** 2 / (total - 1.0))) if total > 1 else 0.0
    if sd == 0.0:
        # Every drawn pair differs in length by the same amount: no length effect can be told from the intercept.
        (beta,) = fit_logistic(np.ones((len(p), 1)), p, counts)
        return 0.0, float(beta)
    features = np.column_stack([np.tanh(delta / sd), np.ones(len(p))])
    theta, beta = fit_logistic(features, p, counts)
    return float(theta), float(beta)
