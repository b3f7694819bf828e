"""Mutated copies of a real GGUF file for tests: one metadata value changed, a key dropped, a tensor reshaped, the
tensor data cut short.

The file is rewritten at the byte level (header, key/value section, tensor table, then the data region as it was),
so a test gets the demo judge with exactly one thing wrong in a few milliseconds, without gguf-py's reader (which
decodes the whole vocabulary). Tensor offsets are relative to the data region, so they stay valid when the
metadata before it changes size.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf.constants import GGUF_DEFAULT_ALIGNMENT, GGUFValueType

__all__ = ["Typed", "rewrite_gguf"]

_SCALARS: dict[GGUFValueType, str] = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b", GGUFValueType.UINT16: "<H", GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i", GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q", GGUFValueType.INT64: "<q", GGUFValueType.FLOAT64: "<d",
}


@dataclass(frozen=True)
class Typed:
    """A metadata value written with this exact GGUF type (an array's `type` is its element type)."""

    type: GGUFValueType
    value: Any


def _infer(value: Any) -> Typed:
    if isinstance(value, Typed):
        return value
    if isinstance(value, bool):
        return Typed(GGUFValueType.BOOL, value)
    if isinstance(value, int):
        return Typed(GGUFValueType.UINT32 if 0 <= value < 1 << 32 else GGUFValueType.INT64, value)
    if isinstance(value, float):
        return Typed(GGUFValueType.FLOAT32, value)
    if isinstance(value, str):
        return Typed(GGUFValueType.STRING, value)
    if isinstance(value, list):
        return Typed(_infer(value[0]).type if value else GGUFValueType.UINT32, value)
    raise TypeError(f"no GGUF type for {value!r}")


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _encode_value(kind: GGUFValueType, value: Any) -> bytes:
    if kind is GGUFValueType.STRING:
        return _string(value)
    return struct.pack(_SCALARS[kind], value)


def _encode_kv(key: str, typed: Typed) -> bytes:
    if isinstance(typed.value, list):
        return (_string(key) + struct.pack("<IIQ", GGUFValueType.ARRAY, typed.type, len(typed.value))
                + b"".join(_encode_value(typed.type, item) for item in typed.value))
    return _string(key) + struct.pack("<I", typed.type) + _encode_value(typed.type, typed.value)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        n = self.unpack("<Q")
        self.pos += n
        return self.data[self.pos - n:self.pos].decode()

    def skip_value(self, kind: int) -> Any:
        """Skip one value; return it when it is a scalar (for general.alignment)."""
        if kind == GGUFValueType.STRING:
            return self.string()
        if kind == GGUFValueType.ARRAY:
            elem, count = self.unpack("<I"), self.unpack("<Q")
            for _ in range(count):
                self.skip_value(elem)
            return None
        return self.unpack(_SCALARS[GGUFValueType(kind)])


def rewrite_gguf(source: Path, target: Path, *, metadata: Mapping[str, Any] | None = None,
                 drop: Iterable[str] = (), tensor_dims: Mapping[str, tuple[int, ...]] | None = None,
                 data_bytes: int | None = None, weights: bool = True) -> Path:
    """Copy `source` to `target` with `metadata` keys set (added at the end when new; a plain int is uint32), the
    keys in `drop` removed, the tensors in `tensor_dims` given those dimensions, and the data region cut to
    `data_bytes` when given. Without `weights` the data region is a hole of the same size (zeros, no disk
    writes): enough for every test that never runs the model."""
    metadata = dict(metadata or {})
    # Pad the new file as a reader will expect: its new alignment when that is a usable number, else the default.
    asked_alignment = _infer(metadata["general.alignment"]).value if "general.alignment" in metadata else None
    drop = set(drop)
    tensor_dims = dict(tensor_dims or {})
    with source.open("rb") as handle:
        head = handle.read(32 << 20)  # every real judge's metadata and tensor table fit well within this
    reader = _Reader(head)
    magic, version, n_tensors, n_kv = (reader.unpack(f) for f in ("<I", "<I", "<Q", "<Q"))
    kvs: list[bytes] = []
    alignment = GGUF_DEFAULT_ALIGNMENT
    for _ in range(n_kv):
        start = reader.pos
        key = reader.string()
        value = reader.skip_value(reader.unpack("<I"))
        if key == "general.alignment":
            alignment = value
        if key in drop:
            continue
        kvs.append(_encode_kv(key, _infer(metadata.pop(key))) if key in metadata else head[start:reader.pos])
    kvs.extend(_encode_kv(key, _infer(value)) for key, value in metadata.items())
    tensors: list[bytes] = []
    for _ in range(n_tensors):
        start = reader.pos
        name = reader.string()
        dims = [reader.unpack("<Q") for _ in range(reader.unpack("<I"))]
        ggml_type, offset = reader.unpack("<I"), reader.unpack("<Q")
        if name in tensor_dims:
            dims = list(tensor_dims[name])
            tensors.append(_string(name) + struct.pack(f"<I{len(dims)}Q", len(dims), *dims)
                           + struct.pack("<IQ", ggml_type, offset))
        else:
            tensors.append(head[start:reader.pos])
    data_start = -(-reader.pos // alignment) * alignment
    out = struct.pack("<IIQQ", magic, version, n_tensors, len(kvs)) + b"".join(kvs) + b"".join(tensors)
    if asked_alignment is None:
        pad = GGUF_DEFAULT_ALIGNMENT if "general.alignment" in drop else alignment
    else:
        pad = asked_alignment if type(asked_alignment) is int and asked_alignment > 0 else GGUF_DEFAULT_ALIGNMENT
    out += bytes(-len(out) % pad)
    data_size = source.stat().st_size - data_start if data_bytes is None else data_bytes
    with source.open("rb") as src, target.open("wb") as dst:
        dst.write(out)
        if weights:
            src.seek(data_start)
            shutil.copyfileobj(src, dst, 8 << 20)
        dst.truncate(len(out) + data_size)  # cuts the data short, or extends a hole to the data's size
    return target
