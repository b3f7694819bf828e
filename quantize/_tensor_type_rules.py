"""llama.cpp's choice of type for each tensor when llama-quantize writes a file type (Q4_K_M, Q8_0, ...).

K-quant mixes keep the output layer and some attn_v / ffn_down layers at more bits, and rows not divisible by the
block size fall back to other types, so a model's size at a file type is the sum over its tensors, each at its own
type, not a flat bits-per-weight figure. The rules follow llama.cpp's src/llama-quant.cpp (without an importance
matrix) and are held against llama.cpp's own dry run in tests/quantize/test_plan.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from ._model_shape import ModelTensor

__all__ = ["FILE_TYPES", "planned_tensor_types", "tensor_bytes", "tensor_types"]

T = GGMLQuantizationType

FILE_TYPES: dict[str, tuple[LlamaFileType, GGMLQuantizationType]] = {
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
"""Every file type a plan can show: llama.cpp's file type and the tensor type most weights get, best quality first."""


def tensor_bytes(tensor: ModelTensor, ggml_type: GGMLQuantizationType) -> int:
    """The bytes `tensor` takes stored as `ggml_type`."""
    block, type_size = GGML_QUANT_SIZES[ggml_type]
    return tensor.elements // block * type_size


def planned_tensor_types(model_tensors: Iterable[tuple[str, Sequence[int], int]], qtype: str, *,
                         architecture: str = "llama", n_layers: int | None = None, n_heads: int = 1,
                         n_kv_heads: int = 1, n_experts: int = 0) -> dict[str, str]:
    """The ggml type llama.cpp gives each tensor for `qtype`; tensors as (name, shape in ggml order, source type).

    Public so a test can hold the rules against llama.cpp's own dry run.
    """
    tensors = tuple(ModelTensor(name, tuple(shape), GGMLQuantizationType(src)) for name, shape, src in model_tensors)
    layers = n_layers if n_layers is not None else 1 + max((t.layer for t in tensors if t.layer is not None),
                                                             default=-1)
    types = tensor_types(tensors, qtype, architecture=architecture, n_layers=layers, n_heads=n_heads,
                         n_kv_heads=n_kv_heads, n_experts=n_experts)
    return {tensor.name: t.name for tensor, t in zip(tensors, types, strict=True)}


def tensor_types(tensors: Sequence[ModelTensor], qtype: str, *, architecture: str, n_layers: int, n_heads: int,
                 n_kv_heads: int, n_experts: int) -> list[GGMLQuantizationType]:
    """Per tensor, the type llama-quantize (without an importance matrix) writes for file type `qtype`.

    Follows llama.cpp's llama-quant.cpp: tensors are visited in its order (non-layer tensors first, then layer by
    layer), because the attn_v counter that picks the layers given more bits advances in that order.
    """
    ftype, default = FILE_TYPES[qtype]
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


def _quantizable(tensor: ModelTensor) -> bool:
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


def _fallback(tensor: ModelTensor, chosen: GGMLQuantizationType) -> GGMLQuantizationType:
    """A row length not divisible by the block size takes a compatible type, as llama.cpp does."""
    row = tensor.shape[0]
    if row % GGML_QUANT_SIZES[chosen][0] == 0:
        return chosen
    replacement = {T.Q2_K: T.Q4_0, T.Q3_K: T.Q4_0, T.Q4_K: T.Q5_0, T.Q5_K: T.Q5_1, T.Q6_K: T.Q8_0}.get(chosen, T.F16)
    return replacement if row % GGML_QUANT_SIZES[replacement][0] == 0 else T.F16
