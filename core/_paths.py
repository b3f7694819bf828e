"""Where judgedesk keeps its files on each OS (platformdirs), overridable with JUDGEDESK_HOME for tests and kiosks."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["cache_dir", "data_dir", "judges_dir"]


def _home() -> Path | None:
    value = os.environ.get("JUDGEDESK_HOME")
    return Path(value) if value else None


def data_dir() -> Path:
    """The user data folder: the judge library, settings, runs."""
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir("judgedesk", appauthor=False))


def cache_dir() -> Path:
    """The user cache folder: file hashes."""
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir("judgedesk", appauthor=False))


def judges_dir() -> Path:
    """Folder of imported judge models; every .gguf file in it is listed by `judgedesk models`."""
    return data_dir() / "judges"
