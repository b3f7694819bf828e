"""Reading and validating GGUF judge files without llama.cpp.

llama.cpp trusts the file it is given: a truncated or foreign file can crash the process. Every model file is read
here first, header, metadata and tensor table, and the tensor data extent is checked against the file size, so a
bad file becomes a `ModelFileError` naming the path instead of a segfault. The reader is also how `judgedesk
models` lists a judge's name, architecture, quantization and chat template cheaply: large arrays (the vocabulary)
are skipped, not decoded, which keeps this near-instant where gguf-py's full reader takes seconds. It is judgedesk's
one GGUF reader: the memory planner and the quantizer take every tensor's name, shape and type from its tensor table.

The structure is checked as llama.cpp's own GGUF reader (ggml/src/gguf.cpp) checks it: alignment, tensor names,
dimensions, types, and offsets that follow one another. What llama.cpp would *assert* on in the hyperparameters and
tensor shapes (an abort, not an error it reports) is checked in core/_gguf_checks.py, called from here.
"""

from __future__ import annotations

import math
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
from ._gguf_checks import check_hyperparameters

__all__ = ["JUDGEDESK_FORMAT_KEY", "JUDGEDESK_SYNTHETIC_KEY", "GGUFHeader", "GGUFTensor", "read_gguf_header"]

# Where judgedesk's converter records the judge format a model was trained on (so the right prompt is automatic).
JUDGEDESK_FORMAT_KEY = "judgedesk.format"
# Set (bool true) in shape-only judges with random weights, written for measuring speed and memory.
JUDGEDESK_SYNTHETIC_KEY = "judgedesk.synthetic"

_SCALARS: dict[GGUFValueType, str] = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b", GGUFValueType.UINT16: "<H", GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i", GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q", GGUFValueType.INT64: "<q", GGUFValueType.FLOAT64: "<d",
}
# Arrays longer than this are skipped, not decoded: the vocabulary, scores, merges.
_MAX_DECODED_ARRAY = 64
# Numeric arrays up to LLAMA_MAX_LAYERS entries are decoded all the same: per-layer hyperparameters (head counts of
# an 80-layer model) must be checked value by value.
_MAX_DECODED_NUMBERS = 512
_MAX_STRING = 1 << 26  # 64 MiB: no real metadata string is near this; a larger length means a corrupt file
_MAX_DIMS = 4  # GGML_MAX_DIMS
_MAX_NAME = 64  # GGML_MAX_NAME, the terminating NUL included


