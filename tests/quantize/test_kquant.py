"""K-quant quantization of the real demo judge through llama.cpp, in a child process.

The demo judge ships as Q4_1, so an F16 file is made from it first (requantizing on purpose) and every other type
is quantized from that F16 file, once per module.
"""

from __future__ import annotations

import struct
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter, LlamaFileType
from judgedesk.core import (
    DecodingSettings,
    EvalItem,
    InputError,
    Judge,
    ModelFileError,
    create_backend,
    read_gguf_header,
)
from judgedesk.quantize import _kquant, plan_memory
from judgedesk.quantize._errors import QuantizeCancelled, QuantizeError
from judgedesk.quantize._kquant import QUANT_TYPES, quantize_gguf, read_imatrix

pytestmark = pytest.mark.real_model

THREADS = 2
PAIR = EvalItem(id="capital", instruction="What is the capital of France?",
                responses=("The capital of France is Paris.", "France's capital is Berlin."))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kquant")


@pytest.fixture(scope="module")
def f16_run(folder: Path, demo_path: Path) -> tuple[Path, list[tuple[int, int, str]]]:
    """The demo judge as F16 (written into a folder, so the name is derived), with the progress it reported."""
    calls: list[tuple[int, int, str]] = []
    out = quantize_gguf(demo_path, folder, qtype="f16", allow_requantize=True, threads=THREADS,
                        progress=lambda done, total, name: calls.append((done, total, name)))
    return out, calls


@pytest.fixture(scope="module")
def f16(f16_run: tuple[Path, list[tuple[int, int, str]]]) -> Path:
    return f16_run[0]


@pytest.fixture(scope="module")
def quantized(f16: Path, folder: Path) -> dict[str, Path]:
    return {qtype: quantize_gguf(f16, folder / f"demo.{qtype}.gguf", qtype=qtype, threads=THREADS)
            for qtype in ("Q8_0", "Q4_K_M")}


def test_quant_types_are_the_bindings_ftype_values() -> None:
    import llama_cpp

    expected = {"F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18,
                "Q3_K_M": 12, "Q2_K": 10}
    assert {name: QUANT_TYPES[name] for name in expected} == expected
    for name, value in QUANT_TYPES.items():
        assert getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{name}") == value


def test_f16_from_the_q4_1_demo(f16_run: tuple[Path, list[tuple[int, int, str]]], demo_path: Path) -> None:
    out, calls = f16_run
    assert out.name == "SmolLM2-135M-Instruct.F16.gguf"  # the source's type suffix is replaced, not stacked
    header = read_gguf_header(out)
    assert header.file_type == "F16"
    assert header.tensor_count == read_gguf_header(demo_path).tensor_count == 272
    # Progress: once per tensor, counting up to the tensor count, naming real tensors.
    assert [done for done, _, _ in calls] == list(range(1, 273))
    assert {total for _, total, _ in calls} == {272}
    assert {name for _, _, name in calls} == set(header.tensors)


def test_outputs_have_their_type_and_the_planned_size(f16: Path, quantized: dict[str, Path]) -> None:
    sizes = {qtype: path.stat().st_size for qtype, path in quantized.items()}
    for qtype, path in quantized.items():
        assert read_gguf_header(path).file_type == qtype
    assert f16.stat().st_size > sizes["Q8_0"] > sizes["Q4_K_M"]
    plan = plan_memory(f16)
    for qtype, size in sizes.items():
        assert plan.row(qtype).weights_bytes == pytest.approx(size, rel=0.03)
    assert not list(f16.parent.glob("*.part"))


def _probabilities(path: Path) -> tuple[dict[str, float], str]:
    backend = create_backend("llama.cpp", path=path, n_ctx=1024, n_threads=THREADS)
    with Judge(backend, format="pandalm", decoding=DecodingSettings(max_tokens=16)) as judge:
        result = judge.judge_both_orders(PAIR)
    for verdict in (result.ab, result.ba):
        assert verdict is not None and verdict.status == "ok", verdict
        assert verdict.probabilities is not None
    assert result.ab.probabilities is not None
    return dict(result.ab.probabilities), result.decision


