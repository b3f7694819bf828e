"""The results table: a `QAbstractTableModel` over a run's rows, filtered inside the model.

Rows come from `judgedesk.core.reports.load_results` (read in a worker thread); the model keeps them as they are
and formats a cell only when the view asks for it, so 10,000 rows cost one pass to compute each row's filter keys
(decision, status) and nothing per cell until it is painted. That pass, `index_results`, touches no Qt object, so
the view runs it in the worker thread with the loading; filtering keeps a list of visible row indices.

The decision, status, confidence and per-order cells follow core's rules (`row_decision`, `row_status`,
`row_confidence`, `order_outcome` in judgedesk.core.reports), the ones pairs.csv and pairs.xlsx are written with, so
the exported table says what this one shows, except the Item column: it shows the item's own id (the model names a
pair's id carries are in their own columns) and the start of its instruction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from judgedesk.core import Status
from judgedesk.core.reports import ResultRow, RunResults, order_outcome, row_confidence, row_decision, row_status
from judgedesk.core.runs import Override
from PySide6.QtCore import QAbstractTableModel, QDateTime, QLocale, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

__all__ = ["COLUMNS", "IndexedResults", "ResultsFilter", "ResultsTableModel", "describe_side", "index_results",
           "item_text", "local_time_text"]

COLUMNS: tuple[str, ...] = ("Item", "Model A", "Model B", "Category", "AB", "BA", "Decision", "Conf.", "Status",
                            "Human", "Override")
"""Column headers (for single grading, 'Decision' reads 'Score'), short so every column fits a 1024-pixel-wide
window; `COLUMN_TIPS` says what the short ones mean."""

COLUMN_TIPS: dict[str, str] = {
    "Item": "The item's id and the start of its instruction (the whole instruction in the cell's tooltip)",
    "AB": "AB winner: the winner when A was shown first",
    "BA": "BA winner: the winner when B was shown first",
    "Conf.": "Confidence: the mean probability of the decision over the judged orders",
    "Human": "The human label of the pair, where the data has one",
    "Override": "The analyst's override (the time and note in the cell's tooltip)",
}
"""Header tooltips."""
_INSTRUCTION_START = 80
"""Characters of the instruction the Item column shows (the column elides what does not fit)."""

DECISION_COLUMN = COLUMNS.index("Decision")
OVERRIDE_COLUMN = COLUMNS.index("Override")
_PROBLEM_STATUSES = (Status.UNPARSED, Status.ERROR)
_OVERRIDE_BRUSH = QBrush(QColor("#f3e3fb"))
_PROBLEM_BRUSH = QBrush(QColor("#fdecea"))
_INCONSISTENT_BRUSH = QBrush(QColor("#fff4d6"))

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class ResultsFilter:
    """What the table shows; None or False means no restriction."""

    model: str | None = None
    """Rows where this model is model A or model B."""
    category: str | None = None
    """Rows of this category."""
    decision: str | None = None
    """Rows whose decision is this: A, B, tie, inconsistent, unparsed or pending (pairwise runs)."""
    inconsistent_only: bool = False
    """Rows whose two orders disagree."""
    unparsed_only: bool = False
    """Rows with an order (or grade) that did not parse or failed."""
    text: str = ""
    """Rows whose item id contains this text (case-insensitive)."""


@dataclass(frozen=True)
class _Keys:
    decision: str
    status: Status


@dataclass(frozen=True)
class IndexedResults:
    """A run's results with what filtering needs computed once per row (see `index_results`)."""

    results: RunResults
    keys: tuple[_Keys, ...]
    statuses: Counter[Status] = field(default_factory=Counter)
    """How many judged orders have each status."""


