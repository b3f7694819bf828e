"""Shape-only judges: GGUF files with a real judge's tensor names, shapes and types, and random weights.

Speed and memory do not depend on the weights' values, only on the architecture, the quantization type and the
context, so a file with LLaMA-7B's (PandaLM-7B), Mistral-7B's (Prometheus-2-7B) or Llama-2-13B's (Auto-J-13B)
layout measures what those judges cost on a machine where their weights cannot be downloaded. Such a file is never
a judge: its metadata says `judgedesk.synthetic = true`, its name says "random weights", and judgedesk labels its
verdicts, records and reports as synthetic.

Each tensor gets the type llama-quantize would give it at the chosen file type (quantize/_tensor_type_rules.py).
Quantized tensors are written as random block bytes whose scales are set so every block decodes to finite values
centred on zero with a standard deviation of about 0.02 (a trained LLaMA's typical weight scale): the forward pass
gives finite logits and llama.cpp generates tokens. The file is streamed tensor by tensor, so memory stays near the
largest tensor (a few hundred MiB for the 13B shape's embeddings), and written under a temporary name that is
renamed only when complete.

The tokenizer is the demo judge's (so every judge format's prompt runs on the file); the embedding and output
matrices are therefore as wide as its vocabulary (49,152 tokens) rather than the real judges' 32,000: at Q4_K_M
that is 93 MiB more for the 7B shapes (2.3% of the file) and 116 MiB more for the 13B (1.5%).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGML_QUANT_SIZES, GGML_QUANT_VERSION, GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
from judgedesk.core import JUDGEDESK_SYNTHETIC_KEY, demo_judge_path

from . import _convert
from ._errors import QuantizeError
from ._model_shape import ModelShape, ModelTensor, model_shape_from_hf_config
from ._tensor_type_rules import FILE_TYPES, tensor_bytes, tensor_types

__all__ = ["SYNTHETIC_SHAPES", "SyntheticResult", "synthetic_shape", "write_synthetic_gguf"]

T = GGMLQuantizationType

SYNTHETIC_SHAPES: dict[str, dict[str, Any]] = {
    # LLaMA-7B (PandaLM-7B): the original LLaMA release, rms eps 1e-6, 2048 tokens of training context.
    "llama-7b": {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
                 "num_key_value_heads": 32, "intermediate_size": 11008, "max_position_embeddings": 2048,
                 "rms_norm_eps": 1e-6, "rope_theta": 10000.0},
    # Llama-2-13B (Auto-J-13B).
    "llama2-13b": {"hidden_size": 5120, "num_hidden_layers": 40, "num_attention_heads": 40,
                   "num_key_value_heads": 40, "intermediate_size": 13824, "max_position_embeddings": 4096,
                   "rms_norm_eps": 1e-5, "rope_theta": 10000.0},
    # Mistral-7B (Prometheus-2-7B, fine-tuned from Mistral-7B-Instruct-v0.2): grouped-query attention with 8
    # key/value heads. llama.cpp runs Mistral-7B as the llama architecture, which has no sliding window: its
    # converter writes none, and the KV cache spans the whole context (as it does here).
    "mistral-7b": {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
                   "num_key_value_heads": 8, "intermediate_size": 14336, "max_position_embeddings": 32768,
                   "rms_norm_eps": 1e-5, "rope_theta": 1000000.0},
    # A few-layer shape for tests: every K-quant block size divides its rows, and it loads in well under a second.
    "test-tiny": {"hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                  "intermediate_size": 512, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
                  "rope_theta": 10000.0},
}
"""The published configurations (config.json values) of the judges' base models, by --shape name."""

_WEIGHT_STD = 0.02
"""Standard deviation of the random weights: a trained LLaMA's typical scale, small enough for finite activations
through 40 layers and large enough that attention and logits are not flat."""


