"""The instruction sets of the CPU this process runs on, read with the CPUID instruction itself.

A llama.cpp build compiled for instructions the CPU lacks dies with SIGILL in the middle of a judgement, with no
message. core/_llama_runtime.py compares the build's instruction sets with these before llama.cpp runs any code.

Features are named by the C preprocessor macros GCC and Clang define for them (`__AVX2__`, `__AVX512F__`), the
names a build records when it is compiled (scripts/build_llama.py asks the compiler which it enables). CPUID is
asked directly (a few bytes of machine code in an executable page) rather than /proc/cpuinfo, because they differ
where it matters: under an emulator such as qemu-user /proc/cpuinfo describes the host, while CPUID describes the
CPU the instructions actually run on. The vector extensions also need the operating system to save their
registers (XGETBV), which CPUID alone does not say. Where executable memory is refused, or on an x86-64 system with
another calling convention (Windows), the Linux kernel's /proc/cpuinfo flags are used; elsewhere nothing is known
and the check is skipped.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuFeatures", "running_cpu_features", "x86_feature_macros"]

# macro: (CPUID leaf, subleaf, register, bit, the Linux /proc/cpuinfo flag). The vector, bit-manipulation and
# crypto extensions a compiler emits by itself under -march; system instructions it never emits are left out.
_X86_FEATURES: dict[str, tuple[int, int, str, int, str]] = {
    "__SSE3__": (1, 0, "ecx", 0, "pni"),
    "__PCLMUL__": (1, 0, "ecx", 1, "pclmulqdq"),
    "__SSSE3__": (1, 0, "ecx", 9, "ssse3"),
    "__FMA__": (1, 0, "ecx", 12, "fma"),
    "__SSE4_1__": (1, 0, "ecx", 19, "sse4_1"),
    "__SSE4_2__": (1, 0, "ecx", 20, "sse4_2"),
    "__MOVBE__": (1, 0, "ecx", 22, "movbe"),
    "__POPCNT__": (1, 0, "ecx", 23, "popcnt"),
    "__AES__": (1, 0, "ecx", 25, "aes"),
    "__AVX__": (1, 0, "ecx", 28, "avx"),
    "__F16C__": (1, 0, "ecx", 29, "f16c"),
    "__BMI__": (7, 0, "ebx", 3, "bmi1"),
    "__AVX2__": (7, 0, "ebx", 5, "avx2"),
    "__BMI2__": (7, 0, "ebx", 8, "bmi2"),
    "__AVX512F__": (7, 0, "ebx", 16, "avx512f"),
    "__AVX512DQ__": (7, 0, "ebx", 17, "avx512dq"),
    "__ADX__": (7, 0, "ebx", 19, "adx"),
    "__AVX512IFMA__": (7, 0, "ebx", 21, "avx512ifma"),
    "__AVX512CD__": (7, 0, "ebx", 28, "avx512cd"),
    "__SHA__": (7, 0, "ebx", 29, "sha_ni"),
    "__AVX512BW__": (7, 0, "ebx", 30, "avx512bw"),
    "__AVX512VL__": (7, 0, "ebx", 31, "avx512vl"),
    "__AVX512VBMI__": (7, 0, "ecx", 1, "avx512vbmi"),
    "__AVX512VBMI2__": (7, 0, "ecx", 6, "avx512_vbmi2"),
    "__GFNI__": (7, 0, "ecx", 8, "gfni"),
    "__VAES__": (7, 0, "ecx", 9, "vaes"),
    "__VPCLMULQDQ__": (7, 0, "ecx", 10, "vpclmulqdq"),
    "__AVX512VNNI__": (7, 0, "ecx", 11, "avx512_vnni"),
    "__AVX512BITALG__": (7, 0, "ecx", 12, "avx512_bitalg"),
    "__AVX512VPOPCNTDQ__": (7, 0, "ecx", 14, "avx512_vpopcntdq"),
    "__AVX512VP2INTERSECT__": (7, 0, "edx", 8, "avx512_vp2intersect"),
    "__AMX_BF16__": (7, 0, "edx", 22, "amx_bf16"),
    "__AVX512FP16__": (7, 0, "edx", 23, "avx512_fp16"),
    "__AMX_TILE__": (7, 0, "edx", 24, "amx_tile"),
    "__AMX_INT8__": (7, 0, "edx", 25, "amx_int8"),
    "__AVXVNNI__": (7, 1, "eax", 4, "avx_vnni"),
    "__AVX512BF16__": (7, 1, "eax", 5, "avx512_bf16"),
    "__LZCNT__": (0x80000001, 0, "ecx", 5, "abm"),
    "__SSE4A__": (0x80000001, 0, "ecx", 6, "sse4a"),
    "__XOP__": (0x80000001, 0, "ecx", 11, "xop"),
    "__FMA4__": (0x80000001, 0, "ecx", 16, "fma4"),
}

# Which register state the OS must enable in XCR0 for a feature to be usable: SSE/AVX (bits 1-2), AVX-512
# (opmask, upper ZMM halves, ZMM16-31: bits 5-7), AMX (tile config and data: bits 17-18).
_XCR0_AVX = 0x6
_XCR0_AVX512 = 0xE6
_XCR0_AMX = 0x60000
_NEEDS_AVX_STATE = ("__AVX__", "__AVX2__", "__FMA__", "__F16C__", "__AVXVNNI__", "__VAES__", "__VPCLMULQDQ__",
                    "__XOP__", "__FMA4__")

# ggml's names for what it reports it was built with (llama_print_system_info), as compiler macros.
GGML_FEATURE_MACROS = {
    "SSE3": ("__SSE3__",), "SSSE3": ("__SSSE3__",), "AVX": ("__AVX__",), "AVX2": ("__AVX2__",),
    "AVX_VNNI": ("__AVXVNNI__",), "F16C": ("__F16C__",), "FMA": ("__FMA__",), "BMI2": ("__BMI2__",),
    "AVX512": ("__AVX512F__",), "AVX512_VBMI": ("__AVX512VBMI__",), "AVX512_VNNI": ("__AVX512VNNI__",),
    "AVX512_BF16": ("__AVX512BF16__",), "AMX_INT8": ("__AMX_INT8__", "__AMX_TILE__"),
}


def x86_feature_macros() -> frozenset[str]:
    """Every feature macro this module can check."""
    return frozenset(_X86_FEATURES)


@dataclass(frozen=True)
class CpuFeatures:
    """What the running CPU can execute."""

    macros: frozenset[str]
    """The feature macros (see module docstring) the CPU and the operating system both support."""
    model: str
    """The CPU's brand string, e.g. "Intel(R) Xeon(R) w5-3425"; the platform's processor name when unknown."""
    source: str
    """How it was read: "cpuid", "/proc/cpuinfo", or "unknown" (not x86-64, or nothing readable: no check)."""

    def names(self) -> list[str]:
        """The features by short name, sorted: AVX2 AVX512F..."""
        return sorted(short_name(macro) for macro in self.macros)

    @property
    def known(self) -> bool:
        return self.source != "unknown"

    def missing(self, required: frozenset[str]) -> list[str]:
        """The features of `required` this CPU lacks, by short name (AVX512F, AVX512VNNI), in a stable order."""
        if not self.known:
            return []
        return sorted(short_name(macro) for macro in required & x86_feature_macros() - self.macros)


def short_name(macro: str) -> str:
    """`__AVX512F__` -> `AVX512F`: the name users know from /proc/cpuinfo and CPU spec sheets."""
    return macro.strip("_")


_CODE_PAGES: list[_Cpuid] = []


@functools.cache
def running_cpu_features() -> CpuFeatures:
    """The running CPU's features: CPUID where it can be executed, else /proc/cpuinfo (see the module docstring)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return CpuFeatures(frozenset(), platform.processor() or platform.machine(), "unknown")
    if sys.platform != "win32":
        try:
            _CODE_PAGES.append(_Cpuid())  # kept for the process's life: ctypes holds pointers into the page
            return _from_cpuid(_CODE_PAGES[-1])
        except (OSError, ValueError):
            pass  # executable memory refused (a hardened kernel, SELinux execmem): ask the kernel instead
    return _from_proc_cpuinfo(Path("/proc/cpuinfo"))


