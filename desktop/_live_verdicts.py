"""The Batch view's live table: each judgement as it is stored, appended without rebuilding the table."""

from __future__ import annotations

from typing import Any

from judgedesk.core import Status, winner_probabilities
from judgedesk.core.runs import JudgedOrder
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

__all__ = ["LiveVerdictsModel"]

_COLUMNS = ("#", "Item", "Model A", "Model B", "Order", "Verdict", "Confidence", "Status")
_STATUS_COLOURS = {Status.UNPARSED: QColor("#b26a00"), Status.ERROR: QColor("#b71c1c"),
                   Status.TRUNCATED: QColor("#5d4037")}

Index = QModelIndex | QPersistentModelIndex


class LiveVerdictsModel(QAbstractTableModel):
    """Judgements in the order they were made (a run of 10,000 pairs appends 20,000 rows cheaply)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[JudgedOrder] = []

    def append(self, judged: JudgedOrder) -> None:
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(judged)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()

    def judged(self, row: int) -> JudgedOrder:
        return self._rows[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return _COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        judged = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(judged, index.column())
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 7:
            return _STATUS_COLOURS.get(judged.status)
        if role == Qt.ItemDataRole.ToolTipRole and judged.status == Status.ERROR:
            return str(judged.record.get("error", ""))
        return None

    @staticmethod
    def _text(judged: JudgedOrder, column: int) -> str:
        record = judged.record
        if column == 0:
            return str(judged.position + 1)
        if column == 1:
            return judged.item_id
        if column == 2:
            return judged.model_a
        if column == 3:
            return judged.model_b or ""
        if column == 4:
            return "grade" if judged.side == "single" else judged.side
        if column == 5:
            if judged.side == "single":
                score = record.get("score")
                return "—" if score is None else f"{score:g}"
            return record.get("winner") or "—"
        if column == 6:
            # A five-level judge's probability of a winner is the sum of the verdicts naming it (A>>B and A>B).
            probabilities = winner_probabilities(record.get("probabilities") or {})
            winner = record.get("winner")
            return f"{probabilities[winner]:.0%}" if winner in probabilities else ""
        return judged.status