@dataclass(frozen=True)
class SyntheticResult:
    """A written shape-only judge."""

    path: Path
    shape: str
    """The --shape it was written for (llama-7b, ...)."""
    qtype: str
    """llama.cpp file type (Q4_K_M, ...)."""
    context_length: int
    """The training context written in the metadata."""
    tensor_count: int
    parameter_count: int
    size_bytes: int
    vocab_size: int
    """The demo judge's vocabulary size, which the embedding and output matrices are sized for."""


def synthetic_shape(shape: str, *, vocab_size: int, context_length: int | None = None) -> ModelShape:
    """The model layout of `shape` (one of SYNTHETIC_SHAPES) with the given vocabulary, as the planner sees it."""
    if shape not in SYNTHETIC_SHAPES:
        raise QuantizeError(f"unknown shape {shape!r} (choose one of {', '.join(SYNTHETIC_SHAPES)})")
    config = {**SYNTHETIC_SHAPES[shape], "model_type": "llama", "vocab_size": vocab_size,
              "tie_word_embeddings": False, "torch_dtype": "float16"}
    if context_length is not None:
        config["max_position_embeddings"] = context_length
    return model_shape_from_hf_config(config, name=_model_name(shape), source=Path(f"<synthetic shape {shape}>"))


def write_synthetic_gguf(shape: str, out: str | Path, *, qtype: str = "Q4_K_M", context_length: int | None = None,
                         seed: int = 0, progress: Callable[[int, int, str], None] | None = None) -> SyntheticResult:
    """Write a shape-only judge: `shape`'s tensors at the types llama-quantize picks for `qtype`, random values.

    context_length: the training context recorded in the file (default: the shape's published one); llama.cpp
    and the memory planner treat it as the model's limit. seed: the random weights' seed (same seed, same file).
    progress(done, total, tensor_name): after each tensor. Raises `QuantizeError` for an unknown shape or type, an
    output that cannot be written, or a full disk; no partial file is left behind.
    """
    qtype = qtype.upper()
    if qtype not in FILE_TYPES:
        raise QuantizeError(f"unknown type {qtype!r} (choose one of {', '.join(FILE_TYPES)})")
    if shape not in SYNTHETIC_SHAPES:
        raise QuantizeError(f"unknown shape {shape!r} (choose one of {', '.join(SYNTHETIC_SHAPES)})")
    if context_length is not None and context_length <= 0:
        raise QuantizeError(f"the context length must be positive, not {context_length}")
    out = Path(out)
    if out.is_dir():
        raise QuantizeError(f"{out}: is a folder; give the GGUF file to write")
    context = context_length or int(SYNTHETIC_SHAPES[shape]["max_position_embeddings"])
    tokenizer = _demo_tokenizer()
    vocab = next(len(value) for key, value, _, _ in tokenizer if key == "tokenizer.ggml.tokens")
    model = synthetic_shape(shape, vocab_size=vocab, context_length=context)
    types = tensor_types(model.tensors, qtype, architecture="llama", n_layers=model.n_layers,
                         n_heads=model.n_heads, n_kv_heads=max(model.n_kv_heads), n_experts=0)

    writer = GGUFWriter(path=None, arch="llama")
    _add_metadata(writer, shape, model, qtype)
    for key, value, vtype, sub_type in tokenizer:
        writer.add_key_value(key, value, vtype, sub_type=sub_type)
    for tensor, ggml_type in zip(model.tensors, types, strict=True):
        writer.add_tensor_info(tensor.name, tuple(reversed(tensor.shape)), np.dtype(np.float32),
                               tensor_bytes(tensor, ggml_type), raw_dtype=ggml_type)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QuantizeError(f"{out.parent}: cannot create the output folder ({exc.strerror or exc})") from exc
    rng = np.random.default_rng(seed)
    temp = _convert._reserve_temp_file(out)  # the converter's: a fresh file next to `out`, renamed when complete
    try:
        writer.open_output_file(temp)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for done, (tensor, ggml_type) in enumerate(zip(model.tensors, types, strict=True), start=1):
            writer.write_tensor_data(_random_tensor(tensor, ggml_type, rng))
            if progress is not None:
                progress(done, len(model.tensors), tensor.name)
        writer.close()
        os.replace(temp, out)
    except OSError as exc:
        raise QuantizeError(f"{out}: could not write the GGUF file ({exc.strerror or exc})") from exc
    finally:
        writer.close()
        temp.unlink(missing_ok=True)
    return SyntheticResult(path=out, shape=shape, qtype=qtype, context_length=context,
                           tensor_count=len(model.tensors),
                           parameter_count=sum(t.elements for t in model.tensors),
                           size_bytes=out.stat().st_size, vocab_size=vocab)


