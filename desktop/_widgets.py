"""Small widget conventions shared by the views: selectable text, named buttons, sizes in words."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

__all__ = ["SELECTABLE", "format_percent", "format_size", "named_button"]

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
