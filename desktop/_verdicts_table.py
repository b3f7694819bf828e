"""The Verdicts tab's table view: every column in sight at the smallest supported window (1024×700).

The short columns (winners, decision, confidence, status, human label, override) keep the width their contents
need; the long text columns give way: model names and categories are narrowed (elided, the whole text in the
cell's tooltip) down to a floor, and the Item column takes what is left. A column the user resized by hand is left
as the user set it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, QEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

__all__ = ["VerdictsTable"]

_ITEM_COLUMN = 0
_ITEM_MIN = 120
"""The Item column never gets less than this (it is what names the row)."""
_GIVING = {1: (150, 64), 2: (150, 64), 3: (120, 56)}
"""The long columns that give way: column -> (widest, narrowest) in pixels (model A, model B, category)."""


class VerdictsTable(QTableView):
    """One row per task; `fit_columns` shares the width out after new rows (and on every resize)."""

    def __init__(self, model: QAbstractItemModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsTable")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(24)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(_ITEM_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        header.setResizeContentsPrecision(200)  # measuring looks at 200 rows, not 10,000
        self._natural: dict[int, int] = {}
        self._user_sized: set[int] = set()
        self._fitting = False
        header.sectionResized.connect(self._section_did_resize)
        self.measure_columns()

    def measure_columns(self) -> None:
        """Measure what each column's header and (first 200) rows need, then share the width out."""
        header = self.horizontalHeader()
        count = self.model().columnCount()
        self._natural = {column: max(self.sizeHintForColumn(column), header.sectionSizeHint(column))
                         for column in range(count) if column != _ITEM_COLUMN}
        self.fit_columns()

    def fit_columns(self) -> None:
        """Give every visible column but Item its width, narrowing the long ones so that Item keeps at least
        `_ITEM_MIN` pixels of the viewport where they can."""
        shown = [c for c in self._natural if not self.isColumnHidden(c) and c not in self._user_sized]
        widths = {c: min(self._natural[c], _GIVING[c][0]) if c in _GIVING else self._natural[c] for c in shown}
        fixed = sum(self.columnWidth(c) for c in self._user_sized if not self.isColumnHidden(c))
        excess = sum(widths.values()) + fixed + _ITEM_MIN - self.viewport().width()
        giving = [c for c in shown if c in _GIVING]
        while excess > 0 and giving:  # narrow the long columns evenly, each down to its floor
            share = max(excess // len(giving), 1)
            for column in list(giving):
                cut = min(share, widths[column] - _GIVING[column][1], excess)
                widths[column] -= cut
                excess -= cut
                if widths[column] <= _GIVING[column][1]:
                    giving.remove(column)
        self._fitting = True
        try:
            for column, width in widths.items():
                self.setColumnWidth(column, width)
        finally:
            self._fitting = False

    def _section_did_resize(self, column: int, _old: int, _new: int) -> None:
        if not self._fitting and column != _ITEM_COLUMN:
            self._user_sized.add(column)

    def viewportEvent(self, event: Any) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().viewportEvent(event)
