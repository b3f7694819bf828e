"""Byte-level BPE checkpoints: llama.cpp cuts text into the same token ids as the Hugging Face tokenizer.

One tokenizer is trained per tokenizer.json layout the converter recognises (GPT-2, SmolLM2, Llama-3, Qwen2),
each put next to a tiny model, converted, and compared on text with English, code, Chinese, emoji, digits and
odd whitespace. The layouts disagree on exactly such text (digits one by one or by three, NFC, contractions),
so a wrongly recognised pre-tokenizer fails here. A Qwen2 model (attention biases, tied embeddings, NeoX rope,
no Q/K permutation) is also compared logit by logit with transformers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from judgedesk.core import read_gguf_header
from judgedesk.quantize._convert import convert_to_gguf
from judgedesk.quantize._errors import CheckpointError
from judgedesk.quantize._gguf_vocab import KNOWN_PRE_TOKENIZERS

from ._tiny_checkpoints import PROBE_TEXTS, build_model, llamacpp_logits, llamacpp_tokenize, train_byte_level_bpe

pytestmark = pytest.mark.real_model

LAYOUTS = sorted(KNOWN_PRE_TOKENIZERS)
F32_TOLERANCE = 1e-3  # measured on the Qwen2 model below: 2.6e-5
F16_TOLERANCE = 0.1  # measured: 0.020 (one of 24 top-1 tokens flips: its margin is below that)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """layout -> (checkpoint, converted f16 GGUF path)."""
    built = {}
    for layout in LAYOUTS:
        folder = tmp_path_factory.mktemp(f"bpe-{layout}")
        n_tokens = train_byte_level_bpe(folder, layout)
        architecture = "qwen2" if layout == "qwen2" else "llama"
        # 8 embedding rows more than tokens, as real models pad their vocabulary; Qwen2 ties its embeddings.
        checkpoint = build_model(folder, architecture, vocab_size=n_tokens + 8, kv_heads=2, seed=11,
                                 tie=architecture == "qwen2")
        result = convert_to_gguf(folder, folder / "model.gguf")
        assert result.tokenizer == f"gpt2/{layout}"
        built[layout] = (checkpoint, result.path)
    return built


@pytest.mark.parametrize("layout", LAYOUTS)
def test_llamacpp_tokenizes_like_the_hf_tokenizer(converted, layout):
    from transformers import AutoTokenizer

    checkpoint, gguf = converted[layout]
    hf = AutoTokenizer.from_pretrained(checkpoint.folder)
    expected = [hf(text, add_special_tokens=False).input_ids for text in PROBE_TEXTS]
    assert llamacpp_tokenize(gguf, PROBE_TEXTS, add_bos=False) == expected
    chat = "<|im_start|>user\nWhich answer is better? 你好 👍<|im_end|>\n"
    ids = hf(chat, add_special_tokens=False).input_ids
    assert ids[0] == hf.convert_tokens_to_ids("<|im_start|>")
    assert llamacpp_tokenize(gguf, (chat,), add_bos=False, special=True) == [ids]


def test_the_layouts_really_split_differently(converted):
    """Guards the test above: if all layouts cut the probes alike, a misrecognised layout would go unnoticed."""
    from transformers import AutoTokenizer

    cuts = set()
    for layout in LAYOUTS:
        hf = AutoTokenizer.from_pretrained(converted[layout][0].folder)
        cuts.add(tuple(tuple(hf.tokenize(text)) for text in PROBE_TEXTS))
    assert len(cuts) == len(LAYOUTS)


def test_qwen2_logits_match_transformers(converted, tmp_path):
    checkpoint, f16_gguf = converted["qwen2"]
    f32_gguf = convert_to_gguf(checkpoint.folder, tmp_path / "qwen2-f32.gguf", outtype="f32").path
    exact = llamacpp_logits(f32_gguf, checkpoint.token_ids)
    assert float(np.abs(exact - checkpoint.logits).max()) < F32_TOLERANCE
    assert (exact.argmax(-1) == checkpoint.logits.argmax(-1)).all()
    rounded = llamacpp_logits(f16_gguf, checkpoint.token_ids)
    max_diff = float(np.abs(rounded - checkpoint.logits).max())
    assert max_diff < F16_TOLERANCE, f"f16: max |logit difference| {max_diff}"


def test_qwen2_metadata(converted):
    checkpoint, gguf = converted["qwen2"]
    header = read_gguf_header(gguf)
    meta = header.metadata
    assert header.architecture == "qwen2"
    assert meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "qwen2"
    assert meta["tokenizer.ggml.tokens"] == meta["qwen2.vocab_size"] == checkpoint.logits.shape[1]
    assert meta["tokenizer.ggml.add_bos_token"] is False
    assert header.chat_template is not None and "<|im_start|>" in header.chat_template


def _with_pre_tokenizer(folder, pre_tokenizer):
    path = folder / "tokenizer.json"
    tokenizer = json.loads(path.read_text(encoding="utf-8"))
    tokenizer["pre_tokenizer"] = pre_tokenizer
    path.write_text(json.dumps(tokenizer), encoding="utf-8")
    return path


def test_an_unknown_pre_tokenizer_is_refused_not_guessed(converted, tmp_path):
    import shutil

    folder = tmp_path / "odd"
    shutil.copytree(converted["gpt-2"][0].folder, folder)
    path = _with_pre_tokenizer(folder, {"type": "ByteLevel", "add_prefix_space": True, "use_regex": True})
    with pytest.raises(CheckpointError, match="unknown BPE pre-tokenizer") as caught:
        convert_to_gguf(folder, tmp_path / "odd.gguf")
    assert str(path) in str(caught.value)
    assert not (tmp_path / "odd.gguf").exists()
    # Whoever knows the matching llama.cpp pre-tokenizer can name it.
    result = convert_to_gguf(folder, tmp_path / "odd.gguf", tokenizer_pre="gpt-2")
    assert read_gguf_header(result.path).metadata["tokenizer.ggml.pre"] == "gpt-2"
