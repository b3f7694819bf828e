"""The memory planner: which quantization of a judge fits a GPU or a computer, before anything is downloaded or built.

A plan lists, for each llama.cpp quantization type, the weights, the KV cache at the chosen context, an estimate of
llama.cpp's compute buffer, the total, whether that fits the budget, and, where it does not, how many layers to
offload to the GPU (the rest run from CPU RAM). Weight sizes are computed tensor by tensor with the type llama.cpp
would pick for each one (quantize/_tensor_type_rules.py), so the figures match the files llama-quantize writes
instead of a flat bits-per-weight guess.

The source is either a Hugging Face folder, of which config.json alone is enough (plan before copying weights), or
a GGUF file, whose real tensor shapes and size are used (quantize/_model_shape.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
from judgedesk.core import InputError

from ._model_shape import ModelShape, model_shape_from_config, model_shape_from_gguf
from ._tensor_type_rules import FILE_TYPES, tensor_bytes, tensor_types

__all__ = ["BUDGET_PRESETS", "MemoryPlan", "PlanRow", "plan_memory"]

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

# The rows every plan shows, best quality first.
_PLAN_TYPES = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q2_K")

_CACHE_TYPES: dict[str, GGMLQuantizationType] = {
    "f32": T.F32, "f16": T.F16, "bf16": T.BF16, "q8_0": T.Q8_0, "q5_1": T.Q5_1, "q5_0": T.Q5_0, "q4_1": T.Q4_1,
    "q4_0": T.Q4_0,
}
_N_UBATCH = 512  # llama.cpp's default micro-batch, which sizes the compute buffer


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
        model = model_shape_from_config(source.parent)
    elif source.is_dir() or not source.exists():
        model = model_shape_from_config(source)
    else:
        model, file_type, file_bytes = model_shape_from_gguf(source)

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
    if file_type is not None and file_type not in qtypes and file_type in FILE_TYPES:
        qtypes.append(file_type)
        qtypes.sort(key=list(FILE_TYPES).index)  # best quality first, the file's own type among the others
    elif file_type is not None and file_type not in FILE_TYPES:
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


def _compute_buffer(model: ModelShape, n_ctx: int) -> int:
    """llama.cpp's compute buffer for one micro-batch: attention scores, FFN activations and the logits, in f32.

    Without flash attention the attention scores (micro-batch x context x heads) dominate at long contexts.
    """
    n_ubatch = min(_N_UBATCH, n_ctx)
    scores = n_ubatch * n_ctx * model.n_heads * 4
    ffn = 2 * n_ubatch * max(model.ffn, model.hidden) * 4
    logits = n_ubatch * model.vocab * 4
    return scores + ffn + logits


def _row(model: ModelShape, qtype: str, kv_per_layer: Sequence[int], compute: int, budget: int, device: str, *,
         this_file: bool, file_bytes: int | None) -> PlanRow:
    n_kv = max(model.n_kv_heads) if model.n_kv_heads else model.n_heads
    types = tensor_types(model.tensors, qtype, architecture=model.architecture, n_layers=model.n_layers,
                         n_heads=model.n_heads, n_kv_heads=n_kv, n_experts=model.n_experts)
    layer_bytes = [0] * model.n_layers
    weights = 0
    for tensor, ggml_type in zip(model.tensors, types, strict=True):
        size = tensor_bytes(tensor, ggml_type)
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
