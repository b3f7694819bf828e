"""The memory planner: which quantization of a judge fits a GPU or a computer, before anything is downloaded or built.

A plan lists, for each llama.cpp quantization type, the weights, the KV cache at the chosen context, an estimate of
llama.cpp's compute buffer, the total, whether that fits the budget, and, where it does not, how many layers to
offload to the GPU (the rest run from CPU RAM). Weight sizes are computed tensor by tensor with the type llama.cpp
would pick for each one (quantize/_tensor_type_rules.py), so the figures match the files llama-quantize writes
instead of a flat bits-per-weight guess.

The source is either a Hugging Face folder, of which config.json alone is enough (plan before copying weights), or
a GGUF file, whose real tensor shapes and size are used (quantize/_model_shape.py).

The KV cache and compute buffer follow what llama.cpp (as vendored by llama-cpp-python 0.3.36) allocates for a
context made as judgedesk's backend makes it (n_batch = n_ubatch = 512, no flash attention): each sequence's cache
is its context rounded up to 256 cells, and several sequences judged in one batch (kv_unified off) each get their
own stream, so the cache grows with their number while the compute buffer, sized per stream, does not. The figures
are held against llama.cpp's own reported buffers within 5% (tests/quantize/test_plan_vs_llama.py,
bench/judge_memory.py). `sequences_that_fit` uses them to choose how many sequences a GPU's free memory holds.
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

__all__ = ["BUDGET_PRESETS", "MemoryPlan", "PlanRow", "plan_memory", "sequences_that_fit"]

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
_N_UBATCH = 512  # judgedesk's micro-batch (llama.cpp's default too), which sizes the compute buffer
_KV_PAD = 256  # llama.cpp rounds each sequence's KV cache up to a multiple of this many cells
_F32 = 4


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
    """llama.cpp's compute buffer (attention scores, activations, logits of one micro-batch) and its output
    buffer (the logits of each sequence's last token)."""
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
    """Context length the KV cache is sized for (per sequence)."""
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
    sequences: int = 1
    """Sequences judged together, each with its own KV cache of n_ctx tokens (llama.cpp n_seq_max, kv_unified off)."""

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
            f"Context {self.n_ctx} tokens"
            + (f" x {self.sequences} sequences" if self.sequences > 1 else "") + f", KV cache {self.cache_type} "
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


def plan_memory(source: str | Path | ModelShape, *, budget_gib: float = 24.0, n_ctx: int = 4096,
                cache_type: str = "f16", device: str = "gpu", sequences: int = 1) -> MemoryPlan:
    """Plan the memory a judge needs at each quantization type.

    Args:
        source: a Hugging Face model folder (config.json is enough) or its config.json, a GGUF file, or a model
            shape (e.g. `synthetic_shape('llama2-13b', vocab_size=32000)`).
        budget_gib: memory available, in GiB (2^30 bytes): GPU memory for device='gpu', RAM for 'cpu'.
        n_ctx: context length of each sequence, which the KV cache is sized for (capped at the model's trained
            context).
        cache_type: KV cache element type, as llama.cpp names it: f16 (default), q8_0, q4_0, f32, bf16, ...
        device: 'gpu' (layers that do not fit stay in CPU RAM) or 'cpu'.
        sequences: sequences judged together in one batch, each with its own KV cache of n_ctx tokens.
    """
    if device not in ("gpu", "cpu"):
        raise InputError(f"unknown device {device!r}; use 'gpu' or 'cpu'", field="device")
    if cache_type.lower() not in _CACHE_TYPES:
        raise InputError(f"unknown KV cache type {cache_type!r}; known: {', '.join(_CACHE_TYPES)}",
                         field="cache_type")
    if budget_gib <= 0:
        raise InputError(f"the memory budget must be positive, not {budget_gib}", field="budget")
    if n_ctx <= 0:
        raise InputError(f"the context length must be positive, not {n_ctx}", field="n_ctx")
    if sequences <= 0:
        raise InputError(f"the number of sequences must be positive, not {sequences}", field="sequences")
    cache_type = cache_type.lower()
    file_type: str | None = None
    file_bytes: int | None = None
    if isinstance(source, ModelShape):
        model, source = source, Path(source.name)
    elif (source := Path(source)).is_file() and source.name == "config.json":
        model = model_shape_from_config(source.parent)
    elif source.is_dir() or not source.exists():
        model = model_shape_from_config(source)
    else:
        model, file_type, file_bytes = model_shape_from_gguf(source)

    notes: list[str] = []
    if model.trained_context and n_ctx > model.trained_context:
        notes.append(f"context capped at the model's trained {model.trained_context} tokens (asked {n_ctx})")
        n_ctx = model.trained_context
    kv_per_layer = _kv_cache(model, n_ctx, cache_type, sequences)
    block, type_size = GGML_QUANT_SIZES[_CACHE_TYPES[cache_type]]
    kv_per_token = sum(n_kv * (model.head_dim_k + model.head_dim_v) for n_kv in model.n_kv_heads) * type_size // block
    compute = _compute_buffer(model, n_ctx, sequences)
    if model.n_experts:
        notes.append("mixture of experts: all experts are counted, as llama.cpp loads them all")
    notes.append("compute buffer as llama.cpp sizes it on the CPU without flash attention; on a GPU the driver and "
                 "CUDA add a few hundred MiB")

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
        rows=tuple(rows), file_type=file_type, notes=tuple(notes), sequences=sequences,
    )


