"""Arena-Hard's scores: Bradley–Terry by logistic regression over five-level battles, the predicted win rate against
the baseline, bootstrap intervals, and style control.

As Arena-Hard-Auto computes them (show_result.py, utils/math_utils.py):

- every judgement is one battle between model_a and model_b with a five-level verdict; it becomes rows of a
  table, each with model_a's score: A>B 1, A=B 0.5, B>A 0, and a strong verdict (A>>B, B>>A) `strong_weight` rows
  (3 in Arena-Hard), so it weighs three times as much in the fit and in the bootstrap;
- each row is an observation of logit P(a beats b) = β_a − β_b (+ the style terms), a logistic regression with
  the row's score as a soft target (Arena-Hard: a binary cross-entropy over a +1/−1 one-hot design; its
  coefficients start at 0.5, which only fixes the free offset, removed here by holding the baseline at 0). The
  coefficients are natural-log strengths: Arena-Hard v2 puts them on no Elo scale (no scale, base or initial
  rating), it reads them straight into win rates;
- a model's score is its predicted win rate against the baseline, 100 · σ(β_model − β_baseline); the baseline
  scores 50. When every battle is against the baseline this is the model's mean row score;
- the interval comes from `rounds` redraws of the rows (Arena-Hard's bootstrap draws table rows with replacement,
  so the three rows of a strong verdict are drawn independently; 100 rounds by default, as there), each refitted.
  Arena-Hard prints the 5th–95th percentiles (a 90% interval) around the redraws' median; here the point is the
  fit to all rows and the interval judgedesk's 95% percentile interval, with its minimum of games;
- style control adds the standardised style covariates (`_arena_hard_style`) as regressors and reports the scores
  of the model coefficients alone, i.e. the win rate with the styles made equal.

A fit needs every model to have both won and lost something within the battle graph; where one never lost (or
never won), 0.01 pseudo-wins are added each way between every two models, only in that fit, as judgedesk's other
Bradley–Terry fit does (Arena-Hard's optimiser simply stops after 50 steps there). A model against itself is left
out: such a battle says nothing about either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from ._arena_hard_style import STYLE_FEATURES, AnswerStyle, style_differences
from ._bootstrap import BootstrapInterval, bootstrap_interval
from ._bradley_terry import PRIOR_WINS, strongly_connected
from ._logistic import fit_logistic, sigmoid
from ._outcome import check_rounds, to_plain

__all__ = ["ARENA_HARD_VERDICTS", "ArenaHardBattle", "ArenaHardScore", "ArenaHardScores", "arena_hard_scores"]

ARENA_HARD_VERDICTS: tuple[str, ...] = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
"""The five verdicts, from model_a's side. Arena-Hard's mirrored spellings (B<<A, B<A, B=A, A<B, A<<B) are read
as these."""
_MIRRORED = {"B<<A": "A>>B", "B<A": "A>B", "B=A": "A=B", "A<B": "B>A", "A<<B": "B>>A"}
_SCORE_OF_A = {"A>>B": (1.0, True), "A>B": (1.0, False), "A=B": (0.5, False), "B>A": (0.0, False),
               "B>>A": (0.0, True)}
_STYLE_GROUPS = {"length": STYLE_FEATURES[:1], "markdown": STYLE_FEATURES[1:]}
BASELINE_NO_INTERVAL = "the baseline: 50 by definition"


@dataclass(frozen=True)
class ArenaHardBattle:
    """One judgement: model_a's answer shown first against model_b's, and the five-level verdict."""

    model_a: str
    """The model whose answer was shown as A."""
    model_b: str
    """The model whose answer was shown as B."""
    verdict: str
    """One of `ARENA_HARD_VERDICTS` (a mirrored spelling is stored as its canonical form)."""
    item_id: str | None = None
    """The question (Arena-Hard's uid), for error messages; the bootstrap draws rows, not items."""
    style_a: AnswerStyle | None = None
    """Model A's answer's style features; needed for style control."""
    style_b: AnswerStyle | None = None
    """Model B's answer's style features; needed for style control."""

    def __post_init__(self) -> None:
        verdict = _MIRRORED.get(self.verdict, self.verdict)
        if verdict not in _SCORE_OF_A:
            raise InputError(f"verdict {self.verdict!r} is not one of {', '.join(ARENA_HARD_VERDICTS)}",
                             item=self.item_id, field="verdict")
        object.__setattr__(self, "verdict", verdict)


@dataclass(frozen=True)
class ArenaHardScore:
    """One model's Arena-Hard score against the baseline."""

    model: str
    """The model."""
    score: float
    """Predicted win rate against the baseline × 100 (50 for the baseline)."""
    ci_low: float | None
    """Lower end of the 95% percentile bootstrap interval (rows redrawn, refitted); None without one."""
    ci_high: float | None
    """Upper end of the 95% interval; None without one."""
    no_interval: str | None
    """Why there is no interval (the baseline, too few battles, redraws that do not vary, no rounds)."""
    coefficient: float
    """β_model − β_baseline in natural-log units: score = 100 · σ(coefficient)."""
    battles: int
    """Judgements the model took part in (a strong verdict counts once here)."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


@dataclass(frozen=True)
class ArenaHardScores:
    """Every model's Arena-Hard score, best first."""

    baseline: str
    """The model every score is a win rate against."""
    scores: tuple[ArenaHardScore, ...]
    """The scores, highest first (equal scores by first appearance)."""
    style_control: tuple[str, ...]
    """The style groups controlled for ("length", "markdown"); empty for the plain scores."""
    style_coefficients: dict[str, float | None]
    """Each controlled covariate's coefficient per standard deviation; None for one that did not vary (left out)."""
    strong_weight: int
    """Rows a strong verdict (A>>B, B>>A) counts as."""
    prior_wins: float
    """Pseudo-wins added each way per pair of models in the point fit: 0 when the data alone gave finite scores."""
    rounds: int
    """Bootstrap rounds drawn."""
    seed: int
    """Seed of the bootstrap."""

    def score(self, model: str) -> ArenaHardScore:
        """The score of one model; KeyError names a model that was not scored."""
        for entry in self.scores:
            if entry.model == model:
                return entry
        raise KeyError(model)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def arena_hard_scores(battles: Iterable[ArenaHardBattle], *, baseline: str, style_control: Sequence[str] = (),
                      strong_weight: int = 3, rounds: int = 100, seed: int = 0) -> ArenaHardScores:
    """Score every model of `battles` against `baseline`, optionally controlling for style ("length",
    "markdown" or both, which need every battle's style_a and style_b).

    Raises InputError for an unknown style group, a missing style, a strong weight below 1, or a baseline that
    fought no battle.
    """
    check_rounds(rounds)
    if strong_weight < 1:
        raise InputError(f"a strong verdict must count at least once (got {strong_weight})", field="strong_weight")
    if isinstance(style_control, str):
        style_control = (style_control,)
    unknown = [group for group in style_control if group not in _STYLE_GROUPS]
    if unknown:
        raise InputError(f"unknown style control {unknown[0]!r}; choose from length, markdown", field="style_control")
    controlled = tuple(group for group in _STYLE_GROUPS if group in style_control)
    battles = [battle for battle in battles if battle.model_a != battle.model_b]
    order: dict[str, int] = {}
    for battle in battles:
        for model in (battle.model_a, battle.model_b):
            order.setdefault(model, len(order))
    if baseline not in order:
        raise InputError(f"the baseline {baseline!r} fought no battle; models: {', '.join(order)}", field="baseline")
    models = list(order)
    table = _Table(battles, order, strong_weight, controlled)

    coefficients, style, prior = table.fit(np.ones(table.size), order[baseline])
    assert coefficients is not None  # the baseline fought, so the full table has it
    redrawn = np.full((rounds, len(models)), np.nan)
    rng = np.random.default_rng(seed)
    for round_index in range(rounds):
        counts = np.bincount(rng.integers(0, table.size, size=table.size), minlength=table.size).astype(float)
        round_coefficients, _, _ = table.fit(counts, order[baseline])
        if round_coefficients is not None:
            redrawn[round_index] = 100.0 * sigmoid(round_coefficients)

    fought = np.bincount(table.battle_a, minlength=len(models)) + np.bincount(table.battle_b, minlength=len(models))
    scores = []
    for index, model in enumerate(models):
        interval = (BootstrapInterval(None, None, BASELINE_NO_INTERVAL) if model == baseline
                    else bootstrap_interval(redrawn[:, index], games=int(fought[index]), rounds=rounds,
                                            unit="battles"))
        scores.append(ArenaHardScore(model=model, score=100.0 * float(sigmoid(coefficients[index])),
                                     ci_low=interval.low, ci_high=interval.high, no_interval=interval.missing,
                                     coefficient=float(coefficients[index]), battles=int(fought[index])))
    scores.sort(key=lambda entry: (-entry.score, order[entry.model]))
    return ArenaHardScores(baseline=baseline, scores=tuple(scores), style_control=controlled,
                           style_coefficients=style, strong_weight=strong_weight, prior_wins=prior, rounds=rounds,
                           seed=seed)


class _Table:
    """The battles as rows (a strong verdict repeated), with their standardised style covariates."""

    def __init__(self, battles: Sequence[ArenaHardBattle], order: dict[str, int], strong_weight: int,
                 controlled: tuple[str, ...]) -> None:
        self.models = len(order)
        self.battle_a = np.array([order[b.model_a] for b in battles], dtype=np.intp)
        self.battle_b = np.array([order[b.model_b] for b in battles], dtype=np.intp)
        repeats = np.array([strong_weight if _SCORE_OF_A[b.verdict][1] else 1 for b in battles], dtype=np.intp)
        self.a = np.repeat(self.battle_a, repeats)
        self.b = np.repeat(self.battle_b, repeats)
        self.y = np.repeat([_SCORE_OF_A[b.verdict][0] for b in battles], repeats)
        self.size = len(self.y)
        self.feature_names = [name for group in controlled for name in _STYLE_GROUPS[group]]
        self.style = np.zeros((self.size, 0))
        self.varies: list[bool] = []
        if self.feature_names:
            columns = [STYLE_FEATURES.index(name) for name in self.feature_names]
            raw = np.array([style_differences(*_styles(b))[columns] for b in battles]).reshape(len(battles), -1)
            rows = np.repeat(raw, repeats, axis=0)
            spread = rows.std(axis=0, ddof=1) if self.size > 1 else np.zeros(len(columns))
            self.varies = [bool(s > 0.0) for s in spread]
            # Arena-Hard divides by the spread; a covariate that never varies carries no information and is left out.
            self.style = (rows[:, spread > 0] - rows[:, spread > 0].mean(axis=0)) / spread[spread > 0]

    def fit(self, counts: np.ndarray, anchor: int) -> tuple[np.ndarray | None, dict[str, float | None], float]:
        """Model coefficients (baseline 0, NaN for a model absent from the draw; None when the baseline is absent),
        style coefficients and the pseudo-wins used, from the rows drawn `counts` times each."""
        drawn = counts > 0
        a, b, y, w, style = self.a[drawn], self.b[drawn], self.y[drawn], counts[drawn], self.style[drawn]
        present = np.flatnonzero(np.bincount(a, minlength=self.models) + np.bincount(b, minlength=self.models))
        if anchor not in present:
            return None, {}, 0.0
        wins = np.zeros((self.models, self.models))
        np.add.at(wins, (a, b), w * y)
        np.add.at(wins, (b, a), w * (1.0 - y))
        prior = 0.0 if strongly_connected(wins[np.ix_(present, present)] > 0) else PRIOR_WINS
        if prior:
            first, second = np.triu_indices(len(present), k=1)
            pairs = len(first)
            a = np.concatenate([a, present[first], present[first]])
            b = np.concatenate([b, present[second], present[second]])
            y = np.concatenate([y, np.ones(pairs), np.zeros(pairs)])
            w = np.concatenate([w, np.full(2 * pairs, prior)])
            style = np.vstack([style, np.zeros((2 * pairs, style.shape[1]))])
        if style.shape[1] == 0:
            a, b, y, w = _pooled(a, b, y, w, self.models)
            style = np.zeros((len(y), 0))
        free = present[present != anchor]
        column = np.full(self.models, -1, dtype=np.intp)
        column[free] = np.arange(len(free))
        design = np.zeros((len(y), len(free)))
        rows = np.arange(len(y))
        for side, sign in ((a, 1.0), (b, -1.0)):
            mask = side != anchor
            design[rows[mask], column[side[mask]]] = sign
        beta = fit_logistic(np.hstack([design, style]), y, w)
        coefficients = np.full(self.models, np.nan)
        coefficients[anchor] = 0.0
        coefficients[free] = beta[:len(free)]
        fitted = iter(beta[len(free):])
        style_coefficients = {name: float(next(fitted)) if varies else None
                              for name, varies in zip(self.feature_names, self.varies, strict=True)}
        return coefficients, style_coefficients, prior


def _pooled(a: np.ndarray, b: np.ndarray, y: np.ndarray, w: np.ndarray,
            models: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Identical rows (same models, same score) merged into one with their weights summed: the same likelihood,
    fitted in a fraction of the time when there are no style covariates to tell rows apart."""
    key = (a * models + b) * 3 + np.rint(2.0 * y).astype(np.intp)
    unique, inverse = np.unique(key, return_inverse=True)
    return unique // 3 // models, unique // 3 % models, (unique % 3) / 2.0, np.bincount(inverse, weights=w)


def _styles(battle: ArenaHardBattle) -> tuple[AnswerStyle, AnswerStyle]:
    if battle.style_a is None or battle.style_b is None:
        side = "style_a" if battle.style_a is None else "style_b"
        raise InputError("style control needs both answers' style features", item=battle.item_id, field=side)
    return battle.style_a, battle.style_b
