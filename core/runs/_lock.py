"""One process per run folder: an exclusive advisory lock that the OS releases when the process dies.

A second `judgedesk batch` (or the desktop app) on the same folder is refused with a message instead of
interleaving writes. `kill -9` leaves no stale lock behind, because the lock belongs to the open file, not to a
marker file on disk.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from .._errors import InputError
from .._owner_only import open_owner_only

__all__ = ["RunFolderLock"]

LOCK_NAME = ".lock"


class RunFolderLock:
    """Hold the run folder's lock while in the `with` block."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        path = self.folder / LOCK_NAME
        try:
            # Owner-only like everything in the run folder: it names the process that holds it.
            handle = open(open_owner_only(path), "r+", encoding="utf-8")  # held for the lock's lifetime
        except OSError as exc:
            raise InputError(f"cannot open the run folder's lock file ({exc.strerror or exc})", path=path) from None
        try:
            _lock(handle)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise InputError(f"the run folder is in use by {holder}; wait for it to finish (or stop it) first",
                             path=self.folder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunFolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock(handle: IO[str]) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
