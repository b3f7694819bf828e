"""The Compare view: one instruction, two responses, one verdict card.

The analyst pastes (or opens) the texts, picks a judge and format, and runs; the judge service judges the pair in
one or both orders off the GUI thread and the card shows the outcome. The texts are passed to the judge as typed;
only empty fields are refused here, each with a message naming it.

Before judging, the worker estimates the cost (core's `estimate_comparison_cost`: prompt tokens with the judge's
tokenizer, any cut, the time at the rate measured on this machine); a comparison expected to take longer than
`LONG_COMPARISON_S` is run only after the analyst confirms. A cancel stops the generation under way within a token,
and the verdict still shown is marked as the previous run's. The texts are kept across restarts. "Show prompt" opens a
dialog with exactly what the judge is given for the pair (desktop/_prompt_dialog.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from judgedesk.core import (
    BothOrdersResult,
    CostEstimate,
    DecodingSettings,
    EvalItem,
    Sampling,
    estimate_comparison_cost,
    get_format,
)
from judgedesk.core.formats import DEFAULT_GENERIC_RUBRIC, DEFAULT_PROMETHEUS_RUBRIC, PromptFields
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ._context import AppContext
from ._demo_judge_note import DemoJudgeNote
from ._judge_picker import JudgePicker
from ._judge_service import JudgeSpec
from ._prompt_dialog import PromptDialog
from ._tasks import Task, WorkContext
from ._verdict_card import VerdictCard

__all__ = ["LONG_COMPARISON_S", "CompareView"]

LONG_COMPARISON_S = 30.0
"""A comparison expected to take longer than this (seconds) asks before it runs."""
_TEXT_KEYS = {"instruction": "compare/text/instruction", "input": "compare/text/input",
              "response_a": "compare/text/response_a", "response_b": "compare/text/response_b",
              "reference": "compare/text/reference"}
_MAX_SAVED_CHARS = 1_000_000
"""Texts longer than this are not kept across restarts (the settings file is not a document store)."""
_RATE_SMOOTHING = 0.5
"""Weight of the newest measurement in the kept rate (the rest is the rate kept before)."""

_DEFAULT_RUBRICS = {"generic": DEFAULT_GENERIC_RUBRIC, "prometheus": DEFAULT_PROMETHEUS_RUBRIC}
_MAX_FILE_BYTES = 4 * 1024 * 1024
_ITEM_ID = "compare"


def _uses_reference(format_name: str, lang: str) -> bool:
    """Whether the format's pairwise prompt shows a reference answer (formats declare no such flag; the prompt
    itself tells)."""
    fmt = get_format(format_name)
    if "pairwise" not in fmt.tasks or lang not in fmt.languages:
        return False
    fields = PromptFields(instruction="i", responses=("a", "b"))
    with_reference = PromptFields(instruction="i", responses=("a", "b"), reference="r")
    return fmt.prompt("pairwise", fields, lang) != fmt.prompt("pairwise", with_reference, lang)


class _TextPane(QWidget):
    """A titled plain-text editor with an "Open file…" button."""

    def __init__(self, title: str, name: str, placeholder: str, open_file: Callable[[_TextPane], None]) -> None:
        super().__init__()
        self.title = title
        self.caption = QLabel(f"<b>{title}</b>")
        self.editor = QPlainTextEdit()
        self.editor.setObjectName(name)
        self.editor.setPlaceholderText(placeholder)
        self.editor.setTabChangesFocus(True)  # Tab moves on to the next field, as everywhere else in the app
        self.editor.setMinimumHeight(44)
        self.open_button = QToolButton()
        self.open_button.setObjectName(name.removesuffix("Edit") + "Open")
        self.open_button.setText("Open file…")
        self.open_button.setToolTip(f"Load the {title.lower()} from a text file")
        self.open_button.setAutoRaise(True)
        self.open_button.clicked.connect(lambda: open_file(self))
        self.caption.setBuddy(self.editor)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.caption)
        head.addStretch(1)
        head.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(self.editor, 1)

    def text(self) -> str:
        return self.editor.toPlainText()


@dataclass(frozen=True)
class _Outcome:
    """What the worker hands back: the result, or (result None) an estimate too long to run unasked."""

    estimate: CostEstimate
    result: BothOrdersResult | None
    seconds: float
    """Time spent judging (0 when not judged)."""


class CompareView(QWidget):
    """Judge one pair of responses and show the verdict card."""

    title = "Compare"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.task: Task | None = None
        """The comparison under way (None when idle)."""
        self.max_tokens: int | None = None
        """Output budget for explanations and critiques; None = the format's published budget."""
        self._own_message = ""
        self._settings_seed = context.settings.seed
        self._changed_while_running = False
        self._rubric_format: str | None = None
        self.last_estimate: CostEstimate | None = None
        """The cost estimate of the latest comparison started."""
        self.prompt_dialog: PromptDialog | None = None
        """The "Show prompt" dialog opened last (None before the first)."""

        self.picker = JudgePicker(context)
        self.picker.setObjectName("comparePicker")
        self._build_inputs()
        self._build_rubric()
        options = self._build_options()
        actions = self._build_actions()
        self._build_layout(options, actions)
        self._set_tab_order()
        self._add_shortcuts()
        self._restore_choices()
        self._restore_texts()
        self._connect_signals()
        self._format_changed()

    # -- layout ---------------------------------------------------------------------------------------------

    def _build_inputs(self) -> None:
        self.instruction = _TextPane("Instruction", "instructionEdit",
                                     "The task both responses answer (required)", self._open_file)
        self.input = _TextPane("Input (optional)", "inputEdit",
                               "Further context for the task, if it has any", self._open_file)
        self.response_a = _TextPane("Response A", "responseAEdit", "Paste response A, or open a file",
                                    self._open_file)
        self.response_b = _TextPane("Response B", "responseBEdit", "Paste response B, or open a file",
                                    self._open_file)
        self.reference = _TextPane("Reference answer", "referenceEdit",
                                   "A known good answer (optional)", self._open_file)
        self.reference.editor.setMaximumHeight(110)
        self.reference.hide()
        self.reference_toggle = QToolButton()
        self.reference_toggle.setObjectName("referenceToggle")
        self.reference_toggle.setCheckable(True)
        self.reference_toggle.setAutoRaise(True)
        self.reference_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.reference_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.reference_toggle.toggled.connect(self._toggle_reference)

    def _build_rubric(self) -> None:
        self.rubric_box = QWidget()
        self.rubric_box.setObjectName("rubricBox")
        self.rubric_caption = QLabel("<b>Rubric</b>")
        self.rubric_edit = QPlainTextEdit()
        self.rubric_edit.setObjectName("rubricEdit")
        self.rubric_edit.setTabChangesFocus(True)
        self.rubric_edit.setPlaceholderText("Evaluation criteria; empty = the format's default")
        self.rubric_edit.setMaximumHeight(110)
        self.rubric_edit.setMinimumHeight(48)
        self.rubric_caption.setBuddy(self.rubric_edit)
        self.rubric_reset = QToolButton()
        self.rubric_reset.setObjectName("rubricReset")
        self.rubric_reset.setText("Reset to default")
        self.rubric_reset.setAutoRaise(True)
        self.rubric_reset.clicked.connect(self._reset_rubric)
        rubric_head = QHBoxLayout()
        rubric_head.setContentsMargins(0, 0, 0, 0)
        rubric_head.addWidget(self.rubric_caption)
        rubric_head.addStretch(1)
        rubric_head.addWidget(self.rubric_reset)
        rubric_layout = QVBoxLayout(self.rubric_box)
        rubric_layout.setContentsMargins(0, 0, 0, 0)
        rubric_layout.setSpacing(2)
        rubric_layout.addLayout(rubric_head)
        rubric_layout.addWidget(self.rubric_edit)

    def _build_options(self) -> QHBoxLayout:
        settings = self.context.settings
        self.seed = QSpinBox()
        self.seed.setObjectName("seedSpin")
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(settings.seed)
        self.seed.setToolTip("Sampler seed, recorded in the manifest (verdicts are greedy, so it rarely matters)")
        seed_caption = QLabel("&Seed")
        seed_caption.setBuddy(self.seed)
        self.both_orders = QCheckBox("&Both orders")
        self.both_orders.setObjectName("bothOrdersCheck")
        self.both_orders.setToolTip("Also judge with B shown first, to expose position bias")
        self.both_orders.setChecked(_flag(settings.value("compare/both_orders", True)))
        self.explain = QCheckBox("E&xplain")
        self.explain.setObjectName("explainCheck")
        self.explain.setChecked(_flag(settings.value("compare/explain", False)))
        options = QHBoxLayout()
        options.addWidget(seed_caption)
        options.addWidget(self.seed)
        options.addSpacing(12)
        options.addWidget(self.both_orders)
        options.addWidget(self.explain)
        options.addStretch(1)
        return options

    def _build_actions(self) -> QHBoxLayout:
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("runButton")
        self.run_button.setDefault(True)
        self.run_button.setToolTip("Judge the pair (Ctrl+Return)")
        self.run_button.clicked.connect(self.run)
        self.swap_button = QPushButton("Swap A ↔ B")
        self.swap_button.setObjectName("swapButton")
        self.swap_button.setToolTip("Exchange response A and response B (Ctrl+Shift+X)")
        self.swap_button.clicked.connect(self.swap)
        self.prompt_button = QPushButton("Show prompt")
        self.prompt_button.setObjectName("showPromptButton")
        self.prompt_button.setToolTip("The exact text and special tokens the judge is given for this pair, in either "
                                      "order, as its tokenizer reads them (Ctrl+Shift+P)")
        self.prompt_button.clicked.connect(self.show_prompt)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop judging (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        actions = QHBoxLayout()
        actions.addWidget(self.swap_button)
        actions.addWidget(self.prompt_button)
        actions.addStretch(1)
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.run_button)
        return actions

    def _build_layout(self, options: QHBoxLayout, actions: QHBoxLayout) -> None:
        """The picker above; the editors on the left, the verdict card on the right, in a splitter that keeps
        the analyst's proportions."""
        left = self._build_editors(options, actions)
        scroll = self._build_card()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("compareSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(scroll)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([640, 460])
        state = self.context.settings.value("compare/splitter", None)
        if state is not None:
            self.splitter.restoreState(state)
        left.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picker)
        layout.addWidget(self.splitter, 1)

    def _build_editors(self, options: QHBoxLayout, actions: QHBoxLayout) -> QWidget:
        """The left side: the editors in a splitter, the optional fields, the options and actions."""
        responses = QSplitter(Qt.Orientation.Horizontal)
        responses.setObjectName("responsesSplitter")
        responses.addWidget(self.response_a)
        responses.addWidget(self.response_b)
        responses.setChildrenCollapsible(False)
        self.editors = QSplitter(Qt.Orientation.Vertical)
        self.editors.setObjectName("editorsSplitter")
        self.editors.addWidget(self.instruction)
        self.editors.addWidget(self.input)
        self.editors.addWidget(responses)
        self.editors.setChildrenCollapsible(False)
        self.editors.setStretchFactor(0, 2)
        self.editors.setStretchFactor(1, 1)
        self.editors.setStretchFactor(2, 5)
        self.editors.setSizes([110, 60, 300])
        left = QWidget()
        left.setObjectName("compareEditors")
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 6, 0)
        left_layout.addWidget(self.editors, 1)
        left_layout.addWidget(self.rubric_box)
        left_layout.addWidget(self.reference_toggle)
        left_layout.addWidget(self.reference)
        left_layout.addLayout(options)
        left_layout.addLayout(actions)
        return left

    def _build_card(self) -> QWidget:
        """The right side: the note on the demo judge (once), the verdict card, scrollable."""
        self.demo_note = DemoJudgeNote(self.context.settings, "compare")
        self.card = VerdictCard()
        self.card.card_did_copy.connect(self._did_copy)
        scroll = QScrollArea()
        scroll.setObjectName("verdictScroll")
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.card)
        scroll.setMinimumWidth(280)
        right = QWidget()
        right.setObjectName("compareVerdictSide")
        side = QVBoxLayout(right)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.demo_note)
        side.addWidget(scroll, 1)
        return right

    def _set_tab_order(self) -> None:
        """The texts first, then Run; the rest after."""
        chain: list[QWidget] = [self.instruction.editor, self.input.editor, self.response_a.editor,
                                self.response_b.editor, self.run_button, self.swap_button, self.prompt_button,
                                self.cancel_button, self.seed, self.both_orders, self.explain, self.rubric_edit,
                                self.rubric_reset, self.reference_toggle, self.reference.editor, self.picker.judge_box,
                                self.picker.format_box, self.picker.lang_box, self.instruction.open_button,
                                self.input.open_button, self.response_a.open_button, self.response_b.open_button,
                                self.reference.open_button, self.card]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)

    def _add_shortcuts(self) -> None:
        for keys, action in (("Ctrl+Return", self.run), ("Ctrl+Enter", self.run), ("Ctrl+Shift+X", self.swap),
                             ("Ctrl+Shift+P", self.show_prompt)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)

    def _restore_choices(self) -> None:
        """The judge and format chosen last time; before `_connect_signals`, so restoring them saves nothing."""
        settings = self.context.settings
        saved_judge, saved_format = settings.value("compare/judge", ""), settings.value("compare/format", None)
        if saved_judge:
            self.picker.set_judge(str(saved_judge))
        if saved_format is not None:
            self.picker.set_format(str(saved_format) or None)

    def _connect_signals(self) -> None:
        self.picker.picker_did_change.connect(self._picker_changed)
        self.both_orders.toggled.connect(lambda on: self._option_changed("compare/both_orders", on))
        self.explain.toggled.connect(lambda on: self._option_changed("compare/explain", on))
        self.seed.valueChanged.connect(lambda _: self._inputs_changed())
        for editor in (self.instruction.editor, self.input.editor, self.response_a.editor, self.response_b.editor,
                       self.reference.editor, self.rubric_edit):
            editor.textChanged.connect(self._inputs_changed)
        self.context.settings_did_change.connect(self._settings_changed)

    # -- public ---------------------------------------------------------------------------------------------

    def set_pair(self, instruction: str, a: str, b: str, input: str = "") -> None:
        """Fill the editors (the screenshot script and tests use this)."""
        self.instruction.editor.setPlainText(instruction)
        self.input.editor.setPlainText(input)
        self.response_a.editor.setPlainText(a)
        self.response_b.editor.setPlainText(b)

    def current_item(self) -> EvalItem:
        """The pair as typed."""
        reference = self.reference.text()
        return EvalItem(id=_ITEM_ID, instruction=self.instruction.text(), input=self.input.text(),
                        responses=(self.response_a.text(), self.response_b.text()),
                        reference=reference if reference.strip() else None)

    def current_spec(self) -> JudgeSpec:
        """The judge, format and decoding chosen, over the app's model settings."""
        parts = self.picker.spec_parts()
        decoding = DecodingSettings(explain=self.explain.isChecked(), max_tokens=self.max_tokens,
                                    sampling=Sampling(seed=self.seed.value()))
        return self.context.settings.judge_spec(judge=parts["judge"], format=parts["format"],
                                                lang=parts["lang"] or "en", rubric=self._rubric(),
                                                decoding=decoding)

    def run(self, *, confirmed: bool = False) -> Task | None:
        """Judge the pair as typed; returns the task, or None when a field is missing or a run is under way.

        The task first estimates the cost; unless `confirmed`, one expected to take longer than
        `LONG_COMPARISON_S` comes back unjudged and the view asks before running it."""
        if self.task is not None:
            return None
        problem = self._missing_field()
        if problem is not None:
            pane, text = problem
            self._show_error(text)
            pane.editor.setFocus()
            return None
        self._clear_own_message()
        self._save_texts()
        item, both = self.current_item(), self.both_orders.isChecked()
        spec = self.current_spec()
        rate = self.context.settings.judge_rate(spec.judge or "server")

        def compare(ctx: WorkContext) -> _Outcome:
            assert ctx.judge is not None
            estimate = estimate_comparison_cost(ctx.judge, item, both=both, rate=rate)
            if not confirmed and estimate.longer_than(LONG_COMPARISON_S):
                return _Outcome(estimate, None, 0.0)
            started = time.monotonic()
            # The cancel flag reaches the generation, which checks it between tokens; each order's start is shown.
            result = ctx.judge.judge_both_orders(item, both=both, cancel=ctx.cancel,
                                                 progress=lambda done, total, order: ctx.progress(order))
            return _Outcome(estimate, result, time.monotonic() - started)

        task = self.context.service.submit(spec, compare, name="the comparison")
        self.task = task
        self._changed_while_running = False
        task.task_did_progress.connect(lambda order: self._did_progress(task, order))
        task.task_did_finish.connect(lambda outcome: self._did_finish(task, outcome, item, spec.judge or "server"))
        task.task_did_fail.connect(lambda message: self._did_fail(task, message))
        task.task_was_cancelled.connect(lambda: self._did_end_quietly(task))
        self._set_running(True)
        self.card.show_working("Waiting for the judge to load…" if self.context.service.loaded is None
                               else "Waiting for the judge…")
        return task

    def show_prompt(self) -> PromptDialog | None:
        """Open the dialog that shows exactly what the judge is given for the pair as typed (rendered on the judge
        service's worker); None when a field is missing, which is said as for Run."""
        problem = self._missing_field()
        if problem is not None:
            pane, text = problem
            self._show_error(text)
            pane.editor.setFocus()
            return None
        if self.prompt_dialog is not None:
            self.prompt_dialog.close()
        self.prompt_dialog = PromptDialog(self.context.service, self.current_spec(), self.current_item(), parent=self)
        self.prompt_dialog.show()
        return self.prompt_dialog

    def cancel(self) -> None:
        """Stop the comparison under way; the view is ready again at once and stays quiet."""
        task, self.task = self.task, None
        if task is None:
            return
        task.cancel()
        self._set_running(False)
        self._show_cancelled()

    def swap(self) -> None:
        """Exchange response A and response B."""
        a, b = self.response_a.text(), self.response_b.text()
        self.response_a.editor.setPlainText(b)
        self.response_b.editor.setPlainText(a)

    def view_will_close(self) -> None:
        self.context.settings.set_value("compare/splitter", self.splitter.saveState())
        self._save_texts()
        if self.task is not None:
            self.cancel()
        if self.prompt_dialog is not None:
            self.prompt_dialog.close()

    # -- task outcome (GUI thread) --------------------------------------------------------------------------

    def _did_progress(self, task: Task, order: object) -> None:
        if task is self.task:
            self.card.show_working("Judging with A shown first…" if order == "AB" else "Judging with B shown first…")

    def _did_finish(self, task: Task, outcome: _Outcome, item: EvalItem, judge: str) -> None:
        if task is not self.task:
            return  # cancelled too late to stop it; its result is not wanted any more
        self.task = None
        self._set_running(False)
        self.last_estimate = outcome.estimate
        if outcome.result is None:
            self._offer_long_run(outcome.estimate)
            return
        if outcome.seconds > 0.2:  # shorter ones measure the overhead, not the rate
            measured = outcome.estimate.work_tokens / outcome.seconds
            kept = self.context.settings.judge_rate(judge)
            rate = measured if kept is None else _RATE_SMOOTHING * measured + (1 - _RATE_SMOOTHING) * kept
            self.context.settings.set_judge_rate(judge, rate)
        self.card.show_result(outcome.result, item)
        self.card.set_stale(self._changed_while_running)  # edited while it ran: the verdict is for the old texts
        self.demo_note.offer(outcome.result.ab.manifest)

    def _offer_long_run(self, estimate: CostEstimate) -> None:
        """Say what a long comparison will cost and run it only when the analyst agrees."""
        self.card.show_stopped("Not run yet: this comparison is expected to be long.")
        if self.confirm_long_run(estimate):
            self.run(confirmed=True)
        else:
            self.card.show_stopped(f"Not run: the comparison was expected to take about {estimate.duration}. "
                                   "Shorten the texts, or run it again and confirm.")

    def confirm_long_run(self, estimate: CostEstimate) -> bool:
        """Ask whether to run a comparison expected to take longer than `LONG_COMPARISON_S`."""
        box = QMessageBox(QMessageBox.Icon.Question, "A long comparison",
                          "This comparison will take a while.\n\n" + estimate.describe() + "\n\nRun it now?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("longComparisonBox")
        box.button(QMessageBox.StandardButton.Yes).setText("Run")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        return box.exec() == QMessageBox.StandardButton.Yes

    def _did_fail(self, task: Task, message: str) -> None:
        if task is not self.task:
            return
        self.task = None
        self._set_running(False)
        self.card.show_stopped("The comparison failed; see the message above.")
        self._show_error(message)

    def _did_end_quietly(self, task: Task) -> None:
        if task is self.task:
            self.task = None
            self._set_running(False)
            self._show_cancelled()

    def _show_cancelled(self) -> None:
        if self.card.result is None:
            self.card.show_stopped("Cancelled.")
        else:
            self.card.show_stopped("Cancelled. The verdict below is from the previous run.")
            self.card.mark_previous()

    # -- texts kept across restarts -------------------------------------------------------------------------

    def _panes(self) -> dict[str, _TextPane]:
        return {"instruction": self.instruction, "input": self.input, "response_a": self.response_a,
                "response_b": self.response_b, "reference": self.reference}

    def _save_texts(self) -> None:
        settings = self.context.settings
        for name, pane in self._panes().items():
            text = pane.text()
            settings.set_value(_TEXT_KEYS[name], text if len(text) <= _MAX_SAVED_CHARS else "")

    def _restore_texts(self) -> None:
        """The texts of the last session; before `_connect_signals`, so restoring them marks nothing stale."""
        for name, pane in self._panes().items():
            text = self.context.settings.value(_TEXT_KEYS[name], "")
            if isinstance(text, str) and text:
                pane.editor.setPlainText(text)
        if self.reference.text().strip():  # shown, as the analyst left it, without taking the focus
            self.reference_toggle.blockSignals(True)
            self.reference_toggle.setChecked(True)
            self.reference_toggle.blockSignals(False)
            self.reference.setVisible(True)
            self.reference_toggle.setArrowType(Qt.ArrowType.DownArrow)

    # -- internals ------------------------------------------------------------------------------------------

    def _missing_field(self) -> tuple[_TextPane, str] | None:
        if not self.instruction.text().strip():
            return self.instruction, "Instruction is empty: type or paste the task the two responses answer."
        for pane in (self.response_a, self.response_b):
            if not pane.text().strip():
                return pane, f"{pane.title} is empty: paste it or open it from a file."
        return None

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.run_button.setText("Running…" if running else "Run")

    def _show_error(self, text: str) -> None:
        self._own_message = text
        self.context.messages.show_error(text)

    def _clear_own_message(self) -> None:
        if self._own_message and self.context.messages.current_text() == self._own_message:
            self.context.messages.clear()
        self._own_message = ""

    def _did_copy(self, kind: str) -> None:
        self._own_message = "Verdict copied as JSON." if kind == "json" else "Verdict copied as text."
        self.context.messages.show_info(self._own_message)

    def _open_file(self, pane: _TextPane) -> None:
        start = str(self.context.settings.value("compare/last_dir", "") or Path.home())
        path, _ = QFileDialog.getOpenFileName(self, f"Open the {pane.title.lower()}", start,
                                              "Text files (*.txt *.md *.json *.jsonl *.py *.csv);;All files (*)")
        if path:
            self.load_file(pane, Path(path))

    def load_file(self, pane: _TextPane, path: Path) -> bool:
        """Put a text file's contents into `pane`; a file that is not readable text is a message."""
        try:
            size = path.stat().st_size
            if size > _MAX_FILE_BYTES:
                raise ValueError(f"it is {size / 1e6:.1f} MB; the Compare view takes texts up to "
                                 f"{_MAX_FILE_BYTES // 2**20} MB (judge big files in the Batch view)")
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            self._show_error(f"{path}: not UTF-8 text; save it as UTF-8 and open it again")
            return False
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self._show_error(f"{path}: cannot open it as the {pane.title.lower()}: {reason}")
            return False
        pane.editor.setPlainText(text)
        self.context.settings.set_value("compare/last_dir", str(path.parent))
        return True

    def _rubric(self) -> str | None:
        """The rubric to send: None for formats without one, and for an empty or unedited default rubric (so the
        manifest matches a run with the format's default)."""
        fmt = self.picker.effective_format()
        if not get_format(fmt).takes_rubric:
            return None
        text = self.rubric_edit.toPlainText()
        if not text.strip() or text.strip() == _DEFAULT_RUBRICS.get(fmt, "").strip():
            return None
        return text

    def _reset_rubric(self) -> None:
        self.rubric_edit.setPlainText(_DEFAULT_RUBRICS.get(self.picker.effective_format(), ""))

    def _picker_changed(self) -> None:
        self.context.settings.set_value("compare/judge", self.picker.judge())
        self.context.settings.set_value("compare/format", self.picker.format() or "")
        self._format_changed()
        self._inputs_changed()

    def _format_changed(self) -> None:
        name, lang = self.picker.effective_format(), self.picker.lang()
        fmt = get_format(name)
        # The rubric: keep what the analyst wrote; replace an untouched default with the new format's default.
        self.rubric_box.setVisible(fmt.takes_rubric)
        if fmt.takes_rubric:
            self.rubric_caption.setText(f"<b>Rubric</b> (criteria for {name})")
            current = self.rubric_edit.toPlainText().strip()
            if not current or current in {r.strip() for r in _DEFAULT_RUBRICS.values()}:
                self.rubric_edit.blockSignals(True)
                self.rubric_edit.setPlainText(_DEFAULT_RUBRICS.get(name, ""))
                self.rubric_edit.blockSignals(False)
        uses = _uses_reference(name, lang)
        self.reference_toggle.setText("Reference answer (optional" + (f", used by {name})" if uses
                                                                      else f"; {name} does not use it)"))
        # Verdict-last formats always write their critique before the verdict; explain changes nothing there.
        verdict_first = "pairwise" not in fmt.tasks or fmt.output("pairwise", lang).verdict_first
        self.explain.setEnabled(verdict_first)
        self.explain.setToolTip(
            "Also generate the judge's reason (and reference answer, where the format writes one); slower"
            if verdict_first else f"{name} always writes its critique before the verdict")

    def _toggle_reference(self, shown: bool) -> None:
        self.reference.setVisible(shown)
        self.reference_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        if shown:
            self.reference.editor.setFocus()

    def _option_changed(self, key: str, on: bool) -> None:
        self.context.settings.set_value(key, on)
        self._inputs_changed()

    def _inputs_changed(self) -> None:
        if self.task is not None:
            self._changed_while_running = True
        self.card.set_stale(True)

    def _settings_changed(self) -> None:
        seed = self.context.settings.seed
        if self.seed.value() == self._settings_seed:  # follow the default unless the analyst chose a seed here
            self.seed.setValue(seed)
        self._settings_seed = seed

    # Esc cancels a running comparison. The main window binds Esc (dismiss the message) as a shortcut, so while a
    # comparison runs the view claims the key before the shortcut map sees it.
    def event(self, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.ShortcutOverride and self.task is not None
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.task is not None:
            self.cancel()
            event.accept()
            return
        super().keyPressEvent(event)


def _flag(value: object) -> bool:
    """A boolean from QSettings' ini file, which gives strings back ('true', 'false')."""
    if isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    return bool(value)

