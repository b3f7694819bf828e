"""Tokens for a judge that lives on a server: the judge's local file as tokenizer, and text for token ids.

The engine builds prompts as token ids (template text with special tokens parsed, the user's text without), and a
server that takes only text (llama-cpp-python's) has to be sent text that it tokenizes back into exactly those
ids. The piece ledger remembers the text behind every tokenization the backend did, so the text of a prompt is the
concatenation of its pieces' texts (special tokens spelled out), never a detokenization that drops them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from .._errors import ModelLoadError
from .._llama_runtime import load_llama_cpp

__all__ = ["LocalVocabulary", "PieceLedger"]


class LocalVocabulary:
    """The tokenizer of a local GGUF file, loaded without its weights (a fraction of a second even for 13B)."""

    def __init__(self, path: Path) -> None:
        from llama_cpp._utils import suppress_stdout_stderr

        llama_cpp = load_llama_cpp()

        try:
            # llama.cpp still makes a (useless) context for a vocabulary and warns on stderr that it has no trained
            # length; verbose=False does not cover that message, so stderr is held for the load.
            with suppress_stdout_stderr(disable=False):
                self._llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(path, str(exc)) from exc
        model = self._llm._model
        bos, eos = model.token_bos(), model.token_eos()
        self.bos_id = bos if bos >= 0 else None
        self.bos_token = model.token_get_text(bos) if bos >= 0 else ""
        self.eos_token = model.token_get_text(eos) if eos >= 0 else ""
        self.add_bos = bool(model.add_bos_token())
        self._lock = threading.Lock()  # the binding's tokenizer buffers are not shared-thread safe

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        if not text:
            return []
        with self._lock:
            return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        with self._lock:
            return self._llm.detokenize(list(tokens), special=special).decode("utf-8", errors="replace")

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None


class PieceLedger:
    """Remembers `ids -> text` for recent tokenizations and spells a prompt's ids back as text.

    Bounded (least recently used pieces go first): a prompt is spelled right after its pieces were tokenized, and
    the template's pieces, used by every prompt, stay fresh.
    """

    def __init__(self, capacity: int = 8192) -> None:
        self._capacity = capacity
        self._pieces: OrderedDict[tuple[int, ...], str] = OrderedDict()
        self._by_first: dict[int, set[tuple[int, ...]]] = {}
        self._lock = threading.Lock()

    def record(self, ids: Sequence[int], text: str) -> None:
        key = tuple(ids)
        if not key:
            return
        with self._lock:
            if key in self._pieces:
                self._pieces.move_to_end(key)
                return
            self._pieces[key] = text
            self._by_first.setdefault(key[0], set()).add(key)
            while len(self._pieces) > self._capacity:
                old, _ = self._pieces.popitem(last=False)
                self._by_first[old[0]].discard(old)

    def spell(self, ids: Sequence[int]) -> str | None:
        """Text made of recorded pieces whose ids concatenate to `ids`; None when no such split exists."""
        ids = tuple(ids)
        with self._lock:
            # best[i]: a text for ids[:i]. Longest pieces are tried first, so a prompt usually splits the way
            # it was built; any split is fine, the server's tokenization of the text is checked afterwards.
            best: list[str | None] = [None] * (len(ids) + 1)
            best[0] = ""
            for start in range(len(ids)):
                if best[start] is None:
                    continue
                for piece in sorted(self._by_first.get(ids[start], ()), key=len, reverse=True):
                    end = start + len(piece)
                    if end <= len(ids) and best[end] is None and ids[start:end] == piece:
                        best[end] = best[start] + self._pieces[piece]  # type: ignore[operator]
        return best[len(ids)]
