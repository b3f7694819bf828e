"""The files a run folder gets: report.html, verdicts.csv, pairs.csv, pairs.xlsx, summary.json and battles.jsonl.

`write_reports` writes them all; `write_html_report` only report.html, `write_battles` only battles.jsonl and
`write_tables` only the tables (verdicts.csv, one row per judged order, and pairs.csv and pairs.xlsx, one row per
task: `pairs_table`), for the app's buttons that export one of them.

verdicts.csv and the pairs tables always show the judge's records, with the analyst's override (and note) of the
task in columns of their own; battles.jsonl takes the override as the winner only when the reports are built with
`apply_overrides`. verdicts.csv's `position` counts from 0, as the run database and every verdicts.csv written
before pairs.csv existed (scripts join on it); pairs.csv's counts from 1, as the app shows it.

Each is written owner-only to a temporary file and renamed, so a reader never sees half a report and nobody else
reads one; the temporaries a killed writer left are removed the next time the reports are written. Text cells of
the CSV files that a spreadsheet would run as a formula are neutralised (`spreadsheet_safe`); pairs.xlsx holds
them as text cells (`pairs_workbook`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._owner_only import make_owner_only_folder, remove_stale_temporaries, write_owner_only
from .._records import winner_probabilities
from ._csv_cells import spreadsheet_safe
from ._html import render_report
from ._pairs_table import pairs_csv, pairs_table
from ._pairs_workbook import pairs_workbook
from ._results import ResultRow, RunResults, load_peer_results, load_results
from ._summary import build_summary

__all__ = ["ReportFiles", "TableFiles", "write_battles", "write_html_report", "write_reports", "write_tables"]

_CSV_COLUMNS = ["position", "item_id", "model_a", "model_b", "category", "human", "side", "status", "winner",
                "score", "p_A", "p_B", "p_tie", "cut_tokens", "reason", "raw_output", "error", "override",
                "override_note"]
_REPORT_NAMES = ("report.html", "verdicts.csv", "summary.json", "battles.jsonl", "pairs.csv", "pairs.xlsx")


@dataclass(frozen=True)
class ReportFiles:
    """Where the outputs were written."""

    report: Path
    verdicts: Path
    summary: Path
    battles: Path | None
    pairs: Path
    """pairs.csv: one row per task."""
    pairs_workbook: Path
    """pairs.xlsx: the same table as a workbook."""


@dataclass(frozen=True)
class TableFiles:
    """Where `write_tables` wrote the tables."""

    pairs: Path
    """pairs.csv: one row per task (pair, or graded response)."""
    pairs_workbook: Path
    """pairs.xlsx: the same table as a workbook."""
    verdicts: Path
    """verdicts.csv: one row per judged order."""

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        return self.pairs, self.pairs_workbook, self.verdicts


def write_reports(folder: str | Path, *, run_key: str | None = None, inconsistent_as_tie: bool = False,
                  baseline: str | None = None, rounds: int = 1000, seed: int = 0,
                  apply_overrides: bool = False) -> tuple[ReportFiles, dict[str, Any]]:
    """Rebuild every output of the run folder from its database; returns the files and the summary.

    apply_overrides: the statistics and battles take the analyst's overrides in place of the judge's decisions
        (see `build_summary`).
    """
    results = load_results(folder, run_key)
    summary = build_summary(results, inconsistent_as_tie=inconsistent_as_tie, baseline=baseline, rounds=rounds,
                            seed=seed, apply_overrides=apply_overrides, peers=load_peer_results(results))
    folder = _prepared(folder)
    write_owner_only(folder / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    tables = _write_tables(folder, results)
    battles = None
    if results.info.mode == "pairwise":
        battles = folder / "battles.jsonl"
        write_owner_only(battles, _battles(results, inconsistent_as_tie=inconsistent_as_tie,
                                           apply_overrides=apply_overrides))
    write_owner_only(folder / "report.html", render_report(results, summary))
    return ReportFiles(folder / "report.html", tables.verdicts, folder / "summary.json", battles, tables.pairs,
                       tables.pairs_workbook), summary


def write_html_report(folder: str | Path, *, run_key: str | None = None, inconsistent_as_tie: bool = False,
                      baseline: str | None = None, rounds: int = 1000, seed: int = 0,
                      apply_overrides: bool = False) -> tuple[Path, dict[str, Any]]:
    """Write report.html alone (the options as for `write_reports`); returns its path and the summary."""
    results = load_results(folder, run_key)
    summary = build_summary(results, inconsistent_as_tie=inconsistent_as_tie, baseline=baseline, rounds=rounds,
                            seed=seed, apply_overrides=apply_overrides, peers=load_peer_results(results))
    folder = _prepared(folder)
    write_owner_only(folder / "report.html", render_report(results, summary))
    return folder / "report.html", summary


def write_battles(folder: str | Path, *, run_key: str | None = None, inconsistent_as_tie: bool = False,
                  apply_overrides: bool = False) -> Path | None:
    """Write battles.jsonl alone; None for a single-grading run, which has no battles."""
    results = load_results(folder, run_key)
    if results.info.mode != "pairwise":
        return None
    path = _prepared(folder) / "battles.jsonl"
    write_owner_only(path, _battles(results, inconsistent_as_tie=inconsistent_as_tie, apply_overrides=apply_overrides))
    return path


def write_tables(folder: str | Path, *, run_key: str | None = None) -> TableFiles:
    """Write the tables alone: pairs.csv, pairs.xlsx and verdicts.csv. They hold the judge's records and the
    overrides in columns of their own, so no statistics option changes them (and no statistics are computed)."""
    results = load_results(folder, run_key)
    return _write_tables(_prepared(folder), results)


def _prepared(folder: str | Path) -> Path:
    folder = Path(folder)
    make_owner_only_folder(folder)  # a run folder from an older version, made before folders were owner-only
    remove_stale_temporaries(folder, _REPORT_NAMES)
    return folder


def _write_tables(folder: Path, results: RunResults) -> TableFiles:
    table = pairs_table(results)
    files = TableFiles(folder / "pairs.csv", folder / "pairs.xlsx", folder / "verdicts.csv")
    write_owner_only(files.verdicts, _verdicts_csv(results))
    write_owner_only(files.pairs, pairs_csv(table))
    write_owner_only(files.pairs_workbook, pairs_workbook(table))
    return files


def _verdicts_csv(results: RunResults) -> str:
    buffer = io.StringIO()
    # CRLF, as RFC 4180 and spreadsheets write it: Python's writer quotes a field only for the characters of its
    # line terminator, so with "\n" a bare carriage return in a model's output went out unquoted and split the row.
    writer = csv.DictWriter(buffer, fieldnames=_CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in results.rows:
        for side, record in row.sides.items():
            writer.writerow({column: spreadsheet_safe(value) for column, value in _verdict_cells(row, side, record)})
    return buffer.getvalue()


def _verdict_cells(row: ResultRow, side: str, record: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(column, value) of one judged order: numbers stay numbers, absent values are empty cells."""
    # Five-level verdicts (arenahard) keep their own probabilities in the record; the columns sum them per winner.
    probabilities = winner_probabilities(record.get("probabilities") or {})
    yield from {
        "position": row.task.position, "item_id": row.task.item_id, "model_a": row.task.model_a,
        "model_b": row.task.model_b or "", "category": row.task.category or "", "human": row.task.human or "",
        "side": side, "status": row.statuses[side], "winner": record.get("winner") or "",
        "score": "" if record.get("score") is None else record["score"],
        "p_A": probabilities.get("A", ""), "p_B": probabilities.get("B", ""),
        "p_tie": probabilities.get("tie", ""), "cut_tokens": record.get("cut_tokens", ""),
        "reason": record.get("reason") or record.get("critique") or "",
        "raw_output": record.get("raw_output", ""), "error": record.get("error", ""),
        "override": "" if row.override is None else row.override.value,
        "override_note": "" if row.override is None else row.override.note or "",
    }.items()


def _battles(results: RunResults, *, inconsistent_as_tie: bool, apply_overrides: bool = False) -> str:
    """Chatbot Arena's battle shape. Unparsed pairs are left out; contradicting orders are a tie there, as in
    Arena's own judge-based tables, whatever `inconsistent_as_tie` says for judgedesk's statistics."""
    lines = []
    for row in results.rows:
        decision = row.decision(results.info.orders, inconsistent_as_tie=True)
        if apply_overrides and row.override is not None and row.override.label is not None:
            decision = row.override.label  # type: ignore[assignment]
        if decision is None or decision == "unparsed" or row.task.model_b is None:
            continue
        winner = {"A": "model_a", "B": "model_b", "tie": "tie"}[decision]
        lines.append(json.dumps({
            "question_id": row.task.item_id, "model_a": row.task.model_a, "model_b": row.task.model_b,
            "winner": winner, "category": row.task.category,
            "consistent": row.decision(results.info.orders) != "inconsistent",
            "judge": results.info.label,
        }, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")
