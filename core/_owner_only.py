"""Files and folders only their owner can read: judgedesk writes confidential texts (prompts, model outputs,
verdicts, server addresses) into run folders, the judge library and the settings file.

A file's mode is set on the open descriptor (`os.open` with 0o600, then `fchmod`), so neither the umask (0 on some
shared machines) nor a moment between creating and tightening leaves it readable by others; an atomic replacement
is written the same way under a temporary name (`.NAME.PID.tmp`) and renamed over the old file. The PID in the
name lets a later process remove the leftovers of one killed mid-write (`remove_stale_temporaries`).

On Windows a new file takes its folder's access list and POSIX modes mean little; there these functions only
create, write and clean up.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from ._errors import InputError

__all__ = [
    "OWNER_ONLY_FILE",
    "OWNER_ONLY_FOLDER",
    "copy_owner_only",
    "make_owner_only_folder",
    "open_owner_only",
    "remove_stale_temporaries",
    "temporary_name",
    "tighten_owner_only",
    "write_owner_only",
]

OWNER_ONLY_FILE = 0o600
OWNER_ONLY_FOLDER = 0o700
_POSIX = os.name == "posix"
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.tmp")


def _ours(status: os.stat_result) -> bool:
    return status.st_uid == os.geteuid()


def open_owner_only(path: str | Path, flags: int = os.O_RDWR) -> int:
    """Open `path` (created when missing) as a descriptor; the file is left readable by its owner only.

    A new file is 0o600 whatever the umask. An existing file of ours that group or others can read (written by an
    older version, or copied in) loses their bits, and keeps the owner's as the owner set them; another user's
    file is opened as it is, since it is not ours to change.
    """
    try:
        descriptor = os.open(path, flags | os.O_CREAT | os.O_EXCL, OWNER_ONLY_FILE)
        created = True
    except FileExistsError:
        descriptor = os.open(path, flags, OWNER_ONLY_FILE)
        created = False
    try:
        if _POSIX:
            status = os.fstat(descriptor)
            mode = stat.S_IMODE(status.st_mode)
            if created and mode != OWNER_ONLY_FILE:
                os.fchmod(descriptor, OWNER_ONLY_FILE)  # the umask removed the owner's own bits (say 0o277)
            elif not created and mode & 0o077 and _ours(status):
                os.fchmod(descriptor, mode & 0o700)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def tighten_owner_only(path: str | Path) -> None:
    """Make an existing file of ours owner-only; a missing file or another user's is left alone."""
    if not _POSIX:
        return
    try:
        status = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(status.st_mode)
    if stat.S_ISREG(status.st_mode) and mode & 0o077 and _ours(status):
        os.chmod(path, mode & 0o700)


def copy_owner_only(source: str | Path, target: str | Path) -> Path:
    """Copy `source` to `target`, owner-only from its first byte (shutil.copy2 makes the file with the umask's
    mode and narrows it only after the data is in); returns `target`."""
    target = Path(target)
    with open(source, "rb") as reader, open(open_owner_only(target, os.O_WRONLY | os.O_TRUNC), "wb") as writer:
        shutil.copyfileobj(reader, writer)
    return target


def temporary_name(path: Path) -> Path:
    """The hidden temporary file a replacement of `path` is written to by this process."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_owner_only(path: str | Path, content: str | bytes) -> None:
    """Replace `path` with `content` (a text, written as UTF-8, or bytes) atomically: a reader sees the old file or
    the new one, never half of one; the new file is owner-only whatever the umask."""
    path = Path(path)
    temporary = temporary_name(path)
    try:
        # O_NOFOLLOW: a link planted under the temporary name must not redirect the write elsewhere.
        descriptor = open_owner_only(temporary, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0))
        if isinstance(content, bytes):
            with open(descriptor, "wb") as binary:
                binary.write(content)
        else:
            with open(descriptor, "w", encoding="utf-8", newline="") as handle:  # the text as given, on every OS
                handle.write(content)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def make_owner_only_folder(folder: str | Path) -> None:
    """Create `folder` (and its parents) readable by its owner only, or tighten it when it exists.

    An existing folder that group or others can read is tightened (their permission bits removed), not only
    warned about. Every file judgedesk writes in it is owner-only anyway, so tightening takes away nothing that
    judgedesk's files offered; it hides the file names and what an older version wrote with wider modes, which a
    warning would only describe as it scrolls past in a batch log; and the CLI, the app and every command behave
    the same with no channel beside errors. A folder of another user's cannot be tightened: that is an error
    naming it, raised before anything is written.
    """
    folder = Path(folder)
    if not folder.exists():
        try:
            folder.mkdir(parents=True, mode=OWNER_ONLY_FOLDER)
        except FileExistsError:
            pass  # made meanwhile (by a second process): checked below like any existing folder
        except OSError as exc:
            raise InputError(f"cannot create the folder ({exc.strerror or exc})", path=folder) from None
        else:
            if _POSIX:
                os.chmod(folder, OWNER_ONLY_FOLDER)  # mkdir's mode is filtered by the umask
            return
    if not folder.is_dir():
        raise InputError("exists and is not a folder", path=folder)
    if not _POSIX:
        return
    mode = stat.S_IMODE(folder.stat().st_mode)
    if not mode & 0o077:
        return
    try:
        os.chmod(folder, mode & 0o700)  # the owner's own bits stay as the owner set them
    except PermissionError:
        raise InputError(f"group or others can read this folder (mode {mode:o}) and it is not yours to make "
                         "owner-only; choose a folder of your own", path=folder) from None


def remove_stale_temporaries(folder: str | Path, names: Iterable[str]) -> list[Path]:
    """Remove `.NAME.PID.tmp` files for the given NAMEs that a process no longer running left in `folder`
    (a `kill -9` while it wrote); returns what was removed. A running process's temporary is kept."""
    wanted = set(names)
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None or match["name"] not in wanted or _process_running(int(match["pid"])):
            continue
        try:
            entry.unlink()
        except OSError:
            continue  # gone meanwhile, or not ours to remove: cleaning up never stops the write it precedes
        removed.append(entry)
    return removed


def _process_running(pid: int) -> bool:
    if pid <= 0:
        return False
    if not _POSIX:  # pragma: no cover - exercised on Windows only
        return _windows_process_running(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OverflowError:
        return False
    return True


def _windows_process_running(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    # os.kill on Windows terminates the process whatever the signal; ask whether it has an exit code instead.
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
