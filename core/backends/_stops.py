"""Stop phrases in generated text, shared by the backends that generate token by token."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["first_stop"]


def first_stop(text: str, stops: Sequence[str]) -> tuple[int, int] | None:
    """(position, index) of the earliest stop phrase in `text`, or None."""
    best: tuple[int, int] | None = None
    for index, phrase in enumerate(stops):
        position = text.find(phrase)
        if position >= 0 and (best is None or position < best[0]):
            best = (position, index)
    return best
