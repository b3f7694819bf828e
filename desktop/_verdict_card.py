"""The verdict card: one pairwise comparison's outcome, picture first (the winner, the option probabilities per
order), then the judge's own words (raw output, reason, reference answer), then what produced it (the manifest).

Everything shown is selectable text; the whole result, with the texts judged, can be copied as text or as JSON.
A fast verdict generates no text: its raw output is only the prompt's last words and the option chosen, so the card
says what it is (the choice read from the next-token probabilities) instead of showing a cut-off JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import get_args

from judgedesk.core import (
    BothOrdersResult,
    EvalItem,
    Manifest,
    PairwiseVerdict,
    Status,
    Strength,
    strength_winner,
    to_json,
)
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ._synthetic_mark import SYNTHETIC_MARK
from ._widgets import SELECTABLE

__all__ = ["DECISION_COLOURS", "DECISION_LABELS", "ProbabilityBars", "VerdictCard", "result_as_json", "result_as_text"]

DECISION_LABELS = {"A": "Response A", "B": "Response B", "tie": "Tie", "inconsistent": "Inconsistent",
                   "unparsed": "Unparsed"}
"""How each decision is named on the card."""
DECISION_COLOURS = {"A": "#1565c0", "B": "#7b1fa2", "tie": "#546e7a", "inconsistent": "#b26a00",
                    "unparsed": "#c62828"}
"""One colour per decision; A, B and tie also colour the probability bars."""
_ORDER_TITLES = {"AB": "A shown first", "BA": "B shown first"}
_FIVE_LEVELS: tuple[str, ...] = get_args(Strength)
"""A five-level judge's verdicts (arenahard), from A much better to B much better."""
_STALE_TEXT = "The texts or settings changed since this verdict; run again to update it."
_PREVIOUS_TEXT = ("⚠ This verdict is from the previous run: the run after it was cancelled before it gave one. "
                  "The texts may have changed since.")
_SIDE_BY_SIDE_WIDTH = 540
"""Below this card width the two orders stack instead of standing side by side."""
_HEAD_IN_ONE_ROW_WIDTH = 400
"""Below this card width the consistency badge goes under the winner."""


def _explanation(result: BothOrdersResult) -> str:
    ab, ba = result.ab, result.ba
    if ba is None:
        if ab.winner is None:
            return "The judge's output could not be read as a verdict (one order judged)."
        return f"One order judged (A shown first): {DECISION_LABELS[ab.winner].lower()}."
    if result.decision == "unparsed":
        failed = [_ORDER_TITLES[v.order] for v in (ab, ba) if v.winner is None]
        return f"No verdict could be read from the output with {' and '.join(failed)}."
    if result.decision == "inconsistent":
        return (f"The orders disagree: with A first the judge chose {ab.winner}, with B first {ba.winner}. "
                "The verdict depends on the position, not on the responses.")
    if result.decision == "tie":
        return "Both orders judge the responses equally good."
    return f"Both orders prefer {DECISION_LABELS[result.decision].lower()}."


def _consistency(result: BothOrdersResult) -> tuple[str, str]:
    """(text, colour) for the consistency badge."""
    if result.consistent is None:
        if result.ba is None:
            return "one order only", "#546e7a"
        return "not decided (unparsed)", DECISION_COLOURS["unparsed"]
    if result.consistent:
        return "consistent", "#2e7d32"
    return "inconsistent", DECISION_COLOURS["inconsistent"]


def manifest_summary(manifest: Manifest | None) -> str:
    """One line naming what produced a verdict: judge file, hash prefix, format, decoding mode, seed."""
    if manifest is None:
        return "no manifest"
    mode = str(manifest.decoding.get("mode", "?"))
    if manifest.decoding.get("explain") and mode == "logits":
        mode += " + explanation"
    return (f"{manifest.judge_file}{f' {SYNTHETIC_MARK}' if manifest.synthetic else ''} ({manifest.file_type}) · "
            f"sha256 {manifest.judge_sha256[:12]} · format {manifest.format} · {mode} · seed {manifest.seed}")


