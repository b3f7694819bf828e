"""Reading the runs judged through a server and comparing them with the in-process ones: shared by the tests
against judgedesk's own server (tests/core/backends/test_server_real.py) and against llama.cpp's llama-server
(tests/core/backends/test_llama_server_real.py)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from tests.reference_data import PANDALM_TESTSET

__all__ = ["PeakInFlight", "Verdict", "pandalm_pairs", "run_keys", "stored", "verdicts"]


def pandalm_pairs(folder: Path, count: int) -> Path:
    """The first `count` PandaLM test-set items with distinct prompts and short responses, as a pairs file."""
    seen, lines = set(), []
    for row in json.loads(PANDALM_TESTSET.read_text(encoding="utf-8")):
        key = (row["instruction"], row["input"])
        first, second = str(row["response1"]), str(row["response2"])
        if key in seen or len(first) + len(second) > 1200:
            continue
        seen.add(key)
        lines.append(json.dumps({"id": str(row["idx"]), "instruction": row["instruction"], "input": row["input"],
                                 "response_a": first, "response_b": second}))
        if len(lines) == count:
            break
    path = folder / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Verdict(tuple):
    """(winner, status, raw output, probabilities, tolerance): equal when the first three are, and the
    probabilities agree to the tolerance (each test module says why its tolerance is what it is)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, tuple) or self[:3] != other[:3]:
            return False
        mine, theirs = self[3], other[3]
        if mine is None or theirs is None:
            return mine is theirs
        return mine.keys() == theirs.keys() and all(abs(mine[k] - theirs[k]) <= self[4] for k in mine)

    __hash__ = tuple.__hash__


def stored(out: Path) -> dict[tuple[str, str], dict]:
    """A run folder's records by (content, side)."""
    with sqlite3.connect(f"file:{out / 'run.sqlite'}?mode=ro", uri=True) as db:
        return {(c, s): json.loads(r) for c, s, r in db.execute("SELECT content, side, record FROM verdicts")}


def verdicts(out: Path, tolerance: float) -> dict[tuple[str, str], Verdict]:
    """What must not depend on the backend: winner, status, raw output, and the probabilities to `tolerance`."""
    return {key: Verdict((r.get("winner"), r.get("status"), r.get("raw_output"), r.get("probabilities"),
                          tolerance)) for key, r in stored(out).items()}


def run_keys(out: Path) -> list[str]:
    with sqlite3.connect(f"file:{out / 'run.sqlite'}?mode=ro", uri=True) as db:
        return [k for (k,) in db.execute("SELECT run_key FROM runs")]


class PeakInFlight:
    """Counts completion requests in flight at once by wrapping the backend's HTTP client."""

    def __init__(self) -> None:
        self.value = 0
        self._now = 0
        self._lock = threading.Lock()

    def watch(self, backend: Any) -> None:
        client = backend._client
        post = client.post

        def counting(path: str, payload: Any, **options: Any) -> Any:
            if not path.endswith("/completions"):
                return post(path, payload, **options)
            with self._lock:
                self._now += 1
                self.value = max(self.value, self._now)
            try:
                return post(path, payload, **options)
            finally:
                with self._lock:
                    self._now -= 1

        client.post = counting
