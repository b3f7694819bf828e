"""Arena-Hard scores: strong verdicts weighted 3, the closed form against the baseline, ratings recovered from
simulated battles, a cross-check of the fit against scikit-learn's logistic regression, the bootstrap, style
control removing a pure length bias, and Arena-Hard's style features of an answer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from judgedesk.core import InputError
from judgedesk.core.stats import AnswerStyle, ArenaHardBattle, answer_style, arena_hard_scores
from sklearn.linear_model import LogisticRegression


def _against_baseline(model: str, verdicts: list[str]) -> list[ArenaHardBattle]:
    return [ArenaHardBattle(model, "base", verdict, item_id=str(i)) for i, verdict in enumerate(verdicts)]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@pytest.mark.parametrize(("verdicts", "strong_weight", "expected"), [
    (["A>>B", "B>A"], 3, 75.0),        # rows 1, 1, 1, 0
    (["A>B", "B>A"], 3, 50.0),
    (["A>>B", "B>A"], 1, 50.0),
    (["A>>B", "A=B", "B>>A", "B>A"], 3, 100 * 3.5 / 8),
    (["B<<A", "A<B"], 3, 75.0),        # Arena-Hard's mirrored spellings
])
def test_against_the_baseline_the_score_is_the_weighted_mean(verdicts: list[str], strong_weight: int,
                                                             expected: float) -> None:
    result = arena_hard_scores(_against_baseline("m", verdicts), baseline="base", strong_weight=strong_weight,
                               rounds=0)
    assert result.score("m").score == pytest.approx(expected, abs=1e-9)
    assert result.score("m").battles == len(verdicts)
    assert result.score("base").score == 50.0 and result.score("base").coefficient == 0.0
    assert result.score("base").no_interval == "the baseline: 50 by definition"
    assert result.prior_wins == 0.0


def _simulate(truth: dict[str, float], battles_per_pair: int, seed: int) -> list[ArenaHardBattle]:
    """Five-level verdicts drawn from a Bradley–Terry model; a verdict is strong when the win is likely."""
    rng = np.random.default_rng(seed)
    models = list(truth)
    battles = []
    for i, first in enumerate(models):
        for second in models[i + 1:]:
            for k in range(battles_per_pair):
                a, b = (first, second) if k % 2 else (second, first)
                p = _sigmoid(truth[a] - truth[b])
                verdict = "A>B" if rng.random() < p else "B>A"
                battles.append(ArenaHardBattle(a, b, verdict, item_id=f"{a}-{b}-{k}"))
    return battles


def test_ratings_are_recovered_from_simulated_battles() -> None:
    truth = {"base": 0.0, "strong": 1.2, "weak": -0.8, "middle": 0.4}
    result = arena_hard_scores(_simulate(truth, 1500, seed=1), baseline="base", rounds=0)
    for model, coefficient in truth.items():
        assert result.score(model).coefficient == pytest.approx(coefficient, abs=0.1), model
        assert result.score(model).score == pytest.approx(100 * _sigmoid(coefficient), abs=2.5), model
    assert [entry.model for entry in result.scores] == ["strong", "middle", "base", "weak"]


def test_the_fit_matches_scikit_learn() -> None:
    # Soft targets by AlpacaEval's duplication trick: each row once labelled 1 with weight s, once 0 with 1 - s.
    battles = _simulate({"base": 0.0, "x": 0.7, "y": -0.3}, 40, seed=4)
    battles += [ArenaHardBattle("x", "y", "A=B"), ArenaHardBattle("base", "y", "A>>B"),
                ArenaHardBattle("x", "base", "B>>A")]
    result = arena_hard_scores(battles, baseline="base", rounds=0)
    assert result.prior_wins == 0.0
    free = ["x", "y"]
    rows, targets = [], []
    score = {"A>>B": (1.0, 3), "A>B": (1.0, 1), "A=B": (0.5, 1), "B>A": (0.0, 1), "B>>A": (0.0, 3)}
    for battle in battles:
        s, repeat = score[battle.verdict]
        row = [(battle.model_a == m) - (battle.model_b == m) for m in free]
        rows += [row] * repeat
        targets += [s] * repeat
    x = np.array(rows * 2, dtype=float)
    y = np.array([1] * len(targets) + [0] * len(targets))
    weights = np.array(targets + [1 - t for t in targets])
    fit = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10000)  # unpenalised
    fit.fit(x, y, sample_weight=weights)
    for model, coefficient in zip(free, fit.coef_[0], strict=True):
        assert result.score(model).coefficient == pytest.approx(coefficient, abs=1e-6)


def test_intervals_contain_the_point_and_the_bootstrap_is_seeded() -> None:
    battles = _simulate({"base": 0.0, "a": 0.5, "b": -0.5}, 60, seed=2)
    first = arena_hard_scores(battles, baseline="base", rounds=200, seed=9)
    again = arena_hard_scores(battles, baseline="base", rounds=200, seed=9)
    other = arena_hard_scores(battles, baseline="base", rounds=200, seed=10)
    assert first == again
    assert first.score("a").ci_low != other.score("a").ci_low
    for model in ("a", "b"):
        entry = first.score(model)
        assert entry.ci_low is not None and entry.ci_high is not None and entry.no_interval is None
        assert entry.ci_low < entry.score < entry.ci_high
        assert entry.ci_high - entry.ci_low < 30.0


def test_an_undefeated_model_gets_a_finite_score_through_the_prior() -> None:
    result = arena_hard_scores(_against_baseline("m", ["A>B"] * 12 + ["A>>B"] * 3), baseline="base", rounds=20)
    assert result.prior_wins == 0.01
    assert 99.0 < result.score("m").score < 100.0
    assert math.isfinite(result.score("m").coefficient)


def _style(length: int) -> AnswerStyle:
    return AnswerStyle(length=length, header_count=0, list_count=length // 200, bold_count=0)


def test_style_control_removes_a_pure_length_bias() -> None:
    # "verbose" is as good as the baseline but writes twice as long; the judge prefers the longer answer.
    # "sharp" is better in substance, with the baseline's length.
    rng = np.random.default_rng(11)
    battles = []
    for k in range(1200):
        for model, skill, scale in (("verbose", 0.0, 2.0), ("sharp", 0.8, 1.0)):
            base_length = int(rng.integers(300, 900))
            model_length = int(base_length * scale * rng.uniform(0.6, 1.4))
            a_is_model = k % 2 == 0
            styles = (_style(model_length), _style(base_length))
            relative = (model_length - base_length) / (model_length + base_length)
            p_model = _sigmoid(skill + 4.0 * relative)
            model_wins = rng.random() < p_model
            verdict = "A>B" if model_wins == a_is_model else "B>A"
            a, b = (model, "base") if a_is_model else ("base", model)
            style_a, style_b = styles if a_is_model else styles[::-1]
            battles.append(ArenaHardBattle(a, b, verdict, item_id=str(k), style_a=style_a, style_b=style_b))
    plain = arena_hard_scores(battles, baseline="base", rounds=0)
    controlled = arena_hard_scores(battles, baseline="base", style_control=["length"], rounds=0)
    assert plain.score("verbose").score > 70.0
    assert controlled.score("verbose").score == pytest.approx(50.0, abs=3.0)  # measured 49.1
    assert controlled.score("sharp").score == pytest.approx(100 * _sigmoid(0.8), abs=4.0)
    assert controlled.style_control == ("length",)
    length_coefficient = controlled.style_coefficients["length"]
    assert length_coefficient is not None and length_coefficient > 0
    both = arena_hard_scores(battles, baseline="base", style_control=["markdown", "length"], rounds=0)
    assert both.style_control == ("length", "markdown")
    # No answer has a header or bold text: those covariates do not vary and are left out, not divided by 0.
    assert both.style_coefficients["header_count"] is None and both.style_coefficients["bold_count"] is None
    assert both.style_coefficients["list_count"] is not None


def test_answer_style_counts_as_arena_hard_does() -> None:
    text = ("# Title\n## Part\nSome **bold** and __also__ text.\n"
            "1. first\n2. second\n- item\n  * nested\n"
            "```python\n# not a header\n- not a list\n```\n"
            "#no space is no header\n**unclosed\n")
    style = answer_style(text)
    assert style == AnswerStyle(length=len(text), header_count=2, list_count=4, bold_count=2)
    assert answer_style(text, count_tokens=lambda t: len(t.split())).length == len(text.split())


def test_style_from_arena_hard_metadata() -> None:
    metadata = {"token_len": 321, "header_count": {"h1": 1, "h2": 2, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
                "list_count": {"ordered": 3, "unordered": 4}, "bold_count": {"**": 5, "__": 0}}
    assert AnswerStyle.from_metadata(metadata) == AnswerStyle(321, 3, 7, 5)
    with pytest.raises(InputError, match="field 'token_len'"):
        AnswerStyle.from_metadata({**metadata, "token_len": None})


def test_bad_input_is_named() -> None:
    with pytest.raises(InputError, match="item 'q3', field 'verdict'"):
        ArenaHardBattle("a", "b", "A>>>B", item_id="q3")
    battles = _against_baseline("m", ["A>B", "B>A"])
    with pytest.raises(InputError, match="item '0', field 'style_a'"):
        arena_hard_scores(battles, baseline="base", style_control=["length"], rounds=0)
    with pytest.raises(InputError, match="field 'style_control'"):
        arena_hard_scores(battles, baseline="base", style_control=["colour"], rounds=0)
    with pytest.raises(InputError, match="baseline 'gpt-4' fought no battle"):
        arena_hard_scores(battles, baseline="gpt-4", rounds=0)


def test_results_serialise_to_json() -> None:
    battles = [ArenaHardBattle("m", "base", v, style_a=_style(500), style_b=_style(300 + 50 * i))
               for i, v in enumerate(["A>B", "B>A", "A>>B", "A=B"] * 5)]
    plain = arena_hard_scores(battles, baseline="base", style_control=["length"], rounds=20).to_dict()
    assert json.loads(json.dumps(plain, allow_nan=False)) == plain