def _probability_labels(probabilities: Mapping[str, float] | None) -> tuple[str, ...]:
    """The option labels to show, in reading order: a five-level judge's verdicts (A>>B ... B>>A) when it gave
    them, else A, B and tie."""
    if probabilities and any(level in probabilities for level in _FIVE_LEVELS):
        return tuple(level for level in _FIVE_LEVELS if level in probabilities)
    return tuple(label for label in ("A", "B", "tie") if probabilities and label in probabilities)


def _probabilities_text(probabilities: Mapping[str, float] | None) -> str:
    if not probabilities:
        return "no option probabilities (verdict generated as text)"
    return "  ".join(f"P({label})={probabilities[label]:.3f}" for label in _probability_labels(probabilities))


FAST_VERDICT_NOTE = ("Fast verdict: the judge's choice was read from its next-token probabilities; no text was "
                     "generated.")
"""What the card shows in place of a fast verdict's raw output (the prompt's last words plus the option chosen)."""


def is_fast_verdict(verdict: PairwiseVerdict) -> bool:
    """Whether `verdict` was read from logits with no text generated (fast mode without an explanation)."""
    decoding = verdict.manifest.decoding if verdict.manifest is not None else {}
    return decoding.get("mode") == "logits" and not decoding.get("explain")


def _item_lines(item: EvalItem) -> list[str]:
    lines = ["Instruction:", *("  " + line for line in item.instruction.splitlines())]
    if item.input:
        lines += ["Input:", *("  " + line for line in item.input.splitlines())]
    for title, text in zip(("Response A", "Response B"), item.responses, strict=False):
        lines += [f"{title}:", *("  " + line for line in text.splitlines())]
    if item.reference:
        lines += ["Reference answer:", *("  " + line for line in item.reference.splitlines())]
    return [*lines, ""]


def result_as_text(result: BothOrdersResult, item: EvalItem | None = None) -> str:
    """A plain-text account of a result (and of the texts judged, when given), for pasting into notes or a
    report."""
    lines = _item_lines(item) if item is not None else []
    lines += [f"Verdict: {DECISION_LABELS[result.decision]} ({_consistency(result)[0]})", _explanation(result)]
    for verdict in (result.ab, result.ba):
        if verdict is None:
            continue
        lines += ["", f"{_ORDER_TITLES[verdict.order]}: {verdict.winner or 'unparsed'} ({verdict.status})",
                  f"  {_probabilities_text(verdict.probabilities)}"]
        if verdict.cut_tokens:
            lines.append(f"  responses cut by {verdict.cut_tokens} tokens to fit the context")
        if is_fast_verdict(verdict):
            lines.append(f"  {FAST_VERDICT_NOTE}")
        else:
            lines += ["  Raw output:", *("    " + line for line in verdict.raw_output.splitlines())]
        if verdict.reason:
            lines += ["  Reason:", *("    " + line for line in verdict.reason.splitlines())]
        if verdict.reference:
            lines += ["  Reference answer:", *("    " + line for line in verdict.reference.splitlines())]
    lines += ["", f"Judge: {manifest_summary(result.ab.manifest)}"]
    return "\n".join(lines) + "\n"


def result_as_json(result: BothOrdersResult, item: EvalItem | None = None) -> str:
    """core's canonical JSON of `result`, with the texts judged under "item" when given (sorted keys, so equal
    results give equal text)."""
    if item is None:
        return to_json(result)
    data = json.loads(to_json(result))
    data["item"] = {"id": item.id, "instruction": item.instruction, "input": item.input,
                    "responses": list(item.responses), "reference": item.reference}
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


