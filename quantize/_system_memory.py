"""What memory this computer has: RAM, and each NVIDIA GPU's memory through NVML.

NVML ships with NVIDIA's driver. Where there is no driver, no GPU, or a driver that fails, the GPUs are simply not
listed: detection feeds a plan's default budget and must never stop one.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["GpuMemory", "SystemMemory", "detect_memory"]


@dataclass(frozen=True)
class GpuMemory:
    """One NVIDIA GPU as NVML reports it."""

    index: int
    name: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class SystemMemory:
    """RAM and GPU memory of this computer; GPUs are listed only when NVIDIA's NVML library is installed."""

    ram_total_bytes: int | None
    ram_available_bytes: int | None
    gpus: tuple[GpuMemory, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_memory() -> SystemMemory:
    """What memory this computer has; never fails (what cannot be found is None or left out)."""
    total, available = _ram()
    return SystemMemory(ram_total_bytes=total, ram_available_bytes=available, gpus=tuple(_nvml_gpus()))


def _ram() -> tuple[int | None, int | None]:
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]

        memory = psutil.virtual_memory()
        return int(memory.total), int(memory.available)
    except Exception:  # absent or broken psutil: try the next source
        pass
    try:
        fields: dict[str, int] = {}
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                fields[key] = int(rest.split()[0]) * 1024
        return fields.get("MemTotal"), fields.get("MemAvailable", fields.get("MemFree"))
    except (OSError, ValueError, IndexError):
        pass  # no /proc (macOS, Windows): ask sysconf
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None, None


class _NvmlMemory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


def _nvml_gpus() -> list[GpuMemory]:
    """GPUs through NVML, which ships with NVIDIA's driver: pynvml when installed, else the library itself."""
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]

        pynvml.nvmlInit()
        try:
            gpus = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                info = pynvml.nvmlDeviceGetMemoryInfo(handle)
                name = pynvml.nvmlDeviceGetName(handle)
                gpus.append(GpuMemory(i, name.decode() if isinstance(name, bytes) else str(name),
                                      int(info.total), int(info.free)))
            return gpus
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no pynvml, no driver, no GPU: try the library directly
        pass
    names = ("nvml.dll",) if sys.platform == "win32" else ("libnvidia-ml.so.1", "libnvidia-ml.so")
    for library in names:
        try:
            nvml = ctypes.CDLL(library)
        except OSError:
            continue
        try:
            return _nvml_query(nvml)
        except Exception:  # an old or broken driver: report no GPU rather than fail the plan
            return []
    return []


def _nvml_query(nvml: ctypes.CDLL) -> list[GpuMemory]:
    if nvml.nvmlInit_v2() != 0:
        return []
    try:
        count = ctypes.c_uint()
        if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return []
        gpus = []
        for i in range(count.value):
            handle = ctypes.c_void_p()
            if nvml.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(handle)) != 0:
                continue
            memory = _NvmlMemory()
            if nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) != 0:
                continue
            name = ctypes.create_string_buffer(96)
            nvml.nvmlDeviceGetName(handle, name, ctypes.c_uint(96))
            gpus.append(GpuMemory(i, name.value.decode(errors="replace"), int(memory.total), int(memory.free)))
        return gpus
    finally:
        nvml.nvmlShutdown()
