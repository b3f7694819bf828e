"""The memory planner against what llama.cpp itself allocates, and `sequences_that_fit`.

The demo judge and synthetic judges (the 2-layer test-tiny shape, and a 1-layer shape whose attention scores
outweigh the logits, as a 7B's do at 4096 tokens) are loaded by llama.cpp at several contexts and sequence counts;
the planner's weights, KV cache and compute buffer must be within 5% of the buffers llama.cpp reports
(bench/judge_memory.py does the same for the 7B and 13B shapes).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from judgedesk.core import InputError, ModelFileError, read_gguf_header
from judgedesk.core.cli import main
from judgedesk.quantize import _synthetic, plan_memory, sequences_that_fit, synthetic_shape, write_synthetic_gguf
from judgedesk.quantize._llama_buffers import measure_llama_buffers
from judgedesk.quantize._model_shape import ModelShape, ModelTensor
from judgedesk.quantize._tensor_type_rules import tensor_bytes, tensor_types

# One layer, 1024 wide with 16 heads: at 4096 tokens the attention scores (512 x 4096 x 16 floats) are the compute
# buffer's largest part, as in the 7B and 13B judges; at 1024 tokens the logits are.
_WIDE = {"hidden_size": 1024, "num_hidden_layers": 1, "num_attention_heads": 16, "num_key_value_heads": 4,
         "intermediate_size": 2048, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}


@pytest.fixture(scope="module")
def judges(tmp_path_factory: pytest.TempPathFactory, demo_path: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("plan-vs-llama")
    out = {"demo": demo_path,
           "test-tiny": write_synthetic_gguf("test-tiny", folder / "tiny.gguf", context_length=4096).path}
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(_synthetic.SYNTHETIC_SHAPES, "wide-attention", _WIDE)
        out["wide-attention"] = write_synthetic_gguf("wide-attention", folder / "wide.gguf").path
    return out


@pytest.mark.parametrize("shape", ["demo", "test-tiny", "wide-attention"])
@pytest.mark.parametrize(("n_ctx", "sequences"), [(1024, 1), (4096, 1), (4096, 4), (1000, 2)])
def test_planner_matches_llama_cpps_buffers_within_5_percent(judges: dict[str, Path], shape: str, n_ctx: int,
                                                              sequences: int) -> None:
    path = judges[shape]
    plan = plan_memory(path, n_ctx=n_ctx, sequences=sequences, device="cpu")
    row = plan.row(plan.file_type or "")
    llama = measure_llama_buffers(path, n_ctx=n_ctx, n_seq=sequences)
    assert row.weights_bytes == pytest.approx(llama.model, rel=0.05)
    assert row.kv_cache_bytes == pytest.approx(llama.kv, rel=0.05)
    assert row.compute_bytes == pytest.approx(llama.compute + llama.output, rel=0.05)
    assert row.total_bytes == pytest.approx(llama.total, rel=0.05)
    # Each sequence has its own cache: the KV buffer grows with their number (and a context of 1000 is rounded
    # up to 1024 cells, as llama.cpp does).
    one = measure_llama_buffers(path, n_ctx=n_ctx, n_seq=1) if sequences > 1 else llama
    assert llama.kv == sequences * one.kv


def test_measured_buffers_name_their_devices(judges: dict[str, Path]) -> None:
    llama = measure_llama_buffers(judges["test-tiny"], n_ctx=512)
    assert llama.by_device["CPU_Mapped model"] == llama.model > 0
    assert llama.by_device["CPU KV"] == llama.kv > 0 and llama.compute > 0


# -- sequences_that_fit -----------------------------------------------------------------------------------------------


def _need(path: Path, n_ctx: int, sequences: int) -> int:
    """GPU bytes for `sequences` of `n_ctx`, from the plan: weights less the embeddings (kept on the CPU by
    llama.cpp), the KV caches, the compute and output buffers."""
    plan = plan_memory(path, n_ctx=n_ctx, sequences=sequences)
    row = plan.row(plan.file_type or "")
    embedding = read_gguf_header(path).tensors["token_embd.weight"]
    embedding_bytes = tensor_bytes(ModelTensor(embedding.name, embedding.shape, embedding.ggml_type),
                                   embedding.ggml_type)
    return row.weights_bytes - embedding_bytes + row.kv_cache_bytes + row.compute_bytes


def test_sequences_that_fit_takes_the_most_that_fit(judges: dict[str, Path]) -> None:
    path = judges["wide-attention"]
    three = _need(path, 4096, 3)
    assert sequences_that_fit(path, n_ctx=4096, free_bytes=three) == 3
    assert sequences_that_fit(path, n_ctx=4096, free_bytes=three - 1) == 2
    assert sequences_that_fit(str(path), n_ctx=4096, free_bytes=_need(path, 4096, 8)) == 8


def test_sequences_that_fit_is_at_least_one_and_at_most_the_cap(judges: dict[str, Path]) -> None:
    path = judges["wide-attention"]
    assert sequences_that_fit(path, n_ctx=4096, free_bytes=0) == 1
    assert sequences_that_fit(path, n_ctx=4096, free_bytes=1 << 50) == 8
    assert sequences_that_fit(path, n_ctx=4096, free_bytes=1 << 50, max_sequences=3) == 3


def test_sequences_that_fit_caps_the_context_at_the_trained_length(judges: dict[str, Path]) -> None:
    path = judges["wide-attention"]  # trained for 4096 tokens
    free = _need(path, 4096, 2)
    assert sequences_that_fit(path, n_ctx=32768, free_bytes=free) == sequences_that_fit(path, n_ctx=4096,
                                                                                          free_bytes=free) == 2


def test_sequences_that_fit_a_13b_judge_on_a_24_gib_card() -> None:
    # Llama-2-13B at Q4_K_M: weights about 7.3 GiB, 3.1 GiB of f16 KV cache per 4096-token sequence, so five
    # sequences fit 24 GiB and not six; a q8_0 cache (half the size) fits the cap of eight.
    shape = synthetic_shape("llama2-13b", vocab_size=32000, context_length=4096)
    quantized = _quantized(shape, "Q4_K_M")
    assert sequences_that_fit(quantized, n_ctx=4096, free_bytes=24 << 30) == 5
    assert sequences_that_fit(quantized, n_ctx=4096, free_bytes=24 << 30, cache_type="q8_0") == 8
    assert sequences_that_fit(quantized, n_ctx=4096, free_bytes=8 << 30) == 1


def _quantized(shape: ModelShape, qtype: str) -> ModelShape:
    """`shape` with every tensor at the type llama-quantize gives it for `qtype`."""
    types = tensor_types(shape.tensors, qtype, architecture="llama", n_layers=shape.n_layers, n_heads=shape.n_heads,
                         n_kv_heads=max(shape.n_kv_heads), n_experts=0)
    return replace(shape, tensors=tuple(ModelTensor(t.name, t.shape, ggml_type)
                                        for t, ggml_type in zip(shape.tensors, types, strict=True)))


def test_sequences_that_fit_refuses_bad_arguments(judges: dict[str, Path]) -> None:
    path = judges["test-tiny"]
    with pytest.raises(InputError, match="cache_type"):
        sequences_that_fit(path, n_ctx=4096, free_bytes=1 << 30, cache_type="q3")
    with pytest.raises(InputError, match="n_ctx"):
        sequences_that_fit(path, n_ctx=0, free_bytes=1 << 30)
    with pytest.raises(InputError, match="max_sequences"):
        sequences_that_fit(path, n_ctx=4096, free_bytes=1 << 30, max_sequences=0)


def test_plan_on_the_command_line_takes_sequences(judges: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rows = {}
    for sequences in (1, 4):
        assert main(["quantize", "plan", str(judges["test-tiny"]), "--cpu", "--ctx", "4096", "--sequences",
                     str(sequences), "--json"]) == 0
        plan = json.loads(capsys.readouterr().out)
        assert plan["sequences"] == sequences
        rows[sequences] = plan["rows"][0]
    assert rows[4]["kv_cache_bytes"] == 4 * rows[1]["kv_cache_bytes"]
    assert main(["quantize", "plan", str(judges["test-tiny"]), "--ctx", "4096", "--sequences", "4"]) == 0
    assert "Context 4096 tokens x 4 sequences" in capsys.readouterr().out


def test_a_file_llama_cpp_cannot_load_is_an_error_naming_it(judges: dict[str, Path], tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(judges["test-tiny"].read_bytes()[:100_000])
    with pytest.raises(ModelFileError, match="truncated.gguf.*failed"):
        measure_llama_buffers(truncated, n_ctx=512)
