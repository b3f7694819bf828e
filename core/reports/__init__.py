"""Reports of a run folder: report.html (self-contained), verdicts.csv, summary.json, battles.jsonl."""

from __future__ import annotations

from ._csv_cells import restore_csv_cell, spreadsheet_safe
from ._html import render_report
from ._results import ResultRow, RunResults, load_results
from ._summary import build_summary
from ._writers import ReportFiles, write_reports

__all__ = [
    "ReportFiles",
    "ResultRow",
    "RunResults",
    "build_summary",
    "load_results",
    "render_report",
    "restore_csv_cell",
    "spreadsheet_safe",
    "write_reports",
]
