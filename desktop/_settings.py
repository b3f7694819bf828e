"""The app's persisted preferences: an ini file (QSettings) in judgedesk's data folder.

Keeping it beside the judge library (not in the OS registry or ~/.config/QtProject) means JUDGEDESK_HOME moves
everything at once, which the tests and kiosk installs rely on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from judgedesk.core import DecodingSettings, Sampling
from judgedesk.core._paths import data_dir
from PySide6.QtCore import QByteArray, QSettings

from ._judge_service import JudgeSpec

__all__ = ["AppSettings"]

_FILE = "desktop.ini"


class AppSettings:
    """Typed access to the preferences; every write is saved at once."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / _FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    # -- generic --------------------------------------------------------------------------------------------

    def value(self, key: str, default: Any = None) -> Any:
        return self._qs.value(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self._qs.setValue(key, value)
        self._qs.sync()

    def _int(self, key: str, default: int | None) -> int | None:
        raw = self._qs.value(key, None)
        if raw in (None, ""):
            return default
        try:
            return int(raw)
        except (TypeError, ValueError):
            return default  # a hand-edited ini file with nonsense falls back to the default

    def _str(self, key: str, default: str | None) -> str | None:
        raw = self._qs.value(key, None)
        return default if raw in (None, "") else str(raw)

    # -- judge settings -------------------------------------------------------------------------------------

    @property
    def threads(self) -> int | None:
        """CPU threads for the judge; None = all cores."""
        return self._int("judge/threads", None)

    @threads.setter
    def threads(self, value: int | None) -> None:
        self.set_value("judge/threads", "" if value is None else int(value))

    @property
    def gpu_layers(self) -> int:
        return self._int("judge/gpu_layers", 0) or 0  # None never comes back with a default of 0

    @gpu_layers.setter
    def gpu_layers(self, value: int) -> None:
        self.set_value("judge/gpu_layers", int(value))

    @property
    def n_ctx(self) -> int:
        return self._int("judge/n_ctx", 4096) or 4096

    @n_ctx.setter
    def n_ctx(self, value: int) -> None:
        self.set_value("judge/n_ctx", int(value))

    @property
    def seed(self) -> int:
        seed = self._int("judge/seed", None)
        return Sampling().seed if seed is None else seed

    @seed.setter
    def seed(self, value: int) -> None:
        self.set_value("judge/seed", int(value))

    @property
    def default_format(self) -> str | None:
        """None = each judge's own format."""
        return self._str("judge/default_format", None)

    @default_format.setter
    def default_format(self, value: str | None) -> None:
        self.set_value("judge/default_format", value or "")

    @property
    def default_judge(self) -> str:
        return self._str("judge/default_judge", "demo") or "demo"

    @default_judge.setter
    def default_judge(self, value: str) -> None:
        self.set_value("judge/default_judge", value)

    # -- folders --------------------------------------------------------------------------------------------

    @property
    def runs_dir(self) -> Path:
        """Where batch runs are stored: one run folder per data set."""
        raw = self._str("folders/runs", None)
        return Path(raw) if raw else data_dir() / "runs"

    @runs_dir.setter
    def runs_dir(self, value: str | os.PathLike[str]) -> None:
        self.set_value("folders/runs", str(value))

    @property
    def last_data_path(self) -> Path | None:
        raw = self._str("folders/last_data", None)
        return Path(raw) if raw else None

    @last_data_path.setter
    def last_data_path(self, value: str | os.PathLike[str] | None) -> None:
        self.set_value("folders/last_data", "" if value is None else str(value))

    # -- window ---------------------------------------------------------------------------------------------

    def window_geometry(self) -> QByteArray | None:
        raw = self._qs.value("window/geometry", None)
        return raw if isinstance(raw, QByteArray) else None

    def set_window_geometry(self, geometry: QByteArray) -> None:
        self.set_value("window/geometry", geometry)

    # -- derived --------------------------------------------------------------------------------------------

    def judge_spec(self, judge: str | None = None, format: str | None = None, lang: str = "en",
                   rubric: str | None = None, decoding: DecodingSettings | None = None) -> JudgeSpec:
        """A JudgeSpec from these settings; arguments override the defaults (the seed always comes from here
        unless `decoding` is given)."""
        decoding = decoding or DecodingSettings(sampling=Sampling(seed=self.seed))
        return JudgeSpec(judge=judge or self.default_judge, format=format or self.default_format, lang=lang,
                         rubric=rubric, decoding=decoding, n_ctx=self.n_ctx, n_threads=self.threads,
                         n_gpu_layers=self.gpu_layers)
