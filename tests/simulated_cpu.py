"""A simulated CPU for the build/CPU check: what qemu's Haswell has, and a build that needs AVX-512."""

from __future__ import annotations

import pytest
from judgedesk.core import CpuFeatures
from judgedesk.core import _llama_runtime as runtime

HASWELL = CpuFeatures(frozenset({"__SSE3__", "__SSSE3__", "__SSE4_1__", "__SSE4_2__", "__POPCNT__", "__AVX__",
                                 "__AVX2__", "__FMA__", "__F16C__", "__BMI__", "__BMI2__", "__LZCNT__", "__MOVBE__",
                                 "__AES__", "__PCLMUL__"}), "Intel Core Processor (Haswell)", "cpuid")
"""What qemu's `-cpu Haswell` reports: AVX2 and FMA, no AVX-512."""

AVX512_BUILD = {"flavour": "native", "key": "test", "compiled_isa": sorted(HASWELL.macros | {
    "__AVX512F__", "__AVX512VNNI__", "__AVX512BW__", "__SSE2__", "__MMX__"})}
"""The record of a native build made on a CPU with AVX-512."""


def simulate_cpu(monkeypatch: pytest.MonkeyPatch, cpu: CpuFeatures, record: dict | None = None) -> None:
    """Make the next llama.cpp load check its build against `cpu` (and `record`, if given): undone by monkeypatch."""
    monkeypatch.setattr(runtime, "_checked_lib_dirs", set())
    monkeypatch.setattr(runtime, "running_cpu_features", lambda: cpu)
    if record is not None:
        monkeypatch.setattr(runtime, "read_build_record", lambda lib_dir: record)
        monkeypatch.setattr(runtime, "cpu_variant_libraries", lambda lib_dir: [])
