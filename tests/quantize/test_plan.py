"""The memory planner against published llama.cpp figures, llama.cpp's own dry run, and bad sources."""

from __future__ import annotations

import ctypes
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pynvml
import pytest
from gguf import GGUFReader, GGUFWriter, LlamaFileType
from judgedesk.core import InputError, ModelFileError, read_gguf_header
from judgedesk.quantize import detect_memory, plan_memory
from judgedesk.quantize._errors import CheckpointError
from judgedesk.quantize._tensor_type_rules import planned_tensor_types

GIB = 1 << 30
KIB = 1 << 10

LLAMA_7B = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
            "intermediate_size": 11008, "vocab_size": 32000, "max_position_embeddings": 4096}
LLAMA_13B = {"model_type": "llama", "hidden_size": 5120, "num_hidden_layers": 40, "num_attention_heads": 40,
             "intermediate_size": 13824, "vocab_size": 32000, "max_position_embeddings": 4096}
MISTRAL_7B = {"model_type": "mistral", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
              "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000,
              "max_position_embeddings": 32768}


def _folder(tmp_path: Path, config: dict[str, object], name: str = "model") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


# Published llama.cpp sizes (README quantization table, GiB = 2^30).
@pytest.mark.parametrize(("config", "qtype", "gib"), [
    (LLAMA_7B, "Q4_K_M", 3.80), (LLAMA_7B, "Q5_K_M", 4.45), (LLAMA_7B, "Q8_0", 6.67), (LLAMA_7B, "F16", 12.55),
    (LLAMA_13B, "Q4_K_M", 7.33), (LLAMA_13B, "Q5_K_M", 8.60), (LLAMA_13B, "Q8_0", 12.88), (LLAMA_13B, "F16", 24.24),
])
def test_weight_sizes_match_published_llama_figures(tmp_path: Path, config: dict[str, object], qtype: str,
                                                     gib: float) -> None:
    plan = plan_memory(_folder(tmp_path, config))
    assert plan.row(qtype).weights_bytes / GIB == pytest.approx(gib, rel=0.02)


@pytest.mark.parametrize(("config", "per_token"), [(LLAMA_7B, 512 * KIB), (LLAMA_13B, 800 * KIB),
                                                   (MISTRAL_7B, 128 * KIB)])
def test_kv_cache_per_token(tmp_path: Path, config: dict[str, object], per_token: int) -> None:
    plan = plan_memory(_folder(tmp_path, config), n_ctx=2048)
    assert plan.kv_bytes_per_token == per_token
    assert plan.row("Q4_K_M").kv_cache_bytes == per_token * 2048


def test_quantized_kv_cache_is_smaller_by_the_q8_0_ratio(tmp_path: Path) -> None:
    folder = _folder(tmp_path, LLAMA_7B)
    f16 = plan_memory(folder, n_ctx=4096).row("Q4_K_M").kv_cache_bytes
    q8 = plan_memory(folder, n_ctx=4096, cache_type="q8_0").row("Q4_K_M").kv_cache_bytes
    assert q8 == f16 // 2 * 34 // 32


