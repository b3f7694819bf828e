"""llama.cpp's own reason for a failed load, which llama-cpp-python drops.

llama-cpp-python turns every failed load into "Failed to load model from file", and with verbose=False it sends
llama.cpp's log, where the reason is ("error loading model: missing tensor 'blk.0.attn_q.weight'"), to /dev/null.
`captured_llama_log` keeps that log for the length of a load, and `llama_failure_reason` picks the line that says
what went wrong, from it or from a child process's stderr.
"""

from __future__ import annotations

import ctypes
import re
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

__all__ = ["captured_llama_log", "llama_failure_reason"]

_KEPT_PIECES = 400  # a load logs a few hundred lines; the reason is among the last
# Most telling first: an assert or abort, llama.cpp's "error loading model: <why>", then any error or failure.
_REASONS = (
    re.compile(r"GGML_ASSERT|GGML_ABORT|terminate called|what\(\):"),
    re.compile(r"error loading model", re.IGNORECASE),
    re.compile(r"\berror\b|invalid|failed|missing|wrong", re.IGNORECASE),
)
# A source path before "file.cpp:123: " is the build machine's folder: only the file name says anything.
_SOURCE_PATH = re.compile(r"\S*[/\\](?=[^/\\\s]+\.(?:c|cpp|h):\d+:)")
# Lines that say a load failed without saying why.
_NOT_A_REASON = re.compile(r"failed to load model$|Failed to load model from file", re.IGNORECASE)
_MAX_REASON = 300


@contextmanager
def captured_llama_log(llama_cpp: ModuleType, *, keep: int | None = _KEPT_PIECES) -> Iterator[list[str]]:
    """Collect llama.cpp's log lines (all levels) while the block runs; llama-cpp-python's logger is restored
    after. The list is filled when the block ends.

    keep: the last pieces kept (a failed load's reason is among them); None keeps the whole log, for a reader of
    the buffer sizes a 7B load reports after thousands of lines.
    """
    pieces: deque[str] = deque(maxlen=keep)

    def collect(level: int, text: bytes, user_data: Any) -> None:
        pieces.append(text.decode("utf-8", errors="replace"))

    callback = llama_cpp.llama_log_callback(collect)  # kept referenced until restored: ctypes frees it otherwise
    lines: list[str] = []
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    try:
        yield lines
    finally:
        from llama_cpp import _logger

        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
        lines.extend("".join(pieces).splitlines())


def llama_failure_reason(lines: Iterable[str]) -> str | None:
    """The one line of llama.cpp's log that says why a load failed, shortened to fit an error message; None when
    no line does."""
    kept = [line.strip() for line in lines if line.strip() and not _NOT_A_REASON.search(line)]
    for pattern in _REASONS:
        matching = [line for line in kept if pattern.search(line)]
        if matching:
            # llama.cpp's "error loading model: X" comes first and names the cause; an assert is the last word.
            line = matching[-1] if pattern is _REASONS[0] else matching[0]
            line = _SOURCE_PATH.sub("", line)
            return line if len(line) <= _MAX_REASON else line[:_MAX_REASON - 3] + "..."
    return None