def _model_name(shape: str) -> str:
    return f"synthetic {shape} (random weights)"


def _add_metadata(writer: GGUFWriter, shape: str, model: ModelShape, qtype: str) -> None:
    config = SYNTHETIC_SHAPES[shape]
    writer.add_type("model")
    writer.add_name(_model_name(shape))
    writer.add_bool(JUDGEDESK_SYNTHETIC_KEY, True)
    writer.add_file_type(FILE_TYPES[qtype][0])
    writer.add_quantization_version(GGML_QUANT_VERSION)
    assert model.trained_context is not None  # synthetic_shape always sets it
    writer.add_context_length(model.trained_context)
    writer.add_embedding_length(model.hidden)
    writer.add_block_count(model.n_layers)
    writer.add_feed_forward_length(model.ffn)
    writer.add_head_count(model.n_heads)
    writer.add_head_count_kv(max(model.n_kv_heads))
    writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    writer.add_rope_dimension_count(model.head_dim_k)
    writer.add_rope_freq_base(float(config["rope_theta"]))
    writer.add_vocab_size(model.vocab)


@functools.cache
def _demo_tokenizer() -> tuple[tuple[str, Any, GGUFValueType, GGUFValueType | None], ...]:
    """Every tokenizer.* key of the demo judge with its GGUF value type (token ids uint32, flags bool...), read once
    per process: gguf-py's reader takes seconds over 49,152 tokens and as many merges."""
    reader = GGUFReader(demo_judge_path())
    keys = []
    for key, field in reader.fields.items():
        if key.startswith("tokenizer."):
            vtype = field.types[0]
            keys.append((key, field.contents(), vtype, field.types[-1] if vtype == GGUFValueType.ARRAY else None))
    return tuple(keys)


# Per block type: (offset of the f16 scale d, offset of the f16 min or None, the spread of one block's values in
# units of d once the sub-block scales below are written, and those sub-block scale bytes (offset, bytes) or None).
# A value is d * scale * (q - centre); with uniformly random q, its standard deviation is d times the spread.
_UNIFORM_4BIT_STD = math.sqrt((16**2 - 1) / 12)
_UNIFORM_5BIT_STD = math.sqrt((32**2 - 1) / 12)
_UNIFORM_6BIT_STD = math.sqrt((64**2 - 1) / 12)
_UNIFORM_8BIT_STD = math.sqrt((256**2 - 1) / 12)
_UNIFORM_2BIT_STD = math.sqrt((4**2 - 1) / 12)
_UNIFORM_3BIT_STD = math.sqrt((8**2 - 1) / 12)
# Q4_K and Q5_K pack eight 6-bit (scale, min) pairs in 12 bytes; scale = min = 15 for every sub-block is 15 in
# bytes 0-7 and 0xFF in bytes 8-11 (ggml's get_scale_min_k4). The block's min d_min * 15 then centres q.
_K4_SCALES = bytes([15] * 8 + [0xFF] * 4)


@dataclass(frozen=True)
class _BlockLayout:
    d_offset: int
    spread: float
    """Standard deviation of a block's values in units of d."""
    min_offset: int | None = None
    min_per_d: float = 0.0
    """d_min / d that centres the values on zero (for types storing a min)."""
    scales: tuple[int, bytes] | None = None