class ProbabilityBars(QWidget):
    """Horizontal bars of the option probabilities (A, B and, where the format has one, tie), painted."""

    _ROW = 20

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.probabilities: dict[str, float] = {}
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_probabilities(self, probabilities: Mapping[str, float] | None) -> None:
        labels = _probability_labels(probabilities)
        self.probabilities = {k: float(probabilities[k]) for k in labels} if probabilities else {}
        self.setToolTip(_probabilities_text(probabilities))
        self.setVisible(bool(self.probabilities))
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(200, max(1, len(self.probabilities)) * self._ROW + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, self.sizeHint().height())

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = QFontMetrics(self.font())
        label_w = max(metrics.horizontalAdvance(label) for label in ("tie", *self.probabilities)) + 10
        value_w = metrics.horizontalAdvance("100.0%") + 8
        track_w = max(10, self.width() - label_w - value_w)
        text_colour = self.palette().windowText().color()
        for row, (label, p) in enumerate(self.probabilities.items()):
            top = row * self._ROW + 2
            painter.setPen(text_colour)
            painter.drawText(QRectF(0, top, label_w, self._ROW - 4),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, label)
            track = QRectF(label_w, top + 3, track_w, self._ROW - 10)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e6e9ec"))
            painter.drawRoundedRect(track, 3, 3)
            # A five-level verdict takes the colour of the winner it names.
            painter.setBrush(QColor(DECISION_COLOURS[strength_winner(label) if label in _FIVE_LEVELS else label]))
            painter.drawRoundedRect(QRectF(track.left(), track.top(), max(2.0, track_w * p), track.height()), 3, 3)
            painter.setPen(text_colour)
            painter.drawText(QRectF(label_w + track_w, top, value_w, self._ROW - 4),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, f"{100 * p:.1f}%")
        painter.end()


class _ReadOnlyText(QPlainTextEdit):
    """Read-only, selectable text that grows with its content up to `max_lines`, then scrolls."""

    def __init__(self, name: str, max_lines: int = 8) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setReadOnly(True)
        self.setTextInteractionFlags(SELECTABLE)
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._max_lines = max_lines
        self.setStyleSheet("QPlainTextEdit { background: #f7f8fa; }")

    def set_text(self, text: str) -> None:
        self.setPlainText(text)
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        # The plain-text layout measures its document in lines (wrapped at the current width).
        lines = max(1.0, self.document().documentLayout().documentSize().height())
        shown = min(lines, float(self._max_lines))
        frame = 2 * self.frameWidth() + int(self.document().documentMargin() * 2) + 4
        height = int(shown * self.fontMetrics().lineSpacing()) + frame
        if height != self.height():
            self.setFixedHeight(height)


