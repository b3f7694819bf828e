"""The cost estimate before a comparison, and a cancel that stops a generation under way (issue 17)."""

from __future__ import annotations

import threading
import time

import pytest
from judgedesk.core import (
    Cancelled,
    DecodingSettings,
    EvalItem,
    Judge,
    estimate_comparison_cost,
    load_judge,
)
from judgedesk.core.backends._mock import MockBackend

PAIR = EvalItem(id="q", instruction="What is the capital of France?",
                responses=("The capital of France is Paris.", "The capital of France is Lyon."))


def test_a_cancel_reaches_the_backend_and_stops_before_generating() -> None:
    backend = MockBackend(outputs=["Output (a) is better."] * 4)
    judge = Judge(backend, format="autoj", decoding=DecodingSettings())
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        judge.compare(PAIR, cancel=cancel)
    assert not [c for c in backend.calls if c["kind"] == "generate"]


@pytest.mark.real_model
def test_the_estimate_matches_what_the_engine_feeds_the_judge() -> None:
    with load_judge("demo", format="generic", n_ctx=1024, n_threads=1) as judge:
        short = estimate_comparison_cost(judge, PAIR, both=True, rate=100.0)
        verdict = judge.compare(PAIR)
        assert short.cut_tokens == verdict.cut_tokens == 0 and short.needed_tokens == short.prompt_tokens
        assert short.generated_tokens == 0 and short.orders == 2 and short.rate_measured
        assert short.seconds == pytest.approx(2 * short.prompt_tokens / 100.0)

        long_item = EvalItem(id="long", instruction=PAIR.instruction,
                             responses=("Paris is lovely in spring. " * 400, PAIR.responses[1]))
        long = estimate_comparison_cost(judge, long_item, both=False)
        assert long.cut_tokens == judge.compare(long_item).cut_tokens > 0
        assert long.prompt_tokens <= 1024 < long.needed_tokens and long.orders == 1 and not long.rate_measured
        assert "cut from their middles" in long.describe() and "conservative default" in long.describe()


@pytest.mark.real_model
def test_a_cancel_stops_a_long_generation_at_the_next_token() -> None:
    with load_judge("demo", format="prometheus", n_threads=1,
                    decoding=DecodingSettings(max_tokens=3000)) as judge:
        estimate = estimate_comparison_cost(judge, PAIR)
        assert estimate.generated_tokens == 3000
        cancel = threading.Event()
        timer = threading.Timer(1.0, cancel.set)
        timer.start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            judge.judge_both_orders(PAIR, cancel=cancel)
        assert time.monotonic() - started < 4.0
        # The model is fine afterwards: the next verdict is the one a fresh judge gives.
        after = Judge(judge.backend, format="generic", owns_backend=False).compare(PAIR)
    with load_judge("demo", format="generic", n_threads=1) as fresh:
        assert fresh.compare(PAIR).probabilities == after.probabilities
