"""The `mtbench` and `arenahard` formats on the real embedded demo judge (SmolLM2-135M-Instruct through llama.cpp).

The demo judge is weak and the budget is kept small (32 tokens of critique), so these tests check what must hold
for any judge: in both orders, at turn 1 and turn 2, the constrained verdict parses (status ok), the winner is the
option the judge gave the most probability, a five-level verdict's strength names its winner, a grade lies on
MT-bench's scale, and the same seed gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from judgedesk.core import (
    DecodingSettings,
    EvalItem,
    Judge,
    PairwiseVerdict,
    PriorTurn,
    create_backend,
    strength_winner,
    to_json,
    winner_probabilities,
)

pytestmark = pytest.mark.real_model

BUDGET = DecodingSettings(max_tokens=32)
PAIR = EvalItem(id="capital", instruction="What is the capital of France?",
                responses=("The capital of France is Paris.", "France's capital is Berlin."))
TURN_2 = EvalItem(
    id="arith-t2", instruction="Now multiply that by 3.", responses=("7 times 3 is 21.", "It is 24."),
    category="math", reference="7 x 3 = 21",
    history=(PriorTurn("What is 3 + 4?", ("3 + 4 = 7.", "3 + 4 = 8."), "3 + 4 = 7"),),
)


@pytest.fixture(scope="module")
def backend(demo_path: Path) -> Iterator[object]:
    with create_backend("llama.cpp", path=demo_path, n_ctx=2048) as loaded:
        yield loaded


def _judge(backend: object, fmt: str, decoding: DecodingSettings = BUDGET) -> Judge:
    # owns_backend=False: the module's judges share one loaded model, closed by the fixture.
    return Judge(backend, format=fmt, decoding=decoding, owns_backend=False)  # type: ignore[arg-type]


def _check_constrained(verdict: PairwiseVerdict, order: str) -> None:
    assert verdict.order == order
    assert verdict.status == "ok", verdict.raw_output
    assert verdict.winner in {"A", "B", "tie"}
    assert verdict.probabilities is not None
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    winners = winner_probabilities(verdict.probabilities)
    assert set(winners) == {"A", "B", "tie"}


def _check_repeat(demo_path: Path, fmt: str, item: EvalItem, verdict: PairwiseVerdict) -> None:
    """The same judge file, seed and settings, freshly loaded, give `verdict` again byte for byte.

    A fresh model, not the shared one: on the shared one a verdict judged right after the very same prompt differs
    in the option probabilities, because llama.cpp's one-token decode of the prompt's last token (all that prefix
    reuse leaves to evaluate) is not bit-identical to a batched one once the context holds some 256 tokens.
    """
    with create_backend("llama.cpp", path=demo_path, n_ctx=2048) as fresh:
        again = _judge(fresh, fmt).compare(item, order=verdict.order)
    assert to_json(again) == to_json(verdict)


@pytest.mark.parametrize("item", [PAIR, TURN_2], ids=["turn-1", "turn-2-math"])
def test_mtbench_pairwise_both_orders(backend: object, demo_path: Path, item: EvalItem) -> None:
    result = _judge(backend, "mtbench").judge_both_orders(item)
    if item.history:
        assert result.ba is not None
        _check_repeat(demo_path, "mtbench", item, result.ba)
    for verdict, order in ((result.ab, "AB"), (result.ba, "BA")):
        assert verdict is not None
        _check_constrained(verdict, order)
        assert verdict.strength is None
        assert verdict.probabilities is not None
        assert max(verdict.probabilities, key=verdict.probabilities.get) == verdict.winner
        # The verdict is the last thing written, in FastChat's format.
        assert verdict.raw_output.endswith(("[[A]]", "[[B]]", "[[C]]")), verdict.raw_output
    assert result.decision in {"A", "B", "tie", "inconsistent"}


@pytest.mark.parametrize(("item", "index"), [(PAIR, 0), (TURN_2, 1)], ids=["turn-1", "turn-2-math"])
def test_mtbench_grades_on_its_scale(backend: object, item: EvalItem, index: int) -> None:
    grade = _judge(backend, "mtbench").grade(item, response_index=index)
    assert grade.status == "ok", grade.raw_output
    assert grade.score is not None and 1 <= grade.score <= 10 and grade.scale == (1, 10)
    assert grade.raw_output.rstrip().endswith("]]")


def test_arenahard_both_orders_keep_a_strength_that_names_the_winner(backend: object, demo_path: Path) -> None:
    result = _judge(backend, "arenahard").judge_both_orders(PAIR)
    assert result.ba is not None
    _check_repeat(demo_path, "arenahard", PAIR, result.ba)
    for verdict, order in ((result.ab, "AB"), (result.ba, "BA")):
        assert verdict is not None
        _check_constrained(verdict, order)
        assert verdict.probabilities is not None
        assert set(verdict.probabilities) == {"A>>B", "A>B", "A=B", "B>A", "B>>A"}
        assert verdict.strength is not None and strength_winner(verdict.strength) == verdict.winner
        # The verdict chosen is the most probable of the five, in the caller's labels.
        assert max(verdict.probabilities, key=verdict.probabilities.get) == verdict.strength
    assert result.decision in {"A", "B", "tie", "inconsistent"}
