"""A model's shape as the memory planner sees it: hyperparameters and every weight tensor's name, shape and type.

Two sources give the same description: a Hugging Face folder, of which config.json alone is enough (tensors are laid
out as llama.cpp's converter names them, so a plan can be made before any weights are copied), and a GGUF file, whose
real tensor table is read by `judgedesk.core.read_gguf_header`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf.constants import GGMLQuantizationType, Keys
from judgedesk.core import ModelFileError, read_gguf_header

from ._errors import CheckpointError

__all__ = ["ModelShape", "ModelTensor", "model_shape_from_config", "model_shape_from_gguf",
           "model_shape_from_hf_config"]

T = GGMLQuantizationType
_LAYER = re.compile(r"blk\.(\d+)\.")


@dataclass(frozen=True)
class ModelTensor:
    """One tensor of a model being planned."""

    name: str
    """llama.cpp's name for it ('blk.0.attn_v.weight')."""
    shape: tuple[int, ...]
    """Dimensions in ggml order: shape[0] is the row length."""
    source_type: GGMLQuantizationType
    """Its type before quantization: what a tensor llama.cpp does not quantize stays as."""

    @property
    def elements(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count

    @property
    def layer(self) -> int | None:
        """The layer (block) it belongs to; None for the embeddings, the output and its norm."""
        match = _LAYER.match(self.name)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class ModelShape:
    """What a plan needs to know about a model, whichever source it came from."""

    name: str
    architecture: str
    n_layers: int
    n_heads: int
    n_kv_heads: tuple[int, ...]
    """Key/value heads per layer: some models vary it."""
    head_dim_k: int
    head_dim_v: int
    hidden: int
    ffn: int
    vocab: int
    n_experts: int
    trained_context: int | None
    tensors: tuple[ModelTensor, ...]


def model_shape_from_config(folder: Path) -> ModelShape:
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
    return model_shape_from_hf_config(config, name=folder.name, source=config_path)


def model_shape_from_hf_config(config: dict[str, Any], *, name: str, source: Path) -> ModelShape:
    """Describe the standard decoder layout from a config.json's contents; `source` is named in errors.

    Shared by config.json files and the published configurations of the synthetic (shape-only) judges.
    """
    config_path = source
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

    tensors = [ModelTensor("token_embd.weight", (hidden, vocab), weight_type),
               ModelTensor("output_norm.weight", (hidden,), T.F32)]
    if not tied:
        tensors.append(ModelTensor("output.weight", (hidden, vocab), weight_type))
    q_size, kv_size = n_heads * head_dim, n_kv * head_dim
    for i in range(n_layers):
        blk = f"blk.{i}."
        tensors += [ModelTensor(blk + "attn_norm.weight", (hidden,), T.F32),
                    ModelTensor(blk + "ffn_norm.weight", (hidden,), T.F32)]
        if model_type == "phi3":  # fused projections
            tensors += [ModelTensor(blk + "attn_qkv.weight", (hidden, q_size + 2 * kv_size), weight_type),
                        ModelTensor(blk + "ffn_up.weight", (hidden, 2 * ffn), weight_type)]
        else:
            tensors += [ModelTensor(blk + "attn_q.weight", (hidden, q_size), weight_type),
                        ModelTensor(blk + "attn_k.weight", (hidden, kv_size), weight_type),
                        ModelTensor(blk + "attn_v.weight", (hidden, kv_size), weight_type)]
        tensors.append(ModelTensor(blk + "attn_output.weight", (q_size, hidden), weight_type))
        if config.get("attention_bias") or model_type.startswith("qwen2"):
            tensors += [ModelTensor(blk + f"attn_{p}.bias", (size,), T.F32)
                        for p, size in (("q", q_size), ("k", kv_size), ("v", kv_size))]
        if model_type.startswith(("qwen3", "gemma3", "olmo2")):
            tensors += [ModelTensor(blk + f"attn_{p}_norm.weight", (head_dim,), T.F32) for p in ("q", "k")]
        if n_experts:
            tensors.append(ModelTensor(blk + "ffn_gate_inp.weight", (hidden, n_experts), T.F32))
            tensors += [ModelTensor(blk + f"ffn_{p}_exps.weight", (hidden, ffn, n_experts), weight_type)
                        for p in ("gate", "up")]
            tensors.append(ModelTensor(blk + "ffn_down_exps.weight", (ffn, hidden, n_experts), weight_type))
        elif model_type != "phi3":
            tensors += [ModelTensor(blk + "ffn_gate.weight", (hidden, ffn), weight_type),
                        ModelTensor(blk + "ffn_up.weight", (hidden, ffn), weight_type)]
        if not n_experts:
            tensors.append(ModelTensor(blk + "ffn_down.weight", (ffn, hidden), weight_type))
    trained = config.get("max_position_embeddings")
    return ModelShape(
        name=name, architecture=model_type, n_layers=n_layers, n_heads=n_heads, n_kv_heads=(n_kv,) * n_layers,
        head_dim_k=head_dim, head_dim_v=head_dim, hidden=hidden, ffn=ffn, vocab=vocab, n_experts=n_experts,
        trained_context=trained if isinstance(trained, int) and trained > 0 else None, tensors=tuple(tensors),
    )


def model_shape_from_gguf(path: Path) -> tuple[ModelShape, str, int]:
    """The model in a GGUF file, its own quantization type, and its size on disk."""
    header = read_gguf_header(path)  # a corrupt or foreign file is a ModelFileError naming it
    tensors = tuple(ModelTensor(t.name, t.shape, t.ggml_type) for t in header.tensors.values())
    meta = header.metadata
    arch = header.architecture

    def value(key: str, default: Any = None) -> Any:
        return meta.get(key.format(arch=arch), default)

    n_layers = int(value(Keys.LLM.BLOCK_COUNT, 0))
    n_heads = int(_largest(value(Keys.Attention.HEAD_COUNT, 0)))
    if not n_layers or not n_heads:
        raise ModelFileError(path, f"no {arch}.block_count or {arch}.attention.head_count: not a decoder model "
                                    "the planner can size")
    kv_raw = value(Keys.Attention.HEAD_COUNT_KV, n_heads)
    n_kv = tuple(int(k) for k in kv_raw) if isinstance(kv_raw, list) else (int(kv_raw),) * n_layers
    n_kv = (n_kv + n_kv[-1:] * n_layers)[:n_layers]  # one entry per layer, however the file lists them
    hidden = int(value(Keys.LLM.EMBEDDING_LENGTH, 0))
    head_dim_k = int(value(Keys.Attention.KEY_LENGTH, hidden // n_heads))
    embedding = header.tensors.get("token_embd.weight")
    vocab = int(value(Keys.LLM.VOCAB_SIZE, embedding.shape[-1] if embedding else 0))
    model = ModelShape(
        name=header.name, architecture=arch, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv,
        head_dim_k=head_dim_k, head_dim_v=int(value(Keys.Attention.VALUE_LENGTH, head_dim_k)), hidden=hidden,
        ffn=int(_largest(value(Keys.LLM.FEED_FORWARD_LENGTH, 0))), vocab=vocab,
        n_experts=int(value(Keys.LLM.EXPERT_COUNT, 0)), trained_context=header.context_length, tensors=tensors,
    )
    return model, header.file_type, path.stat().st_size


def _largest(value: Any) -> Any:
    """A per-layer array's largest entry (the one memory is sized for); a single value as it is."""
    return max(value) if isinstance(value, list) else value
