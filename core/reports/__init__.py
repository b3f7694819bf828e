"""Reports of a run folder: report.html (self-contained), verdicts.csv (one row per judged order), pairs.csv and
pairs.xlsx (one row per task, as the app's Verdicts tab), summary.json, battles.jsonl."""

from __future__ import annotations

from ._csv_cells import restore_csv_cell, spreadsheet_safe, starts_like_formula
from ._figure_text import estimate_text, rating_text
from ._html import render_report
from ._jury_figures import jury_figures
from ._pairs_table import (
    PairsTable,
    order_outcome,
    pairs_csv,
    pairs_table,
    row_confidence,
    row_decision,
    row_status,
)
from ._pairs_workbook import EXCEL_CELL_LIMIT, pairs_workbook
from ._protocol_figures import protocol_figures, run_baseline
from ._results import ResultRow, RunResults, load_peer_results, load_results
from ._summary import build_summary
from ._writers import ReportFiles, TableFiles, write_battles, write_html_report, write_reports, write_tables

__all__ = [
    "EXCEL_CELL_LIMIT",
    "PairsTable",
    "ReportFiles",
    "ResultRow",
    "RunResults",
    "TableFiles",
    "build_summary",
    "estimate_text",
    "jury_figures",
    "load_peer_results",
    "load_results",
    "order_outcome",
    "pairs_csv",
    "pairs_table",
    "pairs_workbook",
    "protocol_figures",
    "rating_text",
    "render_report",
    "restore_csv_cell",
    "row_confidence",
    "row_decision",
    "row_status",
    "run_baseline",
    "spreadsheet_safe",
    "starts_like_formula",
    "write_battles",
    "write_html_report",
    "write_reports",
    "write_tables",
]
