"""What a Hugging Face checkpoint folder holds, checked before any conversion starts.

`read_model_config` needs `config.json` only, so the memory planner can size a model whose weights are not
downloaded yet. `inspect_checkpoint` adds the tokenizer and weight files and refuses, with a `CheckpointError`
naming the folder or file, anything the converter could not finish: a broken config, an architecture llama.cpp's
graph for it would run differently, a missing tokenizer, missing or pickle weights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import CheckpointError
from ._safetensors import find_weight_files, read_safetensors_header

__all__ = ["SUPPORTED_ARCHITECTURES", "Checkpoint", "ModelConfig", "inspect_checkpoint", "read_model_config"]

# Hugging Face class -> llama.cpp architecture. Mistral runs on llama.cpp's llama graph (same blocks, and its
# sliding window only matters past 4096 tokens, which llama.cpp's llama graph does not model).
SUPPORTED_ARCHITECTURES: Mapping[str, str] = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "llama",
    "Qwen2ForCausalLM": "qwen2",
}
# Rope scaling schemes the converter can express in GGUF; "default" means none.
_ROPE_TYPES = {"default", "linear", "yarn", "llama3"}


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a decoder-only transformer, as `config.json` describes it."""

    path: Path
    """The config.json read."""
    architecture: str
    """The Hugging Face class (`LlamaForCausalLM`)."""
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    """Key/value heads; fewer than `num_heads` means grouped-query attention."""
    head_dim: int
    intermediate_size: int
    """Width of the feed-forward block."""
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: Mapping[str, Any] | None
    """The rope scaling parameters (with a `rope_type`), or None for plain rope."""
    context_length: int
    """`max_position_embeddings`: the context the model was trained for."""
    vocab_size: int
    """Rows of the embedding matrix (may exceed the tokenizer's count: the rest are padding)."""
    tie_word_embeddings: bool
    """The output projection reuses the token embeddings (no separate lm_head)."""
    torch_dtype: str | None
    """The dtype the weights were saved in (`bfloat16`), if the config says."""
    attention_bias: bool
    """The q/k/v projections have biases (Qwen2 has them; Llama usually not)."""
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)
    """The whole config.json, for anything not lifted into a field."""

    @property
    def gguf_architecture(self) -> str:
        """llama.cpp's name for the architecture (`llama`, `qwen2`)."""
        return SUPPORTED_ARCHITECTURES[self.architecture]

    def parameter_count(self) -> int:
        """Parameters implied by the config alone: embeddings, blocks, final norm and (untied) output."""
        h, kv = self.hidden_size, self.num_kv_heads * self.head_dim
        q = self.num_heads * self.head_dim
        attention = h * q + 2 * h * kv + q * h + (q + 2 * kv if self.attention_bias else 0)
        block = attention + 3 * h * self.intermediate_size + 2 * h
        embeddings = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        return embeddings + self.num_layers * block + h


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CheckpointError("not UTF-8 text, so not a JSON config", path=path) from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
                              path=path) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read: {exc.strerror or exc}", path=path) from None


