"""The judge service on the real demo judge: one worker owns the model, reuses it, frees it, stays cancellable."""

from __future__ import annotations

import threading
import time

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Sampling
from judgedesk.desktop._judge_service import JudgeService, JudgeSpec, LoadedJudge
from judgedesk.desktop._settings import AppSettings
from judgedesk.desktop._tasks import TaskState

pytestmark = pytest.mark.real_model

ITEM = EvalItem(id="capital", instruction="What is the capital of France? Answer in one sentence.",
                responses=("The capital of France is Paris.", "The capital of France is Lyon."))




def test_judge_work_runs_on_one_thread_with_the_loaded_judge(service: JudgeService, qtbot) -> None:
    threads: set[int] = set()

    def compare(ctx):
        threads.add(threading.get_ident())
        return ctx.judge.judge_both_orders(ITEM)

    with qtbot.waitSignal(service.judge_did_load, timeout=60000) as loaded:
        first = service.submit(JudgeSpec(format="pandalm"), compare)
    assert isinstance(loaded.args[0], LoadedJudge) and loaded.args[0].format == "pandalm"
    second = service.submit(JudgeSpec(format="generic"), compare)
    qtbot.waitSignal(second.task_did_finish, timeout=60000).wait()
    assert first.state is TaskState.FINISHED and first.result.ab.manifest.format == "pandalm"
    assert second.result.ab.manifest.format == "generic"
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert service.loaded is not None and service.loaded.format == "generic"


def test_changing_the_format_keeps_the_model_and_changing_the_context_reloads_it(service: JudgeService,
                                                                                  qtbot) -> None:
    backends: list[object] = []
    record = lambda ctx: backends.append(ctx.judge.backend)  # noqa: E731
    reseeded = JudgeSpec(format="generic", decoding=DecodingSettings(sampling=Sampling(seed=7)))
    for spec in (JudgeSpec(format="pandalm"), JudgeSpec(format="generic"), reseeded,
                 JudgeSpec(format="generic", n_ctx=2048)):
        task = service.submit(spec, record)
    qtbot.waitSignal(task.task_did_finish, timeout=60000).wait()
    assert backends[0] is backends[1] is backends[2]
    assert backends[3] is not backends[2]


def test_unload_frees_the_model(service: JudgeService, qtbot) -> None:
    task = service.preload(JudgeSpec())
    qtbot.waitSignal(task.task_did_finish, timeout=60000).wait()
    assert service.loaded is not None
    with qtbot.waitSignal(service.judge_did_unload, timeout=10000):
        service.unload()
    assert service.loaded is None


def test_the_event_loop_answers_while_the_judge_works_and_cancel_stops_it(service: JudgeService,
                                                                          qtbot) -> None:
    judged: list[float] = []  # how long each judgement took
    threads: set[int] = set()

    def many(ctx):
        for _ in range(50):
            ctx.check_cancelled()
            started = time.monotonic()
            ctx.judge.compare(ITEM)
            judged.append(time.monotonic() - started)
            threads.add(threading.get_ident())
            ctx.progress(len(judged))

    task = service.submit(JudgeSpec(format="pandalm"), many)
    ticks: list[float] = []
    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    qtbot.waitUntil(lambda: len(judged) >= 2, timeout=60000)
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    # Judged off the GUI thread, and the GUI never waited for a judgement: its longest pause is measured against the
    # longest judgement in the same run, not against a fixed budget a loaded machine would miss.
    assert threading.get_ident() not in threads
    assert gaps and max(gaps) < max(judged) / 2, f"the GUI thread stalled {max(gaps):.2f} s, judgements took {judged}"
    with qtbot.waitSignal(task.task_was_cancelled, timeout=60000):
        task.cancel()
        at_cancel = len(judged)
    assert len(judged) <= at_cancel + 1  # the judgement under way finishes, no other starts


def test_a_missing_judge_is_a_message(service: JudgeService, qtbot, tmp_path) -> None:
    task = service.submit(JudgeSpec(judge=str(tmp_path / "nothing.gguf")), lambda ctx: None)
    failed = qtbot.waitSignal(task.task_did_fail, timeout=10000)
    failed.wait()
    assert "nothing.gguf" in failed.args[0] and "no such file" in failed.args[0]


def test_settings_persist_and_build_the_spec(tmp_path, qapp) -> None:
    path = tmp_path / "desktop.ini"
    settings = AppSettings(path)
    assert settings.seed == 2023 and settings.n_ctx == 4096 and settings.threads is None
    settings.threads, settings.n_ctx, settings.seed, settings.gpu_layers = 2, 2048, 7, 3
    settings.default_format = "pandalm"
    settings.runs_dir = tmp_path / "runs"
    again = AppSettings(path)
    assert (again.threads, again.n_ctx, again.seed, again.gpu_layers) == (2, 2048, 7, 3)
    assert again.runs_dir == tmp_path / "runs"
    spec = again.judge_spec()
    assert spec.format == "pandalm" and spec.n_ctx == 2048 and spec.n_threads == 2 and spec.n_gpu_layers == 3
    assert spec.decoding.sampling.seed == 7 and spec.judge == "demo"
    settings.default_format = None
    assert AppSettings(path).default_format is None
