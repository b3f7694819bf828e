"""Ctrl-C on the command line: whenever it comes, one line ("judgedesk: interrupted") and exit 130.

Two windows lose it with Python's own handler. While the `judgedesk` script imports judgedesk (a few tenths of a
second, before `main` can catch anything), KeyboardInterrupt ends in a traceback. While llama.cpp loads a model it
calls back into Python (its log callback) through ctypes, and a KeyboardInterrupt raised inside a ctypes callback
is printed as "ignored" and dropped: the command went on and finished with exit 0. So the CLI's handler also
remembers the key press, and `raise_if_interrupted` raises it again once native code has returned.

Only the command line changes how SIGINT is handled; a program that imports judgedesk keeps its own handler.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = [
    "INTERRUPTED_EXIT_STATUS",
    "interrupts_remembered",
    "quiet_interrupts_while_starting",
    "raise_if_interrupted",
]

INTERRUPTED_EXIT_STATUS = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C
_pressed = False


def quiet_interrupts_while_starting() -> None:
    """In the `judgedesk` console script only: Ctrl-C before `main` runs exits 130 with one line, no traceback.

    Called first thing when judgedesk.core is imported; `main` then installs its own handler.
    """
    main = sys.modules.get("__main__")
    script = os.path.basename(getattr(main, "__file__", None) or "")
    if script in ("judgedesk", "judgedesk.exe", "judgedesk-script.py") and not getattr(sys, "frozen", False):
        _install(_exit_while_starting)


def _exit_while_starting(signum: int, frame: FrameType | None) -> None:
    # Exits at once rather than raising SystemExit: Python runs a signal handler wherever the main thread is, and
    # while importing that can be an importlib weakref callback or an audit hook (core/_offline.py's), which report
    # or drop what they raise. The import then went on and the command finished with exit 0 after printing
    # "interrupted". Nothing is lost: before `main` nothing has been done, and after it what it printed is flushed.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        sys.stderr.write("judgedesk: interrupted\n")
        sys.stderr.flush()
    os._exit(INTERRUPTED_EXIT_STATUS)


@contextmanager
def interrupts_remembered() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt as usual and is also remembered, for `raise_if_interrupted`; the previous
    handler is back afterwards (tests call `main` in-process)."""
    global _pressed
    _pressed = False
    previous = _install(_remember_and_raise)
    previous_hook = sys.unraisablehook

    def unraisable(report: Any) -> None:
        # The KeyboardInterrupt a ctypes callback dropped is remembered: not worth Python's "Exception ignored" text.
        if not (_pressed and report.exc_type is KeyboardInterrupt):
            previous_hook(report)

    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _remember_and_raise(signum: int, frame: FrameType | None) -> None:
    global _pressed
    _pressed = True
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed under `interrupts_remembered`, even where native code's
    Python callback swallowed it. Call it after native calls that run Python callbacks (model loading)."""
    if _pressed:
        raise KeyboardInterrupt


def _install(handler: Callable[[int, FrameType | None], Any]) -> Any:
    """Install `handler` for SIGINT if this is the main thread (only it may); the handler it replaced, or None."""
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave signals to whoever runs it
        return None