class _OrderPanel(QFrame):
    """One order's verdict: its winner, probability bars, raw output, reason and reference."""

    def __init__(self, order: str) -> None:
        super().__init__()
        self.order = order
        self.setObjectName(f"order{order}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(_ORDER_TITLES[order])
        self.title.setStyleSheet("font-weight: bold;")
        self.winner = QLabel()
        self.winner.setObjectName(f"winner{order}")
        self.winner.setTextInteractionFlags(SELECTABLE)
        self.bars = ProbabilityBars()
        self.bars.setObjectName(f"probabilities{order}")
        self.no_bars = QLabel("Verdict generated as text: no option probabilities.")
        self.no_bars.setWordWrap(True)
        self.no_bars.setStyleSheet("color: #666;")
        self.raw = _ReadOnlyText(f"rawOutput{order}", max_lines=6)
        self.fast_note = QLabel()
        self.fast_note.setObjectName(f"fastVerdict{order}")
        self.fast_note.setWordWrap(True)
        self.fast_note.setTextInteractionFlags(SELECTABLE)
        self.fast_note.setStyleSheet("color: #555;")
        self.reason_caption = QLabel("Reason")
        self.reason = _ReadOnlyText(f"reason{order}", max_lines=8)
        self.reference_caption = QLabel("Reference answer")
        self.reference = _ReadOnlyText(f"reference{order}", max_lines=8)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.winner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(self.bars)
        layout.addWidget(self.no_bars)
        positions = "first = A, second = B" if order == "AB" else "first = B, second = A"
        self.raw_caption = QLabel(
            f"Raw output <span style='color:#777'>(in the judge's positions: {positions})</span>")
        self.raw_caption.setWordWrap(True)
        layout.addWidget(self.fast_note)
        layout.addWidget(self.raw_caption)
        layout.addWidget(self.raw)
        for caption, text in ((self.reason_caption, self.reason), (self.reference_caption, self.reference)):
            layout.addWidget(caption)
            layout.addWidget(text)
        layout.addStretch(1)

    def show_verdict(self, verdict: PairwiseVerdict) -> None:
        label = verdict.winner or "unparsed"
        self.winner.setText(label if verdict.status == Status.OK else f"{label} ({verdict.status})")
        self.winner.setStyleSheet(f"color: {DECISION_COLOURS[label]}; font-weight: bold;")
        self.bars.set_probabilities(verdict.probabilities)
        self.no_bars.setVisible(not verdict.probabilities)
        fast = is_fast_verdict(verdict)
        if fast:
            self.fast_note.setText(f"{FAST_VERDICT_NOTE} {_probabilities_text(verdict.probabilities)}")
        self.fast_note.setVisible(fast)
        self.raw_caption.setVisible(not fast)
        self.raw.setVisible(not fast)
        self.raw.set_text(verdict.raw_output)
        for caption, widget, text in ((self.reason_caption, self.reason, verdict.reason),
                                      (self.reference_caption, self.reference, verdict.reference)):
            caption.setVisible(bool(text))
            widget.setVisible(bool(text))
            widget.set_text(text or "")


class VerdictCard(QFrame):
    """Shows a `BothOrdersResult` (or that one is being judged); copies it as text or JSON."""

    card_did_copy = Signal(str)
    """'text' or 'json', after copying to the clipboard."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verdictCard")
        self.result: BothOrdersResult | None = None
        self.item: EvalItem | None = None
        """The texts `result` judged (copied with it), when the caller gave them."""

        self.status = QLabel("Run a comparison to see the verdict here.")
        self.status.setObjectName("verdictStatus")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #555;")
        self.busy = QProgressBar()
        self.busy.setObjectName("verdictBusy")
        self.busy.setRange(0, 0)  # indeterminate: a verdict reports no fraction done
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.hide()

        self.winner = QLabel()
        self.winner.setObjectName("verdictWinner")
        self.winner.setTextInteractionFlags(SELECTABLE)
        font = self.winner.font()
        font.setPointSizeF(font.pointSizeF() * 2.0)
        font.setBold(True)
        self.winner.setFont(font)
        self.consistency = QLabel()
        self.consistency.setObjectName("verdictConsistency")
        self.consistency.setTextInteractionFlags(SELECTABLE)
        self.explanation = QLabel()
        self.explanation.setObjectName("verdictExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(SELECTABLE)
        self.truncated = QLabel()
        self.truncated.setObjectName("verdictTruncated")
        self.truncated.setWordWrap(True)
        self.truncated.setTextInteractionFlags(SELECTABLE)
        self.truncated.setStyleSheet("color: #8a4b00; background: #fff4e0; padding: 4px; border-radius: 3px;")
        self.stale = QLabel(_STALE_TEXT)
        self.stale.setObjectName("verdictStale")
        self.stale.setWordWrap(True)
        self.stale.setStyleSheet("color: #8a4b00;")

        self.orders = {order: _OrderPanel(order) for order in ("AB", "BA")}
        self._orders_layout = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self._orders_layout.setSpacing(8)
        for panel in self.orders.values():
            self._orders_layout.addWidget(panel, 1)

        self.manifest = QLabel()
        self.manifest.setObjectName("verdictManifest")
        self.manifest.setWordWrap(True)
        self.manifest.setTextInteractionFlags(SELECTABLE)
        self.manifest.setStyleSheet("color: #666;")
        self.copy_text = QPushButton("Copy as &text")
        self.copy_text.setObjectName("copyText")
        self.copy_text.setToolTip("Copy the verdict, both orders and the judge as plain text")
        self.copy_text.clicked.connect(self.copy_as_text)
        self.copy_json = QPushButton("Copy as &JSON")
        self.copy_json.setObjectName("copyJson")
        self.copy_json.setToolTip("Copy the full result (both orders, probabilities, manifest) as JSON")
        self.copy_json.clicked.connect(self.copy_as_json)

        # The winner and the consistency badge stand side by side when there is room, else one above the other.
        self._head = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self._head.addWidget(self.winner, 1)
        self._head.addWidget(self.consistency, 0, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.copy_text)
        buttons.addWidget(self.copy_json)
        self._details = QWidget()
        details = QVBoxLayout(self._details)
        details.setContentsMargins(0, 0, 0, 0)
        details.addLayout(self._head)
        details.addWidget(self.explanation)
        details.addWidget(self.truncated)
        details.addWidget(self.stale)
        details.addLayout(self._orders_layout)
        details.addWidget(self.manifest)
        details.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.status)
        layout.addWidget(self.busy)
        layout.addWidget(self._details)
        layout.addStretch(1)
        self.clear()

    # -- states ---------------------------------------------------------------------------------------------

    def clear(self) -> None:
        self.result = None
        self.item = None
        self.winner.clear()
        self.winner.setProperty("decision", "")
        self._details.hide()
        self.copy_text.setEnabled(False)
        self.copy_json.setEnabled(False)

    def show_working(self, text: str) -> None:
        """A judgement is under way; the previous result (if any) stays visible, marked as out of date."""
        self.status.setText(text)
        self.status.show()
        self.busy.show()

    def show_stopped(self, text: str) -> None:
        """No judgement is under way any more (cancelled, failed)."""
        self.busy.hide()
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def set_stale(self, stale: bool) -> None:
        if self.stale.text() == _PREVIOUS_TEXT:
            return  # the stronger mark stays until the next verdict
        self.stale.setVisible(stale and self.result is not None)

    def mark_previous(self) -> None:
        """The run after the shown verdict was cancelled: say the verdict is the previous run's (and dim it)."""
        if self.result is None:
            return
        self.stale.setText(_PREVIOUS_TEXT)
        self.stale.show()
        self._details.setProperty("previous", True)
        self._details.setStyleSheet("QLabel { color: #888; }")
        self.stale.setStyleSheet("color: #8a4b00; font-weight: bold;")

    @property
    def marked_previous(self) -> bool:
        """Whether the shown verdict is marked as the previous run's (a later run was cancelled)."""
        return self.result is not None and not self.stale.isHidden() and self.stale.text() == _PREVIOUS_TEXT

    def show_result(self, result: BothOrdersResult, item: EvalItem | None = None) -> None:
        self.result = result
        self.item = item
        self.stale.setText(_STALE_TEXT)
        self.stale.setStyleSheet("color: #8a4b00;")
        self._details.setProperty("previous", False)
        self._details.setStyleSheet("")
        self.busy.hide()
        self.status.hide()
        decision = result.decision
        self.winner.setText(DECISION_LABELS[decision])
        self.winner.setProperty("decision", decision)
        self.winner.setStyleSheet(f"color: {DECISION_COLOURS[decision]};")
        text, colour = _consistency(result)
        self.consistency.setText(text)
        self.consistency.setStyleSheet(f"color: white; background: {colour}; border-radius: 8px; "
                                       "padding: 2px 8px; font-weight: bold;")
        self.explanation.setText(_explanation(result))
        cut = max(v.cut_tokens for v in (result.ab, result.ba) if v is not None)
        self.truncated.setText(f"⚠ Truncated: the responses were cut by {cut} tokens from the middle to fit the "
                               "judge's context. Raise the context size in Settings to judge them whole.")
        self.truncated.setVisible(cut > 0)
        self.stale.hide()
        self.orders["AB"].show_verdict(result.ab)
        if result.ba is not None:
            self.orders["BA"].show_verdict(result.ba)
        self.orders["BA"].setVisible(result.ba is not None)
        self.manifest.setText(f"Judge: {manifest_summary(result.ab.manifest)}")
        self._details.show()
        self.copy_text.setEnabled(True)
        self.copy_json.setEnabled(True)

    # -- copying --------------------------------------------------------------------------------------------

    def copy_as_text(self) -> None:
        if self.result is not None:
            QApplication.clipboard().setText(result_as_text(self.result, self.item))
            self.card_did_copy.emit("text")

    def copy_as_json(self) -> None:
        if self.result is not None:
            QApplication.clipboard().setText(result_as_json(self.result, self.item))
            self.card_did_copy.emit("json")

    # -- layout ---------------------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        width = event.size().width()
        for layout, threshold in ((self._orders_layout, _SIDE_BY_SIDE_WIDTH), (self._head, _HEAD_IN_ONE_ROW_WIDTH)):
            direction = QBoxLayout.Direction.LeftToRight if width >= threshold else QBoxLayout.Direction.TopToBottom
            if layout.direction() != direction:
                layout.setDirection(direction)
        self._head.setStretch(0, 1 if width >= _HEAD_IN_ONE_ROW_WIDTH else 0)
