"""The app's run history: every batch run the app started, so a finished run is found again after a restart.

One entry per (run folder, run key): the data set, the judge and format, the settings the run key was computed
from, when it started and was last judged, and how far it got. It is a small JSON file in judgedesk's data folder
(beside desktop.ini), owner-only like the run folders (it names data sets and judges), replaced atomically. The
run database stays the truth about verdicts; the history only says where to look and what the run was.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from judgedesk.core import data_dir, make_owner_only_folder, open_owner_only

__all__ = ["HISTORY_FILE", "RunHistory", "RunHistoryEntry", "differing_settings", "local_time"]

HISTORY_FILE = "run_history.json"
_KEEP = 200  # entries kept; the oldest go first
_LOCK = threading.Lock()  # one writer at a time within the process
# The settings that decide verdicts (core's run key: seed and the verdict decoding keys), the ones worth showing
# to tell two runs apart; how the judge ran (threads, GPU layers, a server) is not part of a run's identity.
_SHOWN = ("seed", "n_ctx", "temperature", "top_k", "top_p", "min_p", "repeat_penalty", "max_tokens", "mode",
          "explain", "constrained", "lang")
_SHORT_NAMES = {"n_ctx": "context", "max_tokens": "max tokens", "mode": "decoding"}


@dataclass(frozen=True)
class RunHistoryEntry:
    """One run the app started: where it is, what it judged with, how far it got."""

    folder: str
    """The run folder (holds run.sqlite)."""
    run_key: str
    """The run key within the folder."""
    source: str
    """The data file or folder judged."""
    label: str
    """Judge and format, e.g. 'Smollm2 135M (Q4_1) / generic'."""
    mode: str
    """'pairwise' or 'single'."""
    orders: tuple[str, ...]
    """The sides judged per task."""
    settings: Mapping[str, Any]
    """The settings the run key was computed from (seed, decoding, context...)."""
    started: str
    """When the app first started it: ISO 8601, UTC."""
    updated: str
    """When it was last judged: ISO 8601, UTC."""
    done: int
    """Tasks fully judged when last seen."""
    total: int
    """Tasks in the run."""

    @property
    def data_name(self) -> str:
        return Path(self.source).name or self.source


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def local_time(iso: str) -> str:
    """An ISO 8601 UTC time as the user's local date and minute ('2026-12-06 22:10'); '' when unreadable."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return ""


class RunHistory:
    """The history file; every method reads or writes it whole (it is small)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / HISTORY_FILE

    def entries(self) -> list[RunHistoryEntry]:
        """Every run recorded, most recently judged first; an unreadable file reads as empty."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        entries = []
        for item in raw if isinstance(raw, list) else []:
            try:
                entries.append(RunHistoryEntry(**{**item, "orders": tuple(item["orders"])}))
            except (TypeError, KeyError):
                continue  # a hand-edited or older entry: skipped, not fatal
        return sorted(entries, key=lambda e: e.updated, reverse=True)

    def latest(self) -> RunHistoryEntry | None:
        """The most recently judged run whose folder still holds its database."""
        for entry in self.entries():
            if (Path(entry.folder) / "run.sqlite").is_file():
                return entry
        return None

    def find(self, folder: Path, run_key: str) -> RunHistoryEntry | None:
        for entry in self.entries():
            if entry.run_key == run_key and Path(entry.folder) == Path(folder):
                return entry
        return None

    def record(self, *, folder: Path, run_key: str, source: str, label: str, mode: str, orders: Iterable[str],
               settings: Mapping[str, Any], done: int, total: int) -> RunHistoryEntry:
        """Add a run or update its progress (the start date is kept); returns the entry written."""
        with _LOCK:
            entries = self.entries()
            now = _now()
            old = next((e for e in entries if e.run_key == run_key and Path(e.folder) == Path(folder)), None)
            if old is None:
                entry = RunHistoryEntry(str(folder), run_key, source, label, mode, tuple(orders), dict(settings),
                                        now, now, done, total)
            else:
                entry = replace(old, source=source, label=label, settings=dict(settings), updated=now, done=done,
                                total=total)
                entries.remove(old)
            entries.insert(0, entry)
            self._write(entries[:_KEEP])
            return entry

    def _write(self, entries: list[RunHistoryEntry]) -> None:
        make_owner_only_folder(self.path.parent)
        data = [{**asdict(e), "orders": list(e.orders)} for e in entries]
        # Written owner-only from its first byte under a temporary name, then renamed: a reader (or a crash)
        # sees the old history or the new one, never half of one.
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(open_owner_only(temporary, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True, ensure_ascii=False)
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def _flat(settings: Mapping[str, Any]) -> dict[str, Any]:
    decoding = settings.get("decoding")
    merged = {**(decoding if isinstance(decoding, Mapping) else {}), "seed": settings.get("seed")}
    return {name: merged[name] for name in _SHOWN if name in merged}


def differing_settings(all_settings: list[Mapping[str, Any]]) -> list[str]:
    """For each run's settings, the ones that differ between the runs, as text ('seed 7 · context 2048'); a lone
    run shows its seed, so runs listed side by side can always be told apart by what they were judged with."""
    flats = [_flat(s) for s in all_settings]
    names = [name for name in _SHOWN if any(name in flat for flat in flats)]
    differing = [n for n in names if len({json.dumps(f.get(n), sort_keys=True) for f in flats}) > 1]
    if not differing and len(flats) == 1:
        differing = [n for n in ("seed",) if n in flats[0]]
    return [" · ".join(f"{_SHORT_NAMES.get(n, n)} {f.get(n, '—')}" for n in differing) for f in flats]
