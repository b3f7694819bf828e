"""Background work: outcomes reach the GUI thread, failures are messages, cancellation is quiet."""

from __future__ import annotations

import threading
import time

import pytest
from judgedesk.core import Cancelled, ImportCancelled, InputError
from judgedesk.desktop._jobs import JobRunner
from judgedesk.desktop._messages import MessageBar, report_task_errors
from judgedesk.desktop._tasks import TaskState
from PySide6.QtCore import QThread


@pytest.fixture
def jobs(qapp: object):
    runner = JobRunner()
    yield runner
    runner.shutdown()


def test_result_and_progress_arrive_in_the_gui_thread(jobs: JobRunner, qtbot) -> None:
    seen: list[tuple[str, bool]] = []
    gui = QThread.currentThread()

    def work(ctx):
        assert threading.current_thread() is not threading.main_thread()
        ctx.progress(1)
        return 42

    task = jobs.submit(work, "answer")
    task.task_did_progress.connect(lambda p: seen.append(("progress", QThread.currentThread() is gui)))
    blocker = qtbot.waitSignal(task.task_did_finish, timeout=5000)
    blocker.wait()
    assert blocker.args == [42]
    assert seen == [("progress", True)]
    assert task.state is TaskState.FINISHED and task.result == 42


def test_a_user_error_is_its_message_and_a_bug_is_one_line(jobs: JobRunner, qtbot) -> None:
    def bad_input(ctx):
        raise InputError("not a number", path="data.jsonl", line=3)

    task = jobs.submit(bad_input)
    blocker = qtbot.waitSignal(task.task_did_fail, timeout=5000)
    blocker.wait()
    assert "data.jsonl" in blocker.args[0] and "3" in blocker.args[0]

    def bug(ctx):
        raise ZeroDivisionError("division by zero")

    task = jobs.submit(bug, "adding up")
    blocker = qtbot.waitSignal(task.task_did_fail, timeout=5000)
    blocker.wait()
    assert blocker.args[0] == "unexpected error in adding up: ZeroDivisionError: division by zero"
    assert "Traceback" not in blocker.args[0]


def test_cancel_is_quiet_and_stops_the_work(jobs: JobRunner, qtbot) -> None:
    started = threading.Event()

    def slow(ctx):
        started.set()
        while True:
            ctx.check_cancelled()
            time.sleep(0.01)

    bar = MessageBar()
    qtbot.addWidget(bar)
    task = report_task_errors(jobs.submit(slow), bar)
    assert started.wait(5)
    with qtbot.waitSignal(task.task_was_cancelled, timeout=5000):
        task.cancel()
    assert task.state is TaskState.CANCELLED
    assert bar.current_text() == "" and bar.isHidden()


def test_cancelled_before_it_starts_never_runs(jobs: JobRunner, qtbot) -> None:
    gate = threading.Event()
    ran: list[int] = []
    blockers = [jobs.submit(lambda ctx: gate.wait(5)) for _ in range(2)]  # both pool workers busy
    queued = jobs.submit(lambda ctx: ran.append(1))
    queued.cancel()
    gate.set()
    qtbot.waitSignal(queued.task_was_cancelled, timeout=5000).wait()
    assert ran == []
    assert all(b.state in (TaskState.RUNNING, TaskState.FINISHED, TaskState.PENDING) for b in blockers)


@pytest.mark.parametrize("error", [Cancelled("stopped"), ImportCancelled("x.gguf: import cancelled")])
def test_cancelled_raised_without_the_event_is_still_quiet(jobs: JobRunner, qtbot, error: Cancelled) -> None:
    def stop(ctx):
        raise error

    bar = MessageBar()
    qtbot.addWidget(bar)
    task = report_task_errors(jobs.submit(stop), bar)
    qtbot.waitSignal(task.task_was_cancelled, timeout=5000).wait()
    assert task.state is TaskState.CANCELLED and bar.current_text() == ""


def test_message_bar_shows_the_latest_message(qtbot) -> None:
    bar = MessageBar()
    qtbot.addWidget(bar)
    bar.show_error("judge.gguf: not a GGUF file")
    assert bar.kind == "error" and bar.current_text() == "judge.gguf: not a GGUF file"
    bar.show_info("report written")
    assert bar.kind == "info" and bar.current_text() == "report written"
    bar.clear()
    assert bar.current_text() == "" and bar.isHidden()


def test_an_unexpected_error_in_a_gui_slot_is_one_line_in_the_bar(qtbot, monkeypatch) -> None:
    import sys

    from judgedesk.desktop._messages import install_unexpected_error_hook

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    bar = MessageBar()
    qtbot.addWidget(bar)
    install_unexpected_error_hook(bar)
    sys.excepthook(ValueError, ValueError("boom"), None)
    assert bar.kind == "error" and bar.current_text() == "unexpected error: ValueError: boom"