@dataclass(frozen=True)
class GGUFTensor:
    """One entry of a GGUF file's tensor table."""

    name: str
    """The tensor's name, as llama.cpp looks it up ('blk.0.attn_q.weight')."""
    shape: tuple[int, ...]
    """Dimensions in ggml order (innermost first): token_embd.weight is (embedding length, vocabulary size)."""
    ggml_type: GGMLQuantizationType
    """How the data is stored (F16, Q4_K, ...)."""
    offset: int
    """Byte offset of the data from the start of the data region."""


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
    """Metadata key/value pairs; string arrays longer than 64 entries and other arrays longer than 512 are replaced
    by their length (`value_types` tells an array from a number)."""
    data_end: int = 0
    """Byte offset where the last tensor's data ends; the file must be at least this long."""
    value_types: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Each metadata key's GGUF type as llama.cpp names it: 'uint32', 'string', 'array of string', ..."""
    tensors: Mapping[str, GGUFTensor] = field(default_factory=dict, repr=False)
    """The tensor table by tensor name, in file order."""

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
        # read_gguf_header refuses any other value; a header built by hand gets None rather than a crash
        return value if type(value) is int and value > 0 else None

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get(Keys.Tokenizer.CHAT_TEMPLATE)
        return value if isinstance(value, str) and value.strip() else None

    @property
    def judge_format(self) -> str | None:
        value = self.metadata.get(JUDGEDESK_FORMAT_KEY)
        return value if isinstance(value, str) else None

    @property
    def synthetic(self) -> bool:
        """Whether the file is a shape-only judge with random weights (`judgedesk quantize synthetic`): right for
        measuring speed and memory, meaningless as a judge."""
        return self.metadata.get(JUDGEDESK_SYNTHETIC_KEY) is True


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

    def kind(self, vtype: int) -> GGUFValueType:
        try:
            return GGUFValueType(vtype)
        except ValueError:
            raise ModelFileError(self.path, f"corrupt GGUF file (unknown value type {vtype})") from None

    def typed_value(self, vtype: int) -> tuple[Any, str]:
        """The value and its type's name ('uint32', 'array of string')."""
        kind = self.kind(vtype)
        if kind is not GGUFValueType.ARRAY:
            return self.value(vtype), kind.name.lower()
        elem_kind = self.kind(self.unpack("<I"))
        count = self.unpack("<Q")
        if count > len(self.buf):
            raise ModelFileError(self.path, f"corrupt GGUF file (array of {count} items)")
        limit = _MAX_DECODED_ARRAY if elem_kind in (GGUFValueType.STRING, GGUFValueType.ARRAY) else \
            _MAX_DECODED_NUMBERS
        if count > limit:
            self.skip_array(elem_kind, count)
            value: Any = count
        else:
            value = [self.value(elem_kind) for _ in range(count)]
        return value, f"array of {elem_kind.name.lower()}"

    def value(self, vtype: int) -> Any:
        kind = self.kind(vtype)
        if kind is GGUFValueType.STRING:
            return self.string()
        if kind is GGUFValueType.ARRAY:
            return self.typed_value(vtype)[0]
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
    try:
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
                    header = _parse(view, path, size)
                finally:
                    view.release()
    except OSError as exc:  # unreadable (permissions), or a disk gone mid-read
        raise ModelFileError(path, f"the file cannot be read ({exc.strerror or exc})") from None
    check_hyperparameters(header)
    return header


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
    value_types: dict[str, str] = {}
    for _ in range(kv_count):
        key = cur.string()
        metadata[key], value_types[key] = cur.typed_value(cur.unpack("<I"))
    alignment = _alignment(metadata, value_types, path)
    tensors: dict[str, GGUFTensor] = {}
    for _ in range(tensor_count):
        name = cur.string()
        if len(name.encode()) >= _MAX_NAME:
            raise ModelFileError(path, f"tensor name {name[:80]!r} is longer than llama.cpp's {_MAX_NAME - 1} bytes")
        if name in tensors:
            raise ModelFileError(path, f"tensor {name!r} appears twice in the tensor table")
        n_dims = cur.unpack("<I")
        if n_dims > _MAX_DIMS:
            raise ModelFileError(path, f"tensor {name!r} has {n_dims} dimensions (llama.cpp allows {_MAX_DIMS})")
        shape = tuple(cur.unpack("<Q") for _ in range(n_dims))
        type_number, offset = cur.unpack("<I"), cur.unpack("<Q")
        if type_number not in GGML_QUANT_SIZES:  # its data size could not be checked
            raise ModelFileError(path, f"tensor {name!r} has unknown type {type_number}")
        tensors[name] = GGUFTensor(name=name, shape=shape, ggml_type=GGMLQuantizationType(type_number),
                                   offset=offset)
    data_start = -(-cur.pos // alignment) * alignment
    if tensor_count == 0:
        raise ModelFileError(path, "the GGUF file holds no tensors (a vocabulary-only file is not a model)")
    data_end = data_start + _data_extent(tensors, alignment, path)
    if data_end > size:
        raise ModelFileError(path, f"truncated GGUF file: tensor data needs {data_end} bytes, the file has {size} "
                                   "(an interrupted download or copy?)")
    return GGUFHeader(path=path, version=version, tensor_count=tensor_count, metadata=metadata, data_end=data_end,
                      value_types=value_types, tensors=tensors)


def _alignment(metadata: Mapping[str, Any], value_types: Mapping[str, str], path: Path) -> int:
    """general.alignment as gguf.cpp reads it: a uint32 power of two, else the default of 32."""
    key = Keys.General.ALIGNMENT
    if key not in metadata:
        return GGUF_DEFAULT_ALIGNMENT
    value = metadata[key]
    if value_types[key] != "uint32" or value == 0 or value & (value - 1):
        raise ModelFileError(path, f"metadata {key} = {str(value)[:40]!r} ({value_types[key]}): the alignment "
                                   "must be a power of two stored as uint32")
    return int(value)


def _data_extent(tensors: Mapping[str, GGUFTensor], alignment: int, path: Path) -> int:
    """Bytes from the start of the data region to the end of the last tensor's data.

    gguf.cpp requires each tensor's data to start where the previous one's (padded to the alignment) ends; an
    offset that does not is a corrupt tensor table, and a size that overflows is one too.
    """
    expected = extent = 0
    for name, info in tensors.items():
        block, type_size = GGML_QUANT_SIZES[info.ggml_type]
        n_elements = math.prod(info.shape)
        if n_elements >= 1 << 63:
            raise ModelFileError(path, f"tensor {name!r} has an impossible shape {list(info.shape)}")
        if info.shape and info.shape[0] % block:
            raise ModelFileError(path, f"tensor {name!r} has rows of {info.shape[0]} values, not a multiple of its "
                                       f"type's block of {block}")
        if info.offset != expected:
            raise ModelFileError(path, f"tensor {name!r} starts at data offset {info.offset}, expected {expected} "
                                       "(a corrupt tensor table)")
        n_bytes = n_elements // block * type_size
        extent = info.offset + n_bytes
        expected = -(-extent // alignment) * alignment
    return extent
