"""Reading a checkpoint's weights one tensor at a time, without torch for safetensors.

A safetensors file is an 8-byte little-endian header length, a JSON header (name -> dtype, shape, byte range),
then the raw data. The data region is memory-mapped and each tensor is a view of it, so converting a 13B model
needs the memory of its largest tensor (plus the page cache the OS can drop), never the whole model. Sharded
checkpoints are followed through `model.safetensors.index.json`.

Pickle checkpoints (`pytorch_model*.bin`) are refused unless the caller opts in: unpickling can run arbitrary code.
With the opt-in they are read with `torch.load(weights_only=True, mmap=True)`, one shard at a time.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from judgedesk.core import BackendError

from ._errors import CheckpointError

__all__ = ["CheckpointTensors", "TensorInfo", "find_weight_files", "open_checkpoint_tensors", "read_safetensors_header"]

# safetensors dtype codes -> numpy dtypes as stored on disk. BF16 has no numpy type: it is read as uint16 and
# widened to float32 (a bfloat16 is the top half of a float32).
_DTYPES: dict[str, np.dtype[Any]] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_MAX_HEADER = 100 << 20  # the safetensors library's own limit; a larger length means a corrupt or foreign file
_SAFETENSORS_INDEX = "model.safetensors.index.json"
_PICKLE_INDEX = "pytorch_model.bin.index.json"


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives and what it looks like, known before its data is read."""

    name: str
    """The checkpoint's name for it (`model.layers.0.self_attn.q_proj.weight`)."""
    dtype: str
    """Stored type as safetensors names it (F32, F16, BF16, ...); pickle tensors use the same codes."""
    shape: tuple[int, ...]
    file: Path
    """The file holding it."""
    start: int = 0
    """Absolute byte offset of its data in `file` (safetensors only)."""

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)


