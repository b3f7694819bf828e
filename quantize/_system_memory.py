"""What memory this computer has: RAM, and each NVIDIA GPU's memory through NVML.

NVML ships with NVIDIA's driver; it is called through nvidia-ml-py (`pynvml`), NVIDIA's own maintained bindings.
Where there is no driver, no GPU, or a driver that fails, the GPUs are simply not listed: detection feeds a plan's
default budget and must never stop one.
"""

from __future__ import annotations

import contextlib
import os
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


def _nvml_gpus() -> list[GpuMemory]:
    """Every GPU NVML can report on; a GPU the driver fails on is left out, the others are still listed."""
    # Imported here: only detection needs it, and importing judgedesk.quantize stays quick.
    import pynvml  # type: ignore[import-untyped,unused-ignore]

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:  # no NVIDIA driver (NVML library not found) or one that cannot start: no GPU
        return []
    try:
        try:
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError:
            return []
        gpus = []
        for index in range(count):
            try:
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                name = pynvml.nvmlDeviceGetName(handle)
            except pynvml.NVMLError:  # a GPU lost or in a bad state: it has no memory to plan for
                continue
            gpus.append(GpuMemory(index, str(name), int(memory.total), int(memory.free)))
        return gpus
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()
