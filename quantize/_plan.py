"""The memory planner: which quantization of a judge fits a GPU or a computer, before anything is downloaded or built.

A plan lists, for each llama.cpp quantization type, the weights, the KV cache at the chosen context, an estimate of
llama.cpp's compute buffer, the total, whether that fits the budget, and, where it does not, how many layers to
offload to the GPU (the rest run from CPU RAM). Weight sizes are computed tensor by tensor with the type llama.cpp
would pick for each one (K-quant mixes keep the output layer and some attn_v / ffn_down layers at more bits, and
fall back to other types for rows not divisible by the block size), so the figures match the files llama-quantize
writes instead of a flat bits-per-weight guess.

The source is either a Hugging Face folder, of which config.json alone is enough (plan before copying weights), or
a GGUF file, whose real tensor shapes and size are used.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, Keys, LlamaFileType
from judgedesk.core import InputError, ModelFileError, read_gguf_header

from ._errors import CheckpointError

__all__ = [
    "BUDGET_PRESETS",
    "GpuMemory",
    "MemoryPlan",
    "PlanRow",
    "SystemMemory",
    "detect_memory",
    "plan_memory",
    "planned_tensor_types",
    "read_tensor_table",
]

T = GGMLQuantizationType
GIB = 1 << 30

BUDGET_PRESETS: dict[float, str] = {
    8.0: "RTX 3060 Ti / 4060",
    12.0: "RTX 3060 12 GB / 4070",
    16.0: "RTX 4060 Ti 16 GB / 4080",
    24.0: "RTX 3090 / 4090",
    48.0: "RTX A6000 / 2 x 24 GB",
}
"""GPU memory budgets in GiB with the cards people know them by."""

# (llama.cpp file type, the tensor type most weights get) for every type a plan can show.
_FILE_TYPES: dict[str, tuple[LlamaFileType, GGMLQuantizationType]] = {
    "F32": (LlamaFileType.ALL_F32, T.F32),
    "F16": (LlamaFileType.MOSTLY_F16, T.F16),
    "BF16": (LlamaFileType.MOSTLY_BF16, T.BF16),
    "Q8_0": (LlamaFileType.MOSTLY_Q8_0, T.Q8_0),
    "Q6_K": (LlamaFileType.MOSTLY_Q6_K, T.Q6_K),
    "Q5_K_M": (LlamaFileType.MOSTLY_Q5_K_M, T.Q5_K),
    "Q5_K_S": (LlamaFileType.MOSTLY_Q5_K_S, T.Q5_K),
    "Q5_1": (LlamaFileType.MOSTLY_Q5_1, T.Q5_1),
    "Q5_0": (LlamaFileType.MOSTLY_Q5_0, T.Q5_0),
    "Q4_K_M": (LlamaFileType.MOSTLY_Q4_K_M, T.Q4_K),
    "Q4_K_S": (LlamaFileType.MOSTLY_Q4_K_S, T.Q4_K),
    "Q4_1": (LlamaFileType.MOSTLY_Q4_1, T.Q4_1),
    "Q4_0": (LlamaFileType.MOSTLY_Q4_0, T.Q4_0),
    "Q3_K_L": (LlamaFileType.MOSTLY_Q3_K_L, T.Q3_K),
    "Q3_K_M": (LlamaFileType.MOSTLY_Q3_K_M, T.Q3_K),
    "Q3_K_S": (LlamaFileType.MOSTLY_Q3_K_S, T.Q3_K),
    "Q2_K": (LlamaFileType.MOSTLY_Q2_K, T.Q2_K),
}
# The rows every plan shows, best quality first.
_PLAN_TYPES = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q2_K")

_CACHE_TYPES: dict[str, GGMLQuantizationType] = {
    "f32": T.F32, "f16": T.F16, "bf16": T.BF16, "q8_0": T.Q8_0, "q5_1": T.Q5_1, "q5_0": T.Q5_0, "q4_1": T.Q4_1,
    "q4_0": T.Q4_0,
}
_N_UBATCH = 512  # llama.cpp's default micro-batch, which sizes the compute buffer
_LAYER = re.compile(r"blk\.(\d+)\.")


# -- the model as a list of tensors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]  # ggml order: shape[0] is the row length
    source_type: GGMLQuantizationType  # what a tensor llama.cpp does not quantize stays as

    @property
    def elements(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count

    @property
    def layer(self) -> int | None:
        match = _LAYER.match(self.name)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class _Model:
    """What a plan needs to know about a model, whichever source it came from."""

    name: str
    architecture: str
    n_layers: int
    n_heads: int
    n_kv_heads: tuple[int, ...]  # per layer: some models vary it
    head_dim_k: int
    head_dim_v: int
    hidden: int
    ffn: int
    vocab: int
    n_experts: int
    trained_context: int | None
    tensors: tuple[_Tensor, ...]


def _model_from_config(folder: Path) -> _Model:
    """Describe the standard decoder layout (as llama.cpp's converter names its tensors) from config.json."""
    if not folder.exists():
        raise CheckpointError("no such file or folder", path=folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError("no config.json: a Hugging Face model folder needs one (a .gguf file works too)",
                              path=folder)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"unreadable config.json: {exc}", path=config_path) from None
    if not isinstance(config, dict):
        raise CheckpointError("config.json is not a JSON object", path=config_path)
    if "hidden_size" not in config and isinstance(config.get("text_config"), dict):
        config = {**config, **config["text_config"]}  # multimodal wrappers keep the language model in text_config

    def number(key: str, default: int | None = None) -> int:
        value = config.get(key)
        if value is None:
            if default is None:
                raise CheckpointError("missing or null", path=config_path, field=key)
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise CheckpointError(f"expected a positive whole number, found {value!r}", path=config_path, field=key)
        return value

    hidden = number("hidden_size")
    n_layers = number("num_hidden_layers")
    n_heads = number("num_attention_heads")
    n_kv = number("num_key_value_heads", n_heads)
    head_dim = number("head_dim", hidden // n_heads)
    vocab = number("vocab_size")
    n_experts = number("num_local_experts") if config.get("num_local_experts") else \
        number("num_experts") if config.get("num_experts") else 0
    ffn = number("moe_intermediate_size") if n_experts and config.get("moe_intermediate_size") \
        else number("intermediate_size")
    model_type = str(config.get("model_type") or "unknown")
    tied = bool(config.get("tie_word_embeddings", model_type.startswith("gemma")))
    weight_type = T.BF16 if config.get("torch_dtype", config.get("dtype")) == "bfloat16" else T.F16

    tensors = [_Tensor("token_embd.weight", (hidden, vocab), weight_type),
               _Tensor("output_norm.weight", (hidden,), T.F32)]
    if not tied:
        tensors.append(_Tensor("output.weight", (hidden, vocab), weight_type))
    q_size, kv_size = n_heads * head_dim, n_kv * head_dim
    for i in range(n_layers):
        blk = f"blk.{i}."
        tensors += [_Tensor(blk + "attn_norm.weight", (hidden,), T.F32),
                    _Tensor(blk + "ffn_norm.weight", (hidden,), T.F32)]
        if model_type == "phi3":  # fused projections
            tensors += [_Tensor(blk + "attn_qkv.weight", (hidden, q_size + 2 * kv_size), weight_type),
                        _Tensor(blk + "ffn_up.weight", (hidden, 2 * ffn), weight_type)]
        else:
            tensors += [_Tensor(blk + "attn_q.weight", (hidden, q_size), weight_type),
                        _Tensor(blk + "attn_k.weight", (hidden, kv_size), weight_type),
                        _Tensor(blk + "attn_v.weight", (hidden, kv_size), weight_type)]
        tensors.append(_Tensor(blk + "attn_output.weight", (q_size, hidden), weight_type))
        if config.get("attention_bias") or model_type.startswith("qwen2"):
            tensors += [_Tensor(blk + f"attn_{p}.bias", (size,), T.F32)
                        for p, size in (("q", q_size), ("k", kv_size), ("v", kv_size))]
        if model_type.startswith(("qwen3", "gemma3", "olmo2")):
            tensors += [_Tensor(blk + f"attn_{p}_norm.weight", (head_dim,), T.F32) for p in ("q", "k")]
        if n_experts:
            tensors.append(_Tensor(blk + "ffn_gate_inp.weight", (hidden, n_experts), T.F32))
            tensors += [_Tensor(blk + f"ffn_{p}_exps.weight", (hidden, ffn, n_experts), weight_type)
                        for p in ("gate", "up")]
            tensors.append(_Tensor(blk + "ffn_down_exps.weight", (ffn, hidden, n_experts), weight_type))
        elif model_type != "phi3":
            tensors += [_Tensor(blk + "ffn_gate.weight", (hidden, ffn), weight_type),
                        _Tensor(blk + "ffn_up.weight", (hidden, ffn), weight_type)]
        if not n_experts:
            tensors.append(_Tensor(blk + "ffn_down.weight", (ffn, hidden), weight_type))
    trained = config.get("max_position_embeddings")
    return _Model(
        name=folder.name, architecture=model_type, n_layers=n_layers, n_heads=n_heads, n_kv_heads=(n_kv,) * n_layers,
        head_dim_k=head_dim, head_dim_v=head_dim, hidden=hidden, ffn=ffn, vocab=vocab, n_experts=n_experts,
        trained_context=trained if isinstance(trained, int) and trained > 0 else None, tensors=tuple(tensors),
    )


def _model_from_gguf(path: Path) -> tuple[_Model, str, int]:
    """The model in a GGUF file, its own quantization type, and its size on disk."""
    header = read_gguf_header(path)  # a corrupt or foreign file is a ModelFileError naming it
    tensors = tuple(_Tensor(name, shape, ggml_type) for name, shape, ggml_type in read_tensor_table(path))
    meta = header.metadata
    arch = header.architecture

    def value(key: str, default: Any = None) -> Any:
        return meta.get(key.format(arch=arch), default)

    n_layers = int(value(Keys.LLM.BLOCK_COUNT, 0))
    n_heads_raw = value(Keys.Attention.HEAD_COUNT, 0)
    n_heads = int(max(n_heads_raw) if isinstance(n_heads_raw, list) else n_heads_raw)
    if not n_layers or not n_heads:
        raise ModelFileError(path, f"no {arch}.block_count or {arch}.attention.head_count: not a decoder model "
                                    "the planner can size")
    kv_raw = value(Keys.Attention.HEAD_COUNT_KV, n_heads)
    n_kv = tuple(int(k) for k in kv_raw) if isinstance(kv_raw, list) else (int(kv_raw),) * n_layers
    n_kv = (n_kv + n_kv[-1:] * n_layers)[:n_layers]  # one entry per layer, however the file lists them
    hidden = int(value(Keys.LLM.EMBEDDING_LENGTH, 0))
    head_dim_k = int(value(Keys.Attention.KEY_LENGTH, hidden // n_heads))
    embedding = next((t for t in tensors if t.name == "token_embd.weight"), None)
    vocab = int(value(Keys.LLM.VOCAB_SIZE, embedding.shape[-1] if embedding else 0))
    model = _Model(
        name=header.name, architecture=arch, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv,
        head_dim_k=head_dim_k, head_dim_v=int(value(Keys.Attention.VALUE_LENGTH, head_dim_k)), hidden=hidden,
        ffn=int(_first(value(Keys.LLM.FEED_FORWARD_LENGTH, 0))), vocab=vocab,
        n_experts=int(value(Keys.LLM.EXPERT_COUNT, 0)), trained_context=header.context_length, tensors=tensors,
    )
    return model, header.file_type, path.stat().st_size


_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF value type -> bytes
_STRING, _ARRAY = 8, 9


def read_tensor_table(path: str | Path) -> list[tuple[str, tuple[int, ...], GGMLQuantizationType]]:
    """(name, shape in ggml order, type) of every tensor in a GGUF file, skipping the metadata without decoding it.

    gguf-py's reader decodes every vocabulary string, which takes seconds on a large vocabulary; a plan needs only
    the tensor table. Call `read_gguf_header` first: it rejects the corrupt files this scan does not guard against.
    """
    path = Path(path)
    with path.open("rb") as handle:
        data = handle.read(1 << 16)
        position = 24

        def ensure(n: int) -> None:
            nonlocal data
            while position + n > len(data):
                more = handle.read(max(1 << 20, n))
                if not more:
                    raise ModelFileError(path, "truncated GGUF file (the tensor table ends early)")
                data += more

        def unpack(fmt: str) -> Any:
            nonlocal position
            size = struct.calcsize(fmt)
            ensure(size)
            value = struct.unpack_from(fmt, data, position)[0]
            position += size
            return value

        def skip_value(kind: int) -> None:
            nonlocal position
            if kind == _STRING:
                length = unpack("<Q")  # read before adding: unpack itself moves the position
                position += length
            elif kind == _ARRAY:
                item, count = unpack("<I"), unpack("<Q")
                if item in _SCALAR_SIZES:
                    position += _SCALAR_SIZES[item] * count
                else:
                    for _ in range(count):
                        skip_value(item)
            elif kind in _SCALAR_SIZES:
                position += _SCALAR_SIZES[kind]
            else:
                raise ModelFileError(path, f"corrupt GGUF file (unknown value type {kind})")

        ensure(24)
        tensor_count, kv_count = struct.unpack_from("<QQ", data, 8)
        for _ in range(kv_count):
            skip_value(_STRING)  # the key
            skip_value(unpack("<I"))
        tensors = []
        for _ in range(tensor_count):
            length = unpack("<Q")
            ensure(length)
            name = data[position:position + length].decode("utf-8", errors="replace")
            position += length
            n_dims = unpack("<I")
            shape = tuple(unpack("<Q") for _ in range(n_dims))
            tensors.append((name, shape, GGMLQuantizationType(unpack("<I"))))
            position += 8  # data offset
    return tensors


def _first(value: Any) -> Any:
    return max(value) if isinstance(value, list) else value


# -- llama.cpp's choice of tensor types ----------------------------------------------------------------------------


def _size(tensor: _Tensor, ggml_type: GGMLQuantizationType) -> int:
    block, type_size = GGML_QUANT_SIZES[ggml_type]
    return tensor.elements // block * type_size


def _quantizable(tensor: _Tensor) -> bool:
    """llama.cpp quantizes matrices named *weight, except norms, expert routers and position tables."""
    name = tensor.name
    return (len(tensor.shape) >= 2 and name.endswith("weight") and "_norm.weight" not in name
            and "ffn_gate_inp.weight" not in name and name not in ("position_embd.weight", "token_types.weight"))


def _category(name: str) -> str:
    if name == "output.weight":
        return "output"
    if name == "token_embd.weight":
        return "token_embd"
    for part, category in (("attn_qkv.weight", "attn_v"), ("attn_kv_b.weight", "attn_v"), ("attn_v.weight", "attn_v"),
                           ("attn_k.weight", "attn_k"), ("attn_q.weight", "attn_q"),
                           ("attn_output.weight", "attn_output"), ("ffn_up", "ffn_up"), ("ffn_gate", "ffn_gate"),
                           ("ffn_down", "ffn_down")):
        if part in name:
            return category
    return "other"


def _more_bits(i: int, n: int) -> bool:
    """llama.cpp's use_more_bits: the first and last eighth of the layers and every third one between them."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _fallback(tensor: _Tensor, chosen: GGMLQuantizationType) -> GGMLQuantizationType:
    """A row length not divisible by the block size takes a compatible type, as llama.cpp does."""
    row = tensor.shape[0]
    if row % GGML_QUANT_SIZES[chosen][0] == 0:
        return chosen
    replacement = {T.Q2_K: T.Q4_0, T.Q3_K: T.Q4_0, T.Q4_K: T.Q5_0, T.Q5_K: T.Q5_1, T.Q6_K: T.Q8_0}.get(chosen, T.F16)
    return replacement if row % GGML_QUANT_SIZES[replacement][0] == 0 else T.F16


def planned_tensor_types(model_tensors: Iterable[tuple[str, Sequence[int], int]], qtype: str, *,
                         architecture: str = "llama", n_layers: int | None = None, n_heads: int = 1,
                         n_kv_heads: int = 1, n_experts: int = 0) -> dict[str, str]:
    """The ggml type llama.cpp gives each tensor for `qtype`; tensors as (name, shape in ggml order, source type).

    Public so a test can hold the rules against llama.cpp's own dry run.
    """
    tensors = tuple(_Tensor(name, tuple(shape), GGMLQuantizationType(src)) for name, shape, src in model_tensors)
    layers = n_layers if n_layers is not None else 1 + max((t.layer for t in tensors if t.layer is not None),
                                                             default=-1)
    types = _tensor_types(tensors, qtype, architecture=architecture, n_layers=layers, n_heads=n_heads,
                          n_kv_heads=n_kv_heads, n_experts=n_experts)
    return {tensor.name: t.name for tensor, t in zip(tensors, types, strict=True)}


def _tensor_types(tensors: Sequence[_Tensor], qtype: str, *, architecture: str, n_layers: int, n_heads: int,
                  n_kv_heads: int, n_experts: int) -> list[GGMLQuantizationType]:
    """Per tensor, the type llama-quantize (without an importance matrix) writes for file type `qtype`.

    Follows llama.cpp's llama-quant.cpp: tensors are visited in its order (non-layer tensors first, then layer by
    layer), because the attn_v counter that picks the layers given more bits advances in that order.
    """
    ftype, default = _FILE_TYPES[qtype]
    F = LlamaFileType
    order = sorted(range(len(tensors)), key=lambda k: (tensors[k].layer if tensors[k].layer is not None else -1,
                                                      tensors[k].name))
    n_attn_v = sum(1 for t in tensors if _category(t.name) == "attn_v")
    tied = not any(t.name == "output.weight" for t in tensors)
    falcon = architecture == "falcon"
    n_gqa = n_heads // max(1, n_kv_heads)
    is_70b = architecture == "llama" and n_layers == 80 and n_heads != n_kv_heads
    i_attn_v = i_ffn_down = 0
    result: list[GGMLQuantizationType] = [T.F32] * len(tensors)
    for k in order:
        tensor = tensors[k]
        if not _quantizable(tensor):
            result[k] = tensor.source_type
            continue
        chosen = default
        if default in (T.F32, T.F16, T.BF16):
            result[k] = default
            continue
        category = _category(tensor.name)
        if category == "output" or (tied and category == "token_embd"):
            if falcon or tensor.shape[0] % GGML_QUANT_SIZES[default][0]:
                chosen = T.Q8_0
            elif default != T.Q8_0:
                chosen = T.Q6_K
        elif category == "attn_v":
            if ftype == F.MOSTLY_Q2_K:
                chosen = T.Q4_K if n_gqa >= 4 else T.Q3_K
            elif ftype == F.MOSTLY_Q3_K_M:
                chosen = T.Q5_K if i_attn_v < 2 else T.Q4_K
            elif ftype == F.MOSTLY_Q3_K_L:
                chosen = T.Q5_K
            elif ftype in (F.MOSTLY_Q4_K_M, F.MOSTLY_Q5_K_M) and _more_bits(i_attn_v, n_attn_v):
                chosen = T.Q6_K
            elif ftype == F.MOSTLY_Q4_K_S and i_attn_v < 4:
                chosen = T.Q5_K
            if is_70b and chosen in (T.Q3_K, T.Q4_K):
                chosen = T.Q5_K  # attn_v is 8x smaller there, so the extra bits cost almost nothing
            if n_experts == 8:
                chosen = T.Q8_0
            i_attn_v += 1
        elif category == "attn_k":
            if n_experts == 8:
                chosen = T.Q8_0
        elif category == "ffn_down":
            i = tensor.layer if n_experts > 1 and tensor.layer is not None else i_ffn_down
            if ftype == F.MOSTLY_Q2_K:
                chosen = T.Q3_K
            elif ftype == F.MOSTLY_Q3_K_M:
                chosen = T.Q5_K if i < n_layers // 16 else \
                    T.Q4_K if not falcon or _more_bits(i, n_layers) else T.Q3_K
            elif ftype == F.MOSTLY_Q3_K_L:
                chosen = T.Q4_K if falcon else T.Q5_K
            elif ftype == F.MOSTLY_Q4_K_M:
                if falcon:
                    chosen = T.Q6_K if i < n_layers // 16 else T.Q5_K if _more_bits(i, n_layers) else T.Q4_K
                elif _more_bits(i, n_layers):
                    chosen = T.Q6_K
            elif ftype == F.MOSTLY_Q5_K_M and _more_bits(i, n_layers):
                chosen = T.Q6_K
            elif ftype == F.MOSTLY_Q4_K_S and not falcon and i < n_layers // 8:
                chosen = T.Q5_K
            i_ffn_down += 1
        elif category == "attn_output":
            if falcon:
                chosen = T.Q4_K if ftype == F.MOSTLY_Q3_K_L else chosen
            elif n_experts == 8:
                if ftype in (F.MOSTLY_Q2_K, F.MOSTLY_Q3_K_S, F.MOSTLY_Q3_K_M, F.MOSTLY_Q4_K_S, F.MOSTLY_Q4_K_M):
                    chosen = T.Q5_K
            else:
                chosen = {F.MOSTLY_Q2_K: T.Q3_K, F.MOSTLY_Q3_K_M: T.Q4_K, F.MOSTLY_Q3_K_L: T.Q5_K}.get(ftype, chosen)
        result[k] = _fallback(tensor, chosen)
    return result


# -- the plan ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    """One quantization type: what it needs and whether it fits."""

    qtype: str
    """llama.cpp's name for the file type (Q4_K_M, F16, ...)."""
    weights_bytes: int
    """The model's tensors at this type, each with the type llama.cpp gives it."""
    bits_per_weight: float
    """Average bits per weight over all tensors."""
    kv_cache_bytes: int
    """The KV cache at the plan's context length and cache type."""
    compute_bytes: int
    """Estimated compute buffer (activations, attention scores, logits of one micro-batch)."""
    total_bytes: int
    """Weights + KV cache + compute buffer."""
    fits: bool
    """Whether the total fits the budget."""
    gpu_layers: int | None
    """Layers to offload to the GPU (all of them when it fits); None when planning for the CPU."""
    gpu_bytes: int
    """Memory used on the GPU with that many layers offloaded (0 on the CPU)."""
    cpu_bytes: int
    """Memory used in CPU RAM: the layers not offloaded, or everything when planning for the CPU."""
    this_file: bool = False
    """This row is the GGUF source file's own type."""
    file_bytes: int | None = None
    """For the source file's own type: its real size on disk."""


@dataclass(frozen=True)
class MemoryPlan:
    """How much memory a judge needs at each quantization, against a memory budget."""

    source: Path
    """The Hugging Face folder or GGUF file planned for."""
    model_name: str
    architecture: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    """Key/value heads (fewer than n_heads with grouped-query attention); the largest where layers differ."""
    parameters: int
    """Number of weights in the model."""
    n_ctx: int
    """Context length the KV cache is sized for."""
    cache_type: str
    """KV cache element type (f16, q8_0, ...)."""
    kv_bytes_per_token: int
    """KV cache bytes per token of context."""
    device: str
    """'gpu' (budget is GPU memory; layers can be offloaded) or 'cpu' (budget is RAM)."""
    budget_bytes: int
    budget_label: str
    """The budget as people know it ('RTX 3090 / 4090'), or empty."""
    rows: tuple[PlanRow, ...]
    file_type: str | None = None
    """The GGUF source's own type; None for a Hugging Face folder."""
    notes: tuple[str, ...] = field(default=())
    """Assumptions and adjustments the user should know about."""

    def row(self, qtype: str) -> PlanRow:
        """The row for `qtype` (KeyError if the plan has none)."""
        for row in self.rows:
            if row.qtype == qtype.upper():
                return row
        raise KeyError(qtype)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["source"] = str(self.source)
        out["budget_gib"] = self.budget_bytes / GIB
        out["rows"] = [asdict(row) for row in self.rows]
        out["notes"] = list(self.notes)
        return out

    def format_table(self) -> str:
        """The plan as a plain-text table for a terminal."""
        gqa = f", {self.n_heads}/{self.n_kv_heads} heads (GQA)" if self.n_kv_heads != self.n_heads else ""
        where = "GPU memory" if self.device == "gpu" else "RAM"
        label = f" ({self.budget_label})" if self.budget_label else ""
        lines = [
            f"{self.model_name}: {self.architecture}, {_count(self.parameters)} weights, {self.n_layers} layers{gqa}",
            f"Context {self.n_ctx} tokens, KV cache {self.cache_type} "
            f"({_bytes(self.kv_bytes_per_token)} per token); budget {_gib(self.budget_bytes)} {where}{label}",
            "",
        ]
        header = ["Type", "Weights", "KV cache", "Compute", "Total", "Fits"]
        if self.device == "gpu":
            header.append("GPU layers")
        table = [header]
        for row in self.rows:
            cells = [row.qtype + (" *" if row.this_file else ""), _bytes(row.weights_bytes),
                     _bytes(row.kv_cache_bytes), _bytes(row.compute_bytes), _bytes(row.total_bytes),
                     "yes" if row.fits else "no"]
            if self.device == "gpu":
                cells.append("all" if row.fits else f"{row.gpu_layers} of {self.n_layers}"
                             + (f" ({_bytes(row.cpu_bytes)} in RAM)" if row.gpu_layers is not None else ""))
            table.append(cells)
        widths = [max(len(r[c]) for r in table) for c in range(len(header))]
        for r in table:
            lines.append("  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                                   for c, (cell, w) in enumerate(zip(r, widths, strict=True))).rstrip())
        own = next((row for row in self.rows if row.this_file), None)
        if own is not None and own.file_bytes is not None:
            lines.append(f"* this file ({self.file_type}): {_bytes(own.file_bytes)} on disk")
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)


def plan_memory(source: str | Path, *, budget_gib: float = 24.0, n_ctx: int = 4096, cache_type: str = "f16",
                device: str = "gpu") -> MemoryPlan:
    """Plan the memory a judge needs at each quantization type.

    Args:
        source: a Hugging Face model folder (config.json is enough) or its config.json, or a GGUF file.
        budget_gib: memory available, in GiB (2^30 bytes): GPU memory for device='gpu', RAM for 'cpu'.
        n_ctx: context length the KV cache is sized for (capped at the model's trained context).
        cache_type: KV cache element type, as llama.cpp names it: f16 (default), q8_0, q4_0, f32, bf16, ...
        device: 'gpu' (layers that do not fit stay in CPU RAM) or 'cpu'.
    """
    source = Path(source)
    if device not in ("gpu", "cpu"):
        raise InputError(f"unknown device {device!r}; use 'gpu' or 'cpu'", field="device")
    if cache_type.lower() not in _CACHE_TYPES:
        raise InputError(f"unknown KV cache type {cache_type!r}; known: {', '.join(_CACHE_TYPES)}",
                         field="cache_type")
    if budget_gib <= 0:
        raise InputError(f"the memory budget must be positive, not {budget_gib}", field="budget")
    if n_ctx <= 0:
        raise InputError(f"the context length must be positive, not {n_ctx}", field="n_ctx")
    cache_type = cache_type.lower()
    file_type: str | None = None
    file_bytes: int | None = None
    if source.is_file() and source.name == "config.json":
        model = _model_from_config(source.parent)
    elif source.is_dir() or not source.exists():
        model = _model_from_config(source)
    else:
        model, file_type, file_bytes = _model_from_gguf(source)

    notes: list[str] = []
    if model.trained_context and n_ctx > model.trained_context:
        notes.append(f"context capped at the model's trained {model.trained_context} tokens (asked {n_ctx})")
        n_ctx = model.trained_context
    block, type_size = GGML_QUANT_SIZES[_CACHE_TYPES[cache_type]]
    kv_layer_tokens = [n_kv * (model.head_dim_k + model.head_dim_v) for n_kv in model.n_kv_heads]
    kv_per_layer = [(-(-elements * n_ctx // block)) * type_size for elements in kv_layer_tokens]
    kv_per_token = sum(kv_layer_tokens) * type_size // block
    compute = _compute_buffer(model, n_ctx)
    if model.n_experts:
        notes.append("mixture of experts: all experts are counted, as llama.cpp loads them all")
    notes.append("compute buffer is an estimate (without flash attention); GPU drivers add a few hundred MiB")

    budget = int(budget_gib * GIB)
    qtypes = list(_PLAN_TYPES)
    if file_type is not None and file_type not in qtypes and file_type in _FILE_TYPES:
        qtypes.append(file_type)
        qtypes.sort(key=list(_FILE_TYPES).index)  # best quality first, the file's own type among the others
    elif file_type is not None and file_type not in _FILE_TYPES:
        notes.append(f"the file's own type {file_type} is not one the planner can size")
    rows = [
        _row(model, qtype, kv_per_layer, compute, budget, device, this_file=qtype == file_type,
             file_bytes=file_bytes if qtype == file_type else None)
        for qtype in qtypes
    ]
    n_kv_max = max(model.n_kv_heads) if model.n_kv_heads else model.n_heads
    return MemoryPlan(
        source=source, model_name=model.name, architecture=model.architecture, n_layers=model.n_layers,
        n_heads=model.n_heads, n_kv_heads=n_kv_max, parameters=sum(t.elements for t in model.tensors), n_ctx=n_ctx,
        cache_type=cache_type, kv_bytes_per_token=kv_per_token, device=device, budget_bytes=budget,
        budget_label=("system RAM" if device == "cpu" else BUDGET_PRESETS.get(float(budget_gib), "")),
        rows=tuple(rows), file_type=file_type, notes=tuple(notes),
    )


def _compute_buffer(model: _Model, n_ctx: int) -> int:
    """llama.cpp's compute buffer for one micro-batch: attention scores, FFN activations and the logits, in f32.

    Without flash attention the attention scores (micro-batch x context x heads) dominate at long contexts.
    """
    n_ubatch = min(_N_UBATCH, n_ctx)
    scores = n_ubatch * n_ctx * model.n_heads * 4
    ffn = 2 * n_ubatch * max(model.ffn, model.hidden) * 4
    logits = n_ubatch * model.vocab * 4
    return scores + ffn + logits


def _row(model: _Model, qtype: str, kv_per_layer: Sequence[int], compute: int, budget: int, device: str, *,
         this_file: bool, file_bytes: int | None) -> PlanRow:
    n_kv = max(model.n_kv_heads) if model.n_kv_heads else model.n_heads
    types = _tensor_types(model.tensors, qtype, architecture=model.architecture, n_layers=model.n_layers,
                          n_heads=model.n_heads, n_kv_heads=n_kv, n_experts=model.n_experts)
    layer_bytes = [0] * model.n_layers
    weights = 0
    for tensor, ggml_type in zip(model.tensors, types, strict=True):
        size = _size(tensor, ggml_type)
        weights += size
        if tensor.layer is not None and tensor.layer < model.n_layers:
            layer_bytes[tensor.layer] += size
    kv = sum(kv_per_layer)
    total = weights + kv + compute
    fits = total <= budget
    elements = sum(t.elements for t in model.tensors)
    bpw = 8 * weights / elements if elements else 0.0
    if device == "cpu":
        return PlanRow(qtype, weights, bpw, kv, compute, total, fits, None, 0, total, this_file, file_bytes)
    if fits:
        return PlanRow(qtype, weights, bpw, kv, compute, total, True, model.n_layers, total, 0, this_file, file_bytes)
    # llama.cpp offloads the last layers first; each brings its weights and its share of the KV cache.
    used, layers = compute, 0
    for i in reversed(range(model.n_layers)):
        need = layer_bytes[i] + kv_per_layer[i]
        if used + need > budget:
            break
        used, layers = used + need, layers + 1
    gpu = used if layers else 0
    return PlanRow(qtype, weights, bpw, kv, compute, total, False, layers, gpu, total - gpu, this_file, file_bytes)


def _gib(n: int) -> str:
    return f"{n / GIB:.0f} GiB" if n % GIB == 0 else f"{n / GIB:.2f} GiB"


def _bytes(n: int) -> str:
    if n >= GIB:
        return f"{n / GIB:.2f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n / 1024:.0f} KiB"


def _count(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.0f} M"


# -- what this computer has ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuMemory:
    """One NVIDIA GPU as NVML reports it."""

    index: int
    name: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class SystemMemory:
    """RAM and GPU memory of this computer; GPUs are listed only when NVIDIA's NVML library is installed."""

    ram_total_bytes: int | None
    ram_available_bytes: int | None
    gpus: tuple[GpuMemory, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_memory() -> SystemMemory:
    """What memory this computer has; never fails (what cannot be found is None or left out)."""
    total, available = _ram()
    return SystemMemory(ram_total_bytes=total, ram_available_bytes=available, gpus=tuple(_nvml_gpus()))


def _ram() -> tuple[int | None, int | None]:
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]

        memory = psutil.virtual_memory()
        return int(memory.total), int(memory.available)
    except Exception:  # absent or broken psutil: try the next source
        pass
    try:
        fields: dict[str, int] = {}
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                fields[key] = int(rest.split()[0]) * 1024
        return fields.get("MemTotal"), fields.get("MemAvailable", fields.get("MemFree"))
    except (OSError, ValueError, IndexError):
        pass  # no /proc (macOS, Windows): ask sysconf
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None, None


class _NvmlMemory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


def _nvml_gpus() -> list[GpuMemory]:
    """GPUs through NVML, which ships with NVIDIA's driver: pynvml when installed, else the library itself."""
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]

        pynvml.nvmlInit()
        try:
            gpus = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                info = pynvml.nvmlDeviceGetMemoryInfo(handle)
                name = pynvml.nvmlDeviceGetName(handle)
                gpus.append(GpuMemory(i, name.decode() if isinstance(name, bytes) else str(name),
                                      int(info.total), int(info.free)))
            return gpus
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no pynvml, no driver, no GPU: try the library directly
        pass
    names = ("nvml.dll",) if sys.platform == "win32" else ("libnvidia-ml.so.1", "libnvidia-ml.so")
    for library in names:
        try:
            nvml = ctypes.CDLL(library)
        except OSError:
            continue
        try:
            return _nvml_query(nvml)
        except Exception:  # an old or broken driver: report no GPU rather than fail the plan
            return []
    return []


def _nvml_query(nvml: ctypes.CDLL) -> list[GpuMemory]:
    if nvml.nvmlInit_v2() != 0:
        return []
    try:
        count = ctypes.c_uint()
        if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return []
        gpus = []
        for i in range(count.value):
            handle = ctypes.c_void_p()
            if nvml.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(handle)) != 0:
                continue
            memory = _NvmlMemory()
            if nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) != 0:
                continue
            name = ctypes.create_string_buffer(96)
            nvml.nvmlDeviceGetName(handle, name, ctypes.c_uint(96))
            gpus.append(GpuMemory(i, name.value.decode(errors="replace"), int(memory.total), int(memory.free)))
        return gpus
    finally:
        nvml.nvmlShutdown()
