"""The judge library: GGUF judges imported into judgedesk's data folder, copied there or referenced where they lie.

The folder is `judges_dir()`. A copied judge is the file `<name>.gguf` in it; a referenced judge stays where the
user keeps it (a 7B file on an external disk need not be duplicated). `library.json` beside them records every
imported judge, copied or referenced: where it came from, when, its SHA-256 and its default format. A `.gguf` file
placed in the folder by hand is still a judge (named by its file name) without a record.

Every change is safe to interrupt: a file is checked (`read_gguf_header`) before anything is written, a copy is
written under a hidden temporary name and renamed into place only when whole and checked again, and
`library.json` is replaced atomically. Deleting a referenced judge only forgets it; the user's file is never
touched. A file is imported once: referencing a file referenced already, or copying one whose content (size, then
SHA-256) a judge in the library has, is refused naming that judge.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._errors import Cancelled, InputError, ModelFileError
from ._gguf_file import read_gguf_header
from ._hashing import file_sha256
from ._owner_only import make_owner_only_folder, open_owner_only, tighten_owner_only, write_owner_only
from ._paths import judges_dir
from ._progress import CancelFlag, Progress
from .formats import choose_format, get_format

__all__ = [
    "DEMO_JUDGE",
    "ImportCancelled",
    "LibraryRecord",
    "delete_judge",
    "import_judge",
    "library_file",
    "read_library",
    "record_sha256",
    "validate_judge_name",
]

DEMO_JUDGE = "demo"
"""The name of the embedded demo judge; it is built in, so nothing can be imported under it or delete it."""

_LIBRARY_FILE = "library.json"
_FORMAT_VERSION = 1
_CHUNK = 8 << 20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Names Windows refuses as file names, whatever the extension.
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_LOCK = threading.RLock()


class ImportCancelled(Cancelled):
    """Copying a judge into the library was cancelled; nothing was added."""


@dataclass(frozen=True)
class LibraryRecord:
    """One imported judge as library.json records it."""

    name: str
    """The judge's library name: what to pass to --judge; unique (ignoring case) and safe as a file name."""
    path: Path
    """The GGUF file: `<name>.gguf` in the library folder when copied, the user's own file when referenced."""
    referenced: bool
    """True when the file was left where it was (forgetting the judge never deletes it); False when copied."""
    source: str
    """Where it came from: the original path, or e.g. 'converted from HF folder X with Q4_K_M'."""
    imported_at: str
    """When it was imported, ISO 8601 in UTC."""
    sha256: str | None
    """SHA-256 of the file in hex; None until computed (see `record_sha256`)."""
    default_format: str
    """The judge format used when none is asked for (generic, pandalm, autoj, prometheus)."""
    synthetic: bool = False
    """The file is a shape-only judge with random weights (`judgedesk quantize synthetic`): listed as such, for
    measuring speed and memory, never a judge."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        # A copied file is named relative to the library folder, so the library survives the folder being moved.
        data["path"] = str(self.path) if self.referenced else self.path.name
        if not self.synthetic:
            del data["synthetic"]  # the libraries of real judges stay as they were
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path) -> LibraryRecord:
        path = Path(data["path"])
        return cls(name=str(data["name"]), path=path if data["referenced"] else folder / path.name,
                   referenced=bool(data["referenced"]), source=str(data.get("source", "")),
                   imported_at=str(data.get("imported_at", "")), sha256=data.get("sha256"),
                   default_format=str(data.get("default_format") or "generic"),
                   synthetic=data.get("synthetic") is True)


def library_file() -> Path:
    """The library's metadata file, `library.json` in the library folder."""
    return judges_dir() / _LIBRARY_FILE


