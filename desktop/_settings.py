"""The app's persisted preferences: an ini file (QSettings) in judgedesk's data folder.

Keeping it beside the judge library (not in the OS registry or ~/.config/QtProject) means JUDGEDESK_HOME moves
everything at once, which the tests and kiosk installs rely on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from judgedesk.core import (
    DecodingSettings,
    InputError,
    Sampling,
    ServerEndpoint,
    ServerOptions,
    data_dir,
    make_owner_only_folder,
    open_owner_only,
    parse_server_url,
)
from PySide6.QtCore import QByteArray, QSettings

from ._judge_service import JudgeSpec

__all__ = ["API_KEY_VARIABLE", "AppSettings"]

_FILE = "desktop.ini"
API_KEY_VARIABLE = "JUDGEDESK_SERVER_API_KEY"
"""The server's bearer token comes from the environment (as for the CLI), never from the ini file."""


class AppSettings:
    """Typed access to the preferences; every write is saved at once."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / _FILE
        # Owner-only, as the run folders: it holds server addresses and data paths. Qt keeps an existing file's
        # mode when it saves, so the file is made before QSettings writes it (or tightened, when older).
        make_owner_only_folder(self.path.parent)
        os.close(open_owner_only(self.path, os.O_RDONLY))
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

    def _bool(self, key: str, default: bool) -> bool:
        raw = self._qs.value(key, None)
        if raw in (None, ""):
            return default
        if isinstance(raw, str):  # the ini file gives strings back
            return raw.strip().lower() in ("true", "1", "yes")
        return bool(raw)

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

    # -- inference server -----------------------------------------------------------------------------------

    @property
    def use_server(self) -> bool:
        """Judge through the inference server (when it has an address) instead of in this process."""
        return self._bool("server/use", False)

    @use_server.setter
    def use_server(self, value: bool) -> None:
        self.set_value("server/use", bool(value))

    @property
    def server_url(self) -> str:
        """The server's address as the user typed it; '' = none yet."""
        return self._str("server/url", "") or ""

    @server_url.setter
    def server_url(self, value: str) -> None:
        """Raises InputError (core's message) for an address judgedesk will not talk to; nothing is saved then."""
        text = value.strip()
        if text:
            parse_server_url(text, allow_cgnat=self.allow_cgnat)
        self.set_value("server/url", text)

    @property
    def allow_cgnat(self) -> bool:
        """Accept a server in the CGNAT block 100.64.0.0/10 (a Tailscale-style network), refused by default."""
        return self._bool("server/allow_cgnat", False)

    @allow_cgnat.setter
    def allow_cgnat(self, value: bool) -> None:
        self.set_value("server/allow_cgnat", bool(value))

    @property
    def server_model(self) -> str | None:
        """The model id to request; None = the one the server serves."""
        return self._str("server/model", None)

    @server_model.setter
    def server_model(self, value: str | None) -> None:
        self.set_value("server/model", (value or "").strip())

    @property
    def server_local_file(self) -> bool:
        """Whether the judge picked in Compare or Batch is the local copy of the file the server serves (identity
        and tokenizer; runs then continue on either backend), else the judge is known by the server's model id."""
        return self._bool("server/local_file", True)

    @server_local_file.setter
    def server_local_file(self, value: bool) -> None:
        self.set_value("server/local_file", bool(value))

    @property
    def in_flight(self) -> int:
        """Requests a batch keeps in flight at once."""
        return max(self._int("server/in_flight", 4) or 4, 1)

    @in_flight.setter
    def in_flight(self, value: int) -> None:
        self.set_value("server/in_flight", int(value))

    @property
    def timeout_s(self) -> int:
        """Seconds to wait for one answer (queueing on the server included)."""
        return max(self._int("server/timeout_s", 120) or 120, 1)

    @timeout_s.setter
    def timeout_s(self, value: int) -> None:
        self.set_value("server/timeout_s", int(value))

    @property
    def retries(self) -> int:
        """Further attempts for a request that got no answer or a 5xx."""
        retries = self._int("server/retries", 5)
        return 5 if retries is None or retries < 0 else retries

    @retries.setter
    def retries(self, value: int) -> None:
        self.set_value("server/retries", int(value))

    @property
    def server_api_key(self) -> str | None:
        """The bearer token for servers started with --api-key, from the environment."""
        return os.environ.get(API_KEY_VARIABLE) or None

    def server_endpoint(self) -> ServerEndpoint | None:
        """The endpoint judging goes through now; None when judging runs in this process (server off, no
        address, or an address a hand-edited ini file made invalid: `server_options` then still names it, so the
        next judgement says what is wrong instead of silently judging here)."""
        options = self.server_options()
        if options is None:
            return None
        try:
            return parse_server_url(options.url, allow_cgnat=options.allow_cgnat)
        except InputError:
            return None

    def server_options(self) -> ServerOptions | None:
        """How to reach the server, when judging goes through one; None = judge in this process."""
        if not self.use_server or not self.server_url:
            return None
        return ServerOptions(url=self.server_url, model=self.server_model, max_in_flight=self.in_flight,
                             timeout_s=float(self.timeout_s), retries=self.retries,
                             api_key=self.server_api_key, allow_cgnat=self.allow_cgnat)

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

    # -- notes --------------------------------------------------------------------------------------------

    @property
    def demo_notes_seen(self) -> frozenset[str]:
        """The places ('compare', 'results') where the note on the demo judge's weakness was already shown."""
        return frozenset(p for p in (self._str("notes/demo_judge_seen", "") or "").split(",") if p)

    @demo_notes_seen.setter
    def demo_notes_seen(self, places: frozenset[str]) -> None:
        self.set_value("notes/demo_judge_seen", ",".join(sorted(places)))

    def judge_rate(self, judge: str) -> float | None:
        """Work tokens per second the last comparisons with `judge` ran at on this machine (core's
        `estimate_comparison_cost`); None = never measured."""
        raw = self._qs.value(f"rates/{_rate_key(judge)}", None)
        try:
            rate = float(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return None
        return rate if rate is not None and rate > 0 else None

    def set_judge_rate(self, judge: str, rate: float) -> None:
        self.set_value(f"rates/{_rate_key(judge)}", round(float(rate), 3))

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
        unless `decoding` is given). Every view builds its spec here, so the inference server, when set, is used
        everywhere."""
        decoding = decoding or DecodingSettings(sampling=Sampling(seed=self.seed))
        server = self.server_options()
        judge = judge or self.default_judge
        if server is not None and not self.server_local_file:
            judge = None  # known by the server's model id
        return JudgeSpec(judge=judge, format=format or self.default_format, lang=lang, rubric=rubric,
                         decoding=decoding, n_ctx=self.n_ctx, n_threads=self.threads, n_gpu_layers=self.gpu_layers,
                         server=server)


def _rate_key(judge: str) -> str:
    """An ini key for a judge name or path (QSettings treats '/' as a group separator)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in judge) or "_"
