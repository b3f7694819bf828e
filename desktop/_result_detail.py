"""The Results view's detail pane: the selected task's texts, both judged orders side by side, and the analyst's
override control (the view stores the override; this pane only shows and collects it). With no row selected it
shows only a placeholder, so nothing of an earlier row (its header, its models) stays on screen."""

from __future__ import annotations

import html
from typing import Any

from judgedesk.core import Status
from judgedesk.core.reports import ResultRow
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ._results_model import describe_side, local_time_text
from ._widgets import format_percent

__all__ = ["ResultDetailPane"]

PLACEHOLDER = "Select a row in the table to see its item, both judged orders and the analyst's override."


class ResultDetailPane(QWidget):
    """The selected task: its texts, both judged orders side by side, and the override control."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultDetail")
        self.placeholder = QLabel(PLACEHOLDER)
        self.placeholder.setObjectName("detailPlaceholder")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.placeholder.setStyleSheet("color: #5b6577; padding: 12px")
        self.header = QLabel("")
        self.header.setObjectName("detailHeader")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.instruction = self._text("detailInstruction", 48)
        self.response_a = self._text("detailResponseA", 90)
        self.response_b = self._text("detailResponseB", 90)
        self.order_ab = QTextBrowser()
        self.order_ab.setObjectName("detailOrderAB")
        self.order_ba = QTextBrowser()
        self.order_ba.setObjectName("detailOrderBA")
        for browser in (self.order_ab, self.order_ba):
            browser.setOpenLinks(False)
            browser.setMinimumHeight(220)  # winner, probabilities, reason and the start of the raw output
        self.label_a = QLabel("Response A")
        self.label_b = QLabel("Response B")

        responses = QSplitter(Qt.Orientation.Horizontal)
        responses.addWidget(self._titled(self.label_a, self.response_a))
        responses.addWidget(self._titled(self.label_b, self.response_b))
        orders = QSplitter(Qt.Orientation.Horizontal)
        orders.setObjectName("detailOrders")
        orders.addWidget(self.order_ab)
        orders.addWidget(self.order_ba)

        self.override_box = QGroupBox("Analyst's override")
        self.override_box.setObjectName("overrideBox")
        self.override_a = self._button("overrideA", "&A is right", "The right verdict is A (Alt+A)")
        self.override_b = self._button("overrideB", "&B is right", "The right verdict is B (Alt+B)")
        self.override_tie = self._button("overrideTie", "&Tie", "The right verdict is a tie (Alt+T)")
        self.override_score = QDoubleSpinBox()
        self.override_score.setObjectName("overrideScore")
        self.override_score.setDecimals(1)
        self.override_set_score = self._button("overrideSetScore", "&Set score", "The right score (Alt+S)")
        self.override_clear = self._button("overrideClear", "&Clear", "Remove the override (Alt+C)")
        self.override_note = QLineEdit()
        self.override_note.setObjectName("overrideNote")
        self.override_note.setPlaceholderText("Note (why the judge is wrong), optional")
        self.override_current = QLabel("No override.")
        self.override_current.setObjectName("overrideCurrent")
        self.override_current.setWordWrap(True)
        self.override_current.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        for widget in (self.override_a, self.override_b, self.override_tie, self.override_score,
                       self.override_set_score, self.override_clear):
            buttons.addWidget(widget)
        buttons.addWidget(self.override_note, 1)
        box = QVBoxLayout(self.override_box)
        box.addLayout(buttons)
        box.addWidget(self.override_current)

        self.instruction.setMaximumHeight(80)
        # Everything of a row lives in `content`, hidden (with its minimum heights) while no row is selected.
        self.content = QWidget()
        self.content.setObjectName("detailContent")
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.override_box)  # first: the analyst's action stays in sight
        layout.addWidget(self.instruction)
        layout.addWidget(responses, 1)
        layout.addWidget(orders, 2)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 4, 0, 0)
        outer.addWidget(self.placeholder)
        outer.addWidget(self.content, 1)
        self.show_row(None, single=False)

    @staticmethod
    def _text(name: str, height: int) -> QPlainTextEdit:
        edit = QPlainTextEdit()
        edit.setObjectName(name)
        edit.setReadOnly(True)
        edit.setMinimumHeight(height)
        return edit

    @staticmethod
    def _button(name: str, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        return button

    @staticmethod
    def _titled(label: QLabel, widget: QWidget) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        label.setStyleSheet("font-weight: bold")
        layout.addWidget(label)
        layout.addWidget(widget)
        return box

    def show_row(self, row: ResultRow | None, *, single: bool, orders: tuple[str, ...] = (),
                 scale: tuple[float, float] | None = None) -> None:
        for widget in (self.override_a, self.override_b, self.override_tie):
            widget.setVisible(not single)
        for widget in (self.override_score, self.override_set_score):
            widget.setVisible(single)
        self.order_ba.setVisible(not single and "BA" in orders)
        self.response_b.parentWidget().setVisible(not single)
        self.override_box.setEnabled(row is not None)
        self.placeholder.setVisible(row is None)
        self.content.setVisible(row is not None)
        if row is None:  # nothing of the last row stays behind, hidden or not
            self.header.clear()
            self.label_a.setText("Response" if single else "Response A")
            self.label_b.setText("Response B")
            for widget in (self.instruction, self.response_a, self.response_b):
                widget.clear()
            self.order_ab.clear()
            self.order_ba.clear()
            self.override_current.setText("No override.")
            self.override_current.setToolTip("")
            return
        task = row.task
        models = task.model_a if task.model_b is None else f"{task.model_a} vs {task.model_b}"
        extra = [f"category {task.category}"] if task.category else []
        if task.human:
            extra.append(f"human label {task.human}")
        self.header.setText(f"#{task.position + 1} · {task.item_id} · {models}" +
                            (" · " + " · ".join(extra) if extra else ""))
        payload = task.payload
        text = payload.get("instruction", "")
        if payload.get("input"):
            text += f"\n\nInput:\n{payload['input']}"
        if payload.get("reference"):
            text += f"\n\nReference answer:\n{payload['reference']}"
        self.instruction.setPlainText(text)
        responses = list(payload.get("responses") or [])
        self.label_a.setText("Response" if single else f"Response A · {task.model_a}")
        self.label_b.setText(f"Response B · {task.model_b or ''}")
        self.response_a.setPlainText(responses[0] if responses else "")
        self.response_b.setPlainText(responses[1] if len(responses) > 1 else "")
        if single:
            self.order_ab.setHtml(self._side_html("Grade", row.sides.get("single"), row.statuses.get("single")))
            if scale:
                self.override_score.setRange(float(scale[0]), float(scale[1]))
        else:
            self.order_ab.setHtml(self._side_html("A shown first (AB)", row.sides.get("AB"), row.statuses.get("AB")))
            self.order_ba.setHtml(self._side_html("B shown first (BA)", row.sides.get("BA"), row.statuses.get("BA")))
        self.override_current.setToolTip("")
        if row.override is None:
            self.override_current.setText("No override: the judge's verdict stands.")
            if single and row.score is not None:
                self.override_score.setValue(float(row.score))
        else:
            value = row.override.value
            shown = f"{value:g}" if isinstance(value, float) else value
            note = f" · “{row.override.note}”" if row.override.note else ""
            created = row.override.created
            self.override_current.setText(f"✎ Override: {shown}{note} · set {local_time_text(created)}")
            self.override_current.setToolTip(f"Set {created} (UTC, as stored in the run)")
            if isinstance(value, float):
                self.override_score.setValue(value)

    @staticmethod
    def _side_html(title: str, record: Any, status: Status | None) -> str:
        side = describe_side(record, status)
        parts = [f"<p><b>{html.escape(title)}</b> · {html.escape(str(side['status']))}</p>"]
        if record is None:
            return "".join(parts)
        if side["winner"] is not None:
            parts.append(f"<p>Winner: <b>{html.escape(str(side['winner']))}</b></p>")
        if side["score"] is not None:
            parts.append(f"<p>Score: <b>{side['score']:g}</b></p>")
        if side["probabilities"]:
            shown = " · ".join(f"{html.escape(str(k))} {format_percent(v)}" for k, v in side["probabilities"].items())
            parts.append(f"<p>Probabilities: {shown}</p>")
        if side["cut_tokens"]:
            parts.append(f"<p>{side['cut_tokens']} tokens cut to fit the context</p>")
        if side["reason"]:
            parts.append(f"<p>Reason: {html.escape(side['reason'])}</p>")
        if title.endswith("(BA)"):
            parts.append("<p style='color:#5b6577'>The raw output names positions as the judge saw them: "
                         "its first response (A) was B here.</p>")
        parts.append("<p>Raw output:</p><pre style='white-space: pre-wrap'>"
                     f"{html.escape(str(side['raw_output']))}</pre>")
        return "".join(parts)