def read_library() -> list[LibraryRecord]:
    """The imported judges recorded in library.json (none when it does not exist yet).

    Raises InputError naming the file when it exists but cannot be read, so that no change overwrites it and loses
    the references it holds.
    """
    path = library_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise InputError(f"the judge library file cannot be read ({exc}); fix or remove it", path=path) from None
    try:
        folder = path.parent
        return [LibraryRecord.from_json(item, folder) for item in data["judges"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the judge library file is not in judgedesk's format ({exc!r}); fix or remove it",
                         path=path) from None


def _write_library(records: list[LibraryRecord]) -> None:
    path = library_file()
    make_owner_only_folder(path.parent)  # the library names the user's judges and where they keep them
    data = {"version": _FORMAT_VERSION, "judges": [r.to_json() for r in sorted(records, key=lambda r: r.name.lower())]}
    write_owner_only(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _placed_files(records: list[LibraryRecord]) -> list[Path]:
    """.gguf files in the library folder that no record names (copied there by hand)."""
    folder = judges_dir()
    if not folder.is_dir():
        return []
    recorded = {r.path.name.lower() for r in records if not r.referenced}
    return [p for p in sorted(folder.glob("*.gguf")) if not p.name.startswith(".") and p.name.lower() not in recorded]


def _taken_names(records: list[LibraryRecord]) -> set[str]:
    return {DEMO_JUDGE, *(r.name.lower() for r in records), *(p.stem.lower() for p in _placed_files(records))}


def validate_judge_name(name: str) -> str:
    """`name` if it can name a library judge (letters, digits, '.', '_', '-'; 1-100 characters; not a device
    name Windows reserves; not 'demo'), else InputError saying why."""
    if not _NAME.fullmatch(name):
        raise InputError(f"{name!r} cannot name a judge: use 1-100 letters, digits, '.', '_' or '-', starting with a "
                         "letter or digit", field="name")
    if name.lower().endswith(".gguf"):
        raise InputError(f"{name!r} cannot name a judge: leave out the .gguf extension", field="name")
    if name.split(".")[0].lower() in _WINDOWS_DEVICES:
        raise InputError(f"{name!r} cannot name a judge: it is a reserved file name on Windows", field="name")
    if name.lower() == DEMO_JUDGE:
        raise InputError(f"{name!r} is the built-in demo judge's name; choose another", field="name")
    return name


def _derived_name(path: Path, taken: set[str]) -> str:
    """A free, safe name from the file name: SmolLM2 135M.Q4_K_M.gguf -> SmolLM2-135M.Q4_K_M (then -2, -3...)."""
    base = _UNSAFE.sub("-", path.stem).strip("-._")[:90] or "judge"
    if base.split(".")[0].lower() in _WINDOWS_DEVICES or base.lower() == DEMO_JUDGE:
        base = f"{base}-judge"
    name, n = base, 2
    while name.lower() in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def import_judge(path: str | Path, *, name: str | None = None, copy: bool = True, move: bool = False,
                 source: str | None = None, format: str | None = None, progress: Progress | None = None,
                 cancel: CancelFlag | None = None) -> LibraryRecord:
    """Add the GGUF judge at `path` to the library and return its record.

    name: the library name (default: from the file name, made unique); an explicit name that is taken is an error.
    copy: copy the file into the library folder (True) or reference it where it is (False).
    move: with copy, move the file instead (for a by-product such as a conversion's output): a rename on the same
        file system, else a copy after which the original is deleted.
    source: where it came from, as the library shows it (default: the file's path).
    format: its default judge format (default: recorded in the file, else recognised from its name, else generic).
    progress/cancel: for the copy, progress(bytes_copied, total_bytes, file_name) after each chunk; a cancelled
        copy raises ImportCancelled and leaves nothing behind.

    Raises ModelFileError naming the file when it is missing, not GGUF or corrupt (nothing is added), and
    InputError for a bad or taken name, a file referenced already, or, to copy, a file whose content (SHA-256) a
    judge in the library has already.
    """
    original = Path(path).expanduser().resolve()
    header = read_gguf_header(original)
    if format is not None:
        get_format(format)  # an unknown format is a FormatError now, not when judging
    chosen_format = choose_format(format, recorded=header.judge_format, names=(header.name, original.name))
    with _LOCK:
        records = read_library()
        taken = _taken_names(records)
        if name is None:
            name = _derived_name(original, taken)
        elif validate_judge_name(name).lower() in taken:
            raise InputError(f"a judge named {name!r} is already in the library; choose another name", field="name")
        duplicate = _same_file(original, records) if not copy else _same_content(original, records)
        if duplicate is not None:
            raise InputError(f"this file is already in the library as {duplicate.name!r}", path=original)
    record = LibraryRecord(name=name, path=original, referenced=not copy, source=source or str(original),
                           imported_at=datetime.now(UTC).isoformat(timespec="seconds"), sha256=None,
                           default_format=chosen_format, synthetic=header.synthetic)
    if copy:
        target = judges_dir() / f"{name}.gguf"
        if not (move and _moved(original, target)):
            _copy_checked(original, target, progress, cancel)
            if move:
                original.unlink(missing_ok=True)
        record = replace(record, path=target)
        try:
            record = replace(record, sha256=file_sha256(target))
            _add_record(record)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    else:
        record = replace(record, sha256=file_sha256(original))
        _add_record(record)
    return record


def _same_file(path: Path, records: list[LibraryRecord]) -> LibraryRecord | None:
    """The judge that references `path` already (referencing it again would only add a second name)."""
    return next((r for r in records if r.referenced and r.path == path), None)


def _same_content(path: Path, records: list[LibraryRecord]) -> LibraryRecord | None:
    """The judge whose file has `path`'s content (copying it again would only duplicate gigabytes).

    Sizes are compared first, so the file is hashed only when a judge of the same size exists.
    """
    size = path.stat().st_size
    same_size = [r for r in records if _size(r.path) == size]
    if not same_size:
        return None
    digest = file_sha256(path)
    for record in same_size:
        try:
            if (record.sha256 or file_sha256(record.path)) == digest:
                return record
        except OSError:
            continue  # a referenced file gone or unreadable holds nothing to compare
    return None


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _add_record(record: LibraryRecord) -> None:
    with _LOCK:
        records = read_library()
        # Another import may have taken the name while this one was copying.
        if record.name.lower() in _taken_names(records) - ({record.path.stem.lower()} if not record.referenced
                                                           else set()):
            raise InputError(f"a judge named {record.name!r} was added meanwhile; import again", field="name")
        _write_library([*records, record])


def _moved(source: Path, target: Path) -> bool:
    """Rename `source` to `target` when both are on one file system; False when a copy is needed."""
    make_owner_only_folder(target.parent)
    if target.exists():
        raise InputError("a file of that name is already in the library folder", path=target)
    try:
        os.rename(source, target)
    except OSError:
        return False
    tighten_owner_only(target)  # a moved file keeps the mode it had where it was
    return True


def _copy_checked(source: Path, target: Path, progress: Progress | None, cancel: CancelFlag | None) -> None:
    """Copy under a hidden temporary name, check the copy, then rename it into place."""
    make_owner_only_folder(target.parent)
    if target.exists():
        raise InputError("a file of that name is already in the library folder", path=target)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    total = source.stat().st_size
    try:
        with source.open("rb") as reader, open(open_owner_only(temp, os.O_WRONLY | os.O_TRUNC), "wb") as writer:
            done = 0
            while chunk := reader.read(_CHUNK):
                if cancel is not None and cancel.is_set():
                    raise ImportCancelled(f"{source}: import cancelled; nothing was added to the library")
                writer.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total, source.name)
        try:
            read_gguf_header(temp)
        except ModelFileError as exc:
            raise ModelFileError(source, f"the copy in the library is unusable ({exc.reason}); nothing was added") \
                from None
        os.replace(temp, target)
    except OSError as exc:
        raise ModelFileError(source, f"could not copy it into the library folder {target.parent} "
                                     f"({exc.strerror or exc})") from None
    finally:
        temp.unlink(missing_ok=True)


def delete_judge(name: str) -> LibraryRecord | Path:
    """Remove a judge from the library: delete a copied file, forget a referenced one (its file stays).

    Returns the record removed, or the path of an unrecorded file deleted from the library folder. The demo judge
    cannot be deleted and an unknown name is an error (both InputError).
    """
    if name.lower() == DEMO_JUDGE:
        raise InputError("the demo judge is built into judgedesk and cannot be deleted", field="judge")
    with _LOCK:
        records = read_library()
        for record in records:
            if record.name == name:
                if not record.referenced:
                    try:
                        record.path.unlink(missing_ok=True)
                    except OSError as exc:
                        raise ModelFileError(record.path, f"could not delete it ({exc.strerror or exc})") from None
                _write_library([r for r in records if r is not record])
                return record
        for path in _placed_files(records):
            if path.stem == name:
                try:
                    path.unlink()
                except OSError as exc:
                    raise ModelFileError(path, f"could not delete it ({exc.strerror or exc})") from None
                return path
    raise InputError(f"no judge named {name!r} in the library", field="judge")


def record_sha256(name: str, sha256: str) -> None:
    """Store a computed SHA-256 in the judge's record (nothing happens for a judge without one)."""
    with _LOCK:
        records = read_library()
        changed = [replace(r, sha256=sha256) if r.name == name else r for r in records]
        if changed != records:
            _write_library(changed)
