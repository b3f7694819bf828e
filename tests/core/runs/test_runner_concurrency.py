"""The batch runner with a backend that takes several judgements at once (an inference server's budget).

`ConcurrentMock` is the mock backend with `max_in_flight` 3, made slow enough that judgements overlap, counting how
many run at once. What must hold: each order judged and committed once, never more than `max_in_flight` at a time,
commits and progress in the caller's thread, a cancel or a server that stopped answering losing nothing judged, and
a rerun finishing without judging anything twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge
from judgedesk.core._errors import ServerUnavailableError
from judgedesk.core.backends import BackendCapabilities, Sampling
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.reports import load_results
from judgedesk.core.runs import BatchOptions, RunInterrupted, RunStore, run_batch
from judgedesk.core.runs._runner import run_key_for

IN_FLIGHT = 3


def _dataset(n: int = 8) -> Dataset:
    pairs = tuple(PairTask(item=EvalItem(id=f"i{k}", instruction=f"Task {k}", responses=(f"good {k}", f"bad {k}")),
                           model_a="alpha", model_b="beta")
                  for k in range(n))
    return Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta"), pairs=pairs, grades=())


def _prefers_good(prompt: str, options: list[str]) -> list[float]:
    first_is_good = prompt.find("good") < prompt.find("bad")
    return [0.0 if (o == "1") == first_is_good and o in ("1", "2") else -9.0 for o in options]


class ConcurrentMock(MockBackend):
    """The mock backend as a server-like backend: several calls at once, each taking `delay_s`; optionally one
    that stops answering after `healthy_calls` calls.

    Calls wait (up to `gather_s`) until `max_in_flight` of them run at once, so reaching the limit does not depend
    on thread scheduling; a runner that never reaches it only makes the test slow, and then fail.
    """

    name = "mock-server"

    def __init__(self, *, max_in_flight: int = IN_FLIGHT, delay_s: float = 0.03, healthy_calls: int | None = None,
                 extra_settings: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(option_scores=_prefers_good, capabilities=BackendCapabilities(max_in_flight=max_in_flight),
                         **kwargs)
        self.delay_s = delay_s
        self.healthy_calls = healthy_calls
        self.extra_settings = dict(extra_settings or {})
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.started = 0
        self.scored_prompts: list[str] = []
        self.threads: set[str] = set()
        self.gather_s = 5.0
        self._all_busy = threading.Event()

    def score_options(self, prompt: Sequence[int], options: Sequence[Sequence[int]]) -> list[list[float]]:
        with self._lock:
            self.started += 1
            if self.healthy_calls is not None and self.started > self.healthy_calls:
                raise ServerUnavailableError("http://10.0.0.5:8080/v1/completions: no usable answer after 6 "
                                             "attempts in 31 s (last: connection refused); is the server running?")
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.threads.add(threading.current_thread().name)
            if self.active >= self.capabilities.max_in_flight:
                self._all_busy.set()
        try:
            if self.capabilities.max_in_flight > 1:
                self._all_busy.wait(self.gather_s)
            time.sleep(self.delay_s)
            scores = super().score_options(prompt, options)
        finally:
            with self._lock:
                self.active -= 1
        with self._lock:
            self.scored_prompts.append(self.detokenize(prompt))
        return scores

    def settings(self) -> Mapping[str, Any]:
        return {**super().settings(), **self.extra_settings}


def _judge(backend: MockBackend, **decoding: Any) -> Judge:
    return Judge(backend, format="pandalm", decoding=DecodingSettings(**decoding))


def _stored(folder: Path) -> int:
    with RunStore(folder) as store:
        latest = store.latest_run()
        assert latest is not None
        return store.count_verdicts(latest.run_key)


def test_every_order_is_judged_and_committed_once_with_at_most_max_in_flight_at_a_time(tmp_path: Path) -> None:
    backend = ConcurrentMock()
    result = run_batch(tmp_path / "run", _dataset(8), _judge(backend))
    assert (result.total, result.judged_now, result.already_done, result.errors) == (8, 16, 0, 0)
    assert len(backend.scored_prompts) == len(set(backend.scored_prompts)) == 16  # each order's prompt once
    assert backend.peak == IN_FLIGHT
    assert all(name.startswith("judgedesk-judge") for name in backend.threads)
    rows = load_results(tmp_path / "run").rows
    assert [row.task.item_id for row in rows] == [f"i{k}" for k in range(8)]
    assert all(row.decision(("AB", "BA")) == "A" for row in rows)
    assert _stored(tmp_path / "run") == 16


def test_a_backend_of_one_in_flight_is_judged_in_the_callers_thread(tmp_path: Path) -> None:
    backend = ConcurrentMock(max_in_flight=1)
    run_batch(tmp_path / "run", _dataset(3), _judge(backend))
    assert backend.peak == 1 and backend.threads == {threading.current_thread().name}


def test_progress_is_reported_from_the_callers_thread(tmp_path: Path) -> None:
    caller = threading.get_ident()
    seen: list[tuple[int, int]] = []
    run_batch(tmp_path / "run", _dataset(6), _judge(ConcurrentMock()),
              progress=lambda event: seen.append((threading.get_ident(), event.judged_now)))
    assert {thread for thread, _ in seen} == {caller}
    assert [judged for _, judged in seen] == list(range(1, 13))


def test_a_cancel_keeps_the_judgements_already_running_and_a_rerun_judges_nothing_twice(tmp_path: Path) -> None:
    cancel = threading.Event()
    first = ConcurrentMock()
    reported: list[object] = []

    def progress(event: object) -> None:
        reported.append(event)
        if len(reported) == 4:
            cancel.set()

    with pytest.raises(RunInterrupted, match="Run the same command again"):
        run_batch(tmp_path / "run", _dataset(8), _judge(first), progress=progress, cancel=cancel)
    stored = _stored(tmp_path / "run")
    # Every judgement started before the cancel was finished and committed, and nothing new was started after it.
    assert stored == first.started == len(reported)
    assert 4 <= stored <= 4 + IN_FLIGHT - 1 < 16

    second = ConcurrentMock()
    again = run_batch(tmp_path / "run", _dataset(8), _judge(second))
    assert (again.judged_now, again.already_done) == (16 - stored, stored)
    assert sorted(first.scored_prompts + second.scored_prompts) == sorted(set(first.scored_prompts
                                                                            + second.scored_prompts))
    assert _stored(tmp_path / "run") == 16


def test_a_server_that_stops_answering_stops_the_run_resumably(tmp_path: Path) -> None:
    failing = ConcurrentMock(healthy_calls=5)
    with pytest.raises(ServerUnavailableError) as caught:
        run_batch(tmp_path / "run", _dataset(8), _judge(failing))
    message = str(caught.value)
    assert message.startswith("http://10.0.0.5:8080/v1/completions: no usable answer")
    assert "Run the same command again (or add --resume) to continue" in message
    assert _stored(tmp_path / "run") == 5  # the healthy calls' judgements, and no error rows for the rest
    with RunStore(tmp_path / "run") as store:
        statuses = set(store.done(store.latest_run().run_key).values())  # type: ignore[union-attr]
    assert statuses == {"ok"}

    healthy = ConcurrentMock()
    resumed = run_batch(tmp_path / "run", _dataset(8), _judge(healthy))
    assert (resumed.judged_now, resumed.already_done, resumed.errors) == (11, 5, 0)
    assert len(set(failing.scored_prompts) | set(healthy.scored_prompts)) == 16
    assert not set(failing.scored_prompts) & set(healthy.scored_prompts)


def test_a_server_that_stops_answering_stops_a_one_at_a_time_run_too(tmp_path: Path) -> None:
    failing = ConcurrentMock(healthy_calls=3, max_in_flight=1)
    with pytest.raises(ServerUnavailableError, match="stopped after 1 of 4"):
        run_batch(tmp_path / "run", _dataset(4), _judge(failing))
    assert _stored(tmp_path / "run") == 3


def _key(backend: MockBackend, **decoding: Any) -> str:
    return run_key_for(_judge(backend, **decoding), BatchOptions())[0]


def test_the_run_key_ignores_how_the_judge_runs() -> None:
    in_process = MockBackend(option_scores=_prefers_good)
    served = ConcurrentMock(extra_settings={"n_threads": 16, "n_gpu_layers": 99, "endpoint": "http://10.0.0.5:8080",
                                            "server": "llama.cpp", "max_in_flight": IN_FLIGHT, "timeout_s": 30.0})
    assert served.name != in_process.name
    assert _key(in_process) == _key(served)


def test_the_run_key_changes_with_the_context_or_the_seed() -> None:
    base = _key(MockBackend(option_scores=_prefers_good))
    assert _key(MockBackend(option_scores=_prefers_good, n_ctx=2048)) != base
    assert _key(MockBackend(option_scores=_prefers_good), sampling=Sampling(seed=7)) != base
