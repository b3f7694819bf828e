"""The Compare view driven through its widgets, on the real demo judge."""

from __future__ import annotations

import json

import pytest
from judgedesk.core import BothOrdersResult, EvalItem, demo_judge_path, to_json
from judgedesk.core.formats import DEFAULT_GENERIC_RUBRIC, DEFAULT_PROMETHEUS_RUBRIC
from judgedesk.desktop._compare_view import CompareView
from judgedesk.desktop._judge_service import JudgeSpec
from judgedesk.desktop._tasks import TaskState
from judgedesk.desktop._verdict_card import DECISION_LABELS, ProbabilityBars
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
)

from tests.simulated_cpu import AVX512_BUILD, HASWELL, simulate_cpu

INSTRUCTION = "What is the capital of France? Answer in one sentence."
PARIS = "The capital of France is Paris."
LYON = "The capital of France is Lyon."
TIMEOUT = 120000
SWAPPED = {"A": "B", "B": "A", "tie": "tie", None: None, "inconsistent": "inconsistent", "unparsed": "unparsed"}


@pytest.fixture
def view(app_context, qtbot) -> CompareView:
    view = CompareView(app_context)
    qtbot.addWidget(view)
    view.resize(1150, 790)
    view.show()
    qtbot.waitExposed(view)
    return view


def _run_and_wait(view: CompareView, qtbot) -> BothOrdersResult:
    qtbot.mouseClick(view.findChild(QPushButton, "runButton"), Qt.MouseButton.LeftButton)
    task = view.task
    assert task is not None, view.context.messages.current_text()
    qtbot.waitSignal(task.task_did_end, timeout=TIMEOUT).wait()
    assert task.state is TaskState.FINISHED, task.error
    assert task.result.result is not None, "not judged: the estimate asked first"
    return task.result.result


def _editor(view: CompareView, name: str) -> QPlainTextEdit:
    editor = view.findChild(QPlainTextEdit, name)
    assert editor is not None, name
    return editor


def _focus(view: CompareView, qtbot, widget) -> None:
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=5000)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=5000)


@pytest.mark.real_model
def test_a_typed_pair_is_judged_in_both_orders_and_copied(view: CompareView, qtbot) -> None:
    view.picker.set_format("generic")
    qtbot.keyClicks(_editor(view, "instructionEdit"), INSTRUCTION)
    qtbot.keyClicks(_editor(view, "responseAEdit"), PARIS)
    qtbot.keyClicks(_editor(view, "responseBEdit"), LYON)
    result = _run_and_wait(view, qtbot)

    assert result.ab.manifest is not None and result.ab.manifest.format == "generic"
    assert result.ba is not None and result.item_id == "compare"
    winner = view.findChild(QLabel, "verdictWinner")
    assert winner.text() == DECISION_LABELS[result.decision] and winner.property("decision") == result.decision
    for verdict in (result.ab, result.ba):
        # A fast verdict generated no text: the card says so, with the option probabilities, instead of showing
        # the prompt's last words and the option chosen ('{"winner": "A') as if it were cut-off output.
        assert not _editor(view, f"rawOutput{verdict.order}").isVisible()
        fast = view.findChild(QLabel, f"fastVerdict{verdict.order}")
        assert fast.isVisible() and "next-token probabilities" in fast.text() and "no text was generated" in fast.text()
        assert "P(A)=" in fast.text() and "P(B)=" in fast.text()
        bars = view.findChild(ProbabilityBars, f"probabilities{verdict.order}")
        assert bars is not None and bars.isVisible()
        assert bars.probabilities == pytest.approx(dict(verdict.probabilities))
        assert set(bars.probabilities) == {"A", "B", "tie"}
    consistency = view.findChild(QLabel, "verdictConsistency").text()
    assert consistency == ("consistent" if result.consistent else "inconsistent")
    manifest = view.findChild(QLabel, "verdictManifest").text()
    assert result.ab.manifest.judge_sha256[:12] in manifest and "generic" in manifest and "seed 2023" in manifest
    assert view.findChild(QPushButton, "runButton").isEnabled() and view.task is None

    # The view's verdict is the core's judge_both_orders, the same as judging the pair directly.
    direct = view.context.service.submit(view.current_spec(), lambda ctx: ctx.judge.judge_both_orders(
        EvalItem(id="compare", instruction=INSTRUCTION, responses=(PARIS, LYON))))
    qtbot.waitSignal(direct.task_did_finish, timeout=TIMEOUT).wait()
    assert to_json(direct.result) == to_json(result)

    qtbot.mouseClick(view.findChild(QPushButton, "copyJson"), Qt.MouseButton.LeftButton)
    copied = json.loads(QApplication.clipboard().text())
    # core's JSON of the result, with the texts judged under "item"
    assert copied["item"] == {"id": "compare", "instruction": INSTRUCTION, "input": "", "responses": [PARIS, LYON],
                              "reference": None}
    assert {k: v for k, v in copied.items() if k != "item"} == json.loads(to_json(result))
    qtbot.mouseClick(view.findChild(QPushButton, "copyText"), Qt.MouseButton.LeftButton)
    text = QApplication.clipboard().text()
    assert text.startswith(f"Instruction:\n  {INSTRUCTION}\nResponse A:\n  {PARIS}\nResponse B:\n  {LYON}\n")
    assert f"Verdict: {DECISION_LABELS[result.decision]}" in text and "no text was generated" in text
    assert result.ab.raw_output not in text

    # At the smallest supported window (1024x700 less the navigation) the card fits its pane without clipping.
    view.resize(870, 600)
    scroll = view.findChild(QScrollArea, "verdictScroll")
    qtbot.waitUntil(lambda: view.card.width() <= scroll.viewport().width(), timeout=5000)
    assert view.splitter.widget(0).width() >= view.splitter.widget(0).minimumSizeHint().width()


