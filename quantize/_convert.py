"""Hugging Face checkpoint folder -> GGUF file that llama.cpp runs as the original model.

The writer first records every tensor's name, shape and type (the GGUF header needs them before any data), then
streams the tensors one by one from the memory-mapped checkpoint, so memory stays near the largest tensor. The
file is written under a temporary name in the destination folder and renamed only when complete: an error or a
cancel leaves neither a half-written model nor the temporary file.

Two layout changes happen on the way. Tensor names follow llama.cpp's (`blk.0.attn_q.weight`, via gguf-py's
`TensorNameMap`). And for the llama architecture the query and key projections are permuted: Hugging Face's
rotary embedding rotates the two halves of each head (`rotate_half`), llama.cpp's llama graph rotates adjacent
pairs, so each head's rows are reordered to put the halves' i-th entries next to each other. Qwen2 runs on
llama.cpp's NeoX-style rope, which rotates halves like Hugging Face: no permutation.
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import (
    GGML_QUANT_SIZES,
    GGML_QUANT_VERSION,
    MODEL_ARCH_NAMES,
    MODEL_TENSOR,
    TENSOR_NAMES,
    GGMLQuantizationType,
    GGUFWriter,
    LlamaFileType,
    RopeScalingType,
    get_tensor_name_map,
)
from gguf.quants import quantize
from judgedesk.core import JUDGEDESK_FORMAT_KEY, CancelFlag, Progress, get_format

from ._checkpoint import Checkpoint, ModelConfig, inspect_checkpoint
from ._errors import CheckpointError, QuantizeCancelled, QuantizeError
from ._gguf_vocab import read_tokenizer
from ._safetensors import CheckpointTensors, open_checkpoint_tensors

__all__ = ["OUTTYPES", "ConvertResult", "convert_to_gguf"]

# Output type -> (ggml type of 2-D weights, file type recorded in general.file_type).
OUTTYPES: dict[str, tuple[GGMLQuantizationType, LlamaFileType]] = {
    "f32": (GGMLQuantizationType.F32, LlamaFileType.ALL_F32),
    "f16": (GGMLQuantizationType.F16, LlamaFileType.MOSTLY_F16),
    "bf16": (GGMLQuantizationType.BF16, LlamaFileType.MOSTLY_BF16),
    "q8_0": (GGMLQuantizationType.Q8_0, LlamaFileType.MOSTLY_Q8_0),
}
# Tensors Hugging Face saves that llama.cpp recomputes (rope frequency caches of old checkpoints).
_SKIPPED_SUFFIXES = (".rotary_emb.inv_freq",)
_ROPE_FREQS = TENSOR_NAMES[MODEL_TENSOR.ROPE_FREQS] + ".weight"


@dataclass(frozen=True)
class ConvertResult:
    """A finished conversion."""

    path: Path
    """The GGUF file written."""
    architecture: str
    """llama.cpp architecture (`llama`, `qwen2`)."""
    outtype: str
    """f32, f16, bf16 or q8_0 (1-D tensors such as norms are always f32)."""
    tensor_count: int
    parameter_count: int
    size_bytes: int
    tokenizer: str
    """llama.cpp tokenizer and, for BPE, its pre-tokenizer (`gpt2/smollm`, `llama`)."""


@dataclass(frozen=True)
class _PlannedTensor:
    source: str | None
    """Checkpoint name, or None for a tensor computed here (rope_freqs)."""
    name: str
    shape: tuple[int, ...]
    ggml_type: GGMLQuantizationType

    @property
    def nbytes(self) -> int:
        block, type_size = GGML_QUANT_SIZES[self.ggml_type]
        return math.prod(self.shape) // block * type_size


def convert_to_gguf(
    folder: str | Path,
    out: str | Path,
    *,
    outtype: str = "f16",
    judge_format: str | None = None,
    tokenizer_pre: str | None = None,
    allow_pickle: bool = False,
    progress: Progress | None = None,
    cancel: CancelFlag | None = None,
) -> ConvertResult:
    """Convert a Hugging Face checkpoint folder to a GGUF file.

    outtype: f32, f16, bf16 or q8_0 for 2-D weights. judge_format: the judgedesk format the model was trained for,
    recorded so the right prompt is picked automatically. tokenizer_pre: llama.cpp's pre-tokenizer name, for a BPE
    tokenizer.json whose layout judgedesk does not recognise. allow_pickle: read pytorch_model*.bin (unpickling
    runs code; only for trusted checkpoints). progress(done, total, tensor_name): after each tensor is written.
    cancel: checked before each tensor. Raises `CheckpointError` for an unusable folder, `QuantizeError` if writing
    fails, `QuantizeCancelled` when `cancel` is set; in every such case no output file is left.
    """
    if outtype not in OUTTYPES:
        raise QuantizeError(f"unknown output type {outtype!r} (choose one of {', '.join(OUTTYPES)})")
    if judge_format is not None:
        get_format(judge_format)  # an unknown format is a FormatError now, not a surprise at judging time
    out = Path(out)
    if out.is_dir():
        raise QuantizeError(f"{out}: is a folder; give the GGUF file to write")
    checkpoint = inspect_checkpoint(folder, allow_pickle=allow_pickle)
    tokenizer = read_tokenizer(checkpoint, pre=tokenizer_pre)
    writer = GGUFWriter(path=None, arch=checkpoint.config.gguf_architecture)
    _add_metadata(writer, checkpoint, outtype, judge_format)
    tokenizer.add_to(writer)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QuantizeError(f"{out.parent}: cannot create the output folder ({exc.strerror or exc})") from exc
    with open_checkpoint_tensors(checkpoint.folder, allow_pickle=allow_pickle) as tensors:
        plan = _plan_tensors(checkpoint, tensors, OUTTYPES[outtype][0])
        for tensor in plan:
            writer.add_tensor_info(tensor.name, tensor.shape, np.dtype(np.float32), tensor.nbytes,
                                   raw_dtype=tensor.ggml_type)
        temp = _reserve_temp_file(out)
        try:
            writer.open_output_file(temp)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_ti_data_to_file()
            for done, tensor in enumerate(plan, start=1):
                if cancel is not None and cancel.is_set():
                    raise QuantizeCancelled(f"conversion of {checkpoint.folder} cancelled; nothing was written")
                writer.write_tensor_data(_tensor_data(tensor, tensors, checkpoint.config))
                if progress is not None:
                    progress(done, len(plan), tensor.name)
            writer.close()
            os.replace(temp, out)
        except OSError as exc:
            raise QuantizeError(f"{out}: could not write the GGUF file ({exc.strerror or exc})") from exc
        finally:
            writer.close()
            temp.unlink(missing_ok=True)
    return ConvertResult(
        path=out, architecture=checkpoint.config.gguf_architecture, outtype=outtype, tensor_count=len(plan),
        parameter_count=sum(math.prod(t.shape) for t in plan if t.source is not None),
        size_bytes=out.stat().st_size,
        tokenizer=tokenizer.model + (f"/{tokenizer.pre}" if tokenizer.pre else ""),
    )


def _reserve_temp_file(out: Path) -> Path:
    """A fresh hidden file next to `out`: same file system, so the final rename is atomic.

    Created with `open(mode="x")` rather than `mkstemp`, whose 0600 mode would survive the rename and leave the
    model unreadable to other users where the umask allows it.
    """
    for _ in range(100):
        temp = out.parent / f".{out.name}.{secrets.token_hex(4)}.partial"
        try:
            temp.open("xb").close()
            return temp
        except FileExistsError:
            continue
        except OSError as exc:
            raise QuantizeError(f"{out.parent}: cannot write there ({exc.strerror or exc})") from exc
    raise QuantizeError(f"{out.parent}: cannot create a temporary file next to {out.name}")


def _add_metadata(writer: GGUFWriter, checkpoint: Checkpoint, outtype: str, judge_format: str | None) -> None:
    config = checkpoint.config
    writer.add_type("model")
    writer.add_name(checkpoint.name)
    writer.add_file_type(OUTTYPES[outtype][1])
    writer.add_quantization_version(GGML_QUANT_VERSION)
    writer.add_context_length(config.context_length)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_heads)
    writer.add_head_count_kv(config.num_kv_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_dimension_count(config.head_dim)
    writer.add_rope_freq_base(config.rope_theta)
    writer.add_vocab_size(config.vocab_size)
    if config.head_dim * config.num_heads != config.hidden_size:
        writer.add_key_length(config.head_dim)
        writer.add_value_length(config.head_dim)
    scaling = config.rope_scaling
    if scaling is not None and scaling["rope_type"] in ("linear", "yarn"):
        writer.add_rope_scaling_type(RopeScalingType(scaling["rope_type"]))
        writer.add_rope_scaling_factor(float(scaling["factor"]))
        if "original_max_position_embeddings" in scaling:
            writer.add_rope_scaling_orig_ctx_len(int(scaling["original_max_position_embeddings"]))
    # llama3 scaling is carried by the rope_freqs tensor (see _llama3_rope_factors).
    if judge_format is not None:
        writer.add_string(JUDGEDESK_FORMAT_KEY, judge_format)


def _plan_tensors(checkpoint: Checkpoint, tensors: CheckpointTensors,
                  weight_type: GGMLQuantizationType) -> list[_PlannedTensor]:
    config = checkpoint.config
    arch = next(a for a, name in MODEL_ARCH_NAMES.items() if name == config.gguf_architecture)
    names = get_tensor_name_map(arch, config.num_layers)
    plan = []
    for info in tensors:
        if info.name.endswith(_SKIPPED_SUFFIXES):
            continue
        if info.name == "lm_head.weight" and config.tie_word_embeddings:
            continue  # a saved copy of the embeddings; llama.cpp reuses token_embd when output is absent
        name = names.get_name(info.name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise CheckpointError(f"tensor {info.name!r} has no llama.cpp counterpart for "
                                  f"{config.architecture}", path=info.file)
        if len(info.shape) == 1:
            ggml_type = GGMLQuantizationType.F32  # norms and biases: tiny, and precision-sensitive
        elif weight_type == GGMLQuantizationType.Q8_0 and info.shape[-1] % GGML_QUANT_SIZES[weight_type][0]:
            ggml_type = GGMLQuantizationType.F16  # rows that do not fill whole Q8_0 blocks
        else:
            ggml_type = weight_type
        plan.append(_PlannedTensor(info.name, name, info.shape, ggml_type))
    if not any(t.name.startswith(TENSOR_NAMES[MODEL_TENSOR.TOKEN_EMBD]) for t in plan):
        raise CheckpointError("the weights hold no token embeddings (model.embed_tokens.weight)",
                              path=checkpoint.folder)
    if config.rope_scaling is not None and config.rope_scaling["rope_type"] == "llama3":
        plan.append(_PlannedTensor(None, _ROPE_FREQS, (config.head_dim // 2,), GGMLQuantizationType.F32))
    return plan


def _tensor_data(tensor: _PlannedTensor, tensors: CheckpointTensors, config: ModelConfig) -> np.ndarray[Any, Any]:
    if tensor.source is None:
        data: np.ndarray[Any, Any] = _llama3_rope_factors(config)
    else:
        data = tensors.read(tensor.source)
        if tensor.shape != data.shape:
            raise CheckpointError(f"tensor {tensor.source!r} has shape {list(data.shape)}, its header says "
                                  f"{list(tensor.shape)}", path=tensors.infos[tensor.source].file)
        if config.gguf_architecture == "llama":
            heads = _rotary_heads(tensor.source, config)
            if heads is not None:
                data = _rotary_to_llamacpp(data, heads)
    if tensor.ggml_type == GGMLQuantizationType.F32:
        return np.ascontiguousarray(data, dtype=np.float32)
    if tensor.ggml_type == GGMLQuantizationType.F16:
        return np.ascontiguousarray(data, dtype=np.float16)
    return quantize(np.ascontiguousarray(data, dtype=np.float32), tensor.ggml_type)


def _rotary_heads(source: str, config: ModelConfig) -> int | None:
    """How many rotary heads a tensor's rows hold: query heads for q_proj, key/value heads for k_proj."""
    if ".self_attn.q_proj." in source:
        return config.num_heads
    if ".self_attn.k_proj." in source:
        return config.num_kv_heads
    return None


