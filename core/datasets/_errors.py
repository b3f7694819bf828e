"""The one error a data set import raises on purpose: the input as a whole cannot be used.

    JudgedeskError
    └── InputError
        └── DatasetError   no such path, an empty folder, an unreadable file, no layout recognised

Everything smaller (a bad line, a missing field, a duplicate id) is a `Problem` in the `Dataset`, not an error.
"""

from __future__ import annotations

from pathlib import Path

from .._errors import InputError

__all__ = ["DatasetError"]


class DatasetError(InputError):
    """The file or folder cannot be read as a data set at all; the message says what was expected."""

    def __init__(self, message: str, *, path: str | Path) -> None:
        super().__init__(message, path=path)
