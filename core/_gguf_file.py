"""Reading and validating GGUF judge files without llama.cpp.

llama.cpp trusts the file it is given: a truncated or foreign file can crash the process. Every model file is read
here first, header, metadata and tensor table, and the tensor data extent is checked against the file size, so a
bad file becomes a `ModelFileError` naming the path instead of a segfault. The reader is also how `judgedesk
models` lists a judge's name, architecture, quantization and chat template cheaply: large arrays (the vocabulary)
are skipped, not decoded, which keeps this near-instant where gguf-py's full reader takes seconds.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gguf.constants import (
    GGML_QUANT_SIZES,
    GGUF_DEFAULT_ALIGNMENT,
    GGUF_MAGIC,
    GGMLQuantizationType,
    GGUFValueType,
    Keys,
    LlamaFileType,
)

from ._errors import ModelFileError

__all__ = ["GGUFHeader", "JUDGEDESK_FORMAT_KEY", "read_gguf_header"]

# Where judgedesk's converter records the judge format a model was trained on (so the right prompt is automatic).
JUDGEDESK_FORMAT_KEY = "judgedesk.format"

_SCALARS: dict[GGUFValueType, str] = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b", GGUFValueType.UINT16: "<H", GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i", GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q", GGUFValueType.INT64: "<q", GGUFValueType.FLOAT64: "<d",
}
# Arrays longer than this are skipped, not decoded: the vocabulary, scores, merges.
_MAX_DECODED_ARRAY = 64
_MAX_STRING = 1 << 26  # 64 MiB: no real metadata string is near this; a larger length means a corrupt file


@dataclass(frozen=True)
class GGUFHeader:
    """What judgedesk needs to know about a GGUF file before (or instead of) loading it."""

    path: Path
    """The file read."""
    version: int
    """GGUF format version (2 or 3)."""
    tensor_count: int
    """Number of tensors in the file."""
    metadata: Mapping[str, Any] = field(repr=False)
    """Metadata key/value pairs; arrays longer than 64 entries are replaced by their length."""
    data_end: int = 0
    """Byte offset where the last tensor's data ends; the file must be at least this long."""

    @property
    def architecture(self) -> str:
        return str(self.metadata.get(Keys.General.ARCHITECTURE, "unknown"))

    @property
    def name(self) -> str:
        return str(self.metadata.get(Keys.General.NAME) or self.path.stem)

    @property
    def file_type(self) -> str:
        """The quantization as llama.cpp names it (Q4_K_M, F16, ...), or 'unknown'."""
        raw = self.metadata.get(Keys.General.FILE_TYPE)
        if raw is None:
            return "unknown"
        try:
            return LlamaFileType(int(raw)).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            return f"type {raw}"

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(Keys.LLM.CONTEXT_LENGTH.format(arch=self.architecture))
        return None if value is None else int(value)

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get(Keys.Tokenizer.CHAT_TEMPLATE)
        return value if isinstance(value, str) and value.strip() else None

    @property
    def judge_format(self) -> str | None:
        value = self.metadata.get(JUDGEDESK_FORMAT_KEY)
        return value if isinstance(value, str) else None


class _Cursor:
    """Bounds-checked little-endian reads over a buffer; any overrun is a truncated file."""

    def __init__(self, buf: memoryview | bytes, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path

    def take(self, n: int) -> memoryview | bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise ModelFileError(self.path, f"truncated GGUF file (header ends early at byte {self.pos})")
        chunk = self.buf[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        if n > _MAX_STRING:
            raise ModelFileError(self.path, f"corrupt GGUF file (string of {n} bytes at byte {self.pos})")
        return bytes(self.take(n)).decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        try:
            kind = GGUFValueType(vtype)
        except ValueError:
            raise ModelFileError(self.path, f"corrupt GGUF file (unknown value type {vtype})") from None
        if kind is GGUFValueType.STRING:
            return self.string()
        if kind is GGUFValueType.ARRAY:
            elem_type, count = self.unpack("<I"), self.unpack("<Q")
            if count > len(self.buf):
                raise ModelFileError(self.path, f"corrupt GGUF file (array of {count} items)")
            if count > _MAX_DECODED_ARRAY:
                self.skip_array(elem_type, count)
                return count
            return [self.value(elem_type) for _ in range(count)]
        return self.unpack(_SCALARS[kind])

    def skip_array(self, elem_type: int, count: int) -> None:
        if elem_type == GGUFValueType.STRING:
            for _ in range(count):
                n = self.unpack("<Q")
                if n > _MAX_STRING:
                    raise ModelFileError(self.path, "corrupt GGUF file (oversized string in an array)")
                self.take(n)
        elif elem_type in _SCALARS:
            self.take(struct.calcsize(_SCALARS[GGUFValueType(elem_type)]) * count)
        else:
            for _ in range(count):
                self.value(elem_type)


def read_gguf_header(path: str | Path) -> GGUFHeader:
    """Read and check a GGUF file's header, metadata and tensor table; raise `ModelFileError` if it is unusable."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(path, "no such file")
    if not path.is_file():
        raise ModelFileError(path, "not a file")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(path, "the file is empty")
    with path.open("rb") as handle:
        if size < 24:
            raise ModelFileError(path, f"not a GGUF model file (only {size} bytes)")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                return _parse(view, path, size)
            finally:
                view.release()


def _parse(view: memoryview, path: Path, size: int) -> GGUFHeader:
    cur = _Cursor(view, path)
    magic = cur.unpack("<I")
    if magic != GGUF_MAGIC:
        raise ModelFileError(path, "not a GGUF model file (wrong magic bytes; judgedesk runs .gguf files, "
                                   "convert other weights with `judgedesk quantize convert`)")
    version = cur.unpack("<I")
    if version not in (2, 3):
        raise ModelFileError(path, f"unsupported GGUF version {version} (llama.cpp reads versions 2 and 3)")
    tensor_count, kv_count = cur.unpack("<Q"), cur.unpack("<Q")
    if tensor_count > size or kv_count > size:
        raise ModelFileError(path, "corrupt GGUF file (impossible tensor or key count)")
    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = cur.string()
        metadata[key] = cur.value(cur.unpack("<I"))
    data_extent = 0
    for _ in range(tensor_count):
        name = cur.string()
        n_dims = cur.unpack("<I")
        if n_dims > 8:
            raise ModelFileError(path, f"corrupt GGUF file (tensor {name!r} has {n_dims} dimensions)")
        n_elements = 1
        for _ in range(n_dims):
            n_elements *= cur.unpack("<Q")
        ggml_type, offset = cur.unpack("<I"), cur.unpack("<Q")
        try:
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
        except (ValueError, KeyError):
            raise ModelFileError(path, f"tensor {name!r} has unknown type {ggml_type}") from None
        data_extent = max(data_extent, offset + n_elements // block * type_size)
    alignment = int(metadata.get(Keys.General.ALIGNMENT, GGUF_DEFAULT_ALIGNMENT)) or GGUF_DEFAULT_ALIGNMENT
    data_start = -(-cur.pos // alignment) * alignment
    data_end = data_start + data_extent
    if tensor_count == 0:
        raise ModelFileError(path, "the GGUF file holds no tensors (a vocabulary-only file is not a model)")
    if data_end > size:
        raise ModelFileError(path, f"truncated GGUF file: tensor data needs {data_end} bytes, the file has {size} "
                                   "(an interrupted download or copy?)")
    return GGUFHeader(path=path, version=version, tensor_count=tensor_count, metadata=metadata, data_end=data_end)
