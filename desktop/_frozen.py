"""What only the PyInstaller bundle needs: its executable doubles as the K-quant worker process.

`quantize_gguf` runs llama.cpp's quantizer in a child process so that a cancel can stop it. From a source
install the child is `python -m judgedesk.quantize._kquant_worker`; a bundle has no Python interpreter to run,
so it starts its own executable with `--judgedesk-quantize-worker` (quantize's WORKER_FLAG), and `main()` hands
that here before any window exists.
"""

from __future__ import annotations

import os
import sys

__all__ = ["is_frozen", "run_quantize_worker"]


def is_frozen() -> bool:
    """Whether this process is the PyInstaller bundle (not a Python interpreter running the source)."""
    return bool(getattr(sys, "frozen", False))


def run_quantize_worker() -> int:
    """Act as the K-quant worker: read the request on stdin, report on stdout; the worker's exit code."""
    # A windowed bundle on Windows starts with no sys.stdin/sys.stdout even when the parent gave it pipes.
    if sys.stdin is None:
        sys.stdin = os.fdopen(0, "r", encoding="utf-8", closefd=False)
    if sys.stdout is None:
        sys.stdout = os.fdopen(1, "w", encoding="utf-8", closefd=False)
    from judgedesk.quantize import run_kquant_worker

    return run_kquant_worker()