def _rotary_to_llamacpp(data: np.ndarray[Any, Any], heads: int) -> np.ndarray[Any, Any]:
    """Reorder each head's rows from Hugging Face's halves layout to llama.cpp's interleaved pairs.

    Within a head of size d, Hugging Face rotates row i with row i + d/2; llama.cpp rotates rows 2i and 2i + 1.
    Splitting the head into (2, d/2) and swapping those axes puts row i + d/2 right after row i.
    """
    rows = data.shape[0]
    return data.reshape(heads, 2, rows // heads // 2, *data.shape[1:]).swapaxes(1, 2).reshape(data.shape)


def _llama3_rope_factors(config: ModelConfig) -> np.ndarray[Any, Any]:
    """Per-frequency divisors of Llama 3.1's rope scaling, which llama.cpp reads from the rope_freqs tensor.

    High frequencies (short wavelengths) are kept, low ones divided by the scaling factor, and the band between
    is interpolated smoothly; the constants come from the checkpoint's rope parameters.
    """
    scaling = config.rope_scaling or {}
    factor = float(scaling["factor"])
    low_freq_factor = float(scaling.get("low_freq_factor", 1.0))
    high_freq_factor = float(scaling.get("high_freq_factor", 4.0))
    original_context = float(scaling.get("original_max_position_embeddings", 8192))
    freqs = 1.0 / config.rope_theta ** (np.arange(0, config.head_dim, 2, dtype=np.float64) / config.head_dim)
    wavelengths = 2 * math.pi / freqs
    smooth = (original_context / wavelengths - low_freq_factor) / (high_freq_factor - low_freq_factor)
    divisors = 1.0 / ((1 - smooth) / factor + smooth)
    divisors = np.where(wavelengths < original_context / high_freq_factor, 1.0, divisors)
    divisors = np.where(wavelengths > original_context / low_freq_factor, factor, divisors)
    return divisors.astype(np.float32)
