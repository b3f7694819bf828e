"""AlpacaEval leaderboard rows, computed from annotations as AlpacaEval 2 computes them, and its CSV shape.

An annotation (one entry of AlpacaEval's `annotations.json`) sets the baseline's output (`output_1`, by
`generator_1`) against the model's (`output_2`, by `generator_2`); `preference` is in [1, 2]: 1 the baseline
wins, 2 the model wins, a soft value in between the annotator's probability (plus one) that the model wins.

The columns follow AlpacaEval's metrics (winrate.py, metrics/helpers.py) exactly:

- a `preference` of 0 means a draw and is read as 1.5; a value outside [1, 2] (or missing) is no preference and
  is dropped from every column but `n_draws`, which counts the 0s and 1.5s before anything is dropped;
- `win_rate` = mean(preference − 1) · 100 and `standard_error` = its standard error (pandas' `sem`, ddof 1) · 100;
- `n_wins` / `n_wins_base`: preferences above / below 1.5; `n_total`: preferences kept;
- `discrete_win_rate`: each raw preference rounded to 1 or 2 first (1.5 and 0 kept as draws, halves rounded to
  even as numpy does, so e.g. 2.5 still counts as a win and 0.4 as a draw), then the same mean · 100;
- `avg_length`: int(mean number of characters of the model's outputs), truncated as AlpacaEval's `int()` does;
- the length-controlled win rate: `judgedesk.core.stats._alpaca_eval_lc` says which GLM formula and why.

The means are a plain sum divided by n (numpy's pairwise sum, as pandas computes them). The published figures
came from preferences held at full precision, while `annotations.json` stores them rounded to ten digits, so a
recomputation from the file matches the leaderboard's floats to about one unit in the last place, not bit for bit.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from ._alpaca_eval_lc import length_controlled_win_rate
from ._outcome import check_rounds, to_plain

__all__ = ["ALPACA_EVAL_CSV_COLUMNS", "AlpacaEvalAnnotation", "AlpacaEvalRow", "alpaca_eval_csv",
           "alpaca_eval_leaderboard", "alpaca_eval_row"]

ALPACA_EVAL_CSV_COLUMNS: tuple[str, ...] = (
    "win_rate", "standard_error", "n_wins", "n_wins_base", "n_draws", "n_total", "discrete_win_rate", "mode",
    "avg_length", "length_controlled_winrate", "lc_standard_error",
)
"""The leaderboard CSV's named columns, in its order, after the first, unnamed one (the model)."""


@dataclass(frozen=True)
class AlpacaEvalAnnotation:
    """One AlpacaEval annotation: the baseline's output against the model's, and the annotator's preference."""

    generator_1: str
    """The baseline (AlpacaEval's `generator_1`)."""
    generator_2: str
    """The model compared with it (`generator_2`)."""
    output_1: str
    """The baseline's output."""
    output_2: str
    """The model's output."""
    preference: float
    """In [1, 2] (2: the model wins; 0 a draw as well); NaN when missing. Anything else is kept and dropped later,
    as AlpacaEval does."""

    @classmethod
    def from_mapping(cls, record: Mapping[str, Any], *, index: int) -> AlpacaEvalAnnotation:
        """Read one entry of `annotations.json`; `index` (its position) names it in errors.

        A preference may be a number, a numeric string (read as its number) or null (missing).
        """
        where = f"#{index}"
        texts = {}
        for name in ("generator_1", "generator_2", "output_1", "output_2"):
            value = record.get(name)
            if not isinstance(value, str):
                raise InputError(f"expected a string, got {type(value).__name__}", item=where, field=name)
            texts[name] = value
        return cls(**texts, preference=_preference(record.get("preference"), where))


