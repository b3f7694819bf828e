"""SHA-256 of judge model files, cached by (path, size, mtime) so a 7 GB judge is hashed once, not every load."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from ._owner_only import write_owner_only
from ._paths import cache_dir

__all__ = ["file_sha256"]

_LOCK = threading.Lock()
_CHUNK = 1 << 20


def _cache_file() -> Path:
    return cache_dir() / "sha256.json"


def _load() -> dict[str, str]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def file_sha256(path: str | Path) -> str:
    """The file's SHA-256 in hex; reuses a cached value while the file's size and mtime are unchanged."""
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    with _LOCK:
        cached = _load().get(key)
    if cached:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    with _LOCK:
        data = _load()
        data[key] = value
        target = _cache_file()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Owner-only: the paths of a user's judge files are theirs to see.
            write_owner_only(target, json.dumps(data, indent=0, sort_keys=True))
        except OSError:
            pass  # a read-only cache only costs a re-hash next time
    return value
