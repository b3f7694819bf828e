"""GGUF to GGUF quantization (K-quants, Q8_0, F16) with llama.cpp, in a child process.

llama.cpp's quantizer runs in a child process (python -m judgedesk.quantize._kquant_worker) so that a user can cancel it
(the child is terminated), so that a crash inside llama.cpp becomes an error message instead of taking the desktop
app down, and so that its one-log-line-per-tensor output can be turned into progress. The child writes to a hidden
temporary file next to the destination; the file gets its real name only once it is complete and reads back as a
valid GGUF file, so an interrupted run never leaves a half-written judge behind.

An importance matrix (llama.cpp's imatrix GGUF format, or the legacy .dat format) weights the rounding error by how
strongly each input channel is activated, which matters most for the small K-quants.
"""

from __future__ import annotations

import json
import os
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from gguf.constants import GGUF_MAGIC, LlamaFileType
from judgedesk.core import CancelFlag, GGUFHeader, InputError, ModelFileError, Progress, read_gguf_header

from ._errors import QuantizeCancelled, QuantizeError

__all__ = ["QUANT_TYPES", "WORKER_FLAG", "QuantizeProgress", "quantize_gguf", "read_imatrix"]

FloatArray = np.ndarray[Any, np.dtype[np.float32]]

QuantizeProgress = Progress
"""core's `Progress`, under the name this package has always exported: progress(done, total, tensor_name)."""

QUANT_TYPES: Mapping[str, int] = {
    name: int(LlamaFileType[member])
    for name, member in (
        ("F16", "MOSTLY_F16"), ("BF16", "MOSTLY_BF16"), ("Q8_0", "MOSTLY_Q8_0"), ("Q6_K", "MOSTLY_Q6_K"),
        ("Q5_K_M", "MOSTLY_Q5_K_M"), ("Q5_K_S", "MOSTLY_Q5_K_S"), ("Q4_K_M", "MOSTLY_Q4_K_M"),
        ("Q4_K_S", "MOSTLY_Q4_K_S"), ("Q4_0", "MOSTLY_Q4_0"), ("Q3_K_M", "MOSTLY_Q3_K_M"), ("Q2_K", "MOSTLY_Q2_K"),
    )
}
"""Quantization types judgedesk offers, as llama.cpp's llama_ftype values (the same numbers as llama.h)."""

_UNQUANTIZED = ("F32", "F16", "BF16")
_LEGACY_MAX_ENTRIES = 1 << 20
_POLL_SECONDS = 0.1
_WORKER = "judgedesk.quantize._kquant_worker"
WORKER_FLAG = "--judgedesk-quantize-worker"
"""The argument a frozen judgedesk app is started with to act as the quantization worker."""
_JOIN_SECONDS = 5.0


def quantize_gguf(source: str | Path, out: str | Path, *, qtype: str = "Q4_K_M", imatrix: str | Path | None = None,
                  threads: int | None = None, progress: Progress | None = None, cancel: CancelFlag | None = None,
                  allow_requantize: bool = False) -> Path:
    """Quantize the GGUF judge `source` to `qtype`, writing `out`; returns the path written.

    Args:
        source: a GGUF file, normally F16/BF16/F32 straight from conversion.
        out: the file to write (replaced if it exists), or a folder to write `<name>.<qtype>.gguf` into.
        qtype: one of QUANT_TYPES (Q4_K_M, Q5_K_M, Q8_0, F16, ...), case-insensitive.
        imatrix: an importance matrix for this model (imatrix GGUF or legacy .dat), or None.
        threads: CPU threads for llama.cpp; default: all cores.
        progress: progress(done, total, tensor_name) after each tensor, called in the caller's thread.
        cancel: an object with is_set() (threading.Event); when set, the child is stopped, nothing is written, and
            QuantizeCancelled is raised.
        allow_requantize: quantize a file that is already quantized (each round of rounding adds error).

    Raises:
        InputError: unknown qtype, unusable output path, or a wrong importance matrix.
        ModelFileError: `source` is missing, not GGUF, or corrupt.
        QuantizeError: already quantized without allow_requantize, or llama.cpp failed or crashed.
        QuantizeCancelled: `cancel` was set.
    """
    source = Path(source)
    key = qtype.upper()
    if key not in QUANT_TYPES:
        raise InputError(f"unknown quantization type {qtype!r}; known types: {', '.join(QUANT_TYPES)}", field="qtype")
    header = read_gguf_header(source)  # a corrupt file is a ModelFileError here, before llama.cpp sees it
    out = _output_path(source, Path(out), key)
    source_type = _weights_type(header)
    if source_type not in _UNQUANTIZED and not allow_requantize:
        raise QuantizeError(
            f"{source}: the model is already quantized ({source_type}); quantizing it again to {key} rounds "
            "already-rounded weights, so the result is worse than quantizing the original F16/BF16 weights to "
            f"{key} directly. Quantize the F16 GGUF from `judgedesk quantize convert` instead, or allow "
            "requantizing (allow_requantize=True, --allow-requantize) to accept the quality loss."
        )
    if imatrix is not None:
        _check_imatrix(Path(imatrix), header)

    temporary = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.part"
    request = {
        "source": str(source), "out": str(temporary), "ftype": QUANT_TYPES[key],
        "threads": threads if threads and threads > 0 else (os.cpu_count() or 1),
        "allow_requantize": allow_requantize, "imatrix": None if imatrix is None else str(imatrix),
    }
    try:
        _run_child(request, source, key, progress, cancel)
        try:
            read_gguf_header(temporary)  # llama.cpp said it finished; make sure the file is whole before naming it
        except ModelFileError as exc:
            raise QuantizeError(f"{out}: llama.cpp reported success but wrote an unusable file ({exc.reason})") \
                from None
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return out