def read_safetensors_header(path: Path) -> list[TensorInfo]:
    """The tensor table of one safetensors file, checked against the file size; raises `CheckpointError`."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise CheckpointError(f"truncated safetensors file ({size} bytes, no header)", path=path)
            (header_len,) = struct.unpack("<Q", head)
            if header_len > _MAX_HEADER or 8 + header_len > size:
                raise CheckpointError(f"truncated or corrupt safetensors header (it claims {header_len} bytes, "
                                      f"the file has {size})", path=path)
            raw = handle.read(header_len)
    except OSError as exc:
        raise CheckpointError(f"cannot read the weights file: {exc.strerror or exc}", path=path) from exc
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"corrupt safetensors header (not JSON: {exc})", path=path) from None
    if not isinstance(header, dict):
        raise CheckpointError("corrupt safetensors header (not a JSON object)", path=path)
    data_start = 8 + header_len
    infos = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        infos.append(_tensor_info(path, name, entry, data_start, size))
    return infos


def _tensor_info(path: Path, name: str, entry: Any, data_start: int, size: int) -> TensorInfo:
    try:
        dtype, shape, (begin, end) = entry["dtype"], tuple(int(d) for d in entry["shape"]), entry["data_offsets"]
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"corrupt safetensors header entry for tensor {name!r}", path=path) from None
    if dtype not in _DTYPES:
        raise CheckpointError(f"tensor {name!r} has unsupported dtype {dtype}", path=path)
    expected = math.prod(shape) * _DTYPES[dtype].itemsize
    if not (isinstance(begin, int) and isinstance(end, int)) or end - begin != expected or begin < 0:
        raise CheckpointError(f"corrupt safetensors header: tensor {name!r} spans bytes {begin}..{end}, "
                              f"its shape {list(shape)} {dtype} needs {expected}", path=path)
    if data_start + end > size:
        raise CheckpointError(f"truncated safetensors file: tensor {name!r} ends at byte {data_start + end}, "
                              f"the file has {size} (an interrupted download?)", path=path)
    return TensorInfo(name=name, dtype=dtype, shape=shape, file=path, start=data_start + begin)


def find_weight_files(folder: Path) -> tuple[str, list[Path]]:
    """The checkpoint's weight files and their format ('safetensors' or 'pickle'); an empty list if none.

    An index file names the shards; without one, `model.safetensors` or the `model-*.safetensors` shards are used,
    so Mistral's extra `consolidated.safetensors` (the same weights under other names) is never read twice.
    """
    for index_name, kind in ((_SAFETENSORS_INDEX, "safetensors"), (_PICKLE_INDEX, "pickle")):
        index = folder / index_name
        if index.is_file():
            return kind, [folder / name for name in _index_shards(index)]
    for single, pattern, kind in (("model.safetensors", "model-*.safetensors", "safetensors"),
                                  ("pytorch_model.bin", "pytorch_model-*.bin", "pickle")):
        if (folder / single).is_file():
            return kind, [folder / single]
        shards = sorted(folder.glob(pattern))
        if shards:
            return kind, shards
    return "safetensors", []


def _index_shards(index: Path) -> list[str]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        shards = sorted({str(name) for name in weight_map.values()})
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"unreadable shard index ({type(exc).__name__}: {exc})", path=index) from None
    if not shards or any("/" in name or "\\" in name or name.startswith(".") for name in shards):
        raise CheckpointError("the shard index names no usable weight files", path=index)
    return shards


class CheckpointTensors:
    """All tensors of a checkpoint, listed up front and read one at a time.

    `read` returns float32 for BF16 (numpy has no bfloat16) and the stored type otherwise. Use as a context
    manager: `close` drops the memory maps and the loaded pickle shard.
    """

    def __init__(self, files: list[Path], *, kind: str) -> None:
        self.kind = kind
        self._maps: dict[Path, np.memmap[Any, np.dtype[np.uint8]]] = {}
        self._shard: tuple[Path, dict[str, Any]] | None = None
        self.infos: dict[str, TensorInfo] = {}
        for path in files:
            if not path.is_file():
                raise CheckpointError("weights file listed by the checkpoint is missing", path=path)
            listed = read_safetensors_header(path) if kind == "safetensors" else self._pickle_infos(path)
            for info in listed:
                if info.name in self.infos:
                    raise CheckpointError(f"tensor {info.name!r} appears in two weight files "
                                          f"({self.infos[info.name].file.name} too)", path=path)
                self.infos[info.name] = info

    def __enter__(self) -> CheckpointTensors:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[TensorInfo]:
        return iter(self.infos.values())

    def __len__(self) -> int:
        return len(self.infos)

    def close(self) -> None:
        self._maps.clear()
        self._shard = None

    def read(self, name: str) -> np.ndarray[Any, Any]:
        info = self.infos[name]
        if self.kind == "pickle":
            return self._read_pickle(info)
        mapped = self._maps.get(info.file)
        if mapped is None:
            mapped = self._maps[info.file] = np.memmap(info.file, dtype=np.uint8, mode="r")
        stored = _DTYPES[info.dtype]
        raw = mapped[info.start:info.start + info.n_elements * stored.itemsize].view(stored).reshape(info.shape)
        if info.dtype == "BF16":
            return (raw.astype(np.uint32) << 16).view(np.float32)
        return np.asarray(raw)

    # -- pickle checkpoints (opt-in) -----------------------------------------------------------------------------

    def _load_shard(self, path: Path) -> dict[str, Any]:
        if self._shard is not None and self._shard[0] == path:
            return self._shard[1]
        self._shard = None  # release the previous shard before mapping the next
        try:
            import torch
        except ImportError:
            raise BackendError("reading pytorch_model*.bin weights needs torch: pip install judgedesk[hf]") from None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as exc:  # torch raises many types for a corrupt or non-zip file; each is a bad input
            raise CheckpointError(f"cannot load the pickle weights file ({type(exc).__name__}: {exc})",
                                  path=path) from None
        if not isinstance(state, dict):
            raise CheckpointError("the pickle weights file does not hold a state dict", path=path)
        self._shard = (path, state)
        return state

    def _pickle_infos(self, path: Path) -> list[TensorInfo]:
        state = self._load_shard(path)  # first: it names the missing torch install
        import torch

        codes = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                 torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
                 torch.bool: "BOOL"}
        infos = []
        for name, tensor in state.items():
            if not isinstance(tensor, torch.Tensor) or tensor.dtype not in codes:
                raise CheckpointError(f"entry {name!r} is not a tensor of a supported type", path=path)
            infos.append(TensorInfo(name=name, dtype=codes[tensor.dtype], shape=tuple(tensor.shape), file=path))
        return infos

    def _read_pickle(self, info: TensorInfo) -> np.ndarray[Any, Any]:
        tensor = self._load_shard(info.file)[info.name]
        return np.asarray(tensor.float().numpy() if info.dtype == "BF16" else tensor.numpy())


def open_checkpoint_tensors(folder: str | Path, *, allow_pickle: bool = False) -> CheckpointTensors:
    """The tensors of a checkpoint folder; pickle weights only with `allow_pickle=True` (unpickling runs code)."""
    folder = Path(folder)
    kind, files = find_weight_files(folder)
    if not files:
        raise CheckpointError("no weights found (expected model.safetensors, model-*.safetensors with "
                              f"{_SAFETENSORS_INDEX}, or pytorch_model*.bin)", path=folder)
    if kind == "pickle" and not allow_pickle:
        raise CheckpointError(f"the weights are pickle files ({files[0].name}); loading them can run code "
                              "hidden in the file. Convert only checkpoints you trust, and opt in with "
                              "allow_pickle (--allow-pickle)", path=folder)
    return CheckpointTensors(files, kind=kind)
