"""Bradley–Terry ratings on the Elo scale, fitted by maximum likelihood, with item-bootstrap intervals.

Model i beats model j with probability s_i / (s_i + s_j). Every counted outcome is a game; a tie is worth half a
win to each side (so it is two half-games, the usual reading for judges that may say "tie"); unparsed outcomes,
self-pairs and (unless `inconsistent_as_tie`) inconsistent outcomes are left out. The log-likelihood is concave in
the log-strengths, and is maximised by Newton's method with a backtracking line search until no log-strength
moves by more than 1e-10.

The maximum is finite exactly when the "beat at least partly" graph is strongly connected (Zermelo 1929, Ford
1957): a model that won, or lost, all its games, or a group of models that never met the rest, would run off to
infinity. Only then, and only in that fit, 0.01 pseudo-wins are added each way between every two rated models:
a tiny symmetric prior that keeps every rating finite (an undefeated model ends about 400·log10(wins / 0.01)
above its opponent instead of infinitely far) and otherwise barely moves the fit. Data that already determines a
finite fit is fitted untouched, so e.g. two models give exactly the closed form 400·log10((W + T/2) / (L + T/2)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from ._bootstrap import BootstrapInterval, bootstrap_interval, item_clusters, item_draws
from ._outcome import Outcome, check_rounds, model_order, score_of_a, to_plain

__all__ = ["PRIOR_WINS", "ModelRating", "Ratings", "UnratedModel", "bradley_terry", "strongly_connected"]

PRIOR_WINS = 0.01
"""Pseudo-wins added each way between every two models, only in fits that would otherwise diverge."""
ELO_BASE = 1000.0
"""The anchor model's rating."""
ELO_SCALE = 400.0 / math.log(10.0)
"""Elo points per unit of log-strength: 400 points is a factor of 10 in strength."""
ANCHOR_NO_INTERVAL = "the anchor: 1000 by definition"
"""The anchor's reason for having no interval: every redraw is measured from it."""
_TOLERANCE = 1e-10
_MAX_ITERATIONS = 200


@dataclass(frozen=True)
class ModelRating:
    """One model's place on the rating scale."""

    model: str
    """The model."""
    rating: float
    """Bradley–Terry rating on the Elo scale: 1000 for the anchor, +400 for ten times the anchor's strength."""
    ci_low: float | None
    """Lower end of the 95% percentile bootstrap interval (items resampled, refitted each round); None without one."""
    ci_high: float | None
    """Upper end of the 95% interval; None without one."""
    games: int
    """Outcomes the model played that counted in the fit (a tie counts as one game): the n of its rating."""
    no_interval: str | None
    """Why there is no interval: the anchor (1000 by definition), too few games, redraws that do not vary, or no
    rounds; None when there is one."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


@dataclass(frozen=True)
class UnratedModel:
    """A model of the outcomes that played no counted game, and why, so a report can list it instead of dropping it."""

    model: str
    """The model."""
    n: int
    """Its outcomes against other models."""
    inconsistent: int
    """Of those, decisions 'inconsistent' (left out unless counted as ties)."""
    unparsed: int
    """Of those, decisions 'unparsed'."""
    reason: str
    """The reason in words, e.g. 'no decisive games — all 40 inconsistent'."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


