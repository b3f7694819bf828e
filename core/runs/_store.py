"""The run database: one SQLite file (WAL) per run folder, every judged order committed the moment it exists.

Verdicts are keyed by content, not by position in a file: the run key hashes everything that decides a verdict
(judge file hash, format, language, rubric, prompt templates, decoding parameters, seed, task), and each verdict
row is keyed by (run key, item content hash, order). So resuming skips exactly what is done, a reordered or
extended input reuses what it can, and changing the judge or a parameter opens a new run key instead of mixing
results. Commits use synchronous=FULL: a `kill -9` (or a power cut) loses at most the verdict being computed.

An analyst's overrides (a corrected verdict or grade, with a note) live in their own table, keyed by (run key,
content) like the verdicts, so they survive a resumed or extended run and never touch the judge's own records.
They are written without the folder lock: a write is one short SQLite transaction, which WAL lets interleave with
a batch that is still running in the same folder.

A label plan (the uniform random sample of tasks an analyst labels, `_label_plan`) is stored as its draws, one row
each, appended and never replaced: the seed, the drawn contents in order, and when.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._errors import InputError
from .._owner_only import open_owner_only, tighten_owner_only
from .._records import Status

__all__ = ["DB_NAME", "LabelDraw", "Override", "RunInfo", "RunStore", "StoredTask", "StoredVerdict",
           "content_hash"]

DB_NAME = "run.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_key TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    mode TEXT NOT NULL,
    orders TEXT NOT NULL,
    settings TEXT NOT NULL,
    source TEXT NOT NULL,
    created_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    run_key TEXT NOT NULL,
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    content TEXT NOT NULL,
    model_a TEXT NOT NULL,
    model_b TEXT,
    category TEXT,
    human TEXT,
    payload TEXT NOT NULL,
    PRIMARY KEY (run_key, position)
);
CREATE TABLE IF NOT EXISTS problems (
    run_key TEXT NOT NULL,
    position INTEGER NOT NULL,
    path TEXT NOT NULL,
    line INTEGER,
    reason TEXT NOT NULL,
    item TEXT,
    PRIMARY KEY (run_key, position)
);
CREATE TABLE IF NOT EXISTS verdicts (
    run_key TEXT NOT NULL,
    content TEXT NOT NULL,
    side TEXT NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_key, content, side)
);
CREATE TABLE IF NOT EXISTS overrides (
    run_key TEXT NOT NULL,
    content TEXT NOT NULL,
    label TEXT,
    score REAL,
    note TEXT,
    created TEXT NOT NULL,
    PRIMARY KEY (run_key, content)
);
CREATE TABLE IF NOT EXISTS label_plans (
    run_key TEXT NOT NULL,
    draw INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    population INTEGER NOT NULL,
    population_hash TEXT NOT NULL,
    contents TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (run_key, draw)
);
"""
_LABELS = ("A", "B", "tie")


def content_hash(*texts: str | None) -> str:
    """SHA-256 over texts, each length-prefixed (None distinct from empty), as the key of an item's content."""
    digest = hashlib.sha256()
    for text in texts:
        data = b"\x00" if text is None else b"\x01" + text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


@dataclass(frozen=True)
class RunInfo:
    """One run key in a run folder."""

    run_key: str
    """Hash of everything that decides a verdict."""
    label: str
    """Human-readable judge and format, e.g. 'SmolLM2 (Q4_1) / pandalm'."""
    mode: str
    """'pairwise' or 'single'."""
    orders: tuple[str, ...]
    """The sides judged per task: ('AB', 'BA'), ('AB',) or ('single',)."""
    settings: Mapping[str, Any]
    """The manifest-level settings the key was computed from."""
    source: str
    """The input file or folder, or the imported verdict file."""


@dataclass(frozen=True)
class StoredTask:
    """A task of a run, in input order."""

    position: int
    item_id: str
    content: str
    model_a: str
    model_b: str | None
    category: str | None
    human: str | None
    payload: Mapping[str, Any]
    """The item's texts: instruction, input, responses, reference."""


@dataclass(frozen=True)
class StoredVerdict:
    """One judged side of a task."""

    content: str
    side: str
    status: Status
    record: Mapping[str, Any]


@dataclass(frozen=True)
class Override:
    """An analyst's correction of one task: the verdict (pairwise runs) or the score (single grading)."""

    label: str | None
    """The right winner, A, B or tie, for a pairwise task; None for a grade."""
    score: float | None
    """The right score for a graded task; None for a pairwise one."""
    note: str | None
    """Why, in the analyst's words."""
    created: str
    """When it was set: ISO 8601, UTC, to the second."""

    @property
    def value(self) -> str | float:
        """The label or the score, whichever this override sets."""
        return self.label if self.label is not None else self.score  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score, "note": self.note, "created": self.created}


