"""Small widget conventions shared by the views: selectable text, named buttons, sizes in words."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QTableWidget, QTableWidgetItem

__all__ = ["SELECTABLE", "fill_table", "format_percent", "format_size", "named_button"]

_GIB = 1 << 30

SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
"""Every text the app shows can be selected and copied."""


def named_button(text: str, name: str, tip: str, slot: Callable[[], object]) -> QPushButton:
    """A push button with an objectName (tests and the screenshot script find it by name) and a tooltip."""
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    button.clicked.connect(lambda: slot())  # drop `checked`: slots here take no arguments
    return button


def format_size(n: int | None) -> str:
    """A byte count as KiB, MiB or GiB; "—" when unknown."""
    if n is None:
        return "—"
    if n >= _GIB:
        return f"{n / _GIB:.2f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n / 1024:.0f} KiB"


def format_percent(value: float | None) -> str:
    """A fraction as a whole percentage; "n/a" when there is none."""
    return "n/a" if value is None else f"{value:.0%}"


def fill_table(table: QTableWidget, headers: list[str], rows: list[list[str]], *, right_from: int,
               height: tuple[int, int]) -> None:
    """Fill a read-only table of figures: texts from column `right_from` on right-aligned (numbers), columns sized
    to their contents, and the table as tall as its rows within `height` (lowest, highest)."""
    table.clear()
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            item = QTableWidgetItem(value)
            if c >= right_from:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
    needed = table.horizontalHeader().height() + sum(table.rowHeight(r) for r in range(len(rows))) + 6
    table.setFixedHeight(min(max(needed, height[0]), height[1]))
