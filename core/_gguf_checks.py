"""What llama.cpp asserts on in a GGUF file's hyperparameters and tensor table, checked before it sees the file.

llama.cpp reports a missing key or a tensor of the wrong shape as an error, but it *asserts* on what it takes for
granted: a GGML_ASSERT aborts the whole process (SIGABRT), and its reason goes to a stderr judgedesk keeps quiet.
A block count of 0 or over LLAMA_MAX_LAYERS, expert counts that disagree, an unknown rope scaling type, and any
value that makes a tensor dimension 0 (head counts, embedding and feed-forward lengths, an empty vocabulary) or a
reshape impossible (a head size that disagrees with the rope dimensions) are such values. Each is refused here as a
`ModelFileError` naming the key or tensor. The rules mirror llama.cpp as vendored by llama-cpp-python 0.3.36:
`load_hparams` in src/llama-model.cpp, `create_tensor` in src/llama-model-loader.cpp, and the llama and qwen2 graphs
in src/models/.

Two levels, so that no valid model of an architecture judgedesk does not know is refused:
- every architecture: the keys llama.cpp reads for all of them, checked where the file gives them, and no layer
  tensor past the block count;
- the attention decoders judgedesk converts to (llama, qwen2), whose tensor layout is known: the keys that layout
  cannot do without, and every tensor's shape against them.

What remains possible (another architecture's own keys, a vocabulary with a duplicated token) is caught by the
checked first load (core/_load_probe.py), which runs llama.cpp on an unknown file in a child process.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from gguf.constants import Keys

from ._errors import ModelFileError

if TYPE_CHECKING:
    from ._gguf_file import GGUFHeader

__all__ = ["MAX_LAYERS", "check_hyperparameters"]

MAX_LAYERS = 512
"""LLAMA_MAX_LAYERS (src/llama-hparams.h): llama.cpp asserts 0 < block_count <= this."""
_MAX_EXPERTS = 1024  # LLAMA_MAX_EXPERTS
_ROPE_SCALING_TYPES = ("none", "linear", "yarn", "longrope")  # any other name fails an assert in load_hparams
# Element types llama.cpp accepts for a per-layer array of uint32 (get_arr); int32 values are reinterpreted.
_PER_LAYER_ARRAYS = ("array of uint32", "array of int32", "array of bool")
# Architectures whose tensor layout is checked shape by shape -> True where attn_q and attn_output are as wide as
# the embedding (qwen2) rather than head size x head count (llama).
_KNOWN_LAYOUTS = {"llama": False, "qwen2": True}
_LAYER_TENSOR = re.compile(r"blk\.(\d+)\.")


def check_hyperparameters(header: GGUFHeader) -> None:
    """Raise `ModelFileError` naming the key or tensor if llama.cpp would abort on `header`'s model."""
    model = _Hyperparameters(header)
    model.check_every_architecture()
    if header.architecture in _KNOWN_LAYOUTS and model.n_layer is not None:
        model.check_layout(q_is_embedding_wide=_KNOWN_LAYOUTS[header.architecture])


