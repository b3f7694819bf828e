"""Weighted logistic regression with soft targets, fitted by Newton's method: the model behind AlpacaEval's
length-controlled win rate and Arena-Hard's Bradley–Terry scores.

Both projects fit a logistic model whose target is a probability rather than a 0/1 label (AlpacaEval's soft
preference, Arena-Hard's 0.5 for a tie). AlpacaEval does it by duplicating each row, once labelled 1 with weight
p and once labelled 0 with weight 1 − p; Arena-Hard by a binary cross-entropy on the soft target. Both are the
same log-likelihood, maximised here directly:

    sum_i w_i · [y_i · log σ(x_i·β) + (1 − y_i) · log(1 − σ(x_i·β))]

It is concave in β, so Newton's method with a backtracking line search reaches the unique maximum when there is
one. There is none when the data are separable (a model that never lost): the caller keeps such fits finite
(Arena-Hard's pseudo-battles), and the fitter stops after `MAX_ITERATIONS` whatever happens.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_ITERATIONS", "fit_logistic", "sigmoid"]

MAX_ITERATIONS = 100
"""Newton steps at most; a fit with a finite maximum converges in well under twenty."""
_TOLERANCE = 1e-10


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """The logistic function, through tanh so that no argument overflows."""
    return 0.5 * (1.0 + np.tanh(np.asarray(x, dtype=float) / 2.0))


def fit_logistic(features: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The coefficients β maximising the weighted soft-target log-likelihood above (no intercept, no penalty).

    `features` is (rows, columns), `targets` are probabilities in [0, 1], `weights` non-negative row weights
    (default 1). Stops when no coefficient moves by more than 1e-10, or after `MAX_ITERATIONS` steps.
    """
    x = np.asarray(features, dtype=float)
    y = np.asarray(targets, dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    beta: np.ndarray = np.zeros(x.shape[1])
    if x.shape[1] == 0:
        return beta
    likelihood = _log_likelihood(x, y, w, beta)
    for _ in range(MAX_ITERATIONS):
        p = sigmoid(x @ beta)
        gradient = x.T @ (w * (y - p))
        information = (x * (w * p * (1.0 - p))[:, None]).T @ x
        try:
            step = np.linalg.solve(information, gradient)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(information, gradient, rcond=None)[0]
        size = 1.0
        while True:
            candidate = beta + size * step
            candidate_likelihood = _log_likelihood(x, y, w, candidate)
            # A little slack: at the optimum a tiny step can look worse by rounding alone.
            if candidate_likelihood >= likelihood - 1e-12 * (1.0 + abs(likelihood)) or size < 1e-12:
                break
            size /= 2.0
        moved = float(np.max(np.abs(candidate - beta)))
        beta, likelihood = candidate, candidate_likelihood
        if moved < _TOLERANCE:
            break
    return beta


def _log_likelihood(x: np.ndarray, y: np.ndarray, w: np.ndarray, beta: np.ndarray) -> float:
    # log σ(z) = −log(1 + e^(−z)), log(1 − σ(z)) = −log(1 + e^z): no overflow however large |z| gets.
    z = x @ beta
    return float(-(w * (y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z))).sum())
