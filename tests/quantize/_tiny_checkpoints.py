"""Tiny, real Hugging Face checkpoints built offline for the converter tests.

Each checkpoint is a randomly initialised (seeded) transformers model saved as safetensors, with a tokenizer
trained here on a small mixed corpus: SentencePiece BPE with byte fallback (the LLaMA/Mistral kind) or byte-level
BPE in one of the tokenizer.json layouts llama.cpp knows (GPT-2, SmolLM2, Llama-3, Qwen2). The builders also
return the transformers logits for fixed token ids, computed while the model is in memory, so tests compare
llama.cpp against them without loading the model again.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# English, code, Chinese, digits and emoji, so both tokenizers learn multi-byte pieces and byte fallbacks.
_WORDS = ("judge", "model", "answer", "better", "response", "quick", "brown", "fox", "lazy", "dog", "question",
          "helpful", "accurate", "concise", "the", "is", "and", "of", "a", "to", "in", "which", "why", "because")
_CODE = ("def score(a, b):\n    return a - b", "for i in range(10):\n    print(i * 2)",
         "if x == None: raise ValueError('x')", "{\"winner\": \"A\", \"tie\": false}", "x += 1  # increment")
_CHINESE = ("你好，世界！", "这是一个测试。", "哪个回答更好？", "模型的回答很准确。", "我们比较两个回答。")
_EMOJI = ("👍", "😀", "🎉", "🤖", "✅")

# Text the tokenizers must cut exactly like the originals: spaces, newlines, digits, CJK, emoji, code.
PROBE_TEXTS = (
    "Hello world! Which response is better?",
    "The quick brown fox jumps over the lazy dog 1234567 times.",
    "def score(a, b):\n\treturn a-b  # two  spaces\n\n",
    "你好，世界！哪个回答更好？模型很准确。",
    "Emoji: 👍😀🎉 and 🤖✅ (robots)  ",
    "  leading spaces, trailing newline\n",
    "I'm sure it's what they'd've said: 3.14159, 2,718.",
    "Ünïcödé café naïve résumé — “quotes”",
)


def corpus(lines: int = 400) -> list[str]:
    rng = np.random.default_rng(1234)
    out = []
    for i in range(lines):
        words = " ".join(rng.choice(_WORDS, size=int(rng.integers(4, 12))))
        extra = (_CODE[i % len(_CODE)], _CHINESE[i % len(_CHINESE)], _EMOJI[i % len(_EMOJI)] * (1 + i % 3),
                 str(int(rng.integers(0, 10**6))))[i % 4]
        out.append(f"{words.capitalize()} {extra}")
    return out


def train_sentencepiece(folder: Path, *, vocab_size: int = 420) -> Path:
    """A LLaMA-style SentencePiece BPE model (identity normalisation, byte fallback, dummy prefix) in folder."""
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=buffer, vocab_size=vocab_size, model_type="bpe",
        byte_fallback=True, character_coverage=1.0, normalization_rule_name="identity",
        remove_extra_whitespaces=False, split_digits=True, allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2, num_threads=1,
    )
    path = folder / "tokenizer.model"
    path.write_bytes(buffer.getvalue())
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "add_bos_token": True, "add_eos_token": False,
        "chat_template": "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}",
    }), encoding="utf-8")
    return path


_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_LLAMA3_SPLIT = _QWEN2_SPLIT.replace(r"|\p{N}|", r"|\p{N}{1,3}|")
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


def train_byte_level_bpe(folder: Path, layout: str, *, vocab_size: int = 600) -> int:
    """A byte-level BPE tokenizer.json in the given layout (a llama.cpp pre-tokenizer name); returns its size."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=layout in ("gpt-2", "smollm"),
                                          trim_offsets=False)
    if layout == "gpt-2":
        tokenizer.pre_tokenizer = byte_level
    elif layout == "smollm":
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                           byte_level])
    else:
        split = _QWEN2_SPLIT if layout == "qwen2" else _LLAMA3_SPLIT
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False), byte_level])
        if layout == "qwen2":
            tokenizer.normalizer = normalizers.NFC()
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(corpus(), trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    wrapped.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                             "{% endfor %}")
    wrapped.save_pretrained(folder)
    return tokenizer.get_vocab_size()


