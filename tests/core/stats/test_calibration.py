"""Calibrated estimates (issue 19): PPI++ win rates and Bradley–Terry ratings, their validity shown by simulated
labelling on PandaLM's human-labelled test set, and the unit behaviour each report relies on."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from judgedesk.core import InputError
from judgedesk.core.stats import (
    MIN_GAMES_FOR_INTERVAL,
    Outcome,
    bradley_terry,
    calibrated_bradley_terry,
    calibrated_pair_win_rate,
    calibrated_win_rate,
    judge_score,
    too_few_games,
)

PANDALM = Path(__file__).resolve().parents[2] / "data" / "pandalm-testset-v1.json"
# PandaLM's annotator codes as core/datasets reads them: 1 response1 (A), 2 response2 (B), 0 tie.
CODE_SCORE = {1: 1.0, 2: 0.0, 0: 0.5}
SCORES = np.array([1.0, 0.0, 0.5])  # index 0 A, 1 B, 2 tie


@pytest.fixture(scope="module")
def pandalm_truth() -> np.ndarray:
    """The annotators' majority label of every PandaLM test pair that has one, as response1's score."""
    truth = []
    for row in json.loads(PANDALM.read_text(encoding="utf-8")):
        votes = [row[key] for key in ("annotator1", "annotator2", "annotator3")]
        code, count = Counter(votes).most_common(1)[0]
        if 2 * count > len(votes):
            truth.append(CODE_SCORE[code])
    assert len(truth) > 900
    return np.array(truth)


def synthetic_judge(truth: np.ndarray, accuracy: float, bias_to_a: float, seed: int) -> np.ndarray:
    """A judge right with probability `accuracy`; a share `bias_to_a` of its errors say A (where A is wrong)."""
    rng = np.random.default_rng(seed)
    index = np.select([truth == 1.0, truth == 0.0], [0, 1], 2)
    wrong = rng.random(len(truth)) >= accuracy
    other = (index + rng.integers(1, 3, size=len(truth))) % 3
    to_a = (rng.random(len(truth)) < bias_to_a) & (index != 0)
    return SCORES[np.where(wrong, np.where(to_a, 0, other), index)]


@pytest.mark.parametrize("n", [50, 100])
@pytest.mark.parametrize(("accuracy", "bias_to_a"), [(0.8, 0.0), (0.6, 0.0), (0.7, 0.8)],
                         ids=["80%-accurate", "60%-accurate", "biased-to-A"])
def test_calibrated_interval_covers_the_all_items_human_win_rate(pandalm_truth: np.ndarray, n: int,
                                                                 accuracy: float, bias_to_a: float) -> None:
    truth = pandalm_truth
    predictions = synthetic_judge(truth, accuracy, bias_to_a, seed=19)
    agreement = float(np.mean(predictions == truth))
    assert agreement > 0.55  # well above the 1/3 of chance among three labels
    target = float(truth.mean())
    rng = np.random.default_rng(n)
    draws = 500
    covered = {"calibrated": 0, "labels_only": 0, "judge_only": 0}
    width = {"calibrated": 0.0, "labels_only": 0.0}
    for _ in range(draws):
        labels = np.full(len(truth), np.nan)
        chosen = rng.choice(len(truth), size=n, replace=False)
        labels[chosen] = truth[chosen]
        result = calibrated_win_rate(predictions, labels)
        assert (result.n, result.N) == (n, len(truth))
        for name in covered:
            estimate = getattr(result, name)
            assert estimate.ci_low is not None and estimate.ci_high is not None, estimate.no_interval
            covered[name] += estimate.ci_low <= target <= estimate.ci_high
            if name in width:
                width[name] += estimate.ci_high - estimate.ci_low
    assert covered["calibrated"] / draws >= 0.93
    assert covered["labels_only"] / draws >= 0.93
    assert width["calibrated"] < width["labels_only"]
    if bias_to_a:
        # The biased judge's own interval describes only its noise: it misses the humans' rate nearly always.
        assert covered["judge_only"] / draws < 0.5


def test_a_judge_at_chance_keeps_coverage_and_costs_almost_no_width(pandalm_truth: np.ndarray) -> None:
    truth = pandalm_truth
    rng = np.random.default_rng(3)
    predictions = SCORES[rng.integers(0, 3, size=len(truth))]
    covered, ratio = 0, []
    for _ in range(300):
        labels = np.full(len(truth), np.nan)
        chosen = rng.choice(len(truth), size=100, replace=False)
        labels[chosen] = truth[chosen]
        result = calibrated_win_rate(predictions, labels)
        covered += result.calibrated.ci_low <= truth.mean() <= result.calibrated.ci_high  # type: ignore[operator]
        ratio.append(result.calibrated.std_error / result.labels_only.std_error)  # type: ignore[operator]
    assert covered / 300 >= 0.92
    assert np.mean(ratio) < 1.05  # λ̂ near 0: a useless judge is (almost) ignored


def _labelled(truth: np.ndarray, chosen: np.ndarray) -> list[float | None]:
    labels: list[float | None] = [None] * len(truth)
    for index in chosen:
        labels[index] = float(truth[index])
    return labels


def test_lambda_zero_is_the_labels_only_estimate() -> None:
    rng = np.random.default_rng(0)
    truth = rng.choice(SCORES, size=400)
    predictions = synthetic_judge(truth, 0.8, 0.0, seed=1)
    result = calibrated_win_rate(predictions, _labelled(truth, rng.choice(400, 60, replace=False)), lam=0.0)
    calibrated, labels_only = result.calibrated, result.labels_only
    assert calibrated.lam == labels_only.lam == 0.0
    assert calibrated.estimate == pytest.approx(labels_only.estimate, abs=1e-15)
    assert (calibrated.ci_low, calibrated.ci_high) == pytest.approx((labels_only.ci_low, labels_only.ci_high))
    assert calibrated.sample_size_gain == pytest.approx(1.0)
    assert calibrated.effective_n == pytest.approx(60.0)


def test_labels_only_variance_is_the_finite_population_one() -> None:
    truth = np.array([1.0, 0.0, 0.5, 1.0] * 50)
    chosen = np.arange(0, 200, 5)  # 40 labelled
    result = calibrated_win_rate(np.full(200, 0.5), _labelled(truth, chosen))
    y = truth[chosen]
    assert result.labels_only.std_error == pytest.approx(math.sqrt((1 - 40 / 200) * np.var(y, ddof=1) / 40))
    assert result.calibrated.lam == 0.0  # a constant judge carries no information
    source = calibrated_win_rate(np.full(200, 0.5), _labelled(truth, chosen), population="source")
    assert source.labels_only.std_error == pytest.approx(math.sqrt(np.var(y, ddof=1) / 40))


def test_a_perfect_judge_gives_the_truth_and_a_near_perfect_one_a_narrow_interval() -> None:
    rng = np.random.default_rng(5)
    truth = rng.choice(SCORES, size=1000, p=[0.5, 0.3, 0.2])
    chosen = rng.choice(1000, 100, replace=False)
    perfect = calibrated_win_rate(truth, _labelled(truth, chosen)).calibrated
    # λ̂ = 1: the judge's mean over all items is the estimate, the truth itself, and no residual is left to vary,
    # so no interval is claimed from residuals that are all zero.
    assert perfect.lam == pytest.approx(1.0)
    assert perfect.estimate == pytest.approx(truth.mean(), abs=1e-12)
    assert perfect.no_interval == "no interval: the labels' residuals (label − λ·judge score) do not vary (n = 100)"
    near = synthetic_judge(truth, 0.95, 0.0, seed=6)  # wrong on about 5 of the 100 labelled items
    result = calibrated_win_rate(near, _labelled(truth, chosen))
    calibrated = result.calibrated
    assert calibrated.ci_low is not None and calibrated.ci_high is not None
    assert calibrated.ci_low <= truth.mean() <= calibrated.ci_high
    assert calibrated.ci_high - calibrated.ci_low < 0.08
    assert calibrated.sample_size_gain is not None and calibrated.sample_size_gain > 4


def test_every_item_labelled_gives_the_exact_human_rate() -> None:
    truth = np.array([1.0, 0.0, 0.5] * 10)
    result = calibrated_win_rate(np.full(30, 1.0), truth.tolist())
    assert result.calibrated.estimate == pytest.approx(0.5)
    assert result.calibrated.ci_low == result.calibrated.ci_high == pytest.approx(0.5)
    assert result.calibrated.no_interval is None


def test_small_n_gives_the_reason_instead_of_an_interval() -> None:
    truth = np.array([1.0, 0.0] * 50)
    few = calibrated_win_rate(np.full(100, 0.7), _labelled(truth, np.arange(MIN_GAMES_FOR_INTERVAL - 1)))
    for estimate in (few.calibrated, few.labels_only):
        assert estimate.estimate is not None
        assert (estimate.ci_low, estimate.ci_high) == (None, None)
        assert estimate.no_interval == too_few_games(MIN_GAMES_FOR_INTERVAL - 1, "labelled items")
    assert few.judge_only.no_interval == "no interval: the judge's scores do not vary (n = 100)"
    none = calibrated_win_rate([1.0, 0.0, 0.5], [None, None, None])
    assert none.calibrated.estimate is None and none.labels_only.estimate is None
    assert none.calibrated.no_interval == "too few labelled items for an interval (n = 0)"
    assert none.judge_only.no_interval == "too few judged items for an interval (n = 3)"
    enough = calibrated_win_rate(np.linspace(0, 1, 100), _labelled(truth, np.arange(MIN_GAMES_FOR_INTERVAL)))
    assert enough.calibrated.no_interval is None and enough.labels_only.no_interval is None


def test_judge_score_maps_decisions_and_probabilities() -> None:
    assert [judge_score(d) for d in ("A", "B", "tie", "inconsistent", "unparsed")] == [1.0, 0.0, 0.5, 0.5, None]
    assert judge_score("A", probabilities=[{"A": 0.6, "B": 0.2, "tie": 0.2}, {"A": 0.8, "B": 0.2}]) == \
        pytest.approx((0.7 + 0.8) / 2)
    # Five-level keys are summed into their winner; an order without probabilities falls back to the decision.
    assert judge_score("inconsistent", probabilities=[{"A>>B": 0.3, "A>B": 0.3, "B>A": 0.4}]) == pytest.approx(0.6)
    assert judge_score("inconsistent", probabilities=[{"A": 1.0}, None]) == 0.5
    with pytest.raises(InputError, match="decision"):
        judge_score("maybe")


def test_unparsed_items_are_left_out_of_n_and_N_alike() -> None:
    predictions = [1.0, None, 0.0, None] * 10
    labels = [1.0, 0.0, 0.0, None] * 10
    result = calibrated_win_rate(predictions, labels)
    assert (result.N, result.n, result.unparsed, result.unparsed_labelled) == (20, 20, 20, 10)
    assert result.labels_only.estimate == pytest.approx(0.5)


def test_bad_input_names_the_item_and_field() -> None:
    with pytest.raises(InputError, match=r"item '#2', field 'labels': 2.0 is not in \[0, 1\]"):
        calibrated_win_rate([0.5, 0.5, 0.5], [None, 1.0, 2.0])
    with pytest.raises(InputError, match="3 predictions but 2 labels"):
        calibrated_win_rate([0.5, 0.5, 0.5], [None, 1.0])
    with pytest.raises(InputError, match="population"):
        calibrated_win_rate([0.5], [None], population="everyone")  # type: ignore[arg-type]


def _pair_outcomes(truth: np.ndarray, predictions: np.ndarray, labelled: set[int]) -> list[Outcome]:
    decision = {1.0: "A", 0.0: "B", 0.5: "tie"}
    outcomes = []
    for index, (y, f) in enumerate(zip(truth, predictions, strict=True)):
        flipped = index % 3 == 0  # a third listed the other way round
        d, h = decision[float(1.0 - f if flipped else f)], decision[float(1.0 - y if flipped else y)]
        first, second = ("beta", "alpha") if flipped else ("alpha", "beta")
        outcomes.append(Outcome(f"i{index}", first, second, d, human=h if index in labelled else None))  # type: ignore[arg-type]
    return outcomes


def test_the_pair_form_flips_outcomes_listed_the_other_way_round() -> None:
    rng = np.random.default_rng(2)
    truth = rng.choice(SCORES, size=300)
    predictions = synthetic_judge(truth, 0.75, 0.0, seed=4)
    chosen = rng.choice(300, 50, replace=False)
    outcomes = _pair_outcomes(truth, predictions, set(chosen.tolist()))
    by_pair = calibrated_pair_win_rate([*outcomes, Outcome("x", "alpha", "gamma", "A")], model_a="alpha",
                                       model_b="beta")
    direct = calibrated_win_rate(predictions, _labelled(truth, chosen))
    assert by_pair.to_dict() == direct.to_dict()
    reversed_pair = calibrated_pair_win_rate(outcomes, model_a="beta", model_b="alpha")
    assert reversed_pair.calibrated.estimate == pytest.approx(1.0 - direct.calibrated.estimate)  # type: ignore[operator]
    with pytest.raises(InputError, match="meet more than once"):
        calibrated_pair_win_rate([*outcomes, outcomes[1]], model_a="alpha", model_b="beta")


def test_bradley_terry_with_two_models_is_the_win_rate_through_the_logistic_link() -> None:
    rng = np.random.default_rng(7)
    truth = rng.choice(SCORES, size=300, p=[0.55, 0.3, 0.15])
    predictions = synthetic_judge(truth, 0.7, 0.5, seed=8)
    chosen = rng.choice(300, 80, replace=False)
    outcomes = _pair_outcomes(truth, predictions, set(chosen.tolist()))
    rate = calibrated_pair_win_rate(outcomes, model_a="alpha", model_b="beta").calibrated
    ratings = calibrated_bradley_terry(outcomes, baseline="beta")
    alpha, beta = ratings.rating("alpha"), ratings.rating("beta")
    assert beta.rating == 1000.0 and beta.no_interval == "the anchor: 1000 by definition"
    assert ratings.lam == pytest.approx(rate.lam)
    assert (alpha.rating > 1000.0) == (rate.estimate > 0.5)  # type: ignore[operator]
    scale = 400.0 / math.log(10.0)
    p = 1.0 / (1.0 + math.exp(-(alpha.rating - 1000.0) / scale))
    assert p == pytest.approx(rate.estimate, abs=1e-8)
    # The delta method through the link: se(rating) = scale · se(rate) / (p (1 − p)).
    assert alpha.std_error == pytest.approx(scale * rate.std_error / (p * (1 - p)), rel=1e-6)  # type: ignore[operator]
    assert (ratings.n, ratings.N) == (80, 300)


TRUE_RATINGS = {"m0": 1000.0, "m1": 1120.0, "m2": 900.0, "m3": 1250.0}


def _simulated_tournament(rng: np.random.Generator, items: int) -> tuple[list[tuple[str, str, float]], list[str]]:
    """Pairs of models with human outcomes drawn from `TRUE_RATINGS` (ties 15%), and a judge biased to model_a."""
    names = list(TRUE_RATINGS)
    games, judged = [], []
    scale = 400.0 / math.log(10.0)
    for _ in range(items):
        a, b = rng.choice(4, size=2, replace=False)
        p = 1.0 / (1.0 + math.exp(-(TRUE_RATINGS[names[a]] - TRUE_RATINGS[names[b]]) / scale))
        draw = rng.random()
        y = 0.5 if draw < 0.15 else (1.0 if draw < 0.15 + 0.85 * p else 0.0)
        games.append((names[a], names[b], y))
        noise = rng.random()
        judged.append({1.0: "A", 0.0: "B", 0.5: "tie"}[y] if noise < 0.6 else ("A" if noise < 0.85 else "B"))
    return games, judged


def test_calibrated_bradley_terry_covers_the_humans_ratings_on_simulated_data() -> None:
    rng = np.random.default_rng(11)
    games, judged = _simulated_tournament(rng, 1500)
    label = {1.0: "A", 0.0: "B", 0.5: "tie"}
    human_fit = bradley_terry([Outcome(f"i{k}", a, b, label[y]) for k, (a, b, y) in enumerate(games)],  # type: ignore[arg-type]
                              baseline="m0", rounds=0)
    judge_fit = bradley_terry([Outcome(f"i{k}", a, b, d) for k, ((a, b, _), d) in enumerate(zip(games, judged,  # type: ignore[arg-type]
                                                                                                  strict=True))],
                              baseline="m0", rounds=0)
    # The human fit on all items orders the models as the generating ratings do (ties pull it towards 1000);
    # the biased judge's fit is far from it.
    assert [entry.model for entry in human_fit.models] == sorted(TRUE_RATINGS, key=lambda m: -TRUE_RATINGS[m])
    assert max(abs(judge_fit.rating(m).rating - human_fit.rating(m).rating) for m in TRUE_RATINGS) > 40
    unlabelled = [Outcome(f"i{k}", a, b, d) for k, ((a, b, _), d) in enumerate(zip(games, judged, strict=True))]  # type: ignore[arg-type]
    labelled = [Outcome(f"i{k}", a, b, d, human=label[y])  # type: ignore[arg-type]
                for k, ((a, b, y), d) in enumerate(zip(games, judged, strict=True))]
    draws, covered, narrower = 150, Counter[str](), 0
    for _ in range(draws):
        chosen = np.zeros(len(games), dtype=bool)
        chosen[rng.choice(len(games), 200, replace=False)] = True
        outcomes = [labelled[k] if chosen[k] else unlabelled[k] for k in range(len(games))]
        result = calibrated_bradley_terry(outcomes, baseline="m0")
        labels_only = calibrated_bradley_terry(outcomes, baseline="m0", lam=0.0)
        assert result.no_fit is None and (result.n, result.N) == (200, 1500)
        for entry in result.models:
            if entry.model == "m0":
                continue
            assert entry.ci_low is not None and entry.ci_high is not None, entry.no_interval
            covered[entry.model] += entry.ci_low <= human_fit.rating(entry.model).rating <= entry.ci_high
        narrower += sum(entry.std_error for entry in result.models if entry.std_error) < \
            sum(entry.std_error for entry in labels_only.models if entry.std_error)
    for model in ("m1", "m2", "m3"):
        assert covered[model] / draws >= 0.9, (model, covered)
    assert narrower / draws > 0.9


def test_calibrated_bradley_terry_guards() -> None:
    one = calibrated_bradley_terry([Outcome("i0", "a", "a", "A"), Outcome("i1", "a", "b", "unparsed")])
    assert one.models == () and one.no_fit == "fewer than two models with a judged game" and one.unparsed == 1
    few = [Outcome(f"i{k}", "a", "b", "A" if k % 3 else "B", human=("A" if k % 2 else "B") if k < 5 else None)
           for k in range(40)]
    few += [Outcome(f"j{k}", "b", "a", "A" if k % 2 else "B", human=None) for k in range(40)]
    result = calibrated_bradley_terry(few)
    assert result.no_fit is None and result.n == 5
    assert result.rating("b").no_interval == "too few labelled items for an interval (n = 5)"
    with pytest.raises(InputError, match="label all of an item's pairs or none"):
        calibrated_bradley_terry([Outcome("i0", "a", "b", "A", human="A"), Outcome("i0", "a", "c", "A")])
    with pytest.raises(InputError, match="baseline"):
        calibrated_bradley_terry(few, baseline="zeta")
    runaway = [Outcome(f"i{k}", "a", "b", "A", human="A") for k in range(20)]
    assert calibrated_bradley_terry(runaway).no_fit is not None


def test_the_source_population_interval_covers_the_rate_the_items_were_drawn_from() -> None:
    # Each draw is a fresh set of 600 items from a source whose human win rate is 0.6 (ties 20%), judged by an
    # 80%-accurate judge, with 60 labelled: the "source" interval is about that 0.6, not about these items' rate.
    rng = np.random.default_rng(23)
    covered, wider = 0, 0
    for draw in range(400):
        truth = rng.choice(SCORES, size=600, p=[0.5, 0.3, 0.2])
        predictions = synthetic_judge(truth, 0.8, 0.0, seed=draw)
        labels = _labelled(truth, rng.choice(600, 60, replace=False))
        source = calibrated_win_rate(predictions, labels, population="source").calibrated
        items = calibrated_win_rate(predictions, labels).calibrated
        covered += source.ci_low <= 0.6 <= source.ci_high  # type: ignore[operator]
        wider += source.std_error > items.std_error  # type: ignore[operator]
    assert covered / 400 >= 0.93
    assert wider == 400


def test_calibrated_bradley_terry_samples_items_holding_several_pairs() -> None:
    # Every item holds all three pairs of three models (as a batch run judges them): the item is the unit labelled,
    # and its pairs' gradients are summed before their spread is measured.
    rng = np.random.default_rng(31)
    label = {1.0: "A", 0.0: "B", 0.5: "tie"}
    strength = {"x": 0.0, "y": 0.8, "z": -0.5}
    outcomes = []
    chosen = set(rng.choice(300, 60, replace=False).tolist())
    for item in range(300):
        for a, b in (("x", "y"), ("x", "z"), ("y", "z")):
            y = float(rng.random() < 1.0 / (1.0 + math.exp(strength[b] - strength[a])))
            said = label[y] if rng.random() < 0.75 else ("A" if rng.random() < 0.7 else "B")
            outcomes.append(Outcome(f"i{item}", a, b, said, human=label[y] if item in chosen else None))  # type: ignore[arg-type]
    result = calibrated_bradley_terry(outcomes, baseline="x")
    assert (result.n, result.N) == (60, 300)
    assert [entry.model for entry in result.models] == ["y", "x", "z"]
    y_rating = result.rating("y")
    assert y_rating.games == 600 and y_rating.labelled_games == 120
    assert y_rating.ci_low is not None and y_rating.ci_low < y_rating.rating < y_rating.ci_high  # type: ignore[operator]
    with pytest.raises(InputError, match="one outcome per item"):
        calibrated_bradley_terry(outcomes, soft_scores={"i0": 0.5})