def item_text(task: Any) -> str:
    """The Item column: the item's own id and the start of its instruction, 'demo-01 · Write a one-line…'.

    A pair read from per-model outputs has an id such as 'demo-01|model-alpha|model-beta' (a grade's
    'demo-01|model-alpha'); the model names are in their own columns, so they are left out here."""
    item = task.item_id
    for suffix in (f"|{task.model_a}|{task.model_b}", f"|{task.model_a}"):
        if task.model_a and item.endswith(suffix) and len(item) > len(suffix):
            item = item[:-len(suffix)]
            break
    instruction = " ".join(str(task.payload.get("instruction") or "").split())
    if not instruction:
        return item
    if len(instruction) > _INSTRUCTION_START:
        instruction = instruction[:_INSTRUCTION_START - 1].rstrip() + "…"
    return f"{item} · {instruction}"


def local_time_text(iso: str) -> str:
    """A stored UTC time ('2026-12-06T22:01:00+00:00') as the user reads it: local time in the locale's short
    format. Text that is not an ISO time comes back as it is."""
    moment = QDateTime.fromString(iso, Qt.DateFormat.ISODate)
    if not moment.isValid():
        return iso
    return QLocale().toString(moment.toLocalTime(), QLocale.FormatType.ShortFormat)


def index_results(results: RunResults) -> IndexedResults:
    """Each row's decision and status, and the status counts: plain Python, safe in a worker thread."""
    orders = results.info.orders
    keys = tuple(_keys_of(row, orders) for row in results.rows)
    statuses = Counter(status for row in results.rows for status in row.statuses.values())
    return IndexedResults(results, keys, statuses)


def _keys_of(row: ResultRow, orders: tuple[str, ...]) -> _Keys:
    return _Keys(decision=row_decision(row, orders), status=row_status(row, orders))


