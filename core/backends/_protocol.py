"""The seam between the judge engine and a model runtime.

A backend owns one loaded model and answers four questions: how text becomes tokens, how probable each of a few
continuations is (fast verdicts), what the model writes next (generation, optionally grammar-constrained), and
what exactly it is (for the manifest). The engine never touches llama.cpp directly, so the mock backend can drive
the same engine code in unit tests, and other backends (transformers, an inference server) slot in beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from .._errors import Cancelled, ContextOverflowError
from .._progress import CancelFlag

__all__ = [
    "Backend",
    "BackendCapabilities",
    "Generation",
    "ModelInfo",
    "Sampling",
    "check_fits",
    "stop_if_cancelled",
    "served_identity",
    "served_model_of",
]

_SERVED_PREFIX = "server:"


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded judge model is."""

    sha256: str
    """SHA-256 of the model file (or of the scripted behaviour, for the mock); for a judge known only by an
    inference server's model id, 'server:<model id>' (`served_identity`)."""
    name: str
    """The model's own name."""
    file_name: str
    """Base name of the model file."""
    architecture: str
    """Model architecture."""
    file_type: str
    """Quantization or weight type."""
    chat_template: str | None
    """The model's Jinja chat template, when it has one."""
    bos_token: str
    """Text of the beginning-of-sequence token (chat templates refer to it)."""
    eos_token: str
    """Text of the end-of-sequence token."""
    bos_id: int | None
    """Id of the beginning-of-sequence token."""
    add_bos: bool
    """Whether the model's tokenizer starts every prompt with BOS."""
    context_length: int | None = None
    """The context length the model was trained for."""
    judge_format: str | None = None
    """The judge format recorded in the file's metadata, when known."""
    path: Path | None = None
    """Where the model file lies (not part of any record)."""
    synthetic: bool = False
    """A shape-only file with random weights (GGUF metadata judgedesk.synthetic): for measuring speed and memory,
    never a judge."""


@dataclass(frozen=True)
class Sampling:
    """Decoding parameters for one generation; temperature 0 means greedy."""

    temperature: float = 0.0
    """0 for greedy decoding."""
    top_k: int = 40
    """Top-k cut-off when sampling."""
    top_p: float = 0.95
    """Nucleus cut-off when sampling."""
    min_p: float = 0.05
    """Min-p cut-off when sampling."""
    repeat_penalty: float = 1.0
    """Repetition penalty (1.0 = none)."""
    seed: int = 2023
    """Sampler seed, passed on every call."""


@dataclass(frozen=True)
class Generation:
    """What a backend generated."""

    text: str
    """The generated text, without the stop phrase that ended it."""
    n_tokens: int
    """Tokens generated."""
    finish: Literal["eos", "stop", "length"]
    """Why generation ended: end of sequence (or grammar complete), a stop phrase, or the token budget."""
    stopped_at: str | None = None
    """The stop phrase that ended generation, when one did."""


@dataclass(frozen=True)
class BackendCapabilities:
    """What a loaded backend can do, declared by the backend when it loads; callers read it, never probe for it.

    The defaults describe a model held in this process that does everything the engine asks.
    """

    logprobs: bool = True
    """Whether `score_options` works: token log-probabilities, so verdicts can be read from logits (fast verdicts)."""
    grammar: bool = True
    """Whether `generate` holds its output to a GBNF grammar."""
    max_in_flight: int = 1
    """Judgements that may run at once (1 for a model held in this process; a server's request budget)."""
    endpoint: str | None = None
    """'host:port' of the inference server judging; None when the model runs in this process."""
    max_sequences: int = 1
    """Prompts `score_options_batch` evaluates in one forward pass (1: the backend has no such method)."""
    offload_note: str | None = None
    """In plain words, why the GPU layers asked for do not run on a GPU (a llama.cpp build without GPU support);
    None when they do, or when none were asked for."""


@runtime_checkable
class Backend(Protocol):
    """A loaded judge model."""

    name: str
    info: ModelInfo
    n_ctx: int
    capabilities: BackendCapabilities
    """What this backend can do (fast verdicts, grammars, concurrency), fixed when it loaded."""

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Tokens of `text`, without BOS; `special` parses special-token strings (template text only)."""
        ...

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        """Text of `tokens`; `special` writes special tokens out as their text ('<|im_start|>', BOS) instead of
        dropping them, so a prompt reads as the judge's tokenizer sees it (`Judge.prompt_preview`)."""
        ...

    def score_options(self, prompt: Sequence[int], options: Sequence[Sequence[int]]) -> list[list[float]]:
        """Log-probability of each token of each option, following `prompt` and the option's earlier tokens.

        Only siblings (tokens that follow the same prefix) are ever compared, so a backend may return values
        normalised among them, and 0 for a token with no sibling.
        """
        ...

    def generate(self, prompt: Sequence[int], *, max_tokens: int, sampling: Sampling, grammar: str | None = None,
                 stop: Sequence[str] = (), cancel: CancelFlag | None = None) -> Generation:
        """Generate after `prompt`, from a clean state, constrained by the GBNF `grammar` when given.

        `cancel` is checked between tokens (a backend that generates in one request checks it before sending):
        once set, generation stops and raises `Cancelled`, so a cancelled verdict frees the model within a token.
        """
        ...

    def settings(self) -> Mapping[str, Any]:
        """Runtime settings that can change results (context, batch, threads, GPU layers), for the manifest."""
        ...

    def versions(self) -> Mapping[str, str]:
        """Versions of the runtime libraries, for the manifest."""
        ...

    def close(self) -> None:
        """Free the model; safe to call twice."""
        ...


def check_fits(n_tokens: int, n_ctx: int) -> None:
    """Raise ContextOverflowError when `n_tokens` exceed a backend's context of `n_ctx` (every backend's check)."""
    if n_tokens > n_ctx:
        raise ContextOverflowError(f"{n_tokens} tokens do not fit the judge's context of {n_ctx}; "
                                   "raise --ctx or shorten the input")


def stop_if_cancelled(cancel: CancelFlag | None) -> None:
    """Raise `Cancelled` when `cancel` is set (every backend's check between generated tokens)."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("generation cancelled")


def served_identity(model_id: str) -> str:
    """The `ModelInfo.sha256` of a judge known only by a server's model id (no file to hash)."""
    return f"{_SERVED_PREFIX}{model_id}"


def served_model_of(judge_sha256: str) -> str | None:
    """The server's model id when a manifest's judge hash names a judge known only by it; None for a file's hash."""
    return judge_sha256.removeprefix(_SERVED_PREFIX) if judge_sha256.startswith(_SERVED_PREFIX) else None
