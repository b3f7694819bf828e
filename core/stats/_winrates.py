"""Head-to-head tables: per pair of models, what the judge decided and the first model's win rate with a
bootstrap interval; the same per category; and the square matrix of win rates between all models.

A pair is unordered: outcomes listing the two models either way round are pooled, with decisions flipped to the
pair's orientation. The orientation and the order of pairs follow the models' first appearance, so tables are
stable across runs. A model judged against itself says nothing about which model is better, so such outcomes are
left out here (they still count in `judge_behaviour`, where they measure the judge).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._bootstrap import MIN_GAMES_FOR_INTERVAL, bootstrap_interval, item_clusters, item_draws
from ._outcome import Outcome, check_rounds, model_order, score_of_a, share, to_plain

__all__ = ["PairSummary", "WinRateMatrix", "by_category", "pair_summary", "win_rate_matrix"]

_FLIPPED = {"A": "B", "B": "A"}


@dataclass(frozen=True)
class PairSummary:
    """What the judge decided between two models, from the first model's side."""

    model_a: str
    """The first model of the pair (the one that appeared first in the outcomes)."""
    model_b: str
    """The second model of the pair."""
    n: int
    """Outcomes between the two models, whatever their decision."""
    items: int
    """Distinct items among them: the unit the bootstrap resamples."""
    wins: int
    """Decisions for model_a."""
    losses: int
    """Decisions for model_b."""
    ties: int
    """Decisions 'tie'."""
    inconsistent: int
    """Decisions 'inconsistent' (the two orders disagreed)."""
    unparsed: int
    """Decisions 'unparsed' (no verdict could be read from an order)."""
    games: int
    """Outcomes that counted towards win_rate (wins, losses, ties, and inconsistent ones when counted as ties): the
    n of the rate and of its interval."""
    win_rate: float | None
    """(wins + ties / 2) / (wins + losses + ties), inconsistent counted as ties when asked; None with no games."""
    ci_low: float | None
    """Lower end of the 95% percentile bootstrap interval of win_rate (items resampled); None without one."""
    ci_high: float | None
    """Upper end of the 95% percentile bootstrap interval of win_rate; None without one."""
    no_interval: str | None
    """Why a win rate has no interval (too few games, redraws that do not vary, no rounds); None when it has one
    or when there is no win rate."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


@dataclass(frozen=True)
class WinRateMatrix:
    """Every model's win rate against every other, ties counted as half a win."""

    models: tuple[str, ...]
    """The models, by first appearance; rows and columns follow this order."""
    rates: tuple[tuple[float | None, ...], ...]
    """rates[i][j]: model i's win rate against model j; None on the diagonal and where they never played a game."""
    games: tuple[tuple[int, ...], ...]
    """games[i][j]: outcomes between models i and j that counted towards the rate."""

    def rate(self, model: str, opponent: str) -> float | None:
        """The win rate of `model` against `opponent`; KeyError names an unknown model."""
        index = {name: i for i, name in enumerate(self.models)}
        return self.rates[index[model]][index[opponent]]

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def pair_summary(outcomes: Iterable[Outcome], *, inconsistent_as_tie: bool = False, rounds: int = 1000,
                 seed: int = 0) -> list[PairSummary]:
    """One summary per pair of models that met, in first-appearance order.

    The win rate is the first model's share of games with ties as half a win. Unparsed decisions never count;
    inconsistent ones count as ties when `inconsistent_as_tie`, and are otherwise left out of the denominator
    (they stay visible in `inconsistent`). The interval redraws the pair's items `rounds` times; each pair's
    bootstrap starts afresh from `seed`, so a pair's interval depends on its own outcomes only, not on which other
    models are in the run. There is no interval with `rounds=0`, below `MIN_GAMES_FOR_INTERVAL` games, or when the
    redraws do not vary; `no_interval` says which.
    """
    check_rounds(rounds)
    outcomes = list(outcomes)
    return _summaries(outcomes, model_order(outcomes), inconsistent_as_tie=inconsistent_as_tie, rounds=rounds,
                      seed=seed)


def by_category(outcomes: Iterable[Outcome], *, inconsistent_as_tie: bool = False, rounds: int = 1000,
                seed: int = 0) -> dict[str, list[PairSummary]]:
    """`pair_summary` per category (categories by first appearance); outcomes without a category are left out.

    Pairs keep the orientation they have over all outcomes, so a category's table reads the same way round as the
    overall one.
    """
    check_rounds(rounds)
    outcomes = list(outcomes)
    order = model_order(outcomes)
    categories: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        if outcome.category is not None:
            categories.setdefault(outcome.category, []).append(outcome)
    return {category: _summaries(members, order, inconsistent_as_tie=inconsistent_as_tie, rounds=rounds, seed=seed)
            for category, members in categories.items()}


