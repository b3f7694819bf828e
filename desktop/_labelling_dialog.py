"""The "Label a sample" dialog: draw a run's label plan, then label its tasks one at a time from the keyboard.

The sample is core's label plan (a uniform random draw with a recorded seed, `judgedesk.core.runs`), because the
calibrated figures are valid only on a random sample, never on tasks picked by eye. Each label is stored at once
as the task's override (one short SQLite transaction, as the Results view stores overrides), so closing the app
loses nothing. The judge's own decision stays hidden unless asked for: seeing it first pulls the label toward it.
Skips are remembered for this sitting only; a skipped task stays in the plan, unlabelled.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from judgedesk.core import JudgedeskError
from judgedesk.core.reports import ResultRow, load_results
from judgedesk.core.runs import (
    LabelledSample,
    PlannedItem,
    RunStore,
    draw_label_plan,
    label_planned_task,
    label_population,
    load_label_plan,
)
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

__all__ = ["LabellingDialog"]

DEFAULT_SAMPLE = 50
REVEAL_TIP = ("Seeing the judge's decision before you decide pulls your label toward it, and the calibrated "
              "figures need labels made without it. Label first; reveal it afterwards to compare.")
_KEYS = {"A": ("1", "A"), "B": ("2", "B"), "tie": ("3", "T"), "skip": ("S",), "previous": ("Left",),
         "next": ("Right",)}


class LabellingDialog(QDialog):
    """Draw a label plan for a run (when it has none), then label its tasks one at a time."""

    label_did_change = Signal(str)
    """A planned task's label was stored: its content hash."""
    plan_did_draw = Signal(object)
    """A label plan was drawn: the LabelledSample."""

    def __init__(self, folder: str | Path, run_key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("labellingDialog")
        self.setWindowTitle("Label a sample")
        self.folder = Path(folder)
        self.run_key = run_key
        self.sample: LabelledSample | None = None
        self.rows: dict[str, ResultRow] = {}
        self.index = 0
        self.skipped: set[str] = set()
        self._shortcuts: list[QShortcut] = []
        self.pages = QStackedWidget()
        self.pages.addWidget(self._build_draw_page())
        self.pages.addWidget(self._build_label_page())
        self.error = QLabel("")
        self.error.setObjectName("labelError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e")
        self.error.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.error)
        self._bind_keys()
        self.resize(1000, 720)
        self._load()

    # -- layout ---------------------------------------------------------------------------------------------

    def _build_draw_page(self) -> QWidget:
        page = QWidget()
        page.setObjectName("drawPage")
        intro = QLabel("This run has no label plan yet. judgedesk draws a uniform random sample of its tasks for "
                       "you to label: calibrated figures are valid only on a random sample, never on tasks picked "
                       "by eye. The seed is stored with the plan, so the draw can be reproduced and checked.")
        intro.setWordWrap(True)
        self.sample_size = QSpinBox()
        self.sample_size.setObjectName("sampleSize")
        self.sample_size.setToolTip("How many tasks to label (more labels, narrower calibrated intervals)")
        self.seed_edit = QLineEdit()
        self.seed_edit.setObjectName("sampleSeed")
        self.seed_edit.setPlaceholderText("random (recorded)")
        self.seed_edit.setToolTip("A seed to redraw a known sample; empty draws with a fresh random seed")
        self.draw_button = QPushButton("Draw the sample")
        self.draw_button.setObjectName("drawSample")
        self.draw_button.clicked.connect(self.draw)
        form = QHBoxLayout()
        form.addWidget(QLabel("Tasks to label:"))
        form.addWidget(self.sample_size)
        form.addWidget(QLabel("Seed:"))
        form.addWidget(self.seed_edit)
        form.addWidget(self.draw_button)
        form.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addStretch(1)
        return page

    def _build_label_page(self) -> QWidget:
        page = QWidget()
        page.setObjectName("labelPage")
        self.plan_label = self._label("planSummary")
        self.position = self._label("labelPosition")
        self.position.setStyleSheet("font-weight: bold; font-size: 15px")
        self.header = self._label("labelHeader")
        self.instruction = self._text("labelInstruction")
        self.instruction.setMaximumHeight(140)
        self.response_a = self._text("labelResponseA")
        self.response_b = self._text("labelResponseB")
        self.title_a = QLabel("Response A")
        self.title_b = QLabel("Response B")
        responses = QSplitter(Qt.Orientation.Horizontal)
        for title, text in ((self.title_a, self.response_a), (self.title_b, self.response_b)):
            box = QWidget()
            column = QVBoxLayout(box)
            column.setContentsMargins(0, 0, 0, 0)
            title.setStyleSheet("font-weight: bold")
            column.addWidget(title)
            column.addWidget(text)
            responses.addWidget(box)
        self.button_a = self._button("labelA", "A better", "A")
        self.button_b = self._button("labelB", "B better", "B")
        self.button_tie = self._button("labelTie", "Tie", "tie")
        self.button_skip = self._button("labelSkip", "Skip", "skip")
        self.button_previous = self._button("labelPrevious", "◀ Previous", "previous")
        self.button_next = self._button("labelNext", "Next ▶", "next")
        self.button_a.clicked.connect(lambda: self.label_current("A"))
        self.button_b.clicked.connect(lambda: self.label_current("B"))
        self.button_tie.clicked.connect(lambda: self.label_current("tie"))
        self.button_skip.clicked.connect(self.skip_current)
        self.button_previous.clicked.connect(lambda: self.move(-1))
        self.button_next.clicked.connect(lambda: self.move(1))
        self.current = self._label("labelCurrent")
        self.progress = self._label("labelProgress")
        self.reveal = QCheckBox("Show the judge's decision")
        self.reveal.setObjectName("revealJudge")
        self.reveal.setToolTip(REVEAL_TIP)
        self.reveal.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.judge_decision = self._label("judgeDecision")
        self.judge_decision.setVisible(False)
        self.reveal.toggled.connect(self._show_judge)
        buttons = QHBoxLayout()
        buttons.addWidget(self.button_previous)
        for button in (self.button_a, self.button_b, self.button_tie, self.button_skip):
            buttons.addWidget(button)
        buttons.addWidget(self.button_next)
        status = QHBoxLayout()
        status.addWidget(self.current, 1)
        status.addWidget(self.reveal)
        status.addWidget(self.judge_decision)
        top = QHBoxLayout()
        top.addWidget(self.position)
        top.addWidget(self.header, 1)
        top.addWidget(self.progress)
        layout = QVBoxLayout(page)
        layout.addWidget(self.plan_label)
        layout.addLayout(top)
        layout.addWidget(self.instruction)
        layout.addWidget(responses, 1)
        layout.addLayout(status)
        layout.addLayout(buttons)
        return page

    @staticmethod
    def _label(name: str) -> QLabel:
        label = QLabel("")
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    @staticmethod
    def _text(name: str) -> QPlainTextEdit:
        edit = QPlainTextEdit()
        edit.setObjectName(name)
        edit.setReadOnly(True)
        return edit

    @staticmethod
    def _button(name: str, text: str, action: str) -> QPushButton:
        keys = " or ".join("←" if k == "Left" else "→" if k == "Right" else k for k in _KEYS[action])
        button = QPushButton(f"{text}  ({keys})")
        button.setObjectName(name)
        button.setToolTip(f"Keyboard: {keys}")
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space and Enter must not press whichever had focus
        return button

    def _bind_keys(self) -> None:
        actions = {"A": lambda: self.label_current("A"), "B": lambda: self.label_current("B"),
                   "tie": lambda: self.label_current("tie"), "skip": self.skip_current,
                   "previous": lambda: self.move(-1), "next": lambda: self.move(1)}
        for action, keys in _KEYS.items():
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self, actions[action])
                shortcut.setEnabled(False)  # only while labelling: the draw page types digits
                self._shortcuts.append(shortcut)

    # -- plan -----------------------------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            self.sample = load_label_plan(self.folder, self.run_key)
            with RunStore(self.folder) as store:
                population = len(label_population(store.tasks(self.run_key)))
        except (JudgedeskError, sqlite3.Error) as exc:
            self._show_error(str(exc))
            self.draw_button.setEnabled(False)
            return
        if self.sample is None:
            self.sample_size.setRange(1, max(population, 1))
            self.sample_size.setValue(min(DEFAULT_SAMPLE, population))
            self.draw_button.setEnabled(population > 0)
            self._set_page(0)
            return
        self._start_labelling()

    def draw(self) -> None:
        """Draw the plan with the chosen size and seed (empty: a fresh random one, shown and stored)."""
        text = self.seed_edit.text().strip()
        if text and not text.isdigit():
            self._show_error(f"A seed is a whole number, not {text!r}.")
            return
        try:
            self.sample = draw_label_plan(self.folder, self.sample_size.value(), run_key=self.run_key,
                                          seed=int(text) if text else None)
        except (JudgedeskError, sqlite3.Error) as exc:
            self._show_error(str(exc))
            return
        self.plan_did_draw.emit(self.sample)
        self._start_labelling()

    def _start_labelling(self) -> None:
        assert self.sample is not None
        try:
            results = load_results(self.folder, self.run_key)
        except (JudgedeskError, sqlite3.Error) as exc:
            self._show_error(str(exc))
            return
        self.rows = {row.task.content: row for row in results.rows}
        plan = self.sample.plan
        draws = " + ".join(f"{len(d.contents)} with seed {d.seed}" for d in plan.draws)
        self.plan_label.setText(f"Label plan: {plan.n} of {plan.population} tasks, a uniform random sample "
                                f"({draws}, drawn {plan.created[:10]}). Labels are saved at once as overrides.")
        unlabelled = [i for i, item in enumerate(self.sample.items) if item.label is None]
        self.index = unlabelled[0] if unlabelled else 0
        self._set_page(1)
        self._show_item()

    def _set_page(self, page: int) -> None:
        self.pages.setCurrentIndex(page)
        for shortcut in self._shortcuts:
            shortcut.setEnabled(page == 1)

    # -- labelling ------------------------------------------------------------------------------------------

    @property
    def item(self) -> PlannedItem | None:
        """The planned task on screen."""
        if self.sample is None or not self.sample.items or self.pages.currentIndex() != 1:
            return None
        return self.sample.items[self.index]

    def label_current(self, label: str) -> None:
        """Store `label` (A, B or tie) for the task on screen, then go to the next one."""
        item = self.item
        if item is None or item.task is None:
            return
        try:
            override = label_planned_task(self.folder, self.run_key, item.content, label)
        except (JudgedeskError, sqlite3.Error) as exc:
            self._show_error(f"The label was not saved: {exc}")
            return
        self._clear_error()
        assert self.sample is not None
        items = list(self.sample.items)
        items[self.index] = PlannedItem(item.position, item.content, item.task, override)
        self.sample = LabelledSample(self.sample.folder, self.sample.info, self.sample.plan, tuple(items))
        self.skipped.discard(item.content)
        self.label_did_change.emit(item.content)
        self.move(1)

    def skip_current(self) -> None:
        """Leave the task on screen unlabelled for now (it stays in the plan) and go to the next one."""
        item = self.item
        if item is None:
            return
        if item.label is None:
            self.skipped.add(item.content)
        self.move(1)

    def move(self, step: int) -> None:
        """Go `step` tasks forward (or back), staying within the plan."""
        if self.sample is None or not self.sample.items:
            return
        self.index = min(max(self.index + step, 0), len(self.sample.items) - 1)
        self._show_item()

    def _show_item(self) -> None:
        item = self.item
        assert self.sample is not None
        labelled = self.sample.labelled
        total = len(self.sample.items)
        skipped = len(self.skipped)
        left = total - labelled
        self.progress.setText(f"{labelled} labelled, {skipped} skipped" +
                              (f" · {left} to go" if left else " · all labelled"))
        if item is None:
            return
        self.position.setText(f"{item.position} of {total}")
        self.button_previous.setEnabled(self.index > 0)
        self.button_next.setEnabled(self.index < total - 1)
        task = item.task
        for button in (self.button_a, self.button_b, self.button_tie):
            button.setEnabled(task is not None)
        if task is None:
            self.header.setText(f"task {item.content[:12]} is no longer in this run (its input changed)")
            for edit in (self.instruction, self.response_a, self.response_b):
                edit.clear()
        else:
            self.header.setText(f"{task.item_id} · {task.model_a} vs {task.model_b or ''}" +
                                (f" · {task.category}" if task.category else ""))
            self.instruction.setPlainText(_instruction_text(task.payload))
            responses = list(task.payload.get("responses") or [])
            self.title_a.setText(f"Response A · {task.model_a}")
            self.title_b.setText(f"Response B · {task.model_b or ''}")
            self.response_a.setPlainText(responses[0] if responses else "")
            self.response_b.setPlainText(responses[1] if len(responses) > 1 else "")
        if item.override is not None:
            note = f" ({item.override.note})" if item.override.note else ""
            self.current.setText(f"Your label: {item.label}{note}")
        elif item.content in self.skipped:
            self.current.setText("Skipped: not labelled yet.")
        else:
            self.current.setText("Not labelled yet.")
        self._show_judge(self.reveal.isChecked())

    def _show_judge(self, shown: bool) -> None:
        self.judge_decision.setVisible(shown)
        item = self.item
        row = self.rows.get(item.content) if item is not None else None
        if not shown or row is None or self.sample is None:
            self.judge_decision.setText("")
            return
        decision = row.decision(self.sample.info.orders)
        self.judge_decision.setText(f"Judge: {decision}" if decision is not None else "Judge: not judged yet")

    # -- errors ---------------------------------------------------------------------------------------------

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(True)

    def _clear_error(self) -> None:
        self.error.clear()
        self.error.setVisible(False)


def _instruction_text(payload: Mapping[str, Any]) -> str:
    """The judged turn's instruction, with the conversation before it and the input, as the judge saw them."""
    parts = []
    for number, turn in enumerate(payload.get("history") or [], start=1):
        parts.append(f"Turn {number}: {turn.get('question', '')}")
        for side, answer in zip("AB", turn.get("answers") or [], strict=False):
            parts.append(f"  Answer {side}: {answer}")
    parts.append(str(payload.get("instruction", "")))
    if payload.get("input"):
        parts.append(f"Input:\n{payload['input']}")
    return "\n\n".join(parts)