def test_quality_order_gives_falling_sizes(tmp_path: Path) -> None:
    plan = plan_memory(_folder(tmp_path, LLAMA_7B))
    sizes = [plan.row(q).weights_bytes for q in ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S")]
    assert sizes == sorted(sizes, reverse=True)
    assert plan.row("Q4_K_M").bits_per_weight == pytest.approx(4.85, abs=0.05)


def test_13b_f16_does_not_fit_24_gib_and_says_how_many_layers_to_offload(tmp_path: Path) -> None:
    plan = plan_memory(_folder(tmp_path, LLAMA_13B), budget_gib=24, n_ctx=4096)
    row = plan.row("F16")
    assert plan.budget_label == "RTX 3090 / 4090"
    assert row.total_bytes / GIB == pytest.approx(27.8, rel=0.02)
    assert not row.fits
    assert row.gpu_layers is not None and 0 < row.gpu_layers < plan.n_layers
    assert row.compute_bytes < row.gpu_bytes <= plan.budget_bytes
    assert row.cpu_bytes == row.total_bytes - row.gpu_bytes
    # One more layer would not fit: the count is the largest possible.
    per_layer = (row.weights_bytes - 2 * 5120 * 32000 * 2) / plan.n_layers + row.kv_cache_bytes / plan.n_layers
    assert row.gpu_bytes + per_layer > plan.budget_bytes
    assert plan.row("Q4_K_M").fits and plan.row("Q4_K_M").gpu_layers == plan.n_layers
    text = plan.format_table()
    assert "RTX 3090 / 4090" in text and f"{row.gpu_layers} of 40" in text


def test_smaller_budgets_offload_fewer_layers(tmp_path: Path) -> None:
    folder = _folder(tmp_path, LLAMA_13B)
    layers = [plan_memory(folder, budget_gib=budget).row("Q8_0").gpu_layers for budget in (8, 12, 16, 24)]
    assert layers[0] is not None and layers[1] is not None and layers[2] is not None
    assert 0 < layers[0] < layers[1] < layers[2] < 40 and layers[3] == 40
    assert plan_memory(folder, budget_gib=48).row("F16").fits


def test_cpu_plan_states_ram_without_offload(tmp_path: Path) -> None:
    plan = plan_memory(_folder(tmp_path, LLAMA_13B), budget_gib=16, device="cpu")
    assert plan.budget_label == "system RAM"
    assert all(row.gpu_layers is None and row.gpu_bytes == 0 for row in plan.rows)
    assert not plan.row("Q8_0").fits and plan.row("Q4_K_M").fits
    assert plan.row("Q4_K_M").cpu_bytes == plan.row("Q4_K_M").total_bytes
    assert "GPU layers" not in plan.format_table()


def test_context_is_capped_at_the_trained_length(tmp_path: Path) -> None:
    plan = plan_memory(_folder(tmp_path, LLAMA_7B), n_ctx=32768)
    assert plan.n_ctx == 4096
    assert any("capped" in note for note in plan.notes)


def test_plan_serialises_to_json(tmp_path: Path) -> None:
    data = json.loads(json.dumps(plan_memory(_folder(tmp_path, MISTRAL_7B)).to_dict()))
    assert data["n_kv_heads"] == 8 and data["budget_gib"] == 24
    assert [row["qtype"] for row in data["rows"]][:8] == ["F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M",
                                                          "Q4_K_S", "Q4_0"]


@pytest.mark.real_model
def test_gguf_source_uses_its_real_tensors(demo_path: Path) -> None:
    plan = plan_memory(demo_path, n_ctx=4096)
    own = plan.row("Q4_1")
    assert plan.file_type == "Q4_1" and own.this_file and own.file_bytes == demo_path.stat().st_size
    assert own.weights_bytes == pytest.approx(demo_path.stat().st_size, rel=0.02)
    # Exactly the bytes the file's tensors take: the type rules reproduce llama.cpp's choices for this model.
    reader = GGUFReader(demo_path)
    assert own.weights_bytes == sum(int(t.n_bytes) for t in reader.tensors)
    assert plan.n_layers == 30 and plan.n_kv_heads == 3
    assert plan.kv_bytes_per_token == 2 * 30 * 3 * 64 * 2
    assert "this file (Q4_1)" in plan.format_table()


@pytest.mark.real_model
def test_config_only_plan_equals_the_gguf_plan(tmp_path: Path, demo_path: Path) -> None:
    # SmolLM2-135M-Instruct's published config.json (the demo judge's checkpoint).
    config = {"model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9,
              "num_key_value_heads": 3, "intermediate_size": 1536, "vocab_size": 49152, "tie_word_embeddings": True,
              "max_position_embeddings": 8192, "torch_dtype": "bfloat16"}
    from_config = plan_memory(_folder(tmp_path, config))
    from_file = plan_memory(demo_path)
    assert from_config.parameters == from_file.parameters
    assert from_config.kv_bytes_per_token == from_file.kv_bytes_per_token
    for qtype in ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q2_K"):
        assert from_config.row(qtype).weights_bytes == from_file.row(qtype).weights_bytes, qtype


# -- the type rules against llama.cpp's own dry run ------------------------------------------------------------


def _write_small_model(path: Path, *, n_layers: int, heads: int, kv_heads: int) -> Path:
    """An F16 llama with rows divisible by 256, so every K-quant rule applies without shape fallbacks."""
    hidden, ffn, vocab = 256, 512, 512
    writer = GGUFWriter(path, "llama")
    writer.add_block_count(n_layers)
    writer.add_context_length(256)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(LlamaFileType.MOSTLY_F16)
    rng = np.random.default_rng(0)

    def add(name: str, *shape: int) -> None:
        dtype = np.float32 if len(shape) == 1 else np.float16
        writer.add_tensor(name, (rng.standard_normal(shape[::-1]) * 0.02).astype(dtype))

    head_dim = hidden // heads
    add("token_embd.weight", hidden, vocab)
    add("output_norm.weight", hidden)
    add("output.weight", hidden, vocab)
    for i in range(n_layers):
        for name, shape in (("attn_norm", (hidden,)), ("ffn_norm", (hidden,)), ("attn_q", (hidden, heads * head_dim)),
                            ("attn_k", (hidden, kv_heads * head_dim)), ("attn_v", (hidden, kv_heads * head_dim)),
                            ("attn_output", (heads * head_dim, hidden)), ("ffn_gate", (hidden, ffn)),
                            ("ffn_up", (hidden, ffn)), ("ffn_down", (ffn, hidden))):
            add(f"blk.{i}.{name}.weight", *shape)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# "[  12/ 147] blk.0.attn_v.weight - [ 256, 64, 1, 1], type = f16, size = 0.031 MiB -> 0.010 MiB (q6_K)"
_DRY_RUN_LINE = re.compile(r"\]\s+(\S+)\s+- \[[^\]]*\], type =\s+(\w+), "
                           r"size =\s+[\d.]+ MiB(?: ->\s+[\d.]+ MiB \((\w+)\))?")


def _llama_cpp_types(path: Path, qtype: str) -> dict[str, str]:
    """Per tensor, the type llama.cpp's quantizer would write, from its dry run log."""
    from judgedesk.core import load_llama_cpp
    from llama_cpp import _logger

    llama_cpp = load_llama_cpp()

    lines: list[str] = []

    @llama_cpp.llama_log_callback
    def capture(level: int, text: bytes, user_data: object) -> None:
        lines.append(text.decode("utf-8", errors="replace"))

    llama_cpp.llama_log_set(capture, ctypes.c_void_p(0))
    try:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{qtype}")
        params.dry_run = True
        params.allow_requantize = True
        status = llama_cpp.llama_model_quantize(str(path).encode(), str(path.with_suffix(".none")).encode(),
                                                ctypes.byref(params))
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
    assert status == 0
    return {m.group(1): (m.group(3) or m.group(2)).upper() for m in _DRY_RUN_LINE.finditer("".join(lines))}


def _planned(path: Path, qtype: str) -> dict[str, str]:
    header = read_gguf_header(path)
    tensors = [(t.name, t.shape, int(t.ggml_type)) for t in header.tensors.values()]
    return planned_tensor_types(tensors, qtype, n_heads=int(header.metadata["llama.attention.head_count"]),
                                n_kv_heads=int(header.metadata["llama.attention.head_count_kv"]))


_RULE_TYPES = ["Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q3_K_L", "Q2_K", "F16"]


@pytest.mark.real_model
@pytest.mark.parametrize("heads", [(4, 4), (8, 2)], ids=["mha", "gqa4"])
def test_tensor_types_match_llama_cpp_dry_run(tmp_path: Path, heads: tuple[int, int]) -> None:
    model = _write_small_model(tmp_path / "small.gguf", n_layers=16, heads=heads[0], kv_heads=heads[1])
    for qtype in _RULE_TYPES:
        expected = _llama_cpp_types(model, qtype)
        assert len(expected) == 3 + 16 * 9
        assert _planned(model, qtype) == expected, qtype
    # The rules are not trivially uniform: Q4_K_M mixes three types.
    assert set(_planned(model, "Q4_K_M").values()) == {"F32", "Q4_K", "Q6_K"}


@pytest.mark.real_model
def test_tensor_types_match_llama_cpp_on_the_demo_judge(demo_path: Path) -> None:
    # 576-wide rows are not divisible by 256: llama.cpp falls back to other types, tied embeddings to Q8_0.
    for qtype in ("Q4_K_M", "Q6_K"):
        assert _planned(demo_path, qtype) == _llama_cpp_types(demo_path, qtype), qtype


# -- bad sources ---------------------------------------------------------------------------------------------------


def test_config_json_itself_is_accepted(tmp_path: Path) -> None:
    folder = _folder(tmp_path, MISTRAL_7B)
    assert plan_memory(folder / "config.json").to_dict() == {**plan_memory(folder).to_dict(),
                                                             "source": str(folder / "config.json")}


def test_folder_without_config_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=re.escape(str(tmp_path)) + ".*config.json"):
        plan_memory(tmp_path)


