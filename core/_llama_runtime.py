"""Loading llama-cpp-python safely: whatever was imported before it, and only on a CPU it can run on.

Every part of judgedesk gets llama_cpp through `load_llama_cpp`, which checks the build against the running CPU
first (a one-line UnsupportedCpuError instead of a SIGILL) and loads a portable build's CPU variants; see there.
The rest of this docstring is about the C++ runtime's symbol scope.

llama-cpp-python loads libllama and the ggml backends with RTLD_GLOBAL. Some builds of the ggml CUDA backend carry
their own copies of parts of the C++ runtime (seen on an H200 with CUDA 13: libggml-cuda.so exported 2,747 `std::`
symbols, among them the locale facet ids). When libstdc++ is already in the process but only in a *local* symbol
scope, which is what `import numpy` (or gguf, which judgedesk imports) leaves behind, libllama's references to
those facet ids bind to the backend's copies while the facets were registered under libstdc++'s own: compiling the
first std::regex of a BPE pre-tokenizer (SmolLM2, Falcon, DeepSeek, Command-R) then segfaults inside model loading.
With llama_cpp imported first the same build loads fine, because libstdc++ then enters the global scope as one of
libllama's dependencies, ahead of the backends.

Importing judgedesk.core restores that order whatever comes later: it calls `promote_cxx_runtime` before anything
of its own imports numpy, so libstdc++ is in the global scope before llama-cpp-python's libraries load, also when the
caller imported numpy first (measured on that machine: every numpy-first load that crashed then loaded). Doing so is
harmless where it is not needed: the library is the one the process uses anyway, and the dynamic linker would put it
in the global scope itself as soon as libllama loads.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from ._cpu_features import GGML_FEATURE_MACROS, CpuFeatures, running_cpu_features
from ._errors import UnsupportedCpuError

__all__ = ["default_threads", "load_llama_cpp", "promote_cxx_runtime", "system_info"]

_CXX_RUNTIME = "libstdc++.so.6"


def default_threads() -> int:
    """Physical-ish core count: llama.cpp slows down with hyper-threads, and leaves one core for the UI."""
    count = os.cpu_count() or 2
    return max(1, min(8, count if count <= 2 else count - 1))


def promote_cxx_runtime() -> bool:
    """Put the C++ runtime into the process's global symbol scope; True if it is there (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False  # macOS uses libc++ through two-level namespaces, Windows has no global scope: nothing to fix
    try:
        ctypes.CDLL(_CXX_RUNTIME, mode=os.RTLD_GLOBAL)
    except OSError:
        return False  # no libstdc++ (a musl system, say): llama.cpp's own dependencies decide, as they always did
    return True


# --- loading llama.cpp on a CPU it can run on ------------------------------------------------------------------------

BUILD_RECORD = "judgedesk-build.json"
"""What scripts/build_llama.py writes beside the libraries it installs: flavour, CMake arguments, compiled ISA."""

_SIGILL = 4
_checked_lib_dirs: set[Path] = set()
_check_lock = threading.Lock()


def load_llama_cpp() -> ModuleType:
    """llama-cpp-python, ready to use on this CPU: every caller in judgedesk imports it through here.

    Before any llama.cpp code runs that could use a vector instruction, the instruction sets its CPU code was
    compiled for are compared with the running CPU's (core/_cpu_features.py); a mismatch raises UnsupportedCpuError
    naming the library and the rebuild command, where llama.cpp would die with SIGILL. A portable build (CPU
    backend variants loaded at run time) gets its variants loaded from its own folder, where ggml would look only
    beside the executable and in the working directory.
    """
    import llama_cpp

    lib_dir = Path(llama_cpp.__file__).resolve().parent / "lib"
    with _check_lock:
        if lib_dir not in _checked_lib_dirs:
            _prepare(llama_cpp, lib_dir)
            _checked_lib_dirs.add(lib_dir)
    return llama_cpp


