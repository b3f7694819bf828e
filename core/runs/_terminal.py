"""A terminal progress bar for batch runs: one redrawn line on a terminal, a line every few seconds in a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ._runner import BatchProgress

__all__ = ["TerminalProgress", "format_duration"]

_WIDTH = 28


def format_duration(seconds: float | None) -> str:
    """'1h 02m', '4m 05s', '12s', or '?' when unknown."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


class TerminalProgress:
    """Callable progress sink: `run_batch(..., progress=TerminalProgress())`."""

    def __init__(self, stream: TextIO | None = None, *, unit: str = "pairs", log_every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.unit = unit
        self.log_every = log_every
        self._interactive = self.stream.isatty()
        self._last_log = 0.0

    def __call__(self, event: BatchProgress) -> None:
        fraction = event.done / event.total if event.total else 1.0
        filled = int(fraction * _WIDTH)
        bar = "#" * filled + "." * (_WIDTH - filled)
        rate = f"{event.per_minute:.1f} {self.unit}/min" if event.per_minute else f"- {self.unit}/min"
        line = f"[{bar}] {event.done}/{event.total} {self.unit} | {rate} | ETA {format_duration(event.eta_seconds)}"
        if self._interactive:
            self.stream.write("\r" + line)
            if event.done == event.total:
                self.stream.write("\n")
        else:
            now = time.monotonic()
            if now - self._last_log < self.log_every and event.done != event.total:
                return
            self._last_log = now
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the progress line (after an interruption)."""
        if self._interactive:
            self.stream.write("\n")
            self.stream.flush()
