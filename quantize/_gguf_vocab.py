"""The tokenizer part of a GGUF file: tokens, scores, token types, merges, special tokens, chat template.

Two tokenizer families are exported, each to the tokenizer llama.cpp runs for it:

- a SentencePiece `tokenizer.model` (LLaMA, Llama-2, Mistral) -> `tokenizer.ggml.model = "llama"`, with every
  piece's score and type, the 256 byte-fallback pieces `<0x00>`..`<0xFF>` typed BYTE;
- a Hugging Face byte-level BPE `tokenizer.json` (Llama-3, Qwen2, SmolLM2) -> `"gpt2"`, with the merges and a
  pre-tokenizer name (`tokenizer.ggml.pre`) that selects llama.cpp's built-in splitting regex.

The pre-tokenizer name is recognised from the structure of tokenizer.json (normalizer, pre-tokenizer steps and
their regexes) against a table of layouts whose llama.cpp counterpart is known. An unknown layout is refused:
a guessed name would load fine and then split text differently from the original model, silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gguf import GGUFWriter, SpecialVocab, TokenType
from judgedesk.core import BackendError

from ._checkpoint import Checkpoint
from ._errors import CheckpointError

__all__ = ["KNOWN_PRE_TOKENIZERS", "TokenizerExport", "read_tokenizer", "recognize_pre_tokenizer"]

_LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# llama.cpp pre-tokenizer name -> the tokenizer.json layout it reproduces: (normalizer, pre-tokenizer steps).
# A step is ("ByteLevel", use_regex, add_prefix_space), ("Digits", individual_digits) or
# ("Split", regex, behavior, invert). ByteLevel with use_regex applies GPT-2's own splitting regex.
KNOWN_PRE_TOKENIZERS: Mapping[str, tuple[str | None, tuple[tuple[Any, ...], ...]]] = {
    "gpt-2": (None, (("ByteLevel", True, False),)),
    # Digits one by one, then GPT-2's regex: SmolLM/SmolLM2 (llama.cpp's "starcoder" splits the same way).
    "smollm": (None, (("Digits", True), ("ByteLevel", True, False))),
    "llama-bpe": (None, (("Split", _LLAMA3_SPLIT, "Isolated", False), ("ByteLevel", False, False))),
    "qwen2": ("NFC", (("Split", _QWEN2_SPLIT, "Isolated", False), ("ByteLevel", False, False))),
}


@dataclass(frozen=True)
class TokenizerExport:
    """Everything the GGUF file says about the tokenizer, ready to write."""

    model: str
    """llama.cpp tokenizer: 'llama' (SentencePiece) or 'gpt2' (byte-level BPE)."""
    tokens: Sequence[str]
    """Token texts by id, padded to the embedding rows with unused `[PAD<id>]` entries."""
    token_types: Sequence[int]
    scores: Sequence[float] | None
    """SentencePiece piece scores (merge priority); None for BPE, whose priority is the merge order."""
    merges: Sequence[str] = ()
    """BPE merges as 'left right', in priority order."""
    pre: str | None = None
    """llama.cpp pre-tokenizer name (BPE only)."""
    add_space_prefix: bool | None = None
    """SentencePiece's dummy prefix: a space is put before the text."""
    special: SpecialVocab | None = field(default=None, repr=False)
    """Special token ids, add_bos/add_eos and the chat template, from tokenizer_config.json and config.json."""

    def add_to(self, writer: GGUFWriter) -> None:
        writer.add_tokenizer_model(self.model)
        if self.pre is not None:
            writer.add_tokenizer_pre(self.pre)
        writer.add_token_list(list(self.tokens))
        writer.add_token_types(list(self.token_types))
        if self.scores is not None:
            writer.add_token_scores(list(self.scores))
        if self.merges:
            writer.add_token_merges(list(self.merges))
        if self.add_space_prefix is not None:
            writer.add_add_space_prefix(self.add_space_prefix)
        if self.special is not None:
            self.special.add_to_gguf(writer, quiet=True)


def read_tokenizer(checkpoint: Checkpoint, *, pre: str | None = None) -> TokenizerExport:
    """The checkpoint's tokenizer as GGUF needs it; `pre` overrides the recognised BPE pre-tokenizer name."""
    if checkpoint.tokenizer_kind == "sentencepiece":
        return _sentencepiece(checkpoint)
    return _byte_level_bpe(checkpoint, pre)


def _special_vocab(checkpoint: Checkpoint, n_tokens: int, *, add_bos_default: bool) -> SpecialVocab:
    special = SpecialVocab(checkpoint.folder, load_merges=False, n_vocab=n_tokens)
    # llama.cpp's defaults for a missing add_bos differ by tokenizer and version; say it explicitly.
    special.add_special_token.setdefault("bos", add_bos_default)
    special.add_special_token.setdefault("eos", False)
    return special


