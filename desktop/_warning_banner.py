"""The banner at the top of the Results view: the run's warnings (core's `summary["warnings"]`), each saying what
happened, what it means and what to do, in the words the CLI and the HTML report use."""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStyle, QWidget

__all__ = ["RunWarningBanner"]


class RunWarningBanner(QFrame):
    """A run's warnings above its figures; hidden when it has none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runWarningBanner")
        self.setStyleSheet("#runWarningBanner { background: #fdecea; border: 1px solid #e0a39c; "
                           "border-left: 5px solid #c0392b; border-radius: 4px; }")
        icon = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(size, size))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.label = QLabel()
        self.label.setObjectName("runWarningText")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(icon)
        layout.addWidget(self.label, 1)
        self._plain = ""
        self.hide()

    def show_warnings(self, warnings: list[dict[str, Any]]) -> None:
        """Show `warnings` (the summary's list of dictionaries); an empty list hides the banner."""
        self._plain = "\n\n".join(f"{w['title']}. {w['meaning']}\nWhat to do: {w['advice']}" for w in warnings)
        self.label.setText("<br><br>".join(
            f"<b>{escape(w['title'])}.</b> {escape(w['meaning'])}<br><b>What to do:</b> {escape(w['advice'])}"
            for w in warnings))
        self.setAccessibleName("Warning" if warnings else "")
        self.setAccessibleDescription(self._plain)
        self.setVisible(bool(warnings))

    def text(self) -> str:
        """The warnings as plain text (empty when there are none)."""
        return self._plain
