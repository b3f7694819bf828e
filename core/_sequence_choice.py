"""How many prompts a llama.cpp judge evaluates per forward pass (`--sequences`), when the user leaves it to us.

On a GPU one forward pass over several prompts costs little more than over one (the weights are read once for all),
so the count is what the memory plan fits: each sequence has its own KV cache of the full context. On the CPU the
forward pass is bound by arithmetic, not by reading weights, and several sequences only add work (bench/judge_sizes.py
measures it), so `auto` is one sequence there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ._errors import InputError
from ._llama_runtime import load_llama_cpp

__all__ = ["MAX_SEQUENCES", "Sequences", "choose_sequences", "parse_sequences"]

MAX_SEQUENCES = 8
"""The most sequences `auto` chooses, and the most a user may ask for."""
GPU_HEADROOM = 1 << 30
"""GPU memory `auto` leaves unplanned: the CUDA context llama.cpp creates when it loads (a few hundred MiB, not
yet taken when free memory is read) and allocator slack."""

Sequences = int | Literal["auto"]


def parse_sequences(text: str) -> Sequences:
    """`--sequences` as given: 'auto' or a count from 1 to MAX_SEQUENCES; anything else is an InputError."""
    if text == "auto":
        return "auto"
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_SEQUENCES:
        raise InputError(f"--sequences must be 'auto' or a whole number from 1 to {MAX_SEQUENCES}, not {text!r}")
    return count


def choose_sequences(sequences: Sequences, path: Path, *, n_ctx: int, n_gpu_layers: int) -> int:
    """The number of sequences to load `path` with: `sequences` itself when a count, else (auto) 1 on the CPU and,
    with GPU layers, as many as the memory plan fits in the first GPU's free memory less GPU_HEADROOM (1 when it
    cannot be read)."""
    if sequences != "auto":
        return sequences
    if n_gpu_layers == 0 or not load_llama_cpp().llama_supports_gpu_offload():
        return 1
    from judgedesk.quantize import detect_memory, sequences_that_fit  # the planner lives with the converter

    gpus = detect_memory().gpus
    if not gpus:
        return 1
    free = max(0, gpus[0].free_bytes - GPU_HEADROOM)
    return sequences_that_fit(path, n_ctx=n_ctx, free_bytes=free, max_sequences=MAX_SEQUENCES)
