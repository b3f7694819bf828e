"""The judge service opens judges the way core does, and owns the model it shares between its judges.

Each request gets a new `Judge` over the one loaded model; that judge does not own the model, so work that closes
its judge leaves the model loaded for the next request. And the service's judge is core's: the same file, format
and verdicts as `load_judge` gives.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from judgedesk.core import EvalItem, demo_judge_path, import_judge, load_judge
from judgedesk.desktop._judge_service import JudgeService, JudgeSpec
from judgedesk.desktop._tasks import TaskState

pytestmark = pytest.mark.real_model

TIMEOUT = 60000
ITEM = EvalItem(id="capital", instruction="What is the capital of France? Answer in one sentence.",
                responses=("The capital of France is Paris.", "The capital of France is Lyon."))




def test_closing_a_judge_the_service_issued_leaves_the_shared_model_loaded(service: JudgeService,
                                                                          qtbot) -> None:
    def close_it(ctx):
        assert not ctx.judge.owns_backend
        ctx.judge.close()
        return ctx.judge.backend

    closed = service.submit(JudgeSpec(format="pandalm"), close_it)
    after = service.submit(JudgeSpec(format="pandalm"), lambda ctx: (ctx.judge.backend, ctx.judge.compare(ITEM)))
    qtbot.waitSignal(after.task_did_end, timeout=TIMEOUT).wait()
    assert closed.state is after.state is TaskState.FINISHED, after.error if after.state is TaskState.FAILED else None
    backend, verdict = after.result
    assert backend is closed.result  # the same model, not reloaded
    assert verdict.status == "ok" and verdict.winner is not None
    assert service.loaded is not None


def test_the_service_and_core_open_the_same_judge_with_the_same_format_and_verdicts(
        service: JudgeService, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A library judge whose format was chosen at import: neither its file nor its name says pandalm.
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))
    copy = tmp_path / "my-judge.gguf"
    shutil.copyfile(demo_judge_path(), copy)
    import_judge(copy, name="imported-as-pandalm", copy=False, format="pandalm")

    with qtbot.waitSignal(service.judge_did_load, timeout=TIMEOUT) as loaded:
        task = service.submit(JudgeSpec(judge="imported-as-pandalm"), lambda ctx: ctx.judge.judge_both_orders(ITEM))
    qtbot.waitSignal(task.task_did_end, timeout=TIMEOUT).wait()
    assert task.state is TaskState.FINISHED
    with load_judge("imported-as-pandalm") as judge:
        expected = judge.judge_both_orders(ITEM)
        assert judge.format.name == "pandalm"
    assert loaded.args[0].format == "pandalm" and loaded.args[0].path == copy
    assert task.result.to_dict() == expected.to_dict()  # same verdicts, same manifest (file, format, decoding)
