"""A scripted backend, registered like a real one, for unit tests of the engine.

Tokens are Unicode code points, so lengths are predictable. Generation returns scripted outputs (a list consumed
in order, or a function of the prompt text) and honours stop phrases and token budgets like a real backend.
Grammars are recorded, not enforced. Option scores come from a mapping option text -> log-probability, or a
function of (prompt text, option texts); decoding constrained to the options then sees exactly softmax of them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._progress import CancelFlag
from ._protocol import BackendCapabilities, Generation, ModelInfo, Sampling, stop_if_cancelled

__all__ = ["MockBackend"]

OutputScript = Sequence[str] | Callable[[str], str]
OptionScript = Mapping[str, float] | Callable[[str, list[str]], list[float]]


class MockBackend:
    """A fake judge model whose behaviour a test writes down."""

    name = "mock"

    def __init__(self, outputs: OutputScript = (), *, option_scores: OptionScript | None = None, n_ctx: int = 4096,
                 chat_template: str | None = None, add_bos: bool = False, model_name: str = "mock-judge",
                 capabilities: BackendCapabilities | None = None) -> None:
        """A mock judge scripted by `outputs` (generations) and `option_scores` (fast verdicts); `capabilities`
        default to those of a model held in this process (everything, one judgement at a time)."""
        self.capabilities = capabilities or BackendCapabilities()
        self._outputs = outputs if callable(outputs) else list(outputs)
        self._option_scores = option_scores
        self.n_ctx = n_ctx
        self.calls: list[dict[str, Any]] = []
        """Every generate / score_options call: kind, prompt text, grammar, stop, max_tokens."""
        script_hash = hashlib.sha256(f"{model_name}|{chat_template}".encode()).hexdigest()
        self.info = ModelInfo(
            sha256=script_hash, name=model_name, file_name=f"{model_name}.gguf", architecture="mock",
            file_type="F32", chat_template=chat_template, bos_token="<s>", eos_token="</s>",
            bos_id=0x10FFFF if add_bos else None, add_bos=add_bos, context_length=n_ctx,
        )

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        return [ord(ch) for ch in text]

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        bos = self.info.bos_token if special else ""
        return "".join(bos if t == 0x10FFFF else chr(t) for t in tokens)

    def score_options(self, prompt: Sequence[int], options: Sequence[Sequence[int]]) -> list[list[float]]:
        prompt_text = self.detokenize(prompt)
        texts = [self.detokenize(o) for o in options]
        self.calls.append({"kind": "score", "prompt": prompt_text, "options": texts})
        if self._option_scores is None:
            raise AssertionError("MockBackend: no option_scores scripted")
        if callable(self._option_scores):
            totals = list(self._option_scores(prompt_text, texts))
        else:
            totals = [self._option_scores.get(t, -30.0) for t in texts]
        # Per-token log-probabilities that agree across shared prefixes, as a real model's do: a token's is the
        # scripted mass of the options through it over the mass through its prefix, so decoding constrained to
        # the options sees exactly softmax(scripted scores).
        def mass(prefix: Sequence[int]) -> float:
            through = [t for o, t in zip(options, totals, strict=True) if list(o[:len(prefix)]) == list(prefix)]
            top = max(through)
            return top + math.log(sum(math.exp(v - top) for v in through))

        return [[mass(option[:k + 1]) - mass(option[:k]) for k in range(len(option))] for option in options]

    def score_options_batch(self, requests: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]]
                            ) -> list[list[list[float]]]:
        """`score_options` of each request, recorded as one 'batch' call per `capabilities.max_sequences` requests
        (what one forward pass of a multi-sequence backend would take)."""
        width = self.capabilities.max_sequences
        for first in range(0, len(requests), width):
            self.calls.append({"kind": "batch", "size": len(requests[first:first + width])})
        return [self.score_options(prompt, options) for prompt, options in requests]

    def generate(self, prompt: Sequence[int], *, max_tokens: int, sampling: Sampling, grammar: str | None = None,
                 stop: Sequence[str] = (), cancel: CancelFlag | None = None) -> Generation:
        stop_if_cancelled(cancel)
        prompt_text = self.detokenize(prompt)
        self.calls.append({"kind": "generate", "prompt": prompt_text, "grammar": grammar, "stop": list(stop),
                           "max_tokens": max_tokens, "seed": sampling.seed})
        if callable(self._outputs):
            text = self._outputs(prompt_text)
        elif self._outputs:
            text = self._outputs.pop(0)
        else:
            raise AssertionError("MockBackend: no scripted output left")
        budget = max(0, min(max_tokens, self.n_ctx - len(prompt)))
        hits = [(text.find(p), p) for p in stop if 0 <= text.find(p) < budget]
        if hits:
            position, phrase = min(hits)
            return Generation(text=text[:position], n_tokens=position, finish="stop", stopped_at=phrase)
        if len(text) > budget:
            return Generation(text=text[:budget], n_tokens=budget, finish="length")
        return Generation(text=text, n_tokens=len(text), finish="eos")

    def settings(self) -> Mapping[str, Any]:
        return {"n_ctx": self.n_ctx}

    def versions(self) -> Mapping[str, str]:
        return {"mock": "1"}

    def close(self) -> None:
        pass

    def __enter__(self) -> MockBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
