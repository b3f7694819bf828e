"""What the judge settings will do on this machine: threads against its cores, GPU layers against llama.cpp's GPU
support and the judge's layer count. The Settings view shows these notes beside the two boxes.

Warn, do not clamp (what llama.cpp's own `--threads`/`--n-gpu-layers` and Ollama's `num_thread`/`num_gpu` do):
llama.cpp takes both values itself, and a GPU layer count above the judge's is its
documented way to say "all of them" (`-ngl 99`), so a clamp would rewrite a value that works; GPU layers chosen
before a CUDA or Metal build of llama-cpp-python is installed should apply once it is, not have been reset to 0 by
the CPU-only build; a default judge changes (and with it the layer count) without the Settings view being open; and
the run's manifest records what ran (the backend records the 0 layers of a CPU-only build), so nothing is hidden.
So every value is kept, and the note says, in the warning colour, what llama.cpp will make of it.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from gguf.constants import Keys
from judgedesk.core import JudgedeskError, load_llama_cpp, read_gguf_header, resolve_judge

__all__ = ["SettingsNote", "cpu_cores", "gpu_layers_note", "gpu_offload_supported", "judge_layer_count",
           "threads_note"]


@dataclass(frozen=True)
class SettingsNote:
    """One note beside a setting."""

    text: str
    """What the value will do, in plain words."""
    warning: bool = False
    """True when the value will not do what it seems to ask (shown in the warning colour)."""


def cpu_cores() -> int:
    """Logical CPUs of this machine (what llama.cpp can run threads on at once)."""
    return os.cpu_count() or 1


@functools.cache
def gpu_offload_supported() -> bool | None:
    """Whether this llama.cpp build can offload layers to a GPU; None when llama.cpp cannot be loaded here."""
    try:
        return bool(load_llama_cpp().llama_supports_gpu_offload())
    except (JudgedeskError, ImportError, OSError, AttributeError):
        return None


def judge_layer_count(judge: str | None) -> int | None:
    """The judge file's layer count from its GGUF header; None when it cannot be read (a server model, a missing
    file)."""
    try:
        header = read_gguf_header(resolve_judge(judge))
    except (JudgedeskError, OSError):
        return None
    value = header.metadata.get(Keys.LLM.BLOCK_COUNT.format(arch=header.architecture))
    return value if type(value) is int and value > 0 else None


def threads_note(threads: int, cores: int) -> SettingsNote:
    """The note for `threads` (0 = automatic) on a machine with `cores` logical CPUs."""
    if threads <= 0:
        return SettingsNote(f"automatic: llama.cpp picks for this machine's {cores} cores")
    if threads > cores:
        # More threads than CPUs only makes them wait for each other: llama.cpp's threads spin at each step.
        return SettingsNote(f"{threads} threads on {cores} cores: llama.cpp will be slower than with {cores}",
                            warning=True)
    return SettingsNote(f"{threads} of this machine's {cores} cores")


def gpu_layers_note(layers: int, *, gpu_offload: bool | None, judge_layers: int | None) -> SettingsNote:
    """The note for `layers` (-1 = all, 0 = CPU only) given the build's GPU support and the judge's layer count."""
    if layers == 0:
        return SettingsNote("CPU only; see the memory plan (Judges)")
    if gpu_offload is False:
        return SettingsNote("no GPU support in this llama.cpp build: layers stay on the CPU (a CUDA or Metal build "
                            "of llama-cpp-python offloads them; see the README)", warning=True)
    unknown = " (whether this llama.cpp build supports a GPU is unknown: it could not be loaded)" \
        if gpu_offload is None else ""
    if judge_layers is None:
        what = "all layers" if layers < 0 else f"{layers} layers"
        return SettingsNote(f"{what} on the GPU; see the memory plan (Judges){unknown}", warning=bool(unknown))
    if layers < 0:
        return SettingsNote(f"all {judge_layers} layers of the judge on the GPU{unknown}", warning=bool(unknown))
    if layers > judge_layers:
        return SettingsNote(f"the judge has {judge_layers} layers: {layers} means all {judge_layers}{unknown}",
                            warning=True)
    rest = "" if layers == judge_layers else ", the rest on the CPU"
    return SettingsNote(f"{layers} of the judge's {judge_layers} layers on the GPU{rest}{unknown}",
                        warning=bool(unknown))