def read_build_record(lib_dir: Path) -> dict[str, Any] | None:
    """The record of the build in lib_dir, or None for a build scripts/build_llama.py did not make."""
    try:
        record = json.loads((lib_dir / BUILD_RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def cpu_variant_libraries(lib_dir: Path) -> list[Path]:
    """The CPU backend variants of a portable build (libggml-cpu-haswell.so...); empty for a native build."""
    return sorted(path for path in lib_dir.glob("*ggml-cpu-*") if path.suffix in (".so", ".dll", ".dylib"))


def system_info() -> str:
    """llama.cpp's own account of what it was built with (the CPU line is the variant loaded, for a portable build)."""
    return load_llama_cpp().llama_print_system_info().decode("utf-8", "replace").strip()


def rebuild_advice() -> str:
    if getattr(sys, "frozen", False):
        return ("this bundle was built for another CPU: build it again with `make bundle`, whose default portable "
                "build runs on any x86-64 CPU")
    return ("rebuild llama.cpp for this machine with `make setup` (or `python scripts/build_llama.py install` in "
            "this environment)")


def check_compiled_isa(library: Path, compiled: frozenset[str], cpu: CpuFeatures) -> None:
    """Raise UnsupportedCpuError if `compiled` (instruction-set macros) needs features `cpu` lacks."""
    missing = cpu.missing(compiled)
    if missing:
        raise UnsupportedCpuError(library, f"compiled for {', '.join(missing)}, which this CPU ({cpu.model}) "
                                  f"lacks: {rebuild_advice()}")


def _prepare(llama_cpp: ModuleType, lib_dir: Path) -> None:
    cpu = running_cpu_features()
    record = read_build_record(lib_dir)
    variants = cpu_variant_libraries(lib_dir)
    cpu_library = _cpu_library(lib_dir)
    if variants:
        _load_cpu_variants(llama_cpp, lib_dir)
    elif record is not None and record.get("flavour") == "portable":
        raise UnsupportedCpuError(lib_dir, "this portable build holds none of its CPU variants (libggml-cpu-*): "
                                  "install it again with `python scripts/build_llama.py install --portable`")
    elif record is not None:
        check_compiled_isa(cpu_library, frozenset(record.get("compiled_isa", ())), cpu)
    elif cpu.known and not getattr(sys, "frozen", False):
        check_compiled_isa(cpu_library, probe_compiled_isa(cpu_library), cpu)


def _cpu_library(lib_dir: Path) -> Path:
    found = sorted(path for path in lib_dir.glob("*ggml-cpu*") if path.suffix in (".so", ".dll", ".dylib"))
    return found[0] if found else lib_dir


def probe_compiled_isa(cpu_library: Path, *, run: Any = subprocess.run) -> frozenset[str]:
    """What a build made elsewhere (plain pip, no record) reports it was compiled for, asked in a child process.

    A child, because loading the registry of such a build already runs its vector code: on the wrong CPU the child
    dies of SIGILL, which is then reported, and this process lives.
    """
    code = "import sys, llama_cpp; sys.stdout.write(llama_cpp.llama_print_system_info().decode())"
    try:
        done = run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()  # no verdict either way: the check has nothing to go on
    if done.returncode == -_SIGILL:
        raise UnsupportedCpuError(cpu_library, f"its code stops with an illegal instruction on this CPU: "
                                  f"{rebuild_advice()}")
    if done.returncode != 0:
        return frozenset()
    reported = {part.split("=")[0].strip() for part in done.stdout.split("|") if part.strip().endswith("= 1")}
    reported = {name.split(":")[-1].strip() for name in reported}
    return frozenset(macro for name in reported for macro in GGML_FEATURE_MACROS.get(name, ()))


def _load_cpu_variants(llama_cpp: ModuleType, lib_dir: Path) -> None:
    """Load a portable build's backends from lib_dir: ggml runs each variant's CPUID check and keeps the best."""
    ggml = _ggml_library(llama_cpp, lib_dir)
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    ggml.ggml_backend_dev_by_type.restype = ctypes.c_void_p
    ggml.ggml_backend_dev_by_type.argtypes = [ctypes.c_int]
    if ggml.ggml_backend_reg_count() == 0:
        ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
        ggml.ggml_backend_load_all_from_path(os.fsencode(lib_dir))
    if not ggml.ggml_backend_dev_by_type(_GGML_DEVICE_TYPE_CPU):
        raise UnsupportedCpuError(lib_dir, "none of its CPU backends runs on this CPU "
                                  f"({running_cpu_features().model}): {rebuild_advice()}")


_GGML_DEVICE_TYPE_CPU = 0


def _ggml_library(llama_cpp: ModuleType, lib_dir: Path) -> ctypes.CDLL:
    """The ggml that libllama itself links, whose backend registry llama.cpp reads.

    Not lib_dir/libggml.so: a wheel holds no symlinks, so libggml.so and libggml.so.0 are two copies of one
    library, and opening the first gives a second registry that llama.cpp never sees. A symbol looked up through
    libllama's handle resolves in libllama's own dependencies (dlsym searches them), so it is the right copy.
    """
    if sys.platform == "win32":  # GetProcAddress searches one module only; Windows loads a DLL name once anyway
        return ctypes.CDLL(str(lib_dir / "ggml.dll"))
    return llama_cpp.llama_cpp._lib
