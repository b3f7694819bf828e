"""Where judgedesk keeps its files on each OS (platformdirs), overridable with JUDGEDESK_HOME for tests and kiosks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

__all__ = ["cache_dir", "data_dir", "demo_data_path", "judges_dir"]


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


def demo_data_path() -> Path:
    """assets/demo: the demo outputs folder (3 models, 20 prompts, human labels), used by `make batch`, as the
    default calibration and fidelity data, and by the app.

    It lives beside the packages in a source checkout or editable install, and under the bundle root in a
    PyInstaller build. Raises FileNotFoundError when neither holds it (a plain wheel install ships no assets).
    """
    roots = [Path(__file__).resolve().parents[1]]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        roots.insert(0, Path(bundle))
    for root in roots:
        folder = root / "assets" / "demo"
        if (folder / "outputs").is_dir():
            return folder
    raise FileNotFoundError("the demo data (assets/demo) is not installed; pass a data folder explicitly")