def _pad(tokens: list[str | None], types: list[int], n_rows: int, path: Path) -> None:
    """Fill unassigned ids and pad to the embedding rows: llama.cpp needs one token per row."""
    if len(tokens) > n_rows:
        raise CheckpointError(f"the tokenizer has {len(tokens)} tokens but the model's embeddings only "
                              f"{n_rows} rows (config.json vocab_size)", path=path)
    tokens.extend([None] * (n_rows - len(tokens)))
    types.extend([TokenType.UNUSED] * (n_rows - len(types)))
    for i, text in enumerate(tokens):
        if text is None:
            tokens[i] = f"[PAD{i}]"
            types[i] = TokenType.UNUSED


# -- SentencePiece ------------------------------------------------------------------------------------------------


def _sentencepiece(checkpoint: Checkpoint) -> TokenizerExport:
    path = checkpoint.tokenizer_file
    try:
        from sentencepiece import SentencePieceProcessor
    except ImportError:
        raise BackendError("reading tokenizer.model needs sentencepiece: pip install judgedesk[hf]") from None
    processor = SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(path.read_bytes())
    except (OSError, RuntimeError) as exc:
        raise CheckpointError(f"not a readable SentencePiece model ({exc})", path=path) from None
    tokens: list[str | None] = []
    types: list[int] = []
    scores: list[float] = []
    for i in range(processor.vocab_size()):
        tokens.append(processor.id_to_piece(i))
        scores.append(processor.get_score(i))
        types.append(_piece_type(processor, i))
    for token_id, content, is_special in _added_tokens(checkpoint.folder):
        if token_id < len(tokens):
            continue  # <s>, </s>, <unk> are SentencePiece pieces already, typed by the model
        tokens.extend([None] * (token_id + 1 - len(tokens)))
        types.extend([TokenType.UNUSED] * (token_id + 1 - len(types)))
        tokens[token_id] = content
        types[token_id] = TokenType.CONTROL if is_special else TokenType.USER_DEFINED
    _pad(tokens, types, checkpoint.config.vocab_size, path)
    scores.extend([-1000.0] * (len(tokens) - len(scores)))
    special = _special_vocab(checkpoint, len(tokens), add_bos_default=True)
    for kind, token_id in (("unk", processor.unk_id()), ("bos", processor.bos_id()), ("eos", processor.eos_id()),
                           ("pad", processor.pad_id())):
        if token_id >= 0:
            special.special_token_ids.setdefault(kind, token_id)
    # The dummy prefix shows in how a lone word is cut: with it, "a" becomes "▁a".
    add_space_prefix = processor.encode("a", out_type=str)[0].startswith("\u2581")
    return TokenizerExport(model="llama", tokens=[str(t) for t in tokens], token_types=types, scores=scores,
                           add_space_prefix=add_space_prefix, special=special)


def _piece_type(processor: Any, i: int) -> int:
    if processor.is_unknown(i):
        return TokenType.UNKNOWN
    if processor.is_control(i):
        return TokenType.CONTROL
    if processor.is_byte(i):
        return TokenType.BYTE
    if processor.is_unused(i):
        return TokenType.UNUSED
    return TokenType.NORMAL


def _added_tokens(folder: Path) -> list[tuple[int, str, bool]]:
    """Tokens added on top of the base vocabulary: (id, text, special), from tokenizer.json or added_tokens.json."""
    found: dict[int, tuple[int, str, bool]] = {}
    tokenizer_json = folder / "tokenizer.json"
    if tokenizer_json.is_file():
        for entry in _read_json(tokenizer_json).get("added_tokens") or []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), int) and isinstance(entry.get("content"), str):
                found[entry["id"]] = (entry["id"], entry["content"], bool(entry.get("special", True)))
    added_json = folder / "added_tokens.json"
    if added_json.is_file():
        for content, token_id in _read_json(added_json).items():
            if isinstance(token_id, int):
                found.setdefault(token_id, (token_id, content, True))
    return sorted(found.values())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"unreadable tokenizer file ({type(exc).__name__}: {exc})", path=path) from None
    if not isinstance(data, dict):
        raise CheckpointError("the tokenizer file must hold a JSON object", path=path)
    return data


# -- byte-level BPE -----------------------------------------------------------------------------------------------


