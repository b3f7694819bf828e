"""Which CPU the qemu-user tests emulate: the newest qemu model lacking SIMD that this host's native build uses."""

from __future__ import annotations

import functools

from judgedesk.core import running_cpu_features

__all__ = ["KERNEL_SIMD", "emulated_model"]

# SIMD that llama.cpp's CPU kernels are compiled to use: missing any of it, a build dies of SIGILL in its first
# matrix product. (The other macros a native build records, SHA or SSE4A on an AMD host, its kernels never use.)
KERNEL_SIMD = ("AVX", "AVX2", "FMA", "F16C")  # and every AVX512 extension


@functools.cache
def emulated_model() -> str:
    """qemu's name of the CPU to emulate: a Haswell (AVX2, FMA, no AVX-512) on a host with AVX-512, a Sandy Bridge
    (AVX, no AVX2, FMA or F16C) on one with only AVX2, a Westmere (no AVX at all) below that."""
    host = running_cpu_features().macros
    if any("AVX512" in macro for macro in host):
        return "Haswell"
    return "SandyBridge" if "__AVX2__" in host else "Westmere"