class ResultsTableModel(QAbstractTableModel):
    """One row per task of a run; `set_filter` restricts what shows, `row_at` gives the task behind a row."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._results: RunResults | None = None
        self._rows: list[ResultRow] = []
        self._keys: list[_Keys] = []
        self._visible: list[int] = []
        self._filter = ResultsFilter()

    # -- contents -------------------------------------------------------------------------------------------

    @property
    def results(self) -> RunResults | None:
        return self._results

    @property
    def single(self) -> bool:
        return self._results is not None and self._results.info.mode == "single"

    def set_results(self, results: RunResults | IndexedResults | None) -> None:
        """Show `results` (None: empty), keeping the current filter; pass `index_results(results)` to have the
        per-row pass done already (in a worker thread)."""
        if isinstance(results, RunResults):
            results = index_results(results)
        self.beginResetModel()
        self._results = results.results if results else None
        self._rows = list(results.results.rows) if results else []
        self._keys = list(results.keys) if results else []
        self._visible = self._filtered()
        self.endResetModel()

    def set_filter(self, row_filter: ResultsFilter) -> None:
        if row_filter == self._filter:
            return
        self.beginResetModel()
        self._filter = row_filter
        self._visible = self._filtered()
        self.endResetModel()

    @property
    def row_filter(self) -> ResultsFilter:
        return self._filter

    def total_rows(self) -> int:
        """Rows before filtering."""
        return len(self._rows)

    def row_at(self, row: int) -> ResultRow:
        """The task shown at table row `row`."""
        return self._rows[self._visible[row]]

    def row_of(self, content: str) -> int | None:
        """The table row showing the task with this content hash, if it is shown."""
        for position, index in enumerate(self._visible):
            if self._rows[index].task.content == content:
                return position
        return None

    def set_override(self, content: str, override: Override | None) -> None:
        """Mark (or unmark) a task's override without reloading the run."""
        for index, row in enumerate(self._rows):
            if row.task.content == content:
                self._rows[index] = ResultRow(task=row.task, sides=row.sides, statuses=row.statuses, override=override)
        shown = self.row_of(content)
        if shown is not None:
            self.dataChanged.emit(self.index(shown, 0), self.index(shown, len(COLUMNS) - 1))

    def models(self) -> list[str]:
        """Every model of the run, by first appearance."""
        names = (m for row in self._rows for m in (row.task.model_a, row.task.model_b) if m)
        return list(dict.fromkeys(names))

    def categories(self) -> list[str]:
        return sorted({row.task.category for row in self._rows if row.task.category})

    # -- Qt model -------------------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own signature
        return 0 if parent.isValid() else len(self._visible)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return COLUMN_TIPS.get(COLUMNS[section]) if 0 <= section < len(COLUMNS) else None
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Vertical:
            return str(self.row_at(section).task.position + 1) if section < len(self._visible) else None
        if section == DECISION_COLUMN and self.single:
            return "Score"
        return COLUMNS[section]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._visible):
            return None
        row = self.row_at(index.row())
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, self._keys[self._visible[index.row()]], column)
        if role == Qt.ItemDataRole.UserRole:
            return row
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == OVERRIDE_COLUMN and row.override is not None:
                note = f"\n{row.override.note}" if row.override.note else ""
                created = row.override.created
                return f"Analyst's override, set {local_time_text(created)} ({created}){note}"
            if column == 0:
                return f"{row.task.item_id}\n{str(row.task.payload.get('instruction') or '')[:500]}"
            if column in (1, 2):  # a long model name is elided in its column
                return (row.task.model_a if column == 1 else row.task.model_b) or None
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            keys = self._keys[self._visible[index.row()]]
            if row.override is not None and column in (DECISION_COLUMN, OVERRIDE_COLUMN):
                return _OVERRIDE_BRUSH
            if keys.status in _PROBLEM_STATUSES:
                return _PROBLEM_BRUSH
            if keys.decision == "inconsistent" and column == DECISION_COLUMN:
                return _INCONSISTENT_BRUSH
            return None
        if role == Qt.ItemDataRole.FontRole and column == OVERRIDE_COLUMN and row.override is not None:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (DECISION_COLUMN, DECISION_COLUMN + 1):
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    # -- internals ------------------------------------------------------------------------------------------

    def _display(self, row: ResultRow, keys: _Keys, column: int) -> str:
        task = row.task
        orders = self._results.info.orders if self._results else ()
        if column == 0:
            return item_text(task)
        if column == 1:
            return task.model_a
        if column == 2:
            return task.model_b or ""
        if column == 3:
            return task.category or ""
        if column in (4, 5):
            side = "AB" if column == 4 else "BA"
            if side not in orders:
                return ""
            outcome = order_outcome(row, side)
            return "…" if outcome is None else outcome
        if column == DECISION_COLUMN:
            if self.single:
                score = row.score
                return "" if score is None else f"{score:g}"
            return keys.decision
        if column == 7:
            confidence = row_confidence(row, orders)
            return "" if confidence is None else f"{confidence:.0%}"
        if column == 8:
            return keys.status
        if column == 9:
            return task.human or ""
        if column == OVERRIDE_COLUMN:
            if row.override is None:
                return ""
            value = row.override.value
            text = f"{value:g}" if isinstance(value, float) else str(value)
            return f"✎ {text}"
        return ""

    def _filtered(self) -> list[int]:
        f = self._filter
        text = f.text.strip().lower()
        out = []
        for index, (row, keys) in enumerate(zip(self._rows, self._keys, strict=True)):
            task = row.task
            if f.model is not None and f.model not in (task.model_a, task.model_b):
                continue
            if f.category is not None and task.category != f.category:
                continue
            if f.decision is not None and keys.decision != f.decision:
                continue
            if f.inconsistent_only and keys.decision != "inconsistent":
                continue
            if f.unparsed_only and keys.status not in _PROBLEM_STATUSES:
                continue
            if text and text not in task.item_id.lower():
                continue
            out.append(index)
        return out


def describe_side(record: Mapping[str, Any] | None, status: Status | None) -> dict[str, Any]:
    """What the detail pane shows of one judged order (or grade)."""
    if record is None:
        return {"status": "not judged yet"}
    return {"status": status, "winner": record.get("winner"), "score": record.get("score"),
            "probabilities": record.get("probabilities") or {},
            "reason": record.get("reason") or record.get("critique"),
            "raw_output": record.get("raw_output") or record.get("error") or "", "cut_tokens": record.get("cut_tokens")}
