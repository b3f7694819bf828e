"""Importing llama-cpp-python safely whatever was imported before it.

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
import os
import sys

__all__ = ["promote_cxx_runtime"]

_CXX_RUNTIME = "libstdc++.so.6"


def promote_cxx_runtime() -> bool:
    """Put the C++ runtime into the process's global symbol scope; True if it is there (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False  # macOS uses libc++ through two-level namespaces, Windows has no global scope: nothing to fix
    try:
        ctypes.CDLL(_CXX_RUNTIME, mode=os.RTLD_GLOBAL)
    except OSError:
        return False  # no libstdc++ (a musl system, say): llama.cpp's own dependencies decide, as they always did
    return True
