"""The child process that runs llama.cpp's quantizer for `quantize_gguf`: `python -m judgedesk.quantize._kquant_worker`.

The request arrives as one JSON object on stdin. Reports leave on stdout as JSON lines: {"event": "progress",
"done", "total", "tensor"} after each tensor, {"event": "log", "line"} for llama.cpp's other log lines, then
{"event": "error", "message"} or {"event": "done"}. Before llama.cpp is loaded, the original stdout is kept for
those reports alone and file descriptor 1 is pointed at stderr, so text that C code prints cannot corrupt them;
the parent keeps stderr in a file and quotes it only if the child dies (an abort inside ggml writes nowhere else).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys
from typing import IO, Any

from judgedesk.core import JudgedeskError

__all__ = ["run_kquant_worker"]

# llama.cpp logs "[  12/ 272] blk.0.attn_k.weight - [...], type = f16, converting to q4_K .. size = ...\n" per
# tensor; the line is complete (ends in a newline) once the tensor is written.
_TENSOR_LINE = re.compile(r"^\[\s*(\d+)\s*/\s*(\d+)\s*\]\s+(\S+)")
_FAILED = "failed to quantize:"
_CALLBACKS: list[Any] = []


def run_kquant_worker() -> int:
    """Read the request, quantize, report; the exit code is 0 only when the output file is complete."""
    reports = _reports_channel()
    try:
        request = json.loads(sys.stdin.read())
        message = _quantize(request, lambda event: _send(reports, event))
    except JudgedeskError as exc:  # already a sentence naming the file (an unsupported CPU, say)
        message = str(exc)
    except Exception as exc:  # anything Python-side (a bad imatrix, a missing symbol) reaches the parent as text
        message = f"{type(exc).__name__}: {exc}"
    if message is None:
        _send(reports, {"event": "done"})
        return 0
    _send(reports, {"event": "error", "message": message})
    return 1


def _reports_channel() -> IO[str]:
    """Keep the real stdout for reports and send file descriptor 1 (C printf, Python print) to stderr."""
    sys.stdout.flush()
    reports = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return reports


def _send(reports: IO[str], event: dict[str, Any]) -> None:
    reports.write(json.dumps(event) + "\n")
    reports.flush()


def _quantize(request: dict[str, Any], send: Any) -> str | None:
    """Run llama_model_quantize; None on success, else llama.cpp's own reason."""
    from judgedesk.core import load_llama_cpp

    llama_cpp = load_llama_cpp()  # its quantizer runs the CPU backend's code: no SIGILL on the wrong CPU

    reason: list[str] = []
    pending = [""]

    def on_line(line: str) -> None:
        match = _TENSOR_LINE.match(line)
        if match:
            send({"event": "progress", "done": int(match.group(1)), "total": int(match.group(2)),
                  "tensor": match.group(3)})
            return
        if line.strip():
            send({"event": "log", "line": line.rstrip()})
        if _FAILED in line:
            reason.append(line.split(_FAILED, 1)[1].strip())

    def on_log(level: int, text: bytes, user_data: Any) -> None:
        pending[0] += text.decode("utf-8", errors="replace")
        *lines, pending[0] = pending[0].split("\n")
        for line in lines:
            on_line(line)

    # llama.cpp keeps only a raw pointer: the callback must live as long as the process, exit-time logs included.
    _CALLBACKS.append(llama_cpp.llama_log_callback(on_log))
    llama_cpp.llama_log_set(_CALLBACKS[-1], ctypes.c_void_p(0))
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = int(request["ftype"])
    params.nthread = int(request["threads"])
    params.allow_requantize = bool(request["allow_requantize"])
    keep_alive: list[Any] = []  # the imatrix buffers must outlive the call that reads them
    if request.get("imatrix"):
        params.imatrix = _imatrix_array(request["imatrix"], keep_alive)
    status = llama_cpp.llama_model_quantize(request["source"].encode("utf-8"), request["out"].encode("utf-8"),
                                            ctypes.byref(params))
    if pending[0]:
        on_line(pending[0])
    if status == 0:
        return None
    return reason[-1] if reason else f"llama_model_quantize returned {status}"


def _imatrix_array(path: str, keep_alive: list[Any]) -> Any:
    """llama.cpp's imatrix argument: an array of (name, data, size) closed by an entry whose name is NULL."""
    import numpy as np
    from judgedesk.core import load_llama_cpp

    llama_cpp = load_llama_cpp()

    from ._kquant import read_imatrix

    entries = read_imatrix(path)
    array = (llama_cpp.llama_model_imatrix_data * (len(entries) + 1))()
    for slot, (name, values) in zip(array, entries.items(), strict=False):
        data = np.ascontiguousarray(values, dtype=np.float32)
        encoded = name.encode("utf-8")
        keep_alive += [data, encoded]
        slot.name = encoded
        slot.data = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        slot.size = data.size
    array[len(entries)].name = None
    keep_alive.append(array)
    return ctypes.cast(array, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))


if __name__ == "__main__":
    raise SystemExit(run_kquant_worker())