@dataclass(frozen=True)
class LabelDraw:
    """One draw of a run's label plan (judgedesk.core.runs._label_plan); a plan is its draws in order."""

    seed: int
    """The seed of numpy's default_rng that made this draw."""
    population: int
    """How many tasks the draw chose from (the run's tasks not already planned)."""
    population_hash: str
    """content_hash over the whole run's task contents at the time, in stored order (detects a changed run)."""
    contents: tuple[str, ...]
    """The drawn tasks' content hashes, in the order drawn."""
    created: str
    """When it was drawn: ISO 8601, UTC, to the second."""


class RunStore:
    """The SQLite database of a run folder; one writer at a time (the caller holds the folder lock)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / DB_NAME
        _make_owner_only(self.path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InputError(f"not a judgedesk run database ({exc})", path=self.path) from None

    # -- runs -----------------------------------------------------------------------------------------------

    def ensure_run(self, info: RunInfo) -> None:
        """Record a run key (once)."""
        seq = self._db.execute("SELECT COALESCE(MAX(created_seq), 0) + 1 FROM runs").fetchone()[0]
        self._db.execute(
            "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (info.run_key, info.label, info.mode, json.dumps(list(info.orders)),
             json.dumps(info.settings, sort_keys=True), info.source, seq),
        )

    def runs(self) -> list[RunInfo]:
        """Every run key in this folder, oldest first."""
        rows = self._db.execute(
            "SELECT run_key, label, mode, orders, settings, source FROM runs ORDER BY created_seq").fetchall()
        return [RunInfo(r[0], r[1], r[2], tuple(json.loads(r[3])), json.loads(r[4]), r[5]) for r in rows]

    def latest_run(self) -> RunInfo | None:
        runs = self.runs()
        return runs[-1] if runs else None

    def touch_run(self, run_key: str) -> None:
        """Make `run_key` the latest (a resumed older configuration becomes the one reported)."""
        seq = self._db.execute("SELECT COALESCE(MAX(created_seq), 0) + 1 FROM runs").fetchone()[0]
        self._db.execute("UPDATE runs SET created_seq = ? WHERE run_key = ?", (seq, run_key))

    # -- tasks ----------------------------------------------------------------------------------------------

    def replace_tasks(self, run_key: str, tasks: list[StoredTask]) -> None:
        """The run's task list, as read this time (verdicts are kept: they are keyed by content)."""
        with self._transaction():
            self._db.execute("DELETE FROM tasks WHERE run_key = ?", (run_key,))
            self._db.executemany(
                "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_key, t.position, t.item_id, t.content, t.model_a, t.model_b, t.category, t.human,
                  json.dumps(t.payload, sort_keys=True, ensure_ascii=False)) for t in tasks],
            )

    def tasks(self, run_key: str) -> list[StoredTask]:
        rows = self._db.execute(
            "SELECT position, item_id, content, model_a, model_b, category, human, payload FROM tasks "
            "WHERE run_key = ? ORDER BY position", (run_key,)).fetchall()
        return [StoredTask(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7])) for r in rows]

    def replace_problems(self, run_key: str, problems: list[tuple[str, int | None, str, str | None]]) -> None:
        """The input problems found when the run's data was last read: (path, line, reason, item)."""
        with self._transaction():
            self._db.execute("DELETE FROM problems WHERE run_key = ?", (run_key,))
            self._db.executemany("INSERT INTO problems VALUES (?, ?, ?, ?, ?, ?)",
                                 [(run_key, i, *p) for i, p in enumerate(problems)])

    def problems(self, run_key: str) -> list[tuple[str, int | None, str, str | None]]:
        rows = self._db.execute("SELECT path, line, reason, item FROM problems WHERE run_key = ? ORDER BY position",
                                (run_key,))
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    # -- verdicts -------------------------------------------------------------------------------------------

    def done(self, run_key: str) -> dict[tuple[str, str], Status]:
        """(content, side) -> status of every stored verdict of the run."""
        rows = self._db.execute("SELECT content, side, status FROM verdicts WHERE run_key = ?", (run_key,))
        return {(r[0], r[1]): self._status(r[2]) for r in rows}

    def put_verdict(self, run_key: str, content: str, side: str, status: Status, record: Mapping[str, Any]) -> None:
        """Commit one judged side now (replacing an earlier unparsed one when retrying)."""
        self._db.execute(
            "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)",
            (run_key, content, side, status, json.dumps(record, sort_keys=True, ensure_ascii=False)),
        )

    def verdicts(self, run_key: str) -> dict[tuple[str, str], StoredVerdict]:
        rows = self._db.execute("SELECT content, side, status, record FROM verdicts WHERE run_key = ?", (run_key,))
        return {(r[0], r[1]): StoredVerdict(r[0], r[1], self._status(r[2]), json.loads(r[3])) for r in rows}

    def put_verdicts(self, run_key: str, verdicts: Iterable[tuple[str, str, Status, Mapping[str, Any]]]) -> None:
        """Commit many judged sides, (content, side, status, record), in one transaction (imports, tests)."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)",
                [(run_key, content, side, status, json.dumps(record, sort_keys=True, ensure_ascii=False))
                 for content, side, status, record in verdicts],
            )

    def _status(self, text: str) -> Status:
        """A stored status as the member it equals (the column holds the plain text, e.g. 'ok')."""
        try:
            return Status(text)
        except ValueError:
            raise InputError(f"unknown verdict status {text!r} in the run database", path=self.path) from None

    def count_verdicts(self, run_key: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM verdicts WHERE run_key = ?", (run_key,)).fetchone()[0])

    # -- overrides ------------------------------------------------------------------------------------------

    def set_override(self, run_key: str, content: str, label: str | float, note: str | None = None) -> Override:
        """Store the analyst's verdict (A, B or tie) or score for a task, replacing an earlier one; returns it.

        The run's mode decides which is expected: a label for a pairwise run, a number for single grading.
        """
        mode = self._mode(run_key)
        known = self._db.execute("SELECT 1 FROM tasks WHERE run_key = ? AND content = ? LIMIT 1",
                                 (run_key, content)).fetchone()
        if known is None:
            raise InputError(f"run {run_key[:12]!r} has no task with content {content[:12]!r}", path=self.path)
        if mode == "single":
            if isinstance(label, bool) or not isinstance(label, int | float) or not math.isfinite(label):
                raise InputError(f"a grade override is a finite score, not {label!r}", field="override")
            override = Override(None, float(label), note or None, _now())
        else:
            if label not in _LABELS:
                raise InputError(f"a verdict override is A, B or tie, not {label!r}", field="override")
            override = Override(str(label), None, note or None, _now())
        self._db.execute("INSERT OR REPLACE INTO overrides VALUES (?, ?, ?, ?, ?, ?)",
                         (run_key, content, override.label, override.score, override.note, override.created))
        return override

    def clear_override(self, run_key: str, content: str) -> bool:
        """Remove the override of a task; False when it had none."""
        cursor = self._db.execute("DELETE FROM overrides WHERE run_key = ? AND content = ?", (run_key, content))
        return cursor.rowcount > 0

    def overrides(self, run_key: str) -> dict[str, Override]:
        """Content hash -> the analyst's override, for every overridden task of the run."""
        rows = self._db.execute("SELECT content, label, score, note, created FROM overrides WHERE run_key = ?",
                                (run_key,))
        return {r[0]: Override(r[1], r[2], r[3], r[4]) for r in rows}

    # -- label plans ----------------------------------------------------------------------------------------

    def add_label_draw(self, run_key: str, draw: LabelDraw) -> int:
        """Append a draw to the run's label plan (never replacing one); returns its index, 0 for the first."""
        self._mode(run_key)  # an unknown run key is an error, not an orphan plan
        with self._transaction():
            index = int(self._db.execute("SELECT COALESCE(MAX(draw), -1) + 1 FROM label_plans WHERE run_key = ?",
                                         (run_key,)).fetchone()[0])
            self._db.execute("INSERT INTO label_plans VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (run_key, index, draw.seed, draw.population, draw.population_hash,
                              json.dumps(list(draw.contents)), draw.created))
        return index

    def label_draws(self, run_key: str) -> list[LabelDraw]:
        """The draws of the run's label plan, first first; empty when it has none."""
        rows = self._db.execute("SELECT seed, population, population_hash, contents, created FROM label_plans "
                                "WHERE run_key = ? ORDER BY draw", (run_key,))
        return [LabelDraw(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4]) for r in rows]

    def _mode(self, run_key: str) -> str:
        row = self._db.execute("SELECT mode FROM runs WHERE run_key = ?", (run_key,)).fetchone()
        if row is None:
            raise InputError(f"no run {run_key[:12]!r} in this folder", path=self.path)
        return str(row[0])

    # -- plumbing -------------------------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_owner_only(path: Path) -> None:
    """Create the database file owner-only before SQLite opens it (SQLite gives its -wal and -shm files the
    database's mode), and tighten one an older version left wider. The umask is not touched: it belongs to the
    whole process, and the app writes files from other threads meanwhile."""
    try:
        if path.exists():
            for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
                tighten_owner_only(path.with_name(name))
        else:
            os.close(open_owner_only(path))
    except OSError as exc:
        raise InputError(f"cannot open the run database ({exc.strerror or exc})", path=path) from None


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")