@dataclass(frozen=True)
class AlpacaEvalRow:
    """One model's row of the AlpacaEval leaderboard, against the baseline of its annotations."""

    model: str
    """The model (`generator_2`)."""
    baseline: str
    """The baseline (`generator_1`)."""
    win_rate: float | None
    """mean(preference − 1) · 100 over the kept preferences; None when none was kept."""
    standard_error: float | None
    """Standard error of win_rate (ddof 1); None below two preferences."""
    n_wins: int
    """Preferences above 1.5."""
    n_wins_base: int
    """Preferences below 1.5."""
    n_draws: int
    """Preferences of exactly 1.5 or 0."""
    n_total: int
    """Preferences kept (in [1, 2] once 0 is read as 1.5)."""
    discrete_win_rate: float | None
    """The win rate with every preference rounded to a win, a loss or a draw first."""
    avg_length: int | None
    """int(mean characters of the model's outputs); None without outputs."""
    length_controlled_winrate: float | None
    """The GLM's win rate with the length difference removed (minimal formula); None without preferences."""
    lc_standard_error: float | None
    """Item-bootstrap standard error of length_controlled_winrate (not AlpacaEval's, see the LC module)."""
    lc_length_coefficient: float | None
    """The GLM's weight of tanh(standardised baseline-minus-model length): below 0 when longer outputs won more."""
    lc_no_standard_error: str | None
    """Why the LC win rate has no standard error; None when it has one."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def alpaca_eval_row(annotations: Iterable[AlpacaEvalAnnotation], outputs: Sequence[str] | None = None, *,
                    rounds: int = 1000, seed: int = 0) -> AlpacaEvalRow:
    """The leaderboard row of the one model of `annotations` against their one baseline.

    `outputs` are the model's outputs (its `model_outputs.json`), for avg_length; None reads them from the
    annotations' output_2. `rounds` and `seed` drive the LC win rate's bootstrap standard error. Raises InputError
    when the annotations are empty or name more than one model or baseline.
    """
    check_rounds(rounds)
    annotations = list(annotations)
    model = _only(annotations, "generator_2")
    baseline = _only(annotations, "generator_1")
    raw = np.array([a.preference for a in annotations], dtype=float)

    n_draws = int(np.count_nonzero((raw == 1.5) | (raw == 0.0)))
    preference = np.where(raw == 0.0, 1.5, raw)
    kept = (preference >= 1.0) & (preference <= 2.0)
    p = preference[kept] - 1.0
    discrete = np.round(np.where(raw == 1.5, 0.0, raw))
    discrete = np.where(discrete == 0.0, 1.5, discrete)
    discrete = discrete[(discrete >= 1.0) & (discrete <= 2.0)] - 1.0

    texts = [a.output_2 for a in annotations] if outputs is None else list(outputs)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"expected a string, got {type(text).__name__}", item=f"#{index}", field="output")

    lc = lc_se = lc_theta = None
    lc_missing: str | None = "no preferences"
    if model == baseline:
        # AlpacaEval: the baseline against itself is 0.5 by construction.
        lc, lc_theta, lc_missing = 50.0, 0.0, "the baseline: 50 by definition"
    elif p.size:
        lengths = np.array([(len(a.output_1), len(a.output_2)) for a in annotations], dtype=float)[kept]
        fit = length_controlled_win_rate(p, lengths[:, 0], lengths[:, 1], rounds=rounds, seed=seed)
        lc, lc_se, lc_theta, lc_missing = fit.win_rate, fit.standard_error, fit.length_coefficient, \
            fit.no_standard_error

    return AlpacaEvalRow(
        model=model, baseline=baseline, win_rate=_mean_percent(p), standard_error=_sem_percent(p),
        n_wins=int(np.count_nonzero(p > 0.5)), n_wins_base=int(np.count_nonzero(p < 0.5)), n_draws=n_draws,
        n_total=int(p.size), discrete_win_rate=_mean_percent(discrete),
        avg_length=int(sum(len(text) for text in texts) / len(texts)) if texts else None,
        length_controlled_winrate=lc, lc_standard_error=lc_se, lc_length_coefficient=lc_theta,
        lc_no_standard_error=lc_missing,
    )


def alpaca_eval_leaderboard(annotations: Iterable[AlpacaEvalAnnotation],
                            outputs: Mapping[str, Sequence[str]] | None = None, *, rounds: int = 1000,
                            seed: int = 0) -> tuple[AlpacaEvalRow, ...]:
    """One row per model (`generator_2`) of the annotations, sorted as AlpacaEval 2 sorts its leaderboard:
    length-controlled win rate first (rows without one last, then by first appearance).

    `outputs` maps a model to its outputs for avg_length; a model missing from it takes its annotations' outputs.
    Every annotation must share one baseline (InputError otherwise).
    """
    check_rounds(rounds)
    annotations = list(annotations)
    _only(annotations, "generator_1")
    per_model: dict[str, list[AlpacaEvalAnnotation]] = {}
    for annotation in annotations:
        per_model.setdefault(annotation.generator_2, []).append(annotation)
    rows = [alpaca_eval_row(members, None if outputs is None else outputs.get(model), rounds=rounds, seed=seed)
            for model, members in per_model.items()]
    order = {row.model: index for index, row in enumerate(rows)}
    rows.sort(key=lambda row: (row.length_controlled_winrate is None, -(row.length_controlled_winrate or 0.0),
                               order[row.model]))
    return tuple(rows)


def alpaca_eval_csv(rows: Iterable[AlpacaEvalRow], *, mode: str = "community") -> str:
    """The rows in the leaderboard CSV's shape: an unnamed first column with the model, then
    `ALPACA_EVAL_CSV_COLUMNS`; floats at full precision (as pandas writes them), a missing value empty.

    `mode` fills the `mode` column, a leaderboard label rather than a figure ("community" is what AlpacaEval
    gives a newly evaluated model).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["", *ALPACA_EVAL_CSV_COLUMNS])
    for row in rows:
        values = {**row.to_dict(), "mode": mode}
        writer.writerow([row.model, *(_csv_value(values[column]) for column in ALPACA_EVAL_CSV_COLUMNS)])
    return buffer.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _preference(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"expected a number, got {type(value).__name__}", item=where, field="preference")
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{value!r} is not a number", item=where, field="preference") from None


def _only(annotations: Sequence[AlpacaEvalAnnotation], field: str) -> str:
    names = list(dict.fromkeys(getattr(a, field) for a in annotations))
    if len(names) != 1:
        found = ", ".join(repr(name) for name in names) if names else "no annotations"
        raise InputError(f"the annotations must name exactly one {field}; found {found}", field=field)
    return names[0]


def _mean_percent(values: np.ndarray) -> float | None:
    return float(values.sum() / values.size * 100.0) if values.size else None


def _sem_percent(values: np.ndarray) -> float | None:
    # pandas' sem: sqrt(sum((mean - x)^2) / (n - 1)) / sqrt(n).
    n = values.size
    if n < 2:
        return None
    mean = values.sum() / n
    return float(np.sqrt(((mean - values) ** 2).sum() / (n - 1)) / np.sqrt(n) * 100.0)