def win_rate_matrix(outcomes: Iterable[Outcome], *, inconsistent_as_tie: bool = False) -> WinRateMatrix:
    """The win rate of each model against each other, counted as in `pair_summary`; no intervals."""
    outcomes = list(outcomes)
    order = model_order(outcomes)
    size = len(order)
    rates: list[list[float | None]] = [[None] * size for _ in range(size)]
    games = [[0] * size for _ in range(size)]
    for (first, second), members in _pairs(outcomes, order).items():
        scores = [s for s in _scores(members, inconsistent_as_tie) if s is not None]
        i, j = order[first], order[second]
        games[i][j] = games[j][i] = len(scores)
        if scores:
            won = sum(scores)
            rates[i][j] = won / len(scores)
            rates[j][i] = (len(scores) - won) / len(scores)
    return WinRateMatrix(models=tuple(order), rates=tuple(tuple(row) for row in rates),
                         games=tuple(tuple(row) for row in games))


def _pairs(outcomes: Sequence[Outcome], order: dict[str, int]) -> dict[tuple[str, str], list[tuple[Outcome, str]]]:
    """Outcomes per oriented pair, each with its decision seen from the pair's first model; pairs in table order."""
    pairs: dict[tuple[str, str], list[tuple[Outcome, str]]] = {}
    for outcome in outcomes:
        if outcome.model_a == outcome.model_b:
            continue
        if order[outcome.model_a] < order[outcome.model_b]:
            pairs.setdefault((outcome.model_a, outcome.model_b), []).append((outcome, outcome.decision))
        else:
            decision = _FLIPPED.get(outcome.decision, outcome.decision)
            pairs.setdefault((outcome.model_b, outcome.model_a), []).append((outcome, decision))
    return dict(sorted(pairs.items(), key=lambda entry: (order[entry[0][0]], order[entry[0][1]])))


def _scores(members: Sequence[tuple[Outcome, str]], inconsistent_as_tie: bool) -> list[float | None]:
    return [score_of_a(decision, inconsistent_as_tie=inconsistent_as_tie) for _, decision in members]


def _summaries(outcomes: Sequence[Outcome], order: dict[str, int], *, inconsistent_as_tie: bool, rounds: int,
               seed: int) -> list[PairSummary]:
    return [_summarise(pair, members, inconsistent_as_tie=inconsistent_as_tie, rounds=rounds, seed=seed)
            for pair, members in _pairs(outcomes, order).items()]


def _summarise(pair: tuple[str, str], members: Sequence[tuple[Outcome, str]], *, inconsistent_as_tie: bool,
               rounds: int, seed: int) -> PairSummary:
    decisions = [decision for _, decision in members]
    scores = _scores(members, inconsistent_as_tie)
    counted = [s for s in scores if s is not None]
    win_rate = share(sum(counted), len(counted))

    cluster, n_items = item_clusters([outcome.item_id for outcome, _ in members])
    ci_low = ci_high = no_interval = None
    if win_rate is not None:
        won_per_item = np.bincount(cluster, weights=[s or 0.0 for s in scores], minlength=n_items)
        games_per_item = np.bincount(cluster, weights=[s is not None for s in scores], minlength=n_items)
        redrawn: list[float] = []
        # Below the minimum the interval is refused anyway: skip the redraws.
        for draws in item_draws(seed, n_items, rounds if len(counted) >= MIN_GAMES_FOR_INTERVAL else 0):
            games = float(draws @ games_per_item)
            if games > 0:
                redrawn.append(float(draws @ won_per_item) / games)
        interval = bootstrap_interval(redrawn, games=len(counted), rounds=rounds)
        ci_low, ci_high, no_interval = interval.low, interval.high, interval.missing

    return PairSummary(
        model_a=pair[0], model_b=pair[1], n=len(members), items=n_items,
        wins=decisions.count("A"), losses=decisions.count("B"), ties=decisions.count("tie"),
        inconsistent=decisions.count("inconsistent"), unparsed=decisions.count("unparsed"), games=len(counted),
        win_rate=win_rate, ci_low=ci_low, ci_high=ci_high, no_interval=no_interval,
    )
