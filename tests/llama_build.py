"""What the installed llama-cpp-python was built with, for tests that hold only on one kind of build."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from judgedesk.core import load_llama_cpp

llama_cpp = load_llama_cpp()

GPU_BUILD = bool(llama_cpp.llama_supports_gpu_offload())
"""True for a CUDA (or Metal, Vulkan...) build that can offload layers; CI's CPU build cannot."""

LIB_DIR = Path(llama_cpp.__file__).resolve().parent / "lib"
"""llama_cpp/lib of the installed build."""

cpu_only_build = pytest.mark.skipif(GPU_BUILD, reason="this llama-cpp-python build offloads to a GPU")

# Every AMX instruction: tile configuration, loads and stores, zeroing, and the dot products ggml's kernels use.
_AMX_MNEMONIC = re.compile(r"\t(ldtilecfg|sttilecfg|tileloadd|tileloaddt1|tilestored|tilezero|tilerelease|tdp\w+)\s")


def amx_instructions(library: Path) -> dict[str, int]:
    """How often each AMX instruction occurs in the machine code of `library`, disassembled by objdump."""
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.fail("objdump (Debian package binutils, installed by `make setup`) is needed to inspect llama.cpp")
    listing = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(library)], capture_output=True, text=True,
                             check=True).stdout
    counts: dict[str, int] = {}
    for match in _AMX_MNEMONIC.finditer(listing):
        counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return counts
