"""The per-task table of a run: one row per pair (or graded response) as the desktop's Verdicts tab shows it, with
the texts judged, built once and written as pairs.csv and pairs.xlsx.

verdicts.csv has one row per judged order; an analyst in a spreadsheet wants one row per pair: the decision over
both orders, the judge's confidence, what each order said, the instruction and both responses, the human label
and the analyst's override. The cells are the judge's own (the decision is never the override, and contradicting
orders stay "inconsistent" whatever the statistics were asked to count them as): the override has its own columns.

`row_decision`, `row_status`, `row_confidence` and `order_outcome` are the rules the Verdicts tab displays, so the
table and the app cannot disagree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._records import Status, winner_probabilities
from ._csv_cells import spreadsheet_safe
from ._results import ResultRow, RunResults

__all__ = ["PairsTable", "order_outcome", "pairs_csv", "pairs_table", "row_confidence", "row_decision",
           "row_status"]

PAIRWISE_COLUMNS = ("position", "item_id", "model_a", "model_b", "category", "decision", "winning_model",
                    "confidence", "status", "ab_winner", "ba_winner", "human", "override", "override_note",
                    "instruction", "input", "response_a", "response_b")
GRADING_COLUMNS = ("position", "item_id", "model", "category", "score", "status", "override", "override_note",
                   "instruction", "input", "response")
LONG_COLUMNS = frozenset({"override_note", "instruction", "input", "response_a", "response_b", "response"})
"""Columns of free text: wrapped (and wide) in the workbook."""

_STATUS_RANK = {Status.OK: 0, Status.TRUNCATED: 1, Status.PENDING: 2, Status.UNPARSED: 3, Status.ERROR: 4}


@dataclass(frozen=True)
class PairsTable:
    """A run's per-task table: the cells of pairs.csv and pairs.xlsx."""

    mode: str
    """'pairwise' (one row per pair) or 'single' (one row per graded response)."""
    columns: tuple[str, ...]
    """Column names, the header row of both files."""
    rows: tuple[tuple[Any, ...], ...]
    """One tuple per task in input order: text as str, numbers as int/float, an empty cell as None."""

    @property
    def long_columns(self) -> tuple[int, ...]:
        """Indices of the free-text columns."""
        return tuple(index for index, name in enumerate(self.columns) if name in LONG_COLUMNS)


def row_decision(row: ResultRow, orders: tuple[str, ...]) -> str:
    """The judge's decision over the run's orders: A, B, tie, inconsistent, unparsed or pending (an order still to
    judge); for single grading: graded, unparsed or pending."""
    if orders == ("single",):
        if "single" not in row.sides:
            return "pending"
        return "unparsed" if row.score is None else "graded"
    return row.decision(orders) or "pending"


def row_status(row: ResultRow, orders: tuple[str, ...]) -> Status:
    """The row's worst status over its orders: error, unparsed, pending (an order still to judge), truncated, ok."""
    statuses = [row.statuses.get(side, Status.PENDING) for side in orders]
    return max(statuses, key=lambda s: _STATUS_RANK.get(s, 0)) if statuses else Status.PENDING


def row_confidence(row: ResultRow, orders: tuple[str, ...]) -> float | None:
    """The mean over the judged orders of the probability the judge gave its own winner (None without any); a
    five-level judge's probability of a winner is the sum over the verdicts that name it (A>>B and A>B for A)."""
    values = []
    for side in orders:
        record = row.sides.get(side) or {}
        probabilities = winner_probabilities(record.get("probabilities") or {})
        winner = record.get("winner")
        if winner in probabilities:
            values.append(probabilities[winner])
    return sum(values) / len(values) if values else None


def order_outcome(row: ResultRow, side: str) -> str | None:
    """What one order said: its winner (A, B, tie), else its status (unparsed, error); None while not judged."""
    record = row.sides.get(side)
    if record is None:
        return None
    return record.get("winner") or str(row.statuses.get(side, ""))


def pairs_table(results: RunResults) -> PairsTable:
    """The table of `results`, one row per task in input order; positions count from 1, as the app shows them."""
    single = results.info.mode == "single"
    cells = _grade_cells if single else _pair_cells
    rows = tuple(tuple(cells(row, results.info.orders)) for row in results.rows)
    return PairsTable(mode=results.info.mode, columns=GRADING_COLUMNS if single else PAIRWISE_COLUMNS, rows=rows)


def pairs_csv(table: PairsTable) -> str:
    """pairs.csv: RFC 4180 with CRLF line ends, as verdicts.csv; text a spreadsheet would run is neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # CRLF: see verdicts.csv, a bare CR in a text stays quoted
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if value is None else spreadsheet_safe(value) for value in row])
    return buffer.getvalue()


def _pair_cells(row: ResultRow, orders: tuple[str, ...]) -> Iterator[Any]:
    task = row.task
    responses = list(task.payload.get("responses") or ())
    decision = row_decision(row, orders)
    confidence = row_confidence(row, orders)
    winning = {"A": task.model_a, "B": task.model_b}.get(decision)
    yield from (task.position + 1, task.item_id, task.model_a, task.model_b, task.category, decision, winning,
                None if confidence is None else round(confidence, 4), str(row_status(row, orders)),
                _order_cell(row, "AB", orders), _order_cell(row, "BA", orders), task.human)
    yield from _override_cells(row)
    yield from (_text(task.payload.get("instruction")), _text(task.payload.get("input")),
                _text(responses[0] if responses else None), _text(responses[1] if len(responses) > 1 else None))


def _grade_cells(row: ResultRow, orders: tuple[str, ...]) -> Iterator[Any]:
    task = row.task
    responses = list(task.payload.get("responses") or ())
    yield from (task.position + 1, task.item_id, task.model_a, task.category, row.score,
                str(row_status(row, orders)))
    yield from _override_cells(row)
    yield from (_text(task.payload.get("instruction")), _text(task.payload.get("input")),
                _text(responses[0] if responses else None))


def _order_cell(row: ResultRow, side: str, orders: tuple[str, ...]) -> str | None:
    if side not in orders:
        return None  # a one-order run: no BA column to fill
    return order_outcome(row, side) or str(Status.PENDING)


def _override_cells(row: ResultRow) -> tuple[Any, Any]:
    if row.override is None:
        return None, None
    return row.override.value, row.override.note


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
