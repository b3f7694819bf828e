"""The Compare view's cancel, cost estimate, kept texts and demo-judge note, driven through its widgets on the demo
judge (issue 17)."""

from __future__ import annotations

import time

import pytest
from judgedesk.core import CostEstimate
from judgedesk.desktop._compare_view import LONG_COMPARISON_S, CompareView
from judgedesk.desktop._demo_judge_note import DemoJudgeNote
from judgedesk.desktop._tasks import TaskState
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QPushButton, QToolButton

INSTRUCTION = "What is the capital of France? Answer in one sentence."
PARIS = "The capital of France is Paris."
LYON = "The capital of France is Lyon."
TIMEOUT = 120_000


def _view(context, qtbot) -> CompareView:
    view = CompareView(context)
    qtbot.addWidget(view)
    view.resize(1150, 790)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.fixture
def view(app_context, qtbot) -> CompareView:
    return _view(app_context, qtbot)


def _run_and_wait(view: CompareView, qtbot):
    qtbot.mouseClick(view.findChild(QPushButton, "runButton"), Qt.MouseButton.LeftButton)
    task = view.task
    assert task is not None, view.context.messages.current_text()
    # Waited on the state, not on the signal: an estimate-only task can end before a connection made here.
    qtbot.waitUntil(lambda: task.state not in (TaskState.PENDING, TaskState.RUNNING), timeout=TIMEOUT)
    assert task.state is TaskState.FINISHED, task.error
    return task.result