@pytest.mark.real_model
def test_swap_exchanges_the_texts_and_the_verdict_follows(view: CompareView, qtbot) -> None:
    view.picker.set_format("generic")
    view.set_pair(INSTRUCTION, PARIS, LYON)
    first = _run_and_wait(view, qtbot)

    _focus(view, qtbot, _editor(view, "responseAEdit"))
    qtbot.keyClick(_editor(view, "responseAEdit"), Qt.Key.Key_X,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert (_editor(view, "responseAEdit").toPlainText(), _editor(view, "responseBEdit").toPlainText()) == (LYON, PARIS)
    assert view.findChild(QLabel, "verdictStale").isVisible()
    qtbot.mouseClick(view.findChild(QPushButton, "swapButton"), Qt.MouseButton.LeftButton)
    assert view.current_item().responses == (PARIS, LYON)
    qtbot.mouseClick(view.findChild(QPushButton, "swapButton"), Qt.MouseButton.LeftButton)

    # Ctrl+Return runs from inside an editor.
    qtbot.keyClick(_editor(view, "responseAEdit"), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    task = view.task
    assert task is not None
    qtbot.waitSignal(task.task_did_finish, timeout=TIMEOUT).wait()
    second: BothOrdersResult = task.result.result
    assert first.ba is not None and second.ba is not None
    # The swapped pair shown A-first is the original pair shown B-first: the same prompt, the same output, and the
    # winner named by the other letter.
    assert second.ab.raw_output == first.ba.raw_output
    assert SWAPPED[second.ab.winner] == first.ba.winner and SWAPPED[second.ba.winner] == first.ab.winner
    assert {SWAPPED[k]: v for k, v in second.ab.probabilities.items()} == pytest.approx(dict(first.ba.probabilities))
    assert second.decision == SWAPPED[first.decision]
    assert view.findChild(QLabel, "verdictWinner").property("decision") == second.decision
    assert not view.findChild(QLabel, "verdictStale").isVisible()


@pytest.mark.real_model
def test_explain_shows_the_reason(view: CompareView, qtbot) -> None:
    view.picker.set_format("pandalm")
    view.max_tokens = 12  # a short explanation keeps the test quick
    view.findChild(QCheckBox, "bothOrdersCheck").setChecked(False)
    view.explain.setChecked(True)
    view.set_pair(INSTRUCTION, PARIS, LYON)
    result = _run_and_wait(view, qtbot)

    assert result.ba is None and result.ab.reason
    reason = _editor(view, "reasonAB")
    assert reason.isVisible() and reason.toPlainText() == result.ab.reason
    assert not view.card.orders["BA"].isVisible()
    assert view.findChild(QLabel, "verdictConsistency").text() == "one order only"
    assert "explanation" in view.findChild(QLabel, "verdictManifest").text()
    assert result.ab.manifest is not None and result.ab.manifest.decoding["explain"] is True


def test_the_rubric_editor_follows_the_format(view: CompareView) -> None:
    rubric = _editor(view, "rubricEdit")
    view.picker.set_format("generic")
    assert rubric.isVisible() and rubric.toPlainText() == DEFAULT_GENERIC_RUBRIC
    assert view.current_spec().rubric is None  # the untouched default is sent as "the default"
    view.picker.set_format("prometheus")
    assert rubric.isVisible() and rubric.toPlainText() == DEFAULT_PROMETHEUS_RUBRIC
    assert not view.explain.isEnabled()  # prometheus always writes its critique first
    assert "used by prometheus" in view.reference_toggle.text()
    rubric.setPlainText("Prefer the shorter answer.")
    assert view.current_spec().rubric == "Prefer the shorter answer."
    view.picker.set_format("generic")
    assert rubric.toPlainText() == "Prefer the shorter answer."  # what the analyst wrote is kept
    view.picker.set_format("pandalm")
    assert not rubric.isVisible() and view.current_spec().rubric is None
    assert view.explain.isEnabled() and "does not use it" in view.reference_toggle.text()
    view.picker.set_format("prometheus")
    view.rubric_reset.click()
    assert rubric.toPlainText() == DEFAULT_PROMETHEUS_RUBRIC


def test_the_spec_carries_the_seed_and_the_reference(view: CompareView) -> None:
    view.findChild(QSpinBox, "seedSpin").setValue(7)
    view.reference_toggle.click()
    assert _editor(view, "referenceEdit").isVisible()
    view.set_pair(INSTRUCTION, PARIS, LYON, input="Europe")
    _editor(view, "referenceEdit").setPlainText("Paris.")
    spec, item = view.current_spec(), view.current_item()
    assert spec.decoding.sampling.seed == 7 and spec.judge == "demo"
    assert item == EvalItem(id="compare", instruction=INSTRUCTION, responses=(PARIS, LYON), input="Europe",
                            reference="Paris.")


def test_empty_fields_are_named_and_nothing_is_submitted(view: CompareView, qtbot, monkeypatch) -> None:
    submitted: list[object] = []
    monkeypatch.setattr(view.context.service, "submit", lambda *args, **kw: submitted.append(args))
    run = view.findChild(QPushButton, "runButton")
    messages = view.context.messages
    qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
    assert messages.kind == "error" and messages.current_text().startswith("Instruction is empty")
    qtbot.keyClicks(_editor(view, "instructionEdit"), "   ")
    qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
    assert messages.current_text().startswith("Instruction is empty")
    view.set_pair(INSTRUCTION, PARIS, "")
    qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
    assert messages.current_text().startswith("Response B is empty")
    assert submitted == [] and view.task is None and run.isEnabled()


@pytest.mark.real_model
def test_cancel_while_running_is_quiet(view: CompareView, qtbot) -> None:
    # The main window binds Esc to "dismiss the message"; the view must still get Esc while it runs.
    dismissed: list[int] = []
    QShortcut(QKeySequence(Qt.Key.Key_Escape), view, activated=lambda: dismissed.append(1))
    view.picker.set_format("pandalm")
    view.set_pair(INSTRUCTION, PARIS, LYON)
    instruction = _editor(view, "instructionEdit")
    _focus(view, qtbot, instruction)
    task = view.run()
    assert task is not None and view.findChild(QPushButton, "cancelButton").isEnabled()
    qtbot.keyClick(instruction, Qt.Key.Key_Escape)
    assert view.task is None and dismissed == []
    assert view.findChild(QPushButton, "runButton").isEnabled()
    assert not view.findChild(QPushButton, "cancelButton").isEnabled()
    assert view.findChild(QLabel, "verdictStatus").text() == "Cancelled."
    qtbot.waitSignal(task.task_did_end, timeout=TIMEOUT).wait()
    qtbot.waitUntil(lambda: not view.context.service.busy, timeout=TIMEOUT)
    assert task.state is TaskState.CANCELLED
    assert view.context.messages.current_text() == "" and view.card.result is None
    qtbot.keyClick(instruction, Qt.Key.Key_Escape)  # idle: Esc is the window's again
    assert dismissed == [1]


def test_a_text_file_opens_into_an_editor_and_a_bad_one_is_a_message(view: CompareView, tmp_path) -> None:
    good = tmp_path / "a.txt"
    good.write_text("Paris est la capitale.\n", encoding="utf-8")
    assert view.load_file(view.response_a, good)
    assert _editor(view, "responseAEdit").toPlainText() == "Paris est la capitale.\n"
    bad = tmp_path / "b.txt"
    bad.write_bytes(b"caf\xe9")
    assert not view.load_file(view.response_b, bad)
    assert str(bad) in view.context.messages.current_text() and "UTF-8" in view.context.messages.current_text()
    missing = tmp_path / "missing.txt"
    assert not view.load_file(view.response_b, missing)
    assert str(missing) in view.context.messages.current_text()
    assert _editor(view, "responseBEdit").toPlainText() == ""


def test_tab_goes_instruction_input_a_b_run(view: CompareView, qtbot) -> None:
    names = ["instructionEdit", "inputEdit", "responseAEdit", "responseBEdit", "runButton"]
    _focus(view, qtbot, _editor(view, names[0]))
    seen = [QApplication.focusWidget().objectName()]
    for _ in names[1:]:
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        seen.append(QApplication.focusWidget().objectName())
    assert seen == names


def test_a_failing_judge_is_a_message_and_the_view_is_ready_again(view: CompareView, qtbot, monkeypatch,
                                                                   tmp_path) -> None:
    missing = tmp_path / "nothing.gguf"
    monkeypatch.setattr(view, "current_spec", lambda: JudgeSpec(judge=str(missing)))
    view.set_pair(INSTRUCTION, PARIS, LYON)
    task = view.run()
    assert task is not None
    qtbot.waitSignal(task.task_did_fail, timeout=TIMEOUT).wait()
    assert view.context.messages.kind == "error" and "nothing.gguf" in view.context.messages.current_text()
    assert view.task is None and view.findChild(QPushButton, "runButton").isEnabled()
    assert "failed" in view.findChild(QLabel, "verdictStatus").text()


@pytest.mark.real_model
def test_a_build_for_another_cpu_is_the_message_bar_not_a_crash(view: CompareView, qtbot, monkeypatch,
                                                                 tmp_path) -> None:
    judge = tmp_path / "copy-of-demo.gguf"  # a judge the service has not loaded yet
    judge.write_bytes(demo_judge_path().read_bytes())
    simulate_cpu(monkeypatch, HASWELL, AVX512_BUILD)
    monkeypatch.setattr(view, "current_spec", lambda: JudgeSpec(judge=str(judge)))
    view.set_pair(INSTRUCTION, PARIS, LYON)
    task = view.run()
    assert task is not None
    qtbot.waitSignal(task.task_did_fail, timeout=TIMEOUT).wait()
    text = view.context.messages.current_text()
    assert view.context.messages.kind == "error"
    assert "libggml-cpu" in text and "AVX512F" in text and "make setup" in text and "\n" not in text
    assert view.findChild(QPushButton, "runButton").isEnabled()


def test_the_choices_persist(app_context, qtbot) -> None:
    first = CompareView(app_context)
    qtbot.addWidget(first)
    first.picker.set_format("prometheus")
    first.both_orders.setChecked(False)
    first.explain.setChecked(True)
    first.view_will_close()
    again = CompareView(app_context)
    qtbot.addWidget(again)
    assert again.picker.format() == "prometheus"
    assert not again.both_orders.isChecked() and again.explain.isChecked()
    first.picker.set_format(None)
    third = CompareView(app_context)
    qtbot.addWidget(third)
    assert third.picker.format() is None
