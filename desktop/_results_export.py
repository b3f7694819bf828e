"""What the Results view's export buttons write: one kind of file alone through its own core writer (the "HTML
report" button writes report.html and nothing else), several through `write_reports`. Plain Python, run in the job
pool."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from judgedesk.core.reports import write_battles, write_html_report, write_reports, write_tables

__all__ = ["EXPORT_KINDS", "listed", "write_exports"]

EXPORT_KINDS = ("report", "tables", "summary", "battles")
"""report: report.html; tables: pairs.csv, pairs.xlsx and verdicts.csv; summary: summary.json; battles:
battles.jsonl (pairwise runs)."""


def write_exports(folder: Path, run_key: str, kinds: tuple[str, ...], *, rounds: int, inconsistent_as_tie: bool,
                  apply_overrides: bool) -> list[Path]:
    """Write what `kinds` (of `EXPORT_KINDS`) names into the run folder; returns the paths written, in that order."""
    wanted = set(kinds)
    if wanted == {"report"}:
        return [write_html_report(folder, run_key=run_key, inconsistent_as_tie=inconsistent_as_tie, rounds=rounds,
                                  apply_overrides=apply_overrides)[0]]
    if wanted == {"tables"}:
        return list(write_tables(folder, run_key=run_key).paths)
    if wanted == {"battles"}:
        battles = write_battles(folder, run_key=run_key, inconsistent_as_tie=inconsistent_as_tie,
                                apply_overrides=apply_overrides)
        return [battles] if battles is not None else []
    files, _ = write_reports(folder, run_key=run_key, inconsistent_as_tie=inconsistent_as_tie, rounds=rounds,
                             apply_overrides=apply_overrides)
    written = {"report": [files.report], "tables": [files.pairs, files.pairs_workbook, files.verdicts],
               "summary": [files.summary], "battles": [files.battles] if files.battles else []}
    return [path for kind in kinds for path in written[kind]]


def listed(names: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
