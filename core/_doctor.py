"""`judgedesk doctor`: what this installation is and whether it can judge here, for a bug report.

Every probe is independent and reports its own failure as a line, so one broken part (no demo judge, llama.cpp
built for another CPU) never hides the others. Nothing here loads a model or runs llama.cpp's compute code.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ._cpu_features import running_cpu_features, short_name
from ._errors import JudgedeskError
from ._version import __version__

__all__ = ["DoctorReport", "diagnose"]


@dataclass
class DoctorReport:
    """The findings, in the order they are printed; `problems` decides the exit status."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    """(label, text) pairs."""
    problems: list[str] = field(default_factory=list)
    """One line per thing that stops judgedesk from judging on this machine."""

    def add(self, label: str, text: str) -> None:
        self.lines.append((label, text))

    def problem(self, label: str, text: str) -> None:
        self.lines.append((label, f"PROBLEM: {text}"))
        self.problems.append(f"{label}: {text}")

    def as_text(self) -> str:
        width = max(len(label) for label, _ in self.lines) + 1
        rows = [f"{label + ':':<{width}} {text}" for label, text in self.lines]
        rows.append("verdict: " + ("ready to judge on this machine" if not self.problems
                                   else f"{len(self.problems)} problem(s), see PROBLEM above"))
        return "\n".join(rows)

    def as_dict(self) -> dict[str, object]:
        return {"findings": [{"label": label, "text": text} for label, text in self.lines],
                "problems": self.problems, "ready": not self.problems}


def diagnose() -> DoctorReport:
    """Probe the installation; see the module docstring."""
    report = DoctorReport()
    frozen = getattr(sys, "frozen", False)
    report.add("judgedesk", f"{__version__} ({'bundle' if frozen else 'installed from ' + _source_root()})")
    report.add("python", f"{platform.python_version()} ({sys.executable})")
    report.add("system", f"{platform.platform()}")
    cpu = running_cpu_features()
    features = " ".join(cpu.names()) or "(none known)"
    report.add("cpu", f"{cpu.model} (read with {cpu.source}): {features}")
    _llama(report)
    _demo_judge(report)
    _folders(report)
    return report


def _source_root() -> str:
    return str(Path(__file__).resolve().parents[1])


def _llama(report: DoctorReport) -> None:
    from . import _llama_runtime as runtime

    try:
        version = metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError:
        version = "unknown version"
    try:
        import llama_cpp
    except ImportError as exc:
        report.problem("llama.cpp", f"llama-cpp-python cannot be imported ({exc}): run `make setup`")
        return
    lib_dir = Path(llama_cpp.__file__).resolve().parent / "lib"
    report.add("llama.cpp", f"llama-cpp-python {version}, libraries in {lib_dir}")
    record = runtime.read_build_record(lib_dir)
    variants = runtime.cpu_variant_libraries(lib_dir)
    if record is not None:
        report.add("build", f"{record.get('flavour', '?')} build {record.get('key', '?')}, AMX kernels "
                            f"{'on' if record.get('amx_kernels') else 'off'}, CMake: "
                            f"{' '.join(record.get('cmake_args', []))}")
        compiled = [short_name(macro) for macro in record.get("compiled_isa", ()) if macro in _checkable()]
        if compiled:
            report.add("compiled for", " ".join(sorted(compiled)))
    else:
        report.add("build", "not made by scripts/build_llama.py (no judgedesk-build.json): its CPU support is "
                            "probed in a child process")
    if variants:
        names = ", ".join(path.name.split("ggml-cpu-", 1)[1].split(".")[0] for path in variants)
        report.add("cpu variants", f"{names} (the best one this CPU runs is loaded)")
    try:
        runtime.load_llama_cpp()
    except JudgedeskError as exc:
        report.problem("cpu check", str(exc))
        return
    report.add("cpu check", "ok: this CPU runs every instruction set the build uses")
    report.add("system info", runtime.system_info())
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    report.add("gpu offload", "yes (--gpu-layers)" if gpu else "no: a CPU-only build (see the README's CUDA section)")


def _checkable() -> frozenset[str]:
    from ._cpu_features import x86_feature_macros

    return x86_feature_macros()


def _demo_judge(report: DoctorReport) -> None:
    from ._judges import demo_judge_path

    try:
        path = demo_judge_path()
    except JudgedeskError as exc:
        report.problem("demo judge", str(exc))
        return
    report.add("demo judge", f"{path} ({path.stat().st_size / 2**20:.0f} MiB)")


def _folders(report: DoctorReport) -> None:
    from ._paths import cache_dir, data_dir, demo_data_path, judges_dir

    report.add("data folder", str(data_dir()))
    report.add("judges folder", str(judges_dir()))
    report.add("cache folder", str(cache_dir()))
    try:
        report.add("demo data", str(demo_data_path()))
    except FileNotFoundError as exc:
        report.add("demo data", f"none ({exc})")