def test_quantized_judges_load_and_judge(demo_path: Path, quantized: dict[str, Path]) -> None:
    original, _ = _probabilities(demo_path)
    for qtype, path in quantized.items():
        probabilities, decision = _probabilities(path)
        assert decision in {"A", "B", "tie", "inconsistent"}
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        if qtype == "Q8_0":  # Q4_1 -> F16 -> Q8_0 barely moves the weights: the judge's confidence barely moves
            for label, p in original.items():
                assert probabilities[label] == pytest.approx(p, abs=0.05)


def test_cancel_midway_leaves_nothing(f16: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int, name: str) -> None:
        seen.append(done)
        if done >= 40:
            cancel.set()

    with pytest.raises(QuantizeCancelled, match="cancelled"):
        quantize_gguf(f16, tmp_path / "cancelled.gguf", qtype="Q8_0", threads=1, progress=progress, cancel=cancel)
    assert 40 <= max(seen) < 272
    assert list(tmp_path.iterdir()) == []


def test_corrupt_input_is_a_model_file_error(demo_path: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(demo_path.read_bytes()[: 3 << 20])
    with pytest.raises(ModelFileError, match="truncated"):
        quantize_gguf(truncated, tmp_path / "out.gguf", qtype="Q8_0", allow_requantize=True)
    text = tmp_path / "notes.gguf"
    text.write_text("not a model at all, just some text\n" * 4)
    with pytest.raises(ModelFileError, match=str(text)):
        quantize_gguf(text, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_unknown_type_lists_the_known_ones(f16: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Q4_K_X.*known types: .*Q8_0.*Q4_K_M"):
        quantize_gguf(f16, tmp_path / "out.gguf", qtype="Q4_K_X")


def test_requantizing_is_refused_unless_allowed(demo_path: Path, tmp_path: Path) -> None:
    with pytest.raises(QuantizeError, match=r"already quantized \(Q4_1\).*allow_requantize"):
        quantize_gguf(demo_path, tmp_path / "out.gguf", qtype="Q8_0")
    assert list(tmp_path.iterdir()) == []


def test_output_folder_must_exist(f16: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="output folder does not exist"):
        quantize_gguf(f16, tmp_path / "missing" / "out.gguf")


def test_llama_cpp_failure_is_its_reason(tmp_path: Path) -> None:
    model = tmp_path / "unknown-arch.gguf"
    writer = GGUFWriter(model, "notamodel")
    writer.add_file_type(LlamaFileType.MOSTLY_F16)
    writer.add_tensor("token_embd.weight", np.zeros((8, 32), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(QuantizeError, match="notamodel"):
        quantize_gguf(model, tmp_path / "out.gguf", qtype="Q8_0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unknown-arch.gguf"]


def test_a_crashing_child_is_an_error_not_a_crash(f16: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "aborting_worker.py").write_text("import os, sys\nsys.stdin.read()\n"
                                                 "print('ggml: fatal error', file=sys.stderr, flush=True)\n"
                                                 "os.abort()\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(_kquant, "_WORKER", "aborting_worker")
    out = tmp_path / "out" / "model.gguf"
    out.parent.mkdir()
    expected = "SIGABRT" if sys.platform != "win32" else "exit code"
    with pytest.raises(QuantizeError, match=f"{expected}.*ggml: fatal error"):
        quantize_gguf(f16, out, qtype="Q8_0")
    assert list(out.parent.iterdir()) == []


# -- importance matrices ----------------------------------------------------------------------------------------


def _imatrix_data(model: Path) -> dict[str, tuple[np.ndarray, float]]:
    """Per matrix weight (what llama-imatrix records): squared-activation sums over `count` tokens."""
    rng = np.random.default_rng(7)
    data = {}
    for tensor in read_gguf_header(model).tensors.values():
        if len(tensor.shape) == 2 and tensor.name != "token_embd.weight":
            count = 64.0
            data[tensor.name] = ((rng.gamma(0.5, 2.0, size=tensor.shape[0]) * count).astype(np.float32), count)
    return data


def _write_imatrix_gguf(path: Path, data: dict[str, tuple[np.ndarray, float]]) -> Path:
    writer = GGUFWriter(path, "imatrix")
    writer.add_type("imatrix")
    for name, (sums, count) in data.items():
        writer.add_tensor(f"{name}.in_sum2", sums.reshape(1, -1))
        writer.add_tensor(f"{name}.counts", np.array([[count]], dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _write_imatrix_legacy(path: Path, data: dict[str, tuple[np.ndarray, float]]) -> Path:
    parts = [struct.pack("<i", len(data))]
    for name, (sums, count) in data.items():
        encoded = name.encode()
        parts += [struct.pack("<i", len(encoded)), encoded, struct.pack("<ii", int(count), sums.size),
                  sums.astype("<f4").tobytes()]
    parts += [struct.pack("<i", 1), struct.pack("<i", 4), b"test"]  # last call and data set name
    path.write_bytes(b"".join(parts))
    return path


def test_imatrix_formats_read_to_the_same_means(f16: Path, tmp_path: Path) -> None:
    data = _imatrix_data(f16)
    from_gguf = read_imatrix(_write_imatrix_gguf(tmp_path / "m.imatrix.gguf", data))
    from_dat = read_imatrix(_write_imatrix_legacy(tmp_path / "m.imatrix.dat", data))
    assert from_gguf.keys() == from_dat.keys() == data.keys()
    name = "blk.3.ffn_down.weight"
    np.testing.assert_allclose(from_gguf[name], data[name][0] / 64.0, rtol=1e-6)
    np.testing.assert_allclose(from_dat[name], from_gguf[name], rtol=1e-6)


def test_imatrix_changes_a_q4_k_m_quantization(f16: Path, quantized: dict[str, Path], tmp_path: Path) -> None:
    matrix = _write_imatrix_gguf(tmp_path / "m.imatrix.gguf", _imatrix_data(f16))
    weighted = quantize_gguf(f16, tmp_path / "weighted.gguf", qtype="Q4_K_M", threads=THREADS, imatrix=matrix)
    assert read_gguf_header(weighted).file_type == "Q4_K_M"
    assert weighted.stat().st_size == quantized["Q4_K_M"].stat().st_size  # the same types, rounded differently
    assert weighted.read_bytes() != quantized["Q4_K_M"].read_bytes()


def test_wrong_imatrix_files_are_clear_errors(f16: Path, demo_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.gguf"
    with pytest.raises(InputError, match="not an importance matrix.*in_sum2"):
        quantize_gguf(f16, out, imatrix=demo_path)
    garbage = tmp_path / "garbage.dat"
    garbage.write_bytes(b"\xff" * 64)
    with pytest.raises(InputError, match=f"{garbage}.*not an importance matrix"):
        quantize_gguf(f16, out, imatrix=garbage)
    other_model = {"blk.0.attn_q.weight": (np.ones(4096, dtype=np.float32), 1.0)}
    with pytest.raises(InputError, match="blk.0.attn_q.weight.*4096.*576.*another model"):
        quantize_gguf(f16, out, imatrix=_write_imatrix_gguf(tmp_path / "other.gguf", other_model))
    unrelated = {"encoder.layer.0.weight": (np.ones(8, dtype=np.float32), 1.0)}
    with pytest.raises(InputError, match="none of its entries"):
        quantize_gguf(f16, out, imatrix=_write_imatrix_legacy(tmp_path / "unrelated.dat", unrelated))
    with pytest.raises(InputError, match="no such importance matrix"):
        quantize_gguf(f16, out, imatrix=tmp_path / "missing.dat")
    assert not out.exists()
