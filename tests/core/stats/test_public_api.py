"""The statistics package's public surface: a sorted `__all__`, validated input records, JSON-safe results."""

from __future__ import annotations

import json

import judgedesk.core.stats as stats
import pytest
from judgedesk.core import InputError
from judgedesk.core.stats import Outcome


def _ruff_order(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2), name


def test_all_is_sorted_unique_and_complete() -> None:
    names = list(stats.__all__)
    assert names == sorted(set(names), key=_ruff_order)
    assert [name for name in names if not hasattr(stats, name)] == []
    for name in ("agreement", "bradley_terry", "by_category", "judge_behaviour", "order_agreement", "pair_summary",
                 "win_rate_matrix", "Outcome"):
        assert name in names


@pytest.mark.parametrize(("field", "value"), [("decision", "C"), ("ab", "inconsistent"), ("ba", "unparsed"),
                                              ("human", "a"), ("len_a", -1)])
def test_outcome_refuses_values_outside_its_vocabulary(field: str, value: object) -> None:
    values: dict[str, object] = {"item_id": "q7", "model_a": "X", "model_b": "Y", "decision": "A", field: value}
    with pytest.raises(InputError, match=f"item 'q7', field '{field}'"):
        Outcome(**values)  # type: ignore[arg-type]


def test_every_result_serialises() -> None:
    outcomes = [Outcome("1", "X", "Y", "A", ab="A", ba="A", len_a=3, len_b=1, category="c", human="A"),
                Outcome("2", "Y", "X", "tie", ab="tie", ba="tie", human="tie"),
                Outcome("3", "X", "Y", "unparsed", ab=None, ba="B")]
    results = [*stats.pair_summary(outcomes, rounds=10), stats.bradley_terry(outcomes, rounds=10),
               stats.win_rate_matrix(outcomes), stats.judge_behaviour(outcomes),
               stats.agreement([o.decision for o in outcomes], [o.human for o in outcomes]),
               stats.order_agreement([o.ab for o in outcomes], [o.ba for o in outcomes], [o.human for o in outcomes])]
    for result in results:
        plain = result.to_dict()
        assert json.loads(json.dumps(plain, allow_nan=False)) == plain
