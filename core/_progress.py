"""The contract every long piece of work follows: progress goes out, cancellation comes in.

Copying a judge into the library, a batch run, converting and quantizing a checkpoint, and judging a pair in both
orders all take the same two optional keyword arguments:

    progress: Progress | None   called as the work advances, in the caller's thread
    cancel: CancelFlag | None   checked between steps (never half-way through writing a file)

A step that finds `cancel` set raises `Cancelled` (or a subclass saying what was stopped and what was kept) and
leaves nothing half-written behind. The desktop app passes its task's `threading.Event`; the CLI passes none and
stops on Ctrl-C instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["CancelFlag", "Progress"]


class CancelFlag(Protocol):
    """What long work checks between steps: a `threading.Event`, or anything else with `is_set()`."""

    def is_set(self) -> bool: ...


Progress = Callable[[int, int, str], None]
"""progress(done, total, step): `done` of `total` steps are finished, and `step` names the one concerned (a tensor,
a stage, an order, a file); each function's docstring says whether it is called as a step starts or ends.

A batch run reports more than a count (the verdict just stored, the rate, the ETA), so `run_batch` takes a callable
of one `BatchProgress` record instead."""