def recognize_pre_tokenizer(tokenizer: Mapping[str, Any], path: Path) -> str:
    """llama.cpp's pre-tokenizer name for a tokenizer.json layout; `CheckpointError` for an unknown layout."""
    signature = _layout(tokenizer)
    for name, known in KNOWN_PRE_TOKENIZERS.items():
        if signature == known:
            return name
    normalizer, steps = signature
    described = ", ".join(str(step[0]) for step in steps) or "none"
    raise CheckpointError(
        f"unknown BPE pre-tokenizer (normalizer {normalizer}, steps: {described}); llama.cpp would split text "
        f"differently from the original. Known layouts: {', '.join(KNOWN_PRE_TOKENIZERS)}. If you know which "
        "llama.cpp pre-tokenizer matches, name it explicitly (tokenizer_pre / --tokenizer-pre)", path=path)


def _layout(tokenizer: Mapping[str, Any]) -> tuple[str | None, tuple[tuple[Any, ...], ...]]:
    normalizer = tokenizer.get("normalizer")
    norm_name = None
    if isinstance(normalizer, dict):
        parts = normalizer.get("normalizers") if normalizer.get("type") == "Sequence" else [normalizer]
        norm_name = "+".join(str(part.get("type")) for part in parts or [] if isinstance(part, dict)) or None
    pre = tokenizer.get("pre_tokenizer")
    steps: list[Any] = []
    if isinstance(pre, dict):
        steps = (pre.get("pretokenizers") or []) if pre.get("type") == "Sequence" else [pre]
    return norm_name, tuple(_step(step) for step in steps if isinstance(step, dict))


def _step(step: Mapping[str, Any]) -> tuple[Any, ...]:
    kind = step.get("type")
    if kind == "ByteLevel":
        return ("ByteLevel", bool(step.get("use_regex", True)), bool(step.get("add_prefix_space", False)))
    if kind == "Digits":
        return ("Digits", bool(step.get("individual_digits", False)))
    if kind == "Split":
        pattern = step.get("pattern") or {}
        regex = pattern.get("Regex", pattern.get("String")) if isinstance(pattern, dict) else pattern
        return ("Split", regex, step.get("behavior"), bool(step.get("invert", False)))
    return (str(kind), json.dumps(step, sort_keys=True))


def _byte_level_bpe(checkpoint: Checkpoint, pre: str | None) -> TokenizerExport:
    path = checkpoint.tokenizer_file
    tokenizer = _read_json(path)
    model = tokenizer.get("model")
    if not isinstance(model, dict) or model.get("type") != "BPE" or not isinstance(model.get("vocab"), dict):
        kind = model.get("type") if isinstance(model, dict) else None
        raise CheckpointError(f"tokenizer model {kind!r} is not supported without tokenizer.model (only "
                              "byte-level BPE tokenizer.json files are)", path=path)
    if model.get("byte_fallback"):
        raise CheckpointError("a SentencePiece-style tokenizer.json (byte fallback) needs its tokenizer.model "
                              "next to it", path=path)
    pre = pre or recognize_pre_tokenizer(tokenizer, path)
    tokens: list[str | None] = []
    types: list[int] = []
    for text, token_id in model["vocab"].items():
        if not isinstance(token_id, int) or token_id < 0:
            raise CheckpointError(f"token {text!r} has id {token_id!r}", path=path)
        if token_id >= len(tokens):
            tokens.extend([None] * (token_id + 1 - len(tokens)))
            types.extend([TokenType.UNUSED] * (token_id + 1 - len(types)))
        tokens[token_id], types[token_id] = text, TokenType.NORMAL
    for token_id, content, is_special in _added_tokens(checkpoint.folder):
        if token_id >= len(tokens):
            tokens.extend([None] * (token_id + 1 - len(tokens)))
            types.extend([TokenType.UNUSED] * (token_id + 1 - len(types)))
        # Added tokens are matched in the raw text before BPE, so their text stays raw (not byte-level encoded).
        tokens[token_id] = content
        types[token_id] = TokenType.CONTROL if is_special else TokenType.USER_DEFINED
    _pad(tokens, types, checkpoint.config.vocab_size, path)
    special = _special_vocab(checkpoint, len(tokens), add_bos_default=False)
    return TokenizerExport(model="gpt2", tokens=[str(t) for t in tokens], token_types=types, scores=None,
                           merges=_merges(model.get("merges"), path), pre=pre, special=special)


def _merges(raw: Any, path: Path) -> list[str]:
    """Merges as 'left right' strings; tokenizers >= 0.20 stores pairs, older files the joined strings."""
    if not isinstance(raw, list) or not raw:
        raise CheckpointError("the BPE tokenizer has no merges", path=path)
    merges = []
    for merge in raw:
        if isinstance(merge, str) and merge.count(" ") == 1:
            merges.append(merge)
        elif isinstance(merge, list) and len(merge) == 2 and all(isinstance(p, str) and " " not in p for p in merge):
            merges.append(f"{merge[0]} {merge[1]}")
        else:
            raise CheckpointError(f"unsupported merge entry {merge!r} (a byte-level merge holds no spaces)",
                                  path=path)
    return merges