def _output_path(source: Path, out: Path, key: str) -> Path:
    if out.is_dir():
        stem = source.stem
        head, _, tail = stem.rpartition(".")
        if head and (tail.upper() in QUANT_TYPES or tail.upper() in ("F32", "Q4_1", "Q5_0", "Q5_1")):
            stem = head  # SmolLM2.Q4_1.gguf -> SmolLM2.Q8_0.gguf, not SmolLM2.Q4_1.Q8_0.gguf
        out = out / f"{stem}.{key}.gguf"
    if not out.parent.is_dir():
        raise InputError("the output folder does not exist", path=out.parent)
    if out.exists() and out.resolve() == source.resolve():
        raise InputError("the output would overwrite the model being quantized; choose another file", path=out)
    return out


def _weights_type(header: GGUFHeader) -> str:
    """The file's quantization as llama.cpp names it; from the tensors when the metadata does not say."""
    file_type = header.file_type
    if file_type != "unknown" and not file_type.startswith("type "):
        return file_type
    names = {tensor.ggml_type.name for tensor in header.tensors.values() if len(tensor.shape) >= 2}
    quantized = sorted(names - set(_UNQUANTIZED))
    return quantized[0] if quantized else (sorted(names) or ["F32"])[0]


# -- the child process ----------------------------------------------------------------------------------------------


def _run_child(request: dict[str, Any], source: Path, key: str, progress: Progress | None,
               cancel: CancelFlag | None) -> None:
    """Run the worker, relay its progress, and turn a failure, a crash or a cancel into our errors.

    A subprocess (`python -m`), not multiprocessing: spawning through multiprocessing re-runs the caller's main
    script, which breaks any script without an `if __name__ == "__main__"` guard.
    """
    events: queue.Queue[dict[str, Any] | None] = queue.Queue()
    with tempfile.TemporaryDirectory(prefix="judgedesk-quantize-") as scratch:
        stderr_path = Path(scratch) / "stderr.txt"
        with stderr_path.open("wb") as stderr:
            child = subprocess.Popen(_worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr)
        assert child.stdin is not None and child.stdout is not None
        reader = threading.Thread(target=_read_events, args=(child.stdout, events), daemon=True)
        reader.start()
        log: deque[str] = deque(maxlen=20)
        error: str | None = None
        finished = False
        try:
            child.stdin.write(json.dumps(request).encode("utf-8"))
            child.stdin.close()
            while True:
                if cancel is not None and cancel.is_set():
                    raise QuantizeCancelled(f"{source}: quantizing to {key} was cancelled; nothing was written")
                try:
                    event = events.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
                if event is None:
                    break
                kind = event.get("event")
                if kind == "progress" and progress is not None:
                    progress(event["done"], event["total"], event["tensor"])
                elif kind == "log":
                    log.append(event["line"])
                elif kind == "error":
                    error = event["message"]
                elif kind == "done":
                    finished = True
            child.wait(_JOIN_SECONDS)
        except BrokenPipeError:
            pass  # the child died before reading its request; its exit code says why
        finally:
            _stop(child)
            reader.join(_JOIN_SECONDS)
        if finished and child.returncode == 0:
            return
        detail = error or _crash_detail(child.returncode, stderr_path, log)
        raise QuantizeError(f"{source}: llama.cpp could not quantize to {key}: {detail}")


