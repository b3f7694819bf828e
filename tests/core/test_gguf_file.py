"""Reading GGUF headers: the demo judge, a file written by gguf-py, and every kind of broken file.

The tensor table (name, shape, type, offset of every tensor) is held against gguf-py's own reader.

A broken file must become a `ModelFileError` naming its path, never a crash inside llama.cpp.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter
from gguf.constants import GGUF_MAGIC, GGMLQuantizationType, GGUFValueType
from judgedesk.core import GGUFHeader, GGUFTensor, ModelFileError, read_gguf_header
from judgedesk.core._gguf_file import JUDGEDESK_FORMAT_KEY


def _string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def _kv_string(key: str, value: str) -> bytes:
    return _string(key) + struct.pack("<I", GGUFValueType.STRING) + _string(value)


def _header(*, magic: int = GGUF_MAGIC, version: int = 3, tensor_count: int = 0, kv_count: int = 0,
            body: bytes = b"") -> bytes:
    return struct.pack("<IIQQ", magic, version, tensor_count, kv_count) + body


def _tensor_info(name: str, dims: tuple[int, ...], ggml_type: int = GGMLQuantizationType.F32,
                 offset: int = 0) -> bytes:
    return (_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
            + struct.pack("<IQ", ggml_type, offset))


def _with_data(header: bytes, data_size: int) -> bytes:
    """A header padded to the default 32-byte alignment, followed by `data_size` bytes of tensor data."""
    return header + bytes(-len(header) % 32) + bytes(data_size)


def _copy_prefix(source: Path, target: Path, size: int) -> None:
    with source.open("rb") as src, target.open("wb") as dst:
        remaining = size
        while remaining:
            chunk = src.read(min(remaining, 1 << 20))
            dst.write(chunk)
            remaining -= len(chunk)


def _write_tiny_judge(path: Path, *, judge_format: str | None = "prometheus") -> None:
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("Tiny Prometheus Judge")
    writer.add_context_length(256)
    writer.add_file_type(1)  # MOSTLY_F16
    if judge_format is not None:
        writer.add_string(JUDGEDESK_FORMAT_KEY, judge_format)
    writer.add_array("tiny.small_list", [1, 2, 3])
    writer.add_array("tiny.long_list", list(range(1000)))
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float16))
    writer.add_tensor("output.weight", np.ones((2, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# -- valid files --------------------------------------------------------------------------------------------


def test_demo_judge_header(demo_path: Path) -> None:
    header = read_gguf_header(demo_path)

    assert isinstance(header, GGUFHeader)
    assert header.path == demo_path
    assert header.name == "Smollm2 135M 8k Lc100K Mix1 Ep2"
    assert header.architecture == "llama"
    assert header.file_type == "Q4_1"
    assert header.version == 3
    assert header.tensor_count > 0
    assert header.data_end == demo_path.stat().st_size
    assert header.context_length == 8192
    assert header.chat_template is not None and "<|im_start|>" in header.chat_template
    assert header.judge_format is None


def test_large_arrays_are_replaced_by_their_length(demo_path: Path) -> None:
    metadata = read_gguf_header(demo_path).metadata

    assert metadata["tokenizer.ggml.tokens"] == 49152
    assert metadata["tokenizer.ggml.bos_token_id"] == 1


def test_file_written_by_gguf_py(tmp_path: Path) -> None:
    path = tmp_path / "tiny-judge.gguf"
    _write_tiny_judge(path)

    header = read_gguf_header(path)

    assert header.judge_format == "prometheus"
    assert header.name == "Tiny Prometheus Judge"
    assert header.architecture == "llama"
    assert header.file_type == "F16"
    assert header.context_length == 256
    assert header.tensor_count == 2
    assert header.chat_template is None
    assert header.metadata["tiny.small_list"] == [1, 2, 3]
    assert header.metadata["tiny.long_list"] == 1000  # past the 512 numbers decoded for per-layer values
    assert 4 * 8 * 2 + 2 * 8 * 4 <= header.data_end <= path.stat().st_size


def test_name_falls_back_to_the_file_stem_and_unknowns(tmp_path: Path) -> None:
    path = tmp_path / "nameless.gguf"
    body = _kv_string("general.architecture", "qwen2") + _tensor_info("w", (4,))
    path.write_bytes(_with_data(_header(tensor_count=1, kv_count=1, body=body), 16))

    header = read_gguf_header(path)

    assert header.name == "nameless"
    assert header.architecture == "qwen2"
    assert header.file_type == "unknown"
    assert header.context_length is None
    assert header.judge_format is None


def _gguf_py_tensor_table(path: Path) -> list[tuple[str, tuple[int, ...], GGMLQuantizationType, int]]:
    reader = GGUFReader(path)
    return [(t.name, tuple(int(n) for n in t.shape), t.tensor_type, int(t.data_offset) - reader.data_offset)
            for t in reader.tensors]


def test_demo_judge_tensor_table_is_what_gguf_py_reads(demo_path: Path) -> None:
    tensors = read_gguf_header(demo_path).tensors

    assert [(t.name, t.shape, t.ggml_type, t.offset) for t in tensors.values()] == _gguf_py_tensor_table(demo_path)
    assert all(name == t.name and isinstance(t, GGUFTensor) for name, t in tensors.items())
    assert all(type(t.ggml_type) is GGMLQuantizationType for t in tensors.values())
    # ggml order, innermost first: the embeddings are 576 wide, one row per token of the 49152.
    assert tensors["token_embd.weight"].shape == (576, 49152)
    assert {t.ggml_type for t in tensors.values()} == {GGMLQuantizationType.F32, GGMLQuantizationType.Q4_1,
                                                      GGMLQuantizationType.Q8_0}


def test_tensor_table_of_a_file_written_by_gguf_py(tmp_path: Path) -> None:
    path = tmp_path / "tiny-judge.gguf"
    _write_tiny_judge(path)

    tensors = read_gguf_header(path).tensors

    assert [(t.name, t.shape, t.ggml_type, t.offset) for t in tensors.values()] == _gguf_py_tensor_table(path)
    assert tensors["token_embd.weight"].shape == (8, 4)  # numpy's (4, 8), innermost first
    assert tensors["output.weight"].ggml_type is GGMLQuantizationType.F32


def test_version_2_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "v2.gguf"
    path.write_bytes(_with_data(_header(version=2, tensor_count=1, body=_tensor_info("w", (4,))), 16))

    assert read_gguf_header(path).version == 2


# -- broken files -------------------------------------------------------------------------------------------

Maker = Callable[[Path, Path], Path]


def _missing(tmp: Path, demo: Path) -> Path:
    return tmp / "missing.gguf"


def _empty(tmp: Path, demo: Path) -> Path:
    (tmp / "empty.gguf").write_bytes(b"")
    return tmp / "empty.gguf"


def _directory(tmp: Path, demo: Path) -> Path:
    (tmp / "folder.gguf").mkdir()
    return tmp / "folder.gguf"


def _short_text(tmp: Path, demo: Path) -> Path:
    (tmp / "notes.gguf").write_text("hello judge\n", encoding="utf-8")
    return tmp / "notes.gguf"


def _long_text(tmp: Path, demo: Path) -> Path:
    (tmp / "readme.gguf").write_text("This is not a model, just a long text file.\n" * 20, encoding="utf-8")
    return tmp / "readme.gguf"


def _wrong_magic(tmp: Path, demo: Path) -> Path:
    (tmp / "ggml.gguf").write_bytes(b"ggjt" + bytes(60))
    return tmp / "ggml.gguf"


def _safetensors(tmp: Path, demo: Path) -> Path:
    header = b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    (tmp / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))
    return tmp / "model.safetensors"


def _version(number: int) -> Maker:
    def make(tmp: Path, demo: Path) -> Path:
        path = tmp / f"v{number}.gguf"
        path.write_bytes(_header(version=number).ljust(64, b"\0"))
        return path

    return make


def _demo_prefix(size: Callable[[int], int], name: str) -> Maker:
    def make(tmp: Path, demo: Path) -> Path:
        path = tmp / name
        _copy_prefix(demo, path, size(demo.stat().st_size))
        return path

    return make


def _raw(name: str, data: bytes) -> Maker:
    def make(tmp: Path, demo: Path) -> Path:
        (tmp / name).write_bytes(data)
        return tmp / name

    return make


_ABSURD_STRING = _header(kv_count=1, body=struct.pack("<Q", 1 << 62) + b"key")
_ABSURD_COUNTS = _header(tensor_count=1, kv_count=1 << 40)
_UNKNOWN_VALUE_TYPE = _header(kv_count=1, body=_string("a.key") + struct.pack("<I", 99) + bytes(8))
_ABSURD_ARRAY = _header(kv_count=1, body=_string("a.key") + struct.pack("<IIQ", GGUFValueType.ARRAY,
                                                                         GGUFValueType.UINT8, 1 << 50))
_TOO_MANY_DIMS = _header(tensor_count=1, body=_tensor_info("w", (1,) * 9))
_UNKNOWN_TENSOR_TYPE = _header(tensor_count=1, body=_tensor_info("w", (4,), ggml_type=999))
_NO_TENSORS = _header(kv_count=1, body=_kv_string("general.architecture", "llama"))
_DATA_PAST_END = _with_data(
    _header(tensor_count=1, body=_tensor_info("w", (1024, 1024))), 4 * 1024 * 1024 - 1)
_HEADER_CUT = _header(kv_count=2, body=_kv_string("general.architecture", "llama") + _string("general.na"))


@pytest.mark.parametrize(("make", "reason"), [
    pytest.param(_missing, "no such file", id="missing"),
    pytest.param(_empty, "the file is empty", id="empty"),
    pytest.param(_directory, "not a file", id="directory"),
    pytest.param(_short_text, "not a GGUF model file (only 12 bytes)", id="short-text"),
    pytest.param(_long_text, "wrong magic bytes", id="long-text"),
    pytest.param(_wrong_magic, "wrong magic bytes", id="wrong-magic"),
    pytest.param(_safetensors, "wrong magic bytes", id="safetensors"),
    pytest.param(_version(1), "unsupported GGUF version 1", id="version-1"),
    pytest.param(_version(4), "unsupported GGUF version 4", id="version-4"),
    pytest.param(_demo_prefix(lambda size: size // 2, "half.gguf"), "truncated GGUF file", id="demo-half"),
    pytest.param(_demo_prefix(lambda size: 1 << 20, "first-mb.gguf"), "truncated GGUF file",
                 id="demo-first-mb"),
    pytest.param(_demo_prefix(lambda size: size - 1, "minus-one.gguf"), "truncated GGUF file",
                 id="demo-all-but-last-byte"),
    # Very short prefixes are reported as corrupt: their counts are checked against the (short) file's size.
    pytest.param(_demo_prefix(lambda size: 4096, "first-4k.gguf"), "corrupt GGUF file", id="demo-first-4k"),
    pytest.param(_demo_prefix(lambda size: 30, "thirty.gguf"), "corrupt GGUF file", id="demo-30-bytes"),
    pytest.param(_raw("string.gguf", _ABSURD_STRING), "corrupt GGUF file (string of", id="absurd-string"),
    pytest.param(_raw("counts.gguf", _ABSURD_COUNTS), "impossible tensor or key count", id="absurd-counts"),
    pytest.param(_raw("vtype.gguf", _UNKNOWN_VALUE_TYPE), "unknown value type 99", id="unknown-value-type"),
    pytest.param(_raw("array.gguf", _ABSURD_ARRAY), "corrupt GGUF file (array of", id="absurd-array"),
    pytest.param(_raw("dims.gguf", _TOO_MANY_DIMS), "9 dimensions", id="too-many-dims"),
    pytest.param(_raw("ttype.gguf", _UNKNOWN_TENSOR_TYPE), "unknown type 999", id="unknown-tensor-type"),
    pytest.param(_raw("vocab.gguf", _NO_TENSORS), "holds no tensors", id="no-tensors"),
    pytest.param(_raw("past-end.gguf", _DATA_PAST_END), "tensor data needs", id="data-past-end"),
    pytest.param(_raw("cut.gguf", _HEADER_CUT), "header ends early", id="header-cut"),
])
def test_broken_file_is_a_model_file_error_naming_the_path(make: Maker, reason: str, tmp_path: Path,
                                                           demo_path: Path) -> None:
    path = make(tmp_path, demo_path)

    with pytest.raises(ModelFileError) as info:
        read_gguf_header(path)

    assert str(path) in str(info.value)
    assert info.value.path == path
    assert reason in info.value.reason
    assert "\n" not in str(info.value)


def test_gguf_py_file_cut_by_one_byte(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    _write_tiny_judge(path)
    data = path.read_bytes()
    cut = tmp_path / "tiny-cut.gguf"
    cut.write_bytes(data[:-1])

    with pytest.raises(ModelFileError, match="truncated GGUF file"):
        read_gguf_header(cut)


def test_every_prefix_of_a_small_file_is_refused_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    _write_tiny_judge(path)
    data = path.read_bytes()
    prefix = tmp_path / "prefix.gguf"
    for size in range(len(data)):
        prefix.write_bytes(data[:size])
        with pytest.raises(ModelFileError):
            read_gguf_header(prefix)


def test_symlink_to_the_demo_judge_is_read(tmp_path: Path, demo_path: Path) -> None:
    link = tmp_path / "judge.gguf"
    link.symlink_to(demo_path)

    assert read_gguf_header(link).data_end == demo_path.stat().st_size


def test_demo_copy_reads_the_same(tmp_path: Path, demo_path: Path) -> None:
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(demo_path, copy)

    assert read_gguf_header(copy).metadata == read_gguf_header(demo_path).metadata