def test_missing_path_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=re.escape(str(tmp_path / "nowhere"))):
        plan_memory(tmp_path / "nowhere")


def test_config_without_a_needed_field_names_the_field(tmp_path: Path) -> None:
    config = dict(LLAMA_7B)
    del config["intermediate_size"]
    with pytest.raises(CheckpointError, match="intermediate_size"):
        plan_memory(_folder(tmp_path, config))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match=re.escape(str(bad / "config.json"))):
        plan_memory(bad)


def test_non_gguf_file_is_a_model_file_error_naming_it(tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      " * 4)
    with pytest.raises(ModelFileError, match=re.escape(str(weights))):
        plan_memory(weights)


def test_bad_options_are_input_errors(tmp_path: Path) -> None:
    folder = _folder(tmp_path, LLAMA_7B)
    with pytest.raises(InputError, match="q3_x"):
        plan_memory(folder, cache_type="q3_x")
    with pytest.raises(InputError, match="device"):
        plan_memory(folder, device="tpu")
    with pytest.raises(InputError, match="budget"):
        plan_memory(folder, budget_gib=0)


# -- this computer ----------------------------------------------------------------------------------------------------


def test_detect_memory_reports_ram() -> None:
    memory = detect_memory()
    assert memory.ram_total_bytes is not None and memory.ram_total_bytes > 256 * (1 << 20)
    assert memory.ram_available_bytes is not None and 0 < memory.ram_available_bytes <= memory.ram_total_bytes
    assert json.loads(json.dumps(memory.to_dict()))["ram_total_bytes"] == memory.ram_total_bytes


class _FakeNvml:
    """pynvml's functions as detection calls them, for the GPUs given; `failing` names a call that raises on GPU 1."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, gpus: list[tuple[str, int, int]], *,
                 failing: str | None = None) -> None:
        self.gpus = gpus
        self.failing = failing
        self.shut_down = False
        for name in ("nvmlInit", "nvmlShutdown", "nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex",
                     "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetName"):
            monkeypatch.setattr(pynvml, name, getattr(self, name))

    def _check(self, call: str, index: int) -> None:
        if call == self.failing and index == 1:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)

    def nvmlInit(self) -> None:
        if self.failing == "nvmlInit":
            raise pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)

    def nvmlShutdown(self) -> None:
        self.shut_down = True

    def nvmlDeviceGetCount(self) -> int:
        if self.failing == "nvmlDeviceGetCount":
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN)
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._check("nvmlDeviceGetHandleByIndex", index)
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        self._check("nvmlDeviceGetMemoryInfo", handle)
        _, total, free = self.gpus[handle]
        return SimpleNamespace(total=total, free=free, used=total - free)

    def nvmlDeviceGetName(self, handle: int) -> str:
        self._check("nvmlDeviceGetName", handle)
        return self.gpus[handle][0]


_H100 = ("NVIDIA H100 80GB HBM3", 80 * GIB, 79 * GIB)
_RTX = ("NVIDIA GeForce RTX 4090", 24 * GIB, 20 * GIB)
_A6000 = ("NVIDIA RTX A6000", 48 * GIB, 47 * GIB)


def test_detect_memory_without_the_nvml_library_lists_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_library(name: str) -> None:
        raise OSError(f"{name}: cannot open shared object file: No such file or directory")

    # pynvml's own loader, finding no library (as on a computer without NVIDIA's driver).
    monkeypatch.setattr(pynvml, "nvmlLib", None)
    monkeypatch.setattr(pynvml, "CDLL", no_library)
    memory = detect_memory()
    assert memory.gpus == ()
    assert memory.ram_total_bytes is not None


def test_detect_memory_reads_gpus_through_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = _FakeNvml(monkeypatch, [_H100, _RTX])
    gpus = detect_memory().gpus
    assert [(g.index, g.name, g.total_bytes, g.free_bytes) for g in gpus] == [(0, *_H100), (1, *_RTX)]
    assert nvml.shut_down


@pytest.mark.parametrize("call", ["nvmlDeviceGetHandleByIndex", "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetName"])
def test_a_driver_error_on_one_gpu_leaves_it_out(monkeypatch: pytest.MonkeyPatch, call: str) -> None:
    nvml = _FakeNvml(monkeypatch, [_H100, _RTX, _A6000], failing=call)
    assert [(g.index, g.name) for g in detect_memory().gpus] == [(0, _H100[0]), (2, _A6000[0])]
    assert nvml.shut_down


def test_a_driver_that_cannot_count_its_gpus_lists_none(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = _FakeNvml(monkeypatch, [_H100], failing="nvmlDeviceGetCount")
    assert detect_memory().gpus == ()
    assert nvml.shut_down


def test_a_driver_that_cannot_start_lists_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = _FakeNvml(monkeypatch, [_H100], failing="nvmlInit")
    assert detect_memory().gpus == ()
    assert not nvml.shut_down  # NVML was never started