def _worker_command() -> list[str]:
    """How to start the worker: `python -m`, or, in a frozen app (PyInstaller) whose executable is not a Python
    interpreter, the app itself with WORKER_FLAG, which its entry point must hand to `_kquant_worker.main()`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, WORKER_FLAG]
    return [sys.executable, "-m", _WORKER]


def _read_events(stream: Any, events: queue.Queue[dict[str, Any] | None]) -> None:
    """Forward the child's JSON lines; anything else on the pipe is not ours and is skipped."""
    try:
        for raw in stream:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.put(event)
    finally:
        stream.close()
        events.put(None)


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(_JOIN_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _crash_detail(exitcode: int | None, stderr: Path, log: deque[str]) -> str:
    if exitcode is not None and exitcode < 0:
        import signal

        try:
            what = f"it crashed ({signal.Signals(-exitcode).name})"
        except ValueError:
            what = f"it crashed (signal {-exitcode})"
    else:
        what = f"it stopped with exit code {exitcode}"
    try:
        lines = [line for line in stderr.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    last = (lines or list(log))[-5:]
    return what + (": " + " | ".join(line.strip() for line in last) if last else "")


# -- importance matrices ----------------------------------------------------------------------------------------------


def read_imatrix(path: str | Path) -> dict[str, FloatArray]:
    """Per weight tensor, the mean squared activation of each input column (what llama.cpp calls imatrix data).

    Reads llama.cpp's imatrix GGUF files (tensors `<weight>.in_sum2` and `<weight>.counts`; the data is their
    quotient) and the legacy .dat files. Raises InputError naming the file when it is neither.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such importance matrix file", path=path)
    with path.open("rb") as handle:
        magic = handle.read(4)
    if len(magic) == 4 and struct.unpack("<I", magic)[0] == GGUF_MAGIC:
        entries = _read_imatrix_gguf(path)
    else:
        entries = _read_imatrix_legacy(path)
    if not entries:
        raise InputError("the importance matrix holds no entries", path=path)
    for name, values in entries.items():
        if not np.all(np.isfinite(values)):
            raise InputError(f"entry {name!r} holds non-finite values (NaN or infinity)", path=path)
    return entries


def _read_imatrix_gguf(path: Path) -> dict[str, FloatArray]:
    from gguf import GGUFReader

    try:
        # A cheap look first: gguf-py's reader decodes a model's whole vocabulary before saying it is not a matrix.
        if not any(name.endswith(".in_sum2") for name in read_gguf_header(path).tensors):
            raise InputError("not an importance matrix: a GGUF imatrix has <tensor>.in_sum2 and <tensor>.counts "
                             "tensors, this file has none", path=path)
        reader = GGUFReader(path)
    except (ModelFileError, ValueError, KeyError, OSError) as exc:
        raise InputError(f"unreadable imatrix GGUF file: {exc}", path=path) from None
    tensors = {t.name: np.asarray(t.data, dtype=np.float32).reshape(-1) for t in reader.tensors}
    sums = {name.removesuffix(".in_sum2"): data for name, data in tensors.items() if name.endswith(".in_sum2")}
    entries = {}
    for name, total in sums.items():
        counts = tensors.get(name + ".counts")
        if counts is None or counts.size == 0 or total.size % counts.size:
            raise InputError(f"entry {name!r} has no matching {name}.counts tensor", path=path)
        rows = total.reshape(counts.size, -1)
        # Experts never routed to have zero counts; llama.cpp treats their columns as all equally important.
        safe = np.where(counts > 0, counts, 1.0)[:, None]
        entries[name] = np.where(counts[:, None] > 0, rows / safe, 1.0).astype(np.float32).reshape(-1)
    return entries


def _read_imatrix_legacy(path: Path) -> dict[str, FloatArray]:
    """The .dat format: int32 count, then per entry: int32 name length, name, int32 calls, int32 n, float32[n]."""
    data = path.read_bytes()
    wrong = "not an importance matrix (neither an imatrix GGUF file nor a legacy .dat file)"
    position = 0

    def take(fmt: str) -> Any:
        nonlocal position
        size = struct.calcsize(fmt)
        if position + size > len(data):
            raise InputError(wrong + f": it ends early at byte {position}", path=path)
        values = struct.unpack_from(fmt, data, position)
        position += size
        return values[0] if len(values) == 1 else values

    count = take("<i")
    if not 0 < count <= _LEGACY_MAX_ENTRIES:
        raise InputError(wrong, path=path)
    entries = {}
    for _ in range(count):
        length = take("<i")
        if not 0 < length <= 1024:
            raise InputError(wrong + f": bad name length {length} at byte {position - 4}", path=path)
        raw_name = data[position:position + length]
        position += length
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(wrong + ": a tensor name is not text", path=path) from None
        calls, n = take("<ii")
        if n <= 0 or position + 4 * n > len(data):
            raise InputError(wrong + f": entry {name!r} claims {n} values", path=path)
        values = np.frombuffer(data, dtype="<f4", count=n, offset=position).astype(np.float32)
        position += 4 * n
        entries[name] = values / calls if calls > 0 else values
    return entries


def _check_imatrix(path: Path, model: GGUFHeader) -> None:
    """A matrix for another model would be silently ignored or abort llama.cpp; say so before starting."""
    entries = read_imatrix(path)
    columns = {tensor.name: tensor.shape[0] * (tensor.shape[2] if len(tensor.shape) > 2 else 1)
               for tensor in model.tensors.values()}
    known = [name for name in entries if name in columns]
    if not known:
        example = next(iter(entries))
        raise InputError(f"none of its entries names a tensor of {model.path.name} (e.g. {example!r}): the importance "
                         "matrix was made for another model", path=path)
    for name in known:
        if entries[name].size != columns[name] and name != "token_embd.weight":
            raise InputError(f"entry {name!r} has {entries[name].size} values, {model.path.name} needs "
                             f"{columns[name]}: the importance matrix was made for another model", path=path)