def _from_cpuid(cpuid: _Cpuid) -> CpuFeatures:
    max_leaf = cpuid(0, 0)["eax"]
    max_extended = cpuid(0x80000000, 0)["eax"]
    leaf1 = cpuid(1, 0)
    osxsave = bool(leaf1["ecx"] >> 27 & 1)
    xcr0 = cpuid.xgetbv() if osxsave else 0
    macros = set()
    for macro, (leaf, subleaf, register, bit, _flag) in _X86_FEATURES.items():
        if (leaf >= 0x80000000 and leaf > max_extended) or (leaf < 0x80000000 and leaf > max_leaf):
            continue
        if cpuid(leaf, subleaf)[register] >> bit & 1:
            macros.add(macro)
    macros = _usable(macros, xcr0)
    brand = ""
    if max_extended >= 0x80000004:
        words = [cpuid(leaf, 0)[register] for leaf in (0x80000002, 0x80000003, 0x80000004)
                 for register in ("eax", "ebx", "ecx", "edx")]
        brand = b"".join(word.to_bytes(4, "little") for word in words).split(b"\0")[0].decode("ascii", "replace")
    return CpuFeatures(frozenset(macros), " ".join(brand.split()) or platform.processor(), "cpuid")


def _usable(macros: set[str], xcr0: int) -> set[str]:
    """Drop the features whose registers the operating system does not save (XCR0)."""
    if xcr0 & _XCR0_AVX != _XCR0_AVX:
        macros -= set(_NEEDS_AVX_STATE)
        macros = {macro for macro in macros if "AVX512" not in macro}
    if xcr0 & _XCR0_AVX512 != _XCR0_AVX512:
        macros = {macro for macro in macros if "AVX512" not in macro}
    if xcr0 & _XCR0_AMX != _XCR0_AMX:
        macros = {macro for macro in macros if "AMX" not in macro}
    return macros


