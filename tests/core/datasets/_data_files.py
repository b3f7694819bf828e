"""Where the shared test data lives, and a writer for small JSON Lines files stated row by row in a test."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.reference_data import PANDALM_TESTSET

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "assets" / "demo"
PANDALM = PANDALM_TESTSET


def write_lines(path: Path, rows: Sequence[Any]) -> Path:
    """A JSONL file (parents created): a dict or list is written as its JSON, a str as it is (malformed lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return path