@pytest.mark.real_model
def test_cancel_stops_the_generation_and_marks_the_shown_verdict_as_the_previous_runs(view: CompareView,
                                                                                      qtbot) -> None:
    view.picker.set_format("generic")
    view.set_pair(INSTRUCTION, PARIS, LYON)
    first = _run_and_wait(view, qtbot).result
    assert view.card.result is first and not view.card.marked_previous

    # A long generation: prometheus writes its critique freely, here with a budget of 3,000 tokens (about 10 s an
    # order on the demo judge before this fix kept the worker busy after a cancel).
    view.picker.set_format("prometheus")
    view.max_tokens = 3000
    asked: list[CostEstimate] = []
    view.confirm_long_run = lambda estimate: asked.append(estimate) or True  # type: ignore[method-assign]
    view.context.settings.set_judge_rate("demo", 10.0)  # slow enough that the estimate asks first
    long_task = None
    qtbot.mouseClick(view.findChild(QPushButton, "runButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(asked) and view.task is not None, timeout=TIMEOUT)
    long_task = view.task
    assert asked[0].longer_than(LONG_COMPARISON_S) and asked[0].generated_tokens == 3000
    # The first order has started (the worker's progress reaches the card through the view's own connection).
    qtbot.waitUntil(lambda: view.card.status.text().startswith("Judging"), timeout=TIMEOUT)
    qtbot.wait(1000)

    instruction = view.findChild(QPlainTextEdit, "instructionEdit")
    instruction.setFocus()
    cancelled_at = time.monotonic()
    qtbot.keyClick(instruction, Qt.Key.Key_Escape)
    status = view.findChild(QLabel, "verdictStatus").text()
    assert status == "Cancelled. The verdict below is from the previous run."
    assert view.card.result is first and view.card.marked_previous
    assert "from the previous run" in view.findChild(QLabel, "verdictStale").text()

    # A new Run starts within a couple of seconds: the generation stopped at the next token.
    view.picker.set_format("generic")
    view.max_tokens = None
    view.context.settings.set_judge_rate("demo", 1e6)  # a short run: no question this time
    qtbot.mouseClick(view.findChild(QPushButton, "runButton"), Qt.MouseButton.LeftButton)
    task = view.task
    assert task is not None
    qtbot.waitUntil(lambda: view.card.status.text().startswith("Judging") or view.task is None, timeout=TIMEOUT)
    started_after = time.monotonic() - cancelled_at
    # Before, the worker finished the whole generation first (about 13 s on a 2-core machine); now it stops at the
    # next token. The bound leaves room for a loaded machine (one token of the demo judge takes up to ~0.7 s when
    # other processes share its 2 cores).
    assert started_after < 5.0, f"the new run waited {started_after:.1f} s for the cancelled one"
    qtbot.waitUntil(lambda: view.task is None, timeout=TIMEOUT)  # the new run's verdict is shown
    assert long_task.state is TaskState.CANCELLED
    assert view.card.result is task.result.result and not view.card.marked_previous
    assert not view.findChild(QLabel, "verdictStale").isVisible()


@pytest.mark.real_model
def test_a_long_comparison_says_its_cost_and_runs_only_when_confirmed(view: CompareView, qtbot) -> None:
    view.picker.set_format("generic")
    # A 43,600-character response, far past the demo judge's 4,096-token context.
    view.set_pair(INSTRUCTION, PARIS + " " + "Paris is lovely in spring. " * 1615, LYON)
    assert len(view.current_item().responses[0]) > 43_600
    asked: list[CostEstimate] = []
    answers = [False, True]
    view.confirm_long_run = lambda estimate: asked.append(estimate) or answers.pop(0)  # type: ignore[method-assign]

    outcome = _run_and_wait(view, qtbot)
    estimate = asked[0]
    assert outcome.result is None and view.card.result is None  # declined: nothing judged
    assert estimate.cut_tokens > 0 and estimate.needed_tokens > estimate.n_ctx == 4096
    assert estimate.prompt_tokens <= 4096 and estimate.orders == 2 and not estimate.rate_measured
    assert estimate.prompt_seconds > LONG_COMPARISON_S and estimate.longer_than(LONG_COMPARISON_S)
    described = estimate.describe()
    assert "expected" in described and "cut from their middles" in described and "conservative default" in described
    assert view.findChild(QLabel, "verdictStatus").text().startswith("Not run: the comparison was expected")

    # Confirmed, it runs (a short pair, at a slow rate set by hand so that it asks), and the time it took becomes
    # the rate the next estimate uses.
    view.set_pair(INSTRUCTION, PARIS, LYON)
    view.context.settings.set_judge_rate("demo", 5.0)
    qtbot.mouseClick(view.findChild(QPushButton, "runButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.card.result is not None, timeout=TIMEOUT)
    assert len(asked) == 2 and asked[1].rate == 5.0 and asked[1].rate_measured
    rate = view.context.settings.judge_rate("demo")
    assert rate is not None and rate != 5.0


@pytest.mark.real_model
def test_a_short_comparison_does_not_ask(view: CompareView, qtbot) -> None:
    view.picker.set_format("generic")
    # Explain: a 512-token budget, an upper bound that alone does not ask before a rate was measured.
    view.explain.setChecked(True)
    view.set_pair(INSTRUCTION, PARIS, LYON)
    view.confirm_long_run = lambda estimate: pytest.fail("a short comparison asked")  # type: ignore[method-assign]
    outcome = _run_and_wait(view, qtbot)
    assert outcome.result is not None and not outcome.estimate.longer_than(LONG_COMPARISON_S)


def test_the_texts_are_kept_across_a_restart(app_context, qtbot) -> None:
    view = _view(app_context, qtbot)
    view.set_pair(INSTRUCTION, PARIS, LYON, input="Context")
    view.findChild(QToolButton, "referenceToggle").click()
    view.findChild(QPlainTextEdit, "referenceEdit").setPlainText("Paris.")
    view.view_will_close()
    view.close()

    again = _view(app_context, qtbot)
    item = again.current_item()
    assert (item.instruction, item.input, item.responses, item.reference) == (INSTRUCTION, "Context",
                                                                              (PARIS, LYON), "Paris.")
    assert again.findChild(QPlainTextEdit, "referenceEdit").isVisible()
    assert not again.findChild(QLabel, "verdictStale").isVisible()


@pytest.mark.real_model
def test_the_first_demo_verdict_carries_the_note_once_and_it_can_be_dismissed(app_context, qtbot) -> None:
    view = _view(app_context, qtbot)
    note = view.findChild(DemoJudgeNote, "demoJudgeNote")
    assert note is not None and not note.isVisible()
    view.picker.set_format("generic")
    view.set_pair(INSTRUCTION, PARIS, LYON)
    _run_and_wait(view, qtbot)
    assert note.isVisible()
    text = view.findChild(QLabel, "demoJudgeNoteText").text()
    assert "demo judge" in text and "Judges view" in text and "Import GGUF" in text and "Import HF folder" in text
    assert "compare" in app_context.settings.demo_notes_seen
    _run_and_wait(view, qtbot)  # still shown in this session until dismissed
    assert note.isVisible()
    qtbot.mouseClick(view.findChild(QToolButton, "demoJudgeNoteDismiss"), Qt.MouseButton.LeftButton)
    assert not note.isVisible()
    _run_and_wait(view, qtbot)
    assert not note.isVisible()
    view.close()

    # After a restart it is not shown again.
    again = _view(app_context, qtbot)
    again.picker.set_format("generic")
    _run_and_wait(again, qtbot)
    assert not again.findChild(DemoJudgeNote, "demoJudgeNote").isVisible()
