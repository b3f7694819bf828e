"""The note that says, once per place, that the demo judge is weak and how to bring a real one.

The README explains it, but a newcomer looks at the first verdict in Compare and at the Results view of the demo
run, so the note stands there: shown the first time a demo-judge verdict or run appears in that place, remembered
in the app settings as seen, and dismissible (it then stays closed for good).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from judgedesk.core import Manifest, ModelFileError, demo_judge_path, read_gguf_header
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from ._settings import AppSettings

__all__ = ["DEMO_JUDGE_NOTE", "DEMO_JUDGE_NOTE_SHORT", "DemoJudgeNote", "is_demo_judge"]

DEMO_JUDGE_NOTE = (
    "This verdict comes from the demo judge, a 135M-parameter model bundled so the app works out of the box. It is "
    "too small to judge well: it mostly picks a position, not the better response (its two orders often "
    "disagree). For verdicts you can use, bring a real judge: in the Judges view (Ctrl+4), “Import GGUF…” adds a "
    "judge file (for example PandaLM-7B or Prometheus 2 as GGUF), and “Import HF folder…” converts a Hugging Face "
    "model folder to GGUF on this machine.")
"""What the note says (the README's 'The demo judge is weak' section, in short)."""
DEMO_JUDGE_NOTE_SHORT = ("Judged by the demo judge, too small to judge well (it mostly picks a position). For real "
                         "verdicts, bring a real judge: Judges view (Ctrl+4) → “Import GGUF…” or “Import HF folder…”.")
"""The note where height is scarce (the Results view, above its table); the whole note is its tooltip."""


@cache
def _demo_identity() -> tuple[str, str] | None:
    """The demo judge's model name and weight type, from its file's header (read once, a few kB)."""
    try:
        header = read_gguf_header(demo_judge_path())
    except ModelFileError:
        return None
    return header.name, header.file_type


def is_demo_judge(made_by: Manifest | Mapping[str, Any] | None) -> bool:
    """Whether a verdict (its manifest) or a run (its settings: judge_name, file_type) was made by the embedded demo
    judge, known by its model name and weight type (a copy imported under another name is still the demo judge)."""
    if made_by is None:
        return False
    if isinstance(made_by, Manifest):
        identity = (made_by.judge_name, made_by.file_type)
    else:
        identity = (str(made_by.get("judge_name", "")), str(made_by.get("file_type", "")))
    return identity == _demo_identity()


class DemoJudgeNote(QFrame):
    """A dismissible note about the demo judge, shown once in `place` ('compare', 'results')."""

    note_was_dismissed = Signal()

    def __init__(self, settings: AppSettings, place: str, *, compact: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.place = place
        self.setObjectName("demoJudgeNote")
        self.setStyleSheet("#demoJudgeNote { background: #fff8e1; border: 1px solid #e6c36a; "
                           "border-left: 5px solid #b26a00; border-radius: 4px; }")
        self.label = QLabel(DEMO_JUDGE_NOTE_SHORT if compact else DEMO_JUDGE_NOTE)
        self.label.setToolTip(DEMO_JUDGE_NOTE)
        self.label.setObjectName("demoJudgeNoteText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dismiss_button = QToolButton()
        self.dismiss_button.setObjectName("demoJudgeNoteDismiss")
        self.dismiss_button.setText("Dismiss")
        self.dismiss_button.setToolTip("Close this note; it is not shown again")
        self.dismiss_button.setAutoRaise(True)
        self.dismiss_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 2 if compact else 6, 6, 2 if compact else 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        self._shown_here = False
        self.hide()

    def offer(self, made_by: Manifest | Mapping[str, Any] | None) -> None:
        """Show the note when `made_by` (a verdict's manifest, a run's settings) is the demo judge's and it was
        never shown in this place; once shown it stays until dismissed or until something not made by the demo
        judge is shown."""
        if not is_demo_judge(made_by):
            self.hide()
            return
        if self._shown_here:
            self.show()
            return
        if self.place in self.settings.demo_notes_seen:
            return
        self.settings.demo_notes_seen = self.settings.demo_notes_seen | {self.place}
        self._shown_here = True
        self.show()

    def dismiss(self) -> None:
        self._shown_here = False
        self.hide()
        self.note_was_dismissed.emit()
