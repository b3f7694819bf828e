"""Converted Llama and Mistral checkpoints compute in llama.cpp what they computed in transformers.

Tiny random models (seeded) with a trained SentencePiece tokenizer are saved as real safetensors checkpoints,
converted, loaded with llama.cpp, and compared position by position with the transformers forward pass on the
same token ids. Measured on the development machine (llama.cpp 0.3.36, CPU): an f32 GGUF with an f32 KV cache
differs from transformers by at most 3.8e-5 (the bound asserted is 1e-3); f16 by at most 0.06 on logits spanning
about +-7.3 (bound 0.1). Skipping the Q/K permutation moves logits by about 11, so these bounds catch it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from judgedesk.core import read_gguf_header
from judgedesk.quantize import _convert
from judgedesk.quantize._convert import convert_to_gguf

from ._tiny_checkpoints import PROBE_TEXTS, build_model, llamacpp_logits, llamacpp_tokenize, train_sentencepiece

pytestmark = pytest.mark.real_model

F32_TOLERANCE = 1e-3  # measured: 3.8e-5 (llama), 1.8e-5 (mistral)
F16_TOLERANCE = 0.1  # measured: 0.046 (llama), 0.060 (mistral); smallest top-1 margins 0.059 and 0.039


def _sentencepiece_folder(folder: Path) -> int:
    """tokenizer.model plus the tokenizer.json transformers writes for it, as Llama-2 and Mistral folders ship."""
    import sentencepiece as spm
    from transformers import AutoTokenizer

    train_sentencepiece(folder)
    AutoTokenizer.from_pretrained(folder).save_pretrained(folder)
    return spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model")).vocab_size()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Llama with full multi-head attention, and Mistral with grouped-query attention (2 kv heads for 4)."""
    built = {}
    for name, kv_heads, seed in (("llama", 4, 4), ("mistral", 2, 3)):
        folder = tmp_path_factory.mktemp(name)
        vocab = _sentencepiece_folder(folder)
        built[name] = build_model(folder, name, vocab_size=vocab, kv_heads=kv_heads, seed=seed)
    return built


def _compare(gguf: Path, checkpoint) -> tuple[float, np.ndarray]:
    logits = llamacpp_logits(gguf, checkpoint.token_ids)
    return float(np.abs(logits - checkpoint.logits).max()), logits


@pytest.mark.parametrize("arch", ["llama", "mistral"])
def test_f32_conversion_reproduces_transformers_logits(checkpoints, arch, tmp_path):
    checkpoint = checkpoints[arch]
    result = convert_to_gguf(checkpoint.folder, tmp_path / "model.gguf", outtype="f32")
    max_diff, logits = _compare(result.path, checkpoint)
    assert max_diff < F32_TOLERANCE, f"{arch} f32: max |logit difference| {max_diff}"
    assert (logits.argmax(-1) == checkpoint.logits.argmax(-1)).all()


@pytest.mark.parametrize("arch", ["llama", "mistral"])
def test_f16_conversion_keeps_every_top1_token(checkpoints, arch, tmp_path):
    checkpoint = checkpoints[arch]
    result = convert_to_gguf(checkpoint.folder, tmp_path / "model.gguf", outtype="f16")
    max_diff, logits = _compare(result.path, checkpoint)
    ordered = np.sort(checkpoint.logits, axis=-1)
    margin = float((ordered[:, -1] - ordered[:, -2]).min())
    assert max_diff < F16_TOLERANCE, f"{arch} f16: max |logit difference| {max_diff}"
    assert (logits.argmax(-1) == checkpoint.logits.argmax(-1)).all(), f"smallest top-1 margin {margin}"


def test_skipping_the_rotary_permutation_is_caught(checkpoints, tmp_path, monkeypatch):
    """The comparison above would notice a converter that forgot (or botched) the Q/K reordering."""
    checkpoint = checkpoints["mistral"]
    monkeypatch.setattr(_convert, "_rotary_to_llamacpp", lambda data, heads: data)
    result = convert_to_gguf(checkpoint.folder, tmp_path / "unpermuted.gguf", outtype="f32")
    max_diff, logits = _compare(result.path, checkpoint)
    assert max_diff > 50 * F32_TOLERANCE
    assert (logits.argmax(-1) != checkpoint.logits.argmax(-1)).any()


def test_rotary_permutation_interleaves_the_two_halves_of_each_head():
    rows = np.arange(8).reshape(8, 1)  # two heads of size 4: HF pairs (0,2),(1,3); llama.cpp wants them adjacent
    assert _convert._rotary_to_llamacpp(rows, heads=2).ravel().tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


@pytest.mark.parametrize("rope", [
    {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0},
    {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "rope_theta": 10000.0},
    {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
     "original_max_position_embeddings": 16, "rope_theta": 10000.0},
], ids=["linear", "yarn", "llama3"])
def test_rope_scaling_is_carried_over(tmp_path, rope):
    """Measured: within 2e-5 of transformers for each; with the scaling left out the logits move by 6.8 to 8.8."""
    folder = tmp_path / "scaled"
    folder.mkdir()
    vocab = _sentencepiece_folder(folder)
    checkpoint = build_model(folder, "llama", vocab_size=vocab, seed=4, rope_scaling=rope)
    result = convert_to_gguf(folder, tmp_path / "scaled.gguf", outtype="f32")
    max_diff, _ = _compare(result.path, checkpoint)
    assert max_diff < F32_TOLERANCE


def test_sentencepiece_tokenization_matches_the_tokenizer_model(checkpoints, tmp_path):
    import sentencepiece as spm

    folder = checkpoints["llama"].folder
    result = convert_to_gguf(folder, tmp_path / "model.gguf")
    processor = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    expected = [[processor.bos_id(), *processor.encode(text)] for text in PROBE_TEXTS]
    assert llamacpp_tokenize(result.path, PROBE_TEXTS, add_bos=True) == expected
    # Chinese and emoji outside the learned pieces go through the byte-fallback tokens <0xE4> etc.
    assert any(processor.is_byte(i) for ids in expected for i in ids)


def test_metadata_describes_the_model_and_the_judge_format(checkpoints, tmp_path):
    folder = checkpoints["mistral"].folder
    result = convert_to_gguf(folder, tmp_path / "judge.gguf", judge_format="prometheus")
    header = read_gguf_header(result.path)
    meta = header.metadata
    config = json.loads((folder / "config.json").read_text())
    assert header.architecture == "llama" and header.file_type == "F16"
    assert header.judge_format == "prometheus"
    assert header.context_length == config["max_position_embeddings"]
    assert meta["llama.attention.head_count"] == 4 and meta["llama.attention.head_count_kv"] == 2
    assert meta["llama.embedding_length"] == 64 and meta["llama.block_count"] == 2
    assert meta["llama.rope.dimension_count"] == 16
    assert meta["tokenizer.ggml.model"] == "llama"
    assert meta["tokenizer.ggml.bos_token_id"] == 1 and meta["tokenizer.ggml.eos_token_id"] == 2
    assert meta["tokenizer.ggml.add_bos_token"] is True and meta["tokenizer.ggml.add_space_prefix"] is True
    assert header.chat_template is not None and "messages" in header.chat_template
    assert result.tensor_count == header.tensor_count == 2 * 9 + 3
    assert result.parameter_count == sum(
        int(np.prod(shape)) for shape in _safetensors_shapes(folder))


def _safetensors_shapes(folder: Path) -> list[list[int]]:
    raw = (folder / "model.safetensors").read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    return [entry["shape"] for name, entry in header.items() if name != "__metadata__"]