def sequences_that_fit(path: str | Path | ModelShape, *, n_ctx: int, free_bytes: int, cache_type: str = "f16",
                       max_sequences: int = 8) -> int:
    """How many sequences of `n_ctx` tokens each (separate KV streams) fit in `free_bytes` of GPU memory with every
    layer of the model offloaded: the largest n from 1 to `max_sequences` whose weights + n KV caches + compute
    buffer fit, and 1 when even one does not (the caller then sees llama.cpp's own out-of-memory error).

    path: a GGUF file (its own tensor types are counted) or a model shape (its tensors at their source types).
    The token embeddings are left out, as llama.cpp keeps them in CPU RAM; n_ctx is capped at the model's trained
    context as judgedesk's backend caps it. Used by the llama.cpp backend to choose how many pairs to judge per
    forward pass; it leaves headroom for the CUDA context to the caller (free_bytes is what may be used).
    """
    if cache_type.lower() not in _CACHE_TYPES:
        raise InputError(f"unknown KV cache type {cache_type!r}; known: {', '.join(_CACHE_TYPES)}",
                         field="cache_type")
    if n_ctx <= 0:
        raise InputError(f"the context length must be positive, not {n_ctx}", field="n_ctx")
    if max_sequences < 1:
        raise InputError(f"max_sequences must be at least 1, not {max_sequences}", field="max_sequences")
    model = path if isinstance(path, ModelShape) else model_shape_from_gguf(Path(path))[0]
    if model.trained_context:
        n_ctx = min(n_ctx, model.trained_context)
    on_gpu = sum(tensor_bytes(t, t.source_type) for t in model.tensors if t.name != "token_embd.weight")
    for n in range(max_sequences, 1, -1):
        need = on_gpu + sum(_kv_cache(model, n_ctx, cache_type.lower(), n)) + _compute_buffer(model, n_ctx, n)
        if need <= free_bytes:
            return n
    return 1


def _kv_cache(model: ModelShape, n_ctx: int, cache_type: str, sequences: int) -> list[int]:
    """The KV cache's bytes per layer: `sequences` streams of n_ctx tokens (rounded up as llama.cpp does)."""
    block, type_size = GGML_QUANT_SIZES[_CACHE_TYPES[cache_type]]
    cells = sequences * _padded(n_ctx)
    return [-(-n_kv * (model.head_dim_k + model.head_dim_v) * cells // block) * type_size
            for n_kv in model.n_kv_heads]


def _padded(n_ctx: int) -> int:
    """The KV cells llama.cpp gives a sequence of `n_ctx` tokens."""
    return -(-n_ctx // _KV_PAD) * _KV_PAD


def _compute_buffer(model: ModelShape, n_ctx: int, sequences: int = 1) -> int:
    """llama.cpp's compute buffer for one micro-batch of U tokens, plus the output buffer, in bytes.

    ggml's graph allocator reuses a tensor's memory once nothing reads it, so the buffer is the largest set of
    tensors alive at once, in one of three places of the graph (all f32; measured against llama.cpp's reported
    buffers on shapes where each dominates):
    - attention without flash attention: the scores of every head (U x cells x heads), the mask (U x cells), and
      the layer's input, normed input, query, output and residual plus its key and value (5 x U x hidden,
      2 x U x kv width);
    - the feed-forward: gate, up and their product (3 x U x ffn) and three U x hidden activations;
    - the output: the logits of all U tokens (U x vocab; llama.cpp reserves for every token being an output) and
      three U x hidden activations.
    The scores are per KV stream, so more sequences (each in its own stream) do not grow the buffer; the output
    buffer holds one row of logits per sequence.
    """
    n_ubatch = min(_N_UBATCH, n_ctx * sequences)
    cells = _padded(n_ctx)
    n_kv = max(model.n_kv_heads) if model.n_kv_heads else model.n_heads
    attention = n_ubatch * cells * (model.n_heads + 1) + n_ubatch * (5 * model.hidden + 2 * n_kv * model.head_dim_k)
    ffn = 3 * n_ubatch * model.ffn + 3 * n_ubatch * model.hidden
    output = n_ubatch * model.vocab + 3 * n_ubatch * model.hidden
    return (max(attention, ffn, output) + sequences * model.vocab) * _F32


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