def _from_proc_cpuinfo(path: Path) -> CpuFeatures:
    """The kernel lists a feature only where it also enabled its register state, so no XCR0 check is needed."""
    flags: set[str] = set()
    model = platform.processor()
    try:
        for line in path.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags" and not flags:
                flags = set(value.split())
            elif key.strip() == "model name" and value.strip():
                model = value.strip()
    except OSError:
        return CpuFeatures(frozenset(), model, "unknown")
    if not flags:
        return CpuFeatures(frozenset(), model, "unknown")
    macros = {macro for macro, (*_, flag) in _X86_FEATURES.items() if flag in flags}
    return CpuFeatures(frozenset(macros), model, str(path))


class _Cpuid:
    """CPUID and XGETBV as callable machine code (x86-64 System V calling convention: Linux, macOS, BSD)."""

    # cpuid(leaf=edi, subleaf=esi, out=rdx): push rbx; mov r8, rdx; mov eax, edi; mov ecx, esi; cpuid;
    # mov [r8], eax; mov [r8+4], ebx; mov [r8+8], ecx; mov [r8+12], edx; pop rbx; ret
    _CPUID = bytes.fromhex("53 4989d0 89f8 89f1 0fa2 418900 41895804 41894808 4189500c 5b c3".replace(" ", ""))
    # xgetbv(): xor ecx, ecx; xgetbv; shl rdx, 32; or rax, rdx; ret
    _XGETBV = bytes.fromhex("31c9 0f01d0 48c1e220 4809d0 c3".replace(" ", ""))

    def __init__(self) -> None:
        self._page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self._page.write(self._CPUID)
        self._page.seek(64)
        self._page.write(self._XGETBV)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        registers = ctypes.c_uint32 * 4
        self._cpuid = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(registers))(base)
        self._xgetbv = ctypes.CFUNCTYPE(ctypes.c_uint64)(base + 64)
        self._registers = registers

    def __call__(self, leaf: int, subleaf: int) -> dict[str, int]:
        out = self._registers()
        self._cpuid(leaf, subleaf, out)
        return dict(zip(("eax", "ebx", "ecx", "edx"), out, strict=True))

    def xgetbv(self) -> int:
        return int(self._xgetbv())