@dataclass(frozen=True)
class TinyCheckpoint:
    """A checkpoint folder and what transformers computed on it."""

    folder: Path
    token_ids: list[int]
    """The ids the reference logits were computed for (BOS first where the tokenizer has one)."""
    logits: np.ndarray[Any, Any]
    """transformers' logits, float32, shape (len(token_ids), vocab_size)."""
    weight_bytes: int
    """Size of the safetensors weights."""


def build_model(folder: Path, architecture: str, *, vocab_size: int, hidden: int = 64, layers: int = 2,
                heads: int = 4, kv_heads: int = 4, ffn: int = 128, tie: bool = False, seed: int = 0,
                init_std: float = 0.25, rope_scaling: dict[str, Any] | None = None,
                token_ids: list[int] | None = None) -> TinyCheckpoint:
    """Save a random `architecture` (llama, mistral, qwen2) model in folder and return its reference logits.

    The weights are drawn with a large standard deviation so the logits spread out: with the usual 0.02 a random
    model's logits are nearly equal, and the top-1 comparison would hinge on float rounding.
    """
    import torch
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    classes = {"llama": (LlamaConfig, LlamaForCausalLM), "mistral": (MistralConfig, MistralForCausalLM),
               "qwen2": (Qwen2Config, Qwen2ForCausalLM)}
    config_class, model_class = classes[architecture]
    rope = {"rope_type": "default", "rope_theta": 10000.0} if rope_scaling is None else rope_scaling
    config = config_class(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=ffn, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=256, rms_norm_eps=1e-5,
        tie_word_embeddings=tie, initializer_range=init_std, rope_parameters=rope, bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' own deprecation chatter is not under test here
        model = model_class(config).eval()
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name.endswith("norm.weight"):  # norms near 1 with some spread, so a wrong norm shows
                    param.copy_(1.0 + 0.1 * torch.randn_like(param))
                elif name.endswith(".bias"):
                    param.copy_(0.5 * torch.randn_like(param))
        model.save_pretrained(folder)
        rng = np.random.default_rng(seed)
        ids = token_ids if token_ids is not None else [1, *rng.integers(3, vocab_size, size=23).tolist()]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float().numpy()
    weight_bytes = sum(path.stat().st_size for path in folder.glob("*.safetensors"))
    return TinyCheckpoint(folder=folder, token_ids=list(ids), logits=logits, weight_bytes=weight_bytes)


def llamacpp_logits(gguf_path: Path, token_ids: list[int]) -> np.ndarray[Any, Any]:
    """llama.cpp's logits at every position of token_ids.

    The KV cache is f32 and flash attention off: llama.cpp's default f16 cache alone moves logits by ~0.02, which
    would hide layout errors of that size in an f32 comparison.
    """
    from judgedesk.core import load_llama_cpp

    llama_cpp = load_llama_cpp()

    llm = llama_cpp.Llama(model_path=str(gguf_path), n_ctx=64, n_batch=64, logits_all=True, n_threads=2,
                          type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32, flash_attn=False,
                          verbose=False)
    try:
        llm.eval(token_ids)
        return np.array(llm.scores[: len(token_ids)], dtype=np.float32)
    finally:
        llm.close()


def llamacpp_tokenize(gguf_path: Path, texts: tuple[str, ...], *, add_bos: bool,
                      special: bool = False) -> list[list[int]]:
    from judgedesk.core import load_llama_cpp

    llama_cpp = load_llama_cpp()

    llm = llama_cpp.Llama(model_path=str(gguf_path), n_ctx=64, vocab_only=True, verbose=False)
    try:
        return [llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special) for text in texts]
    finally:
        llm.close()
