"""Reading one data file into records: UTF-8 text (a BOM is accepted) holding JSON Lines, a JSON array, or CSV/TSV.

Nothing here raises on bad content. An unreadable, undecodable or empty file, a broken JSON array, a malformed line
or a record that is not an object becomes a `Problem`, and every record that could be read is returned with its
line (JSONL, CSV) or record number (JSON array).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._fields import json_kind
from ._records import Problem

__all__ = ["FileRecords", "Record", "read_records"]

_DELIMITERS = {".csv": ",", ".tsv": "\t"}


@dataclass(frozen=True)
class Record:
    """One object read from a file."""

    line: int
    """1-based line where it starts (JSONL, CSV) or 1-based position (JSON array)."""
    fields: Mapping[str, Any]
    """The object's fields as read (CSV: all text)."""


@dataclass(frozen=True)
class FileRecords:
    """Everything read from one file."""

    shown: str
    """The file's name as problems show it."""
    records: tuple[Record, ...]
    """The objects read, in file order."""
    problems: tuple[Problem, ...]
    """Lines that are not objects, or why the whole file was skipped."""
    unit: Literal["line", "record"]
    """What `Record.line` counts: lines, or positions in a JSON array."""
    skipped: str | None = None
    """Why the file as a whole could not be read (also in `problems`); None when it was read."""

    def where(self, line: int) -> str:
        """"line 12" or "record 12", for messages that point back into the file."""
        return f"{self.unit} {line}"


def read_records(path: Path, shown: str) -> FileRecords:
    """The records of one file; never raises for bad content or an unreadable file."""

    def skip(reason: str, line: int | None = None) -> FileRecords:
        return FileRecords(shown, (), (Problem(shown, line, f"{reason}; file skipped"),), "line", skipped=reason)

    try:
        data = path.read_bytes()
    except OSError as exc:
        return skip(f"cannot read the file ({exc.strerror or exc})")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return skip("UTF-16 text; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return skip(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8", line)
    if not text.strip():
        return skip("empty file")
    delimiter = _DELIMITERS.get(path.suffix.lower())
    if delimiter is not None:
        return _read_csv(text, shown, delimiter)
    return _read_json(text, shown)


def _read_json(text: str, shown: str) -> FileRecords:
    """A JSON array of objects, one JSON object, or JSON Lines: whichever the text parses as."""
    is_array = text.lstrip().startswith("[")
    try:
        whole = json.loads(text)
    except RecursionError:
        if is_array:
            return _skipped_array(shown, "nested too deeply")
    except ValueError as exc:
        # "Extra data" after a first complete value is what JSON Lines looks like to json.loads.
        if isinstance(exc, json.JSONDecodeError):
            if is_array and exc.msg != "Extra data":
                return _skipped_array(shown, f"{exc.msg} at line {exc.lineno}, column {exc.colno}")
        elif is_array:
            return _skipped_array(shown, str(exc))
    else:
        if isinstance(whole, list):
            return _records_of_array(whole, shown)
    return _read_json_lines(text, shown)


def _skipped_array(shown: str, reason: str) -> FileRecords:
    # No Problem.line: in a JSON array that counts records, and a broken array has none to point at.
    reason = f"not a valid JSON array ({reason})"
    return FileRecords(shown, (), (Problem(shown, None, f"{reason}; file skipped"),), "record", skipped=reason)


def _records_of_array(values: list[Any], shown: str) -> FileRecords:
    records: list[Record] = []
    problems: list[Problem] = []
    for number, value in enumerate(values, start=1):
        if isinstance(value, dict):
            records.append(Record(number, value))
        else:
            problems.append(Problem(shown, number, f"not a JSON object (found {json_kind(value)}); record skipped"))
    if not values:
        problems.append(Problem(shown, None, "empty JSON array"))
    return FileRecords(shown, tuple(records), tuple(problems), "record")


def _read_json_lines(text: str, shown: str) -> FileRecords:
    records: list[Record] = []
    problems: list[Problem] = []
    # Split on "\n" only: str.splitlines() also breaks at U+2028 and U+0085, which JSON allows inside strings.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except RecursionError:
            problems.append(Problem(shown, number, "not valid JSON (nested too deeply); line skipped"))
            continue
        except ValueError as exc:
            reason = f"{exc.msg}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
            problems.append(Problem(shown, number, f"not valid JSON ({reason}); line skipped"))
            continue
        if isinstance(value, dict):
            records.append(Record(number, value))
        else:
            problems.append(Problem(shown, number, f"not a JSON object (found {json_kind(value)}); line skipped"))
    return FileRecords(shown, tuple(records), tuple(problems), "line")


def _read_csv(text: str, shown: str, delimiter: str) -> FileRecords:
    """CSV or TSV with a header row; a record's line is the line its row starts on (quoted fields may span lines).

    Quoting is read strictly, so a stray or unterminated quote is reported instead of silently merging fields.
    """
    records: list[Record] = []
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            what = "header" if header is None else "row"
            problems.append(Problem(shown, start, f"not valid CSV ({exc}); {what} skipped"))
            if header is None or reader.line_num < start:
                break
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if header is None:
            header = [name.strip() for name in row]
        elif len(row) > len(header):
            problems.append(Problem(shown, start, f"{len(row)} fields but the header has {len(header)}; row skipped"))
        else:
            records.append(Record(start, dict(zip(header, row, strict=False))))
    if not records and not problems:
        problems.append(Problem(shown, None, "no rows after the header"))
    return FileRecords(shown, tuple(records), tuple(problems), "line")
