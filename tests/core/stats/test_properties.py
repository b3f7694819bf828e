"""Property tests: on any small list of valid outcomes no statistic raises, and each result keeps its invariants
(rates within [0, 1], intervals ordered or a reason for none, a finite anchored rating scale, every model rated or
listed as unrated, a complementary matrix, JSON-safe)."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st
from judgedesk.core.stats import (
    Outcome,
    agreement,
    bradley_terry,
    by_category,
    judge_behaviour,
    order_agreement,
    pair_summary,
    win_rate_matrix,
)

LABELS = st.sampled_from(["A", "B", "tie"])
MAYBE_LABEL = st.none() | LABELS
OUTCOMES = st.lists(
    st.builds(
        Outcome,
        item_id=st.sampled_from(["q1", "q2", "q3", "q4", "q5"]),
        model_a=st.sampled_from(["m1", "m2", "m3", "m4"]),
        model_b=st.sampled_from(["m1", "m2", "m3", "m4"]),
        decision=st.sampled_from(["A", "B", "tie", "inconsistent", "unparsed"]),
        ab=MAYBE_LABEL,
        ba=MAYBE_LABEL,
        len_a=st.integers(0, 5),
        len_b=st.integers(0, 5),
        category=st.none() | st.sampled_from(["math", "code"]),
        human=MAYBE_LABEL,
    ),
    max_size=12,
)
ROUNDS = 20


def _json_safe(result: object) -> None:
    plain = result.to_dict()  # type: ignore[attr-defined]
    assert json.loads(json.dumps(plain, allow_nan=False)) == plain


def _in_unit(value: float | None) -> bool:
    return value is None or 0.0 <= value <= 1.0


@settings(max_examples=100, deadline=None)
@given(OUTCOMES, st.booleans(), st.integers(0, 2**32))
def test_pair_tables_never_raise(outcomes: list[Outcome], as_tie: bool, seed: int) -> None:
    summaries = pair_summary(outcomes, inconsistent_as_tie=as_tie, rounds=ROUNDS, seed=seed)
    assert sum(s.n for s in summaries) == sum(o.model_a != o.model_b for o in outcomes)
    for summary in summaries:
        assert summary.wins + summary.losses + summary.ties + summary.inconsistent + summary.unparsed == summary.n
        assert _in_unit(summary.win_rate) and _in_unit(summary.ci_low) and _in_unit(summary.ci_high)
        assert (summary.ci_low is None) == (summary.ci_high is None)
        if summary.ci_low is not None and summary.ci_high is not None:
            assert summary.ci_low < summary.ci_high  # a point is no interval
        # A rate has an interval or says why it has none; no rate, neither.
        if summary.win_rate is None:
            assert summary.ci_low is None and summary.no_interval is None
        else:
            assert (summary.ci_low is None) == (summary.no_interval is not None)
        assert summary.games <= summary.n
        _json_safe(summary)
    oriented = {(s.model_a, s.model_b) for s in summaries}
    for tables in by_category(outcomes, inconsistent_as_tie=as_tie, rounds=ROUNDS, seed=seed).values():
        assert {(s.model_a, s.model_b) for s in tables} <= oriented

    matrix = win_rate_matrix(outcomes, inconsistent_as_tie=as_tie)
    for i, row in enumerate(matrix.rates):
        assert row[i] is None
        for j, rate in enumerate(row):
            back = matrix.rates[j][i]
            if rate is not None and back is not None:
                assert math.isclose(rate + back, 1.0)
            else:
                assert rate is None and back is None
    _json_safe(matrix)


@settings(max_examples=100, deadline=None)
@given(OUTCOMES, st.booleans(), st.integers(0, 2**32))
def test_ratings_never_raise_and_stay_finite(outcomes: list[Outcome], as_tie: bool, seed: int) -> None:
    ratings = bradley_terry(outcomes, inconsistent_as_tie=as_tie, rounds=ROUNDS, seed=seed)
    if ratings.anchor is not None:
        assert ratings.rating(ratings.anchor).rating == 1000.0
    values = [entry.rating for entry in ratings.models]
    assert all(math.isfinite(value) for value in values)
    assert values == sorted(values, reverse=True)
    for entry in ratings.models:
        assert entry.games > 0
        if entry.ci_low is not None and entry.ci_high is not None:
            assert math.isfinite(entry.ci_low) and entry.ci_low < entry.ci_high
        assert (entry.ci_low is None) == (entry.no_interval is not None)
    rated = {entry.model for entry in ratings.models}
    unrated = {entry.model for entry in ratings.unrated}
    assert not rated & unrated
    assert rated | unrated == {model for o in outcomes for model in (o.model_a, o.model_b)}
    _json_safe(ratings)


@settings(max_examples=100, deadline=None)
@given(OUTCOMES)
def test_behaviour_and_agreement_never_raise(outcomes: list[Outcome]) -> None:
    behaviour = judge_behaviour(outcomes)
    for name in ("position_consistency", "first_position_preference", "length_preference", "tie_rate",
                 "inconsistent_rate", "unparsed_rate"):
        assert _in_unit(getattr(behaviour, name))
    _json_safe(behaviour)

    single = agreement([o.decision for o in outcomes], [o.human for o in outcomes])
    assert single.n == sum(o.human is not None for o in outcomes)
    for value in (single.accuracy, single.precision, single.recall, single.f1):
        assert _in_unit(value)
    assert single.kappa is None or -1.0 - 1e-12 <= single.kappa <= 1.0 + 1e-12
    _json_safe(single)

    both = order_agreement([o.ab for o in outcomes], [o.ba for o in outcomes], [o.human for o in outcomes])
    assert _in_unit(both.agreement) and _in_unit(both.consistency)
    assert both.correct_both <= both.consistent
    _json_safe(both)