def read_model_config(folder: str | Path) -> ModelConfig:
    """Read and check `config.json` of a checkpoint folder; the weights need not be there."""
    folder = Path(folder)
    if not folder.exists():
        raise CheckpointError("no such folder", path=folder)
    if not folder.is_dir():
        raise CheckpointError("not a folder (give the Hugging Face checkpoint folder, with config.json)",
                              path=folder)
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError("no config.json: not a Hugging Face checkpoint folder", path=folder)
    raw = _load_json(path)
    if not isinstance(raw, dict):
        raise CheckpointError("config.json must hold a JSON object", path=path)
    architectures = raw.get("architectures")
    architecture = architectures[0] if isinstance(architectures, list) and architectures else None
    if not isinstance(architecture, str) or architecture not in SUPPORTED_ARCHITECTURES:
        supported = ", ".join(SUPPORTED_ARCHITECTURES)
        raise CheckpointError(f"unsupported architecture {architecture!r} (supported: {supported})",
                              path=path, field="architectures")

    def integer(key: str, default: int | None = None) -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise CheckpointError(f"expected a positive integer, found {value!r}", path=path, field=key)
        return value

    hidden, heads = integer("hidden_size"), integer("num_attention_heads")
    kv_heads = integer("num_key_value_heads", heads)
    head_dim = raw.get("head_dim") or (hidden // heads if hidden % heads == 0 else None)
    if head_dim is None or not isinstance(head_dim, int) or head_dim % 2:
        raise CheckpointError(f"head size {head_dim!r} must be an even integer", path=path, field="head_dim")
    if heads % kv_heads:
        raise CheckpointError(f"{heads} attention heads cannot be shared by {kv_heads} key/value heads",
                              path=path, field="num_key_value_heads")
    rope_theta, rope_scaling = _rope(raw, path)
    eps = raw.get("rms_norm_eps", 1e-6)
    if not isinstance(eps, int | float) or isinstance(eps, bool) or eps <= 0:
        raise CheckpointError(f"expected a positive number, found {eps!r}", path=path, field="rms_norm_eps")
    dtype = raw.get("dtype", raw.get("torch_dtype"))  # transformers 5 writes "dtype", 4.x "torch_dtype"
    return ModelConfig(
        path=path, architecture=architecture, hidden_size=hidden, num_layers=integer("num_hidden_layers"),
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim, intermediate_size=integer("intermediate_size"),
        rms_norm_eps=float(eps), rope_theta=rope_theta, rope_scaling=rope_scaling,
        context_length=integer("max_position_embeddings"), vocab_size=integer("vocab_size"),
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
        torch_dtype=dtype if isinstance(dtype, str) else None,
        attention_bias=bool(raw.get("attention_bias", architecture == "Qwen2ForCausalLM")), raw=raw,
    )


def _rope(raw: Mapping[str, Any], path: Path) -> tuple[float, Mapping[str, Any] | None]:
    """Rope base and scaling from either layout: transformers 5's `rope_parameters` or 4.x's two keys."""
    params = raw.get("rope_parameters")
    key = "rope_parameters"
    if not isinstance(params, dict):
        key = "rope_scaling"
        params = dict(raw.get("rope_scaling") or {})
        params.setdefault("rope_theta", raw.get("rope_theta", 10000.0))
    theta = params.get("rope_theta", 10000.0)
    if isinstance(theta, bool) or not isinstance(theta, int | float) or theta <= 0:
        raise CheckpointError(f"rope base {theta!r} must be a positive number", path=path, field="rope_theta")
    rope_type = params.get("rope_type", params.get("type", "default"))
    if rope_type not in _ROPE_TYPES:
        raise CheckpointError(f"rope scaling {rope_type!r} is not supported (supported: linear, yarn, llama3)",
                              path=path, field=key)
    if rope_type == "default":
        return float(theta), None
    factor = params.get("factor")
    if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
        raise CheckpointError(f"rope scaling {rope_type} needs a positive factor, found {factor!r}",
                              path=path, field=key)
    return float(theta), {**params, "rope_type": rope_type}


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint folder that passed every check the converter needs before it writes anything."""

    folder: Path
    config: ModelConfig
    tokenizer_file: Path
    """`tokenizer.model` (SentencePiece) or `tokenizer.json` (Hugging Face BPE)."""
    weight_files: tuple[Path, ...]
    weights_format: str
    """'safetensors' or 'pickle'."""

    @property
    def name(self) -> str:
        return self.folder.resolve().name

    @property
    def tokenizer_kind(self) -> str:
        """'sentencepiece' or 'bpe'."""
        return "sentencepiece" if self.tokenizer_file.name == "tokenizer.model" else "bpe"

    def parameter_count(self) -> int:
        """Exact parameters from the safetensors headers (cheap: no tensor data is read); the config's estimate
        for pickle weights."""
        if self.weights_format != "safetensors":
            return self.config.parameter_count()
        return sum(info.n_elements for path in self.weight_files for info in read_safetensors_header(path))

    def describe(self) -> str:
        """One line for the CLI and the app: architecture, size, shape."""
        c = self.config
        attention = f"{c.num_heads} heads" + (f" / {c.num_kv_heads} kv" if c.num_kv_heads != c.num_heads else "")
        return (f"{self.name}: {c.architecture}, {self.parameter_count() / 1e6:,.1f}M parameters, "
                f"{c.num_layers} layers, hidden {c.hidden_size}, {attention}, context {c.context_length}, "
                f"{self.tokenizer_kind} tokenizer, {self.weights_format} weights")


def inspect_checkpoint(folder: str | Path, *, allow_pickle: bool = False) -> Checkpoint:
    """Check a Hugging Face checkpoint folder for conversion; raise `CheckpointError` saying what is wrong."""
    folder = Path(folder)
    config = read_model_config(folder)
    tokenizer = _tokenizer_file(folder, config)
    kind, files = find_weight_files(folder)
    if not files:
        raise CheckpointError("no weights found (expected model.safetensors, sharded model-*.safetensors, "
                              "or pytorch_model*.bin)", path=folder)
    if kind == "pickle" and not allow_pickle:
        raise CheckpointError(f"the weights are pickle files ({files[0].name}); loading them can run code hidden "
                              "in the file. Convert only checkpoints you trust, and opt in with allow_pickle "
                              "(--allow-pickle)", path=folder)
    for path in files:
        if not path.is_file():
            raise CheckpointError("a weights file named by the shard index is missing", path=path)
        if kind == "safetensors":
            read_safetensors_header(path)  # a truncated or corrupt file fails here, before any output exists
    return Checkpoint(folder=folder, config=config, tokenizer_file=tokenizer, weight_files=tuple(files),
                      weights_format=kind)


def _tokenizer_file(folder: Path, config: ModelConfig) -> Path:
    # Llama-2 and Mistral ship both files; the SentencePiece model is the original, the JSON a translation of it.
    # Qwen2 ships only tokenizer.json (byte-level BPE).
    sentencepiece, hf_json = folder / "tokenizer.model", folder / "tokenizer.json"
    if sentencepiece.is_file() and config.gguf_architecture == "llama":
        return sentencepiece
    if hf_json.is_file():
        return hf_json
    raise CheckpointError("no tokenizer (expected tokenizer.model or tokenizer.json next to config.json)",
                          path=folder)