class _Hyperparameters:
    """A header's values read as llama.cpp reads them; each check names the key it refuses."""

    def __init__(self, header: GGUFHeader) -> None:
        self.header = header
        self.n_layer: int | None = None

    def key(self, template: str) -> str:
        return template.format(arch=self.header.architecture)

    def fail(self, key: str, problem: str) -> NoReturn:
        value = self.header.metadata.get(key)
        if isinstance(value, list) and len(value) > 6:
            shown = f"[{', '.join(map(str, value[:6]))}, ...]"
        else:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise ModelFileError(self.header.path, f"metadata {key} = {shown}: {problem}")

    def given(self, key: str) -> bool:
        return key in self.header.metadata

    def uint32(self, key: str) -> int | None:
        """The value of a uint32 key, None when absent; any other type is what llama.cpp refuses too."""
        if not self.given(key):
            return None
        stored = self.header.value_types.get(key)
        if stored != "uint32":
            self.fail(key, f"llama.cpp reads it as a uint32, the file stores {_article(stored)}")
        return int(self.header.metadata[key])

    def number(self, key: str) -> float | None:
        if not self.given(key):
            return None
        stored = self.header.value_types.get(key)
        if stored != "float32":
            self.fail(key, f"llama.cpp reads it as a float32, the file stores {_article(stored)}")
        value = float(self.header.metadata[key])
        if not math.isfinite(value):
            self.fail(key, "it must be a finite number")
        return value

    def per_layer(self, key: str) -> list[int] | None:
        """A uint32 given once for every layer or as one value per layer (llama.cpp's get_key_or_arr)."""
        if not self.given(key):
            return None
        stored = self.header.value_types.get(key)
        if stored not in ("uint32", *_PER_LAYER_ARRAYS):
            self.fail(key, f"llama.cpp reads a uint32 or an array of them, the file stores {_article(stored)}")
        value = self.header.metadata[key]
        n_layer = self.n_layer or 1
        if stored == "uint32":
            return [int(value)] * n_layer
        if not isinstance(value, list):  # longer than any block count allows, so never decoded
            self.fail(key, f"an array of {value} values, one per layer, but there are at most {MAX_LAYERS} layers")
        if self.n_layer is not None and len(value) != self.n_layer:
            self.fail(key, f"{len(value)} values, one per layer, but {self.key(Keys.LLM.BLOCK_COUNT)} is "
                           f"{self.n_layer}")
        for layer, item in enumerate(value):
            if int(item) < 0:  # llama.cpp would read it as a uint32 over 4 billion
                self.fail(key, f"negative in layer {layer}")
        return [int(item) for item in value]

    # -- every architecture ------------------------------------------------------------------------------------

    def check_every_architecture(self) -> None:
        block_count = self.key(Keys.LLM.BLOCK_COUNT)
        self.n_layer = self.uint32(block_count)
        if self.n_layer is not None and not 0 < self.n_layer <= MAX_LAYERS:
            self.fail(block_count, f"llama.cpp needs between 1 and {MAX_LAYERS} layers")
        for template in (Keys.LLM.CONTEXT_LENGTH, Keys.LLM.EMBEDDING_LENGTH, Keys.Attention.KEY_LENGTH,
                         Keys.Attention.VALUE_LENGTH):
            if self.uint32(self.key(template)) == 0:
                self.fail(self.key(template), "it must be positive")
        nextn = self.uint32(self.key(Keys.LLM.NEXTN_PREDICT_LAYERS))
        if nextn is not None and self.n_layer is not None and nextn > self.n_layer:
            self.fail(self.key(Keys.LLM.NEXTN_PREDICT_LAYERS), f"more than the {self.n_layer} layers")
        self.check_experts()
        self.check_heads()
        self.check_rope()
        self.check_vocabulary()
        self.check_layer_tensors()

    def check_experts(self) -> None:
        count_key = self.key(Keys.LLM.EXPERT_COUNT)
        used_key = self.key(Keys.LLM.EXPERT_USED_COUNT)
        groups_key = self.key(Keys.LLM.EXPERT_GROUP_COUNT)
        group_used_key = self.key(Keys.LLM.EXPERT_GROUP_USED_COUNT)
        n_expert = self.uint32(count_key) or 0
        used = max(self.per_layer(used_key) or [0])
        groups = self.uint32(groups_key) or 0
        group_used = self.uint32(group_used_key) or 0
        if n_expert > _MAX_EXPERTS:
            self.fail(count_key, f"llama.cpp allows at most {_MAX_EXPERTS} experts")
        if used > n_expert:
            self.fail(used_key, f"more experts used than {count_key} = {n_expert}")
        if n_expert == 0:
            if groups:
                self.fail(groups_key, f"expert groups without experts ({count_key} is 0 or missing)")
            return
        if used == 0:
            self.fail(used_key, f"a model with {n_expert} experts must use at least one")
        if groups >= n_expert:
            self.fail(groups_key, f"there must be fewer groups than the {n_expert} experts")
        if groups > 1:
            if n_expert % groups:
                self.fail(groups_key, f"the {n_expert} experts do not split into {groups} groups")
            if not 0 < group_used < groups:
                self.fail(group_used_key, f"it must be between 1 and {groups - 1} ({groups} expert groups)")

    def check_heads(self) -> None:
        head_key, kv_key = self.key(Keys.Attention.HEAD_COUNT), self.key(Keys.Attention.HEAD_COUNT_KV)
        heads = self.per_layer(head_key)
        kv_heads = self.per_layer(kv_key)
        if heads is None:
            return
        for layer, (n_head, n_kv) in enumerate(zip(heads, kv_heads or heads, strict=False)):
            # A layer with no heads, or no KV heads, is a recurrent layer of a hybrid model: nothing to divide.
            if n_head and n_kv and n_head % n_kv:
                self.fail(kv_key, f"{n_kv} KV heads do not divide the {n_head} attention heads of layer {layer}")
        embedding = self.uint32(self.key(Keys.LLM.EMBEDDING_LENGTH))
        if heads[0] and embedding and not self.given(self.key(Keys.Attention.KEY_LENGTH)) and embedding < heads[0]:
            self.fail(head_key, f"more heads than the {embedding} values of {self.key(Keys.LLM.EMBEDDING_LENGTH)} "
                                "(a head size of 0)")

    def head_size(self) -> int | None:
        """The key head size llama.cpp derives: attention.key_length, else embedding length / head count."""
        heads = self.per_layer(self.key(Keys.Attention.HEAD_COUNT))
        if not heads or not heads[0]:
            return None
        given = self.uint32(self.key(Keys.Attention.KEY_LENGTH))
        if given is not None:
            return given
        embedding = self.uint32(self.key(Keys.LLM.EMBEDDING_LENGTH))
        return None if embedding is None else embedding // heads[0]

    def check_rope(self) -> None:
        dims_key = self.key(Keys.Rope.DIMENSION_COUNT)
        dims = self.uint32(dims_key)
        head_size = self.head_size()
        if dims is not None and head_size is not None:
            if dims > head_size:
                self.fail(dims_key, f"more than the head size of {head_size}")
            if dims % 2:
                self.fail(dims_key, "rope rotates pairs of values: it must be even")
        base_key = self.key(Keys.Rope.FREQ_BASE)
        base = self.number(base_key)
        if base is not None and base <= 0:
            self.fail(base_key, "it must be positive")
        scaling_key = self.key(Keys.Rope.SCALING_TYPE)
        if self.given(scaling_key):
            value = self.header.metadata[scaling_key]
            if self.header.value_types.get(scaling_key) != "string" or value not in _ROPE_SCALING_TYPES:
                self.fail(scaling_key, f"llama.cpp knows {', '.join(_ROPE_SCALING_TYPES)}")
        factor_key = self.key(Keys.Rope.SCALING_FACTOR)
        factor = self.number(factor_key)
        if factor is not None and factor < 0:
            self.fail(factor_key, "it must not be negative")

    def n_vocab(self) -> int | None:
        """The vocabulary size as llama.cpp sizes token_embd: the length of tokenizer.ggml.tokens."""
        key = Keys.Tokenizer.LIST
        if not self.given(key):
            return None
        value = self.header.metadata[key]
        if self.header.value_types.get(key) != "array of string":
            self.fail(key, f"llama.cpp reads an array of strings, the file stores "
                           f"{_article(self.header.value_types.get(key))}")
        return len(value) if isinstance(value, list) else int(value)

    def check_vocabulary(self) -> None:
        if self.n_vocab() == 0:
            self.fail(Keys.Tokenizer.LIST, "an empty vocabulary")

    def check_layer_tensors(self) -> None:
        if self.n_layer is None:
            return
        for name in self.header.tensors:
            match = _LAYER_TENSOR.match(name)
            if match and int(match.group(1)) >= self.n_layer:
                raise ModelFileError(self.header.path, f"tensor {name!r} belongs to layer {match.group(1)}, but "
                                     f"{self.key(Keys.LLM.BLOCK_COUNT)} = {self.n_layer} (layers 0 to "
                                     f"{self.n_layer - 1})")

    # -- the known layouts (llama, qwen2) ----------------------------------------------------------------------

    def check_layout(self, *, q_is_embedding_wide: bool) -> None:
        """The keys a llama or qwen2 model cannot do without, and every tensor's shape against them."""
        arch = self.header.architecture
        required = (Keys.LLM.EMBEDDING_LENGTH, Keys.Attention.HEAD_COUNT, Keys.LLM.FEED_FORWARD_LENGTH)
        for template in required:
            if not self.given(self.key(template)):
                raise ModelFileError(self.header.path, f"metadata {self.key(template)} is missing: a {arch} model "
                                     "needs it (llama.cpp would build tensors of size 0 and abort)")
        n_embd = self.uint32(self.key(Keys.LLM.EMBEDDING_LENGTH)) or 0
        values = {}
        for template in (Keys.Attention.HEAD_COUNT, Keys.Attention.HEAD_COUNT_KV, Keys.LLM.FEED_FORWARD_LENGTH):
            per_layer = self.per_layer(self.key(template))
            if per_layer is not None:
                if len(set(per_layer)) > 1:
                    # The layout sizes every layer's tensors from layer 0, and its graph reads each layer's own
                    # value: different values give a reshape that fails an assert.
                    self.fail(self.key(template), f"a {arch} model needs the same value in every layer")
                if per_layer[0] == 0:
                    self.fail(self.key(template), "it must be positive")
                values[template] = per_layer[0]
        n_head = values[Keys.Attention.HEAD_COUNT]
        n_kv = values.get(Keys.Attention.HEAD_COUNT_KV, n_head)
        n_ff = values[Keys.LLM.FEED_FORWARD_LENGTH]
        head_k = self.head_size() or 0
        head_v = self.uint32(self.key(Keys.Attention.VALUE_LENGTH)) or n_embd // n_head
        if head_k == 0:
            self.fail(self.key(Keys.Attention.HEAD_COUNT), f"a head size of 0 for {self.key(Keys.LLM.EMBEDDING_LENGTH)}"
                                                          f" = {n_embd}")
        if head_v != head_k:
            self.fail(self.key(Keys.Attention.VALUE_LENGTH), f"a {arch} model needs the value head size equal to "
                                                             f"the key head size {head_k}")
        rope = self.uint32(self.key(Keys.Rope.DIMENSION_COUNT))
        if rope is not None and rope != head_k:
            self.fail(self.key(Keys.Rope.DIMENSION_COUNT), f"a {arch} model rotates the whole head of {head_k}")
        epsilon_key = self.key(Keys.Attention.LAYERNORM_RMS_EPS)
        epsilon = self.header.metadata.get(epsilon_key)
        if isinstance(epsilon, float) and not (math.isfinite(epsilon) and epsilon > 0):
            # An RMS norm over a row of zeros then divides 0 by 0: the judge's output is garbage, and llama.cpp's
            # grammar sampler aborts when garbage picks end-of-text before the grammar is complete.
            self.fail(epsilon_key, "it must be a positive number (trained models use 1e-6 to 1e-5)")
        if q_is_embedding_wide and head_k * n_head != n_embd:
            self.fail(self.key(Keys.Attention.HEAD_COUNT), f"{n_head} heads of {head_k} do not make up "
                                                          f"{self.key(Keys.LLM.EMBEDDING_LENGTH)} = {n_embd}")
        q_width = n_embd if q_is_embedding_wide else head_k * n_head
        embd = f"{self.key(Keys.LLM.EMBEDDING_LENGTH)} = {n_embd}"
        attention = (f"{embd}, {self.key(Keys.Attention.HEAD_COUNT)} = {n_head}, "
                     f"{self.key(Keys.Attention.HEAD_COUNT_KV)} = {n_kv} and a head size of {head_k}")
        ffn = f"{embd} and {self.key(Keys.LLM.FEED_FORWARD_LENGTH)} = {n_ff}"
        n_vocab = self.n_vocab()
        # Without a vocabulary only the embeddings' width is known (llama.cpp then stops at the missing tokens).
        embeddings = ((n_embd, n_vocab), f"{embd} and the {n_vocab} entries of {Keys.Tokenizer.LIST}") if n_vocab \
            else ((n_embd,), embd)
        expected: dict[str, tuple[tuple[int, ...], str]] = {
            "token_embd.weight": embeddings, "output.weight": embeddings, "output_norm.weight": ((n_embd,), embd)}
        kv_width = head_k * n_kv
        dense = not self.uint32(self.key(Keys.LLM.EXPERT_COUNT))
        for layer in range(self.n_layer or 0):
            blk = f"blk.{layer}."
            expected |= {
                blk + "attn_norm.weight": ((n_embd,), embd), blk + "ffn_norm.weight": ((n_embd,), embd),
                blk + "attn_q.weight": ((n_embd, q_width), attention), blk + "attn_q.bias": ((q_width,), attention),
                blk + "attn_k.weight": ((n_embd, kv_width), attention), blk + "attn_k.bias": ((kv_width,), attention),
                blk + "attn_v.weight": ((n_embd, kv_width), attention), blk + "attn_v.bias": ((kv_width,), attention),
                blk + "attn_qkv.weight": ((n_embd, q_width + 2 * kv_width), attention),
                blk + "attn_output.weight": ((q_width, n_embd), attention),
                blk + "attn_output.bias": ((n_embd,), embd),
            }
            if dense:
                expected |= {blk + "ffn_gate.weight": ((n_embd, n_ff), ffn),
                             blk + "ffn_up.weight": ((n_embd, n_ff), ffn),
                             blk + "ffn_down.weight": ((n_ff, n_embd), ffn)}
        self.check_shapes(expected)

    def check_shapes(self, expected: dict[str, tuple[tuple[int, ...], str]]) -> None:
        """Each tensor the layout names against its expected shape; missing tensors are llama.cpp's to report."""
        for name, info in self.header.tensors.items():
            if name not in expected:
                continue
            want, why = expected[name]
            have = info.shape[:1] if len(want) == 1 and name in ("token_embd.weight", "output.weight") else info.shape
            if _padded(have) != _padded(want):
                raise ModelFileError(self.header.path, f"tensor {name!r} has shape {list(info.shape)}, but {why} "
                                     f"make it {list(want)}")


def _padded(shape: Sequence[int]) -> tuple[int, ...]:
    """ggml compares shapes over 4 dimensions, the missing ones 1."""
    return (*shape, *(1,) * (4 - len(shape)))


def _article(type_name: Any) -> str:
    name = str(type_name or "nothing")
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"