@dataclass(frozen=True)
class Ratings:
    """Bradley–Terry ratings of every model that played a counted game, best first."""

    models: tuple[ModelRating, ...]
    """The ratings, highest first (equal ratings by first appearance)."""
    unrated: tuple[UnratedModel, ...]
    """Models of the outcomes that played no counted game, by first appearance, each with the reason."""
    anchor: str | None
    """The model fixed at 1000: the baseline when given, else the first model to appear; None when empty."""
    prior_wins: float
    """Pseudo-wins added each way per pair of models in the point fit: 0 when the data alone gave finite ratings."""
    rounds: int
    """Bootstrap rounds drawn."""
    seed: int
    """Seed of the bootstrap."""

    def rating(self, model: str) -> ModelRating:
        """The rating of one model; KeyError names a model that was not rated."""
        for entry in self.models:
            if entry.model == model:
                return entry
        raise KeyError(model)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def bradley_terry(outcomes: Iterable[Outcome], *, baseline: str | None = None, inconsistent_as_tie: bool = False,
                  rounds: int = 1000, seed: int = 0) -> Ratings:
    """Fit Bradley–Terry ratings, anchored at `baseline` (default: the first model to appear) = 1000.

    Only models with at least one counted game are rated; the others are listed in `unrated` with the reason.
    Intervals come from `rounds` item redraws, each refitted from scratch; in a round where a model or the anchor
    drew no games, that model (or the whole round) is left out of the model's interval. The anchor has no interval
    (it is 1000 by definition), nor has a model with fewer than `MIN_GAMES_FOR_INTERVAL` games or whose redraws do
    not vary; `no_interval` says why. Raises InputError when `baseline` is not among the rated models.
    """
    check_rounds(rounds)
    outcomes = list(outcomes)
    games = _games(outcomes, inconsistent_as_tie)
    order = model_order(outcome for outcome, _ in games)
    models = list(order)
    unrated = _unrated(outcomes, order)
    if not models:
        return Ratings(models=(), unrated=unrated, anchor=None, prior_wins=0.0, rounds=rounds, seed=seed)
    if baseline is None:
        baseline = models[0]
    elif baseline not in order:
        raise InputError(f"the baseline {baseline!r} played no counted game; rated models: {', '.join(models)}",
                         field="baseline")
    anchor = order[baseline]

    first = np.array([order[outcome.model_a] for outcome, _ in games], dtype=np.intp)
    second = np.array([order[outcome.model_b] for outcome, _ in games], dtype=np.intp)
    score = np.array([s for _, s in games], dtype=float)
    size = len(models)

    def wins_and_games(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wins = np.bincount(first * size + second, weights=weights * score, minlength=size * size)
        wins += np.bincount(second * size + first, weights=weights * (1.0 - score), minlength=size * size)
        played = np.bincount(first, weights=weights, minlength=size) + np.bincount(second, weights=weights,
                                                                                     minlength=size)
        return wins.reshape(size, size), played

    wins, played = wins_and_games(np.ones(len(games)))
    theta, prior = fit_log_strengths(wins)
    point = ELO_BASE + ELO_SCALE * (theta - theta[anchor])

    cluster, n_items = item_clusters([outcome.item_id for outcome, _ in games])
    redrawn = np.full((rounds, size), np.nan)
    for round_index, draws in enumerate(item_draws(seed, n_items, rounds)):
        round_wins, round_played = wins_and_games(draws[cluster].astype(float))
        present = np.flatnonzero(round_played > 0)
        if round_played[anchor] == 0:
            continue
        round_theta, _ = fit_log_strengths(round_wins[np.ix_(present, present)])
        anchor_theta = round_theta[np.searchsorted(present, anchor)]
        redrawn[round_index, present] = ELO_BASE + ELO_SCALE * (round_theta - anchor_theta)

    rated = []
    for index, model in enumerate(models):
        model_games = int(round(played[index]))
        interval = (BootstrapInterval(None, None, ANCHOR_NO_INTERVAL) if index == anchor
                    else bootstrap_interval(redrawn[:, index], games=model_games, rounds=rounds))
        rated.append(ModelRating(model=model, rating=float(point[index]), ci_low=interval.low, ci_high=interval.high,
                                 games=model_games, no_interval=interval.missing))
    rated.sort(key=lambda entry: (-entry.rating, order[entry.model]))
    return Ratings(models=tuple(rated), unrated=unrated, anchor=baseline, prior_wins=prior, rounds=rounds, seed=seed)


def fit_log_strengths(wins: np.ndarray) -> tuple[np.ndarray, float]:
    """Maximum-likelihood log-strengths (the first fixed at 0) from wins[i, j] = (half-)wins of i over j.

    Returns the log-strengths and the pseudo-wins that had to be added each way per pair to keep them finite
    (0 when the data is strongly connected).
    """
    wins = np.array(wins, dtype=float)
    np.fill_diagonal(wins, 0.0)
    size = len(wins)
    if size <= 1:
        return np.zeros(size), 0.0
    prior = 0.0
    if not strongly_connected(wins > 0):
        prior = PRIOR_WINS
        wins = wins + prior * (1.0 - np.eye(size))
    return _newton(wins), prior


def _games(outcomes: Sequence[Outcome], inconsistent_as_tie: bool) -> list[tuple[Outcome, float]]:
    """The outcomes that count as games, each with what it is worth to its model_a."""
    games = []
    for outcome in outcomes:
        score = score_of_a(outcome.decision, inconsistent_as_tie=inconsistent_as_tie)
        if score is not None and outcome.model_a != outcome.model_b:
            games.append((outcome, score))
    return games


def _unrated(outcomes: Sequence[Outcome], rated: dict[str, int]) -> tuple[UnratedModel, ...]:
    """Every model of `outcomes` missing from `rated`, with what its outcomes were."""
    counts: dict[str, list[int]] = {model: [0, 0, 0] for model in model_order(outcomes) if model not in rated}
    for outcome in outcomes:
        if outcome.model_a == outcome.model_b:
            continue
        for model in (outcome.model_a, outcome.model_b):
            if model in counts:
                counts[model][0] += 1
                counts[model][1] += outcome.decision == "inconsistent"
                counts[model][2] += outcome.decision == "unparsed"
    return tuple(UnratedModel(model=model, n=n, inconsistent=inconsistent, unparsed=unparsed,
                              reason=_unrated_reason(n, inconsistent, unparsed))
                 for model, (n, inconsistent, unparsed) in counts.items())


def _unrated_reason(n: int, inconsistent: int, unparsed: int) -> str:
    if n == 0:
        return "judged only against itself"
    for count, what in ((inconsistent, "inconsistent"), (unparsed, "unparsed")):
        if count == n:
            return f"no decisive games — all {n} {what}" if n > 1 else f"no decisive games — its one pair {what}"
    return f"no decisive games — {inconsistent} inconsistent and {unparsed} unparsed of {n}"


def strongly_connected(beat: np.ndarray) -> bool:
    """Whether every model can be reached from the first along 'beat' edges, and the first from every model."""
    return _reaches_all(beat) and _reaches_all(beat.T)


def _reaches_all(edges: np.ndarray) -> bool:
    seen = np.zeros(len(edges), dtype=bool)
    seen[0] = True
    frontier = seen.copy()
    while frontier.any():
        reached = edges[frontier].any(axis=0) & ~seen
        seen |= reached
        frontier = reached
    return bool(seen.all())


def _log_likelihood(wins: np.ndarray, theta: np.ndarray) -> float:
    # log sigmoid(d) = -log(1 + exp(-d)), computed without overflow.
    return float(-(wins * np.logaddexp(0.0, theta[None, :] - theta[:, None])).sum())


def _newton(wins: np.ndarray) -> np.ndarray:
    """Newton ascent on the concave log-likelihood, with theta[0] held at 0 to remove the free offset."""
    games = wins + wins.T
    won = wins.sum(axis=1)
    theta = np.zeros(len(wins))
    likelihood = _log_likelihood(wins, theta)
    for _ in range(_MAX_ITERATIONS):
        difference = theta[:, None] - theta[None, :]
        # sigmoid via tanh: no overflow however far apart two strengths are.
        p_win = 0.5 * (1.0 + np.tanh(difference / 2.0))
        gradient = won - (games * p_win).sum(axis=1)
        weight = games * p_win * p_win.T
        hessian = weight - np.diag(weight.sum(axis=1))
        try:
            step = np.linalg.solve(hessian[1:, 1:], -gradient[1:])
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hessian[1:, 1:], -gradient[1:], rcond=None)[0]
        size = 1.0
        while True:
            candidate = theta.copy()
            candidate[1:] += size * step
            candidate_likelihood = _log_likelihood(wins, candidate)
            # A little slack: at the optimum a tiny step can look worse by rounding alone.
            if candidate_likelihood >= likelihood - 1e-12 * (1.0 + abs(likelihood)) or size < 1e-12:
                break
            size /= 2.0
        moved = float(np.max(np.abs(candidate - theta)))
        theta, likelihood = candidate, candidate_likelihood
        if moved < _TOLERANCE:
            break
    return theta