_LAYOUTS: dict[GGMLQuantizationType, _BlockLayout] = {
    T.Q8_0: _BlockLayout(0, _UNIFORM_8BIT_STD),
    T.Q4_0: _BlockLayout(0, _UNIFORM_4BIT_STD),
    T.Q5_0: _BlockLayout(0, _UNIFORM_5BIT_STD),
    T.Q4_1: _BlockLayout(0, _UNIFORM_4BIT_STD, 2, -7.5),   # x = d * q + m
    T.Q5_1: _BlockLayout(0, _UNIFORM_5BIT_STD, 2, -15.5),
    # x = d * sc * q - d_min * m, sc = m = 15: d_min = 7.5 d centres 4-bit q (15.5 d for 5-bit).
    T.Q4_K: _BlockLayout(0, 15 * _UNIFORM_4BIT_STD, 2, 7.5, (4, _K4_SCALES)),
    T.Q5_K: _BlockLayout(0, 15 * _UNIFORM_5BIT_STD, 2, 15.5, (4, _K4_SCALES)),
    # Q6_K: ql[128] qh[64] scales[16] (int8) d; x = d * sc * (q - 32); sc = 4.
    T.Q6_K: _BlockLayout(208, 4 * _UNIFORM_6BIT_STD, scales=(192, bytes([4] * 16))),
    # Q3_K: hmask[32] qs[64] scales[12] d; x = d * (sc - 32) * (q - 4); 6-bit sc = 36 everywhere: bytes 0-7 hold
    # the low nibbles (4 | 4 << 4), bytes 8-11 the high bits (2 per scale, value 2 -> 0b10 in each pair).
    T.Q3_K: _BlockLayout(108, 4 * _UNIFORM_3BIT_STD, scales=(96, bytes([0x44] * 8 + [0xAA] * 4))),
    # Q2_K: scales[16] (4-bit scale | 4-bit min << 4) qs[64] d d_min; sc = m = 7: d_min = 1.5 d centres 2-bit q.
    T.Q2_K: _BlockLayout(80, 7 * _UNIFORM_2BIT_STD, 82, 1.5, (0, bytes([0x77] * 16))),
}


def _random_tensor(tensor: ModelTensor, ggml_type: GGMLQuantizationType,
                   rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """`tensor`'s data as `ggml_type`: norms are ones (as in an untrained model), matrices random and centred."""
    if len(tensor.shape) == 1:
        return np.ones(tensor.shape, dtype=np.float32)
    if ggml_type in (T.F32, T.F16):
        dtype = np.float32 if ggml_type == T.F32 else np.float16
        return (rng.standard_normal(tensor.elements, dtype=np.float32) * _WEIGHT_STD).astype(dtype)
    if ggml_type == T.BF16:
        values = rng.standard_normal(tensor.elements, dtype=np.float32) * _WEIGHT_STD
        return (values.view(np.uint32) >> 16).astype(np.uint16)  # bf16 is the top half of an f32
    layout = _LAYOUTS.get(ggml_type)
    if layout is None:
        raise QuantizeError(f"{tensor.name}: no random-block writer for type {ggml_type.name}")
    block, type_size = GGML_QUANT_SIZES[ggml_type]
    n_blocks = tensor.elements // block
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    d = _WEIGHT_STD / layout.spread
    blocks[:, layout.d_offset:layout.d_offset + 2] = np.frombuffer(np.float16(d).tobytes(), dtype=np.uint8)
    if layout.min_offset is not None:
        d_min = np.float16(d * layout.min_per_d)
        blocks[:, layout.min_offset:layout.min_offset + 2] = np.frombuffer(d_min.tobytes(), dtype=np.uint8)
    if layout.scales is not None:
        offset, scales = layout.scales
        blocks[:, offset:offset + len(scales)] = np.frombuffer(scales, dtype=np.uint8)
    return blocks
