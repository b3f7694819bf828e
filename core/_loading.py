"""How a judge is opened, the one way every caller takes: resolve the judge, load its model, pick its format.

`open_judge_backend` loads the model (a GGUF file by llama.cpp, a Hugging Face folder by transformers, or a
connection to an inference server); `judge_with_backend` puts a format on a loaded model, choosing it in
`choose_format`'s order and dropping what the backend cannot do; `load_judge` does both for a `Judge` that owns
its model. The desktop app keeps one model loaded and builds a `Judge` over it per request
(`owns_backend=False`), so closing that judge never frees the shared model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ._engine import DecodingSettings, Judge
from ._errors import InputError
from ._interrupts import raise_if_interrupted
from ._judges import recorded_format, resolve_judge
from ._sequence_choice import Sequences, choose_sequences
from .backends import Backend, create_backend
from .formats import choose_format

__all__ = ["ServerOptions", "decoding_for_backend", "decoding_limits", "judge_with_backend", "load_judge",
           "open_judge_backend"]


@dataclass(frozen=True)
class ServerOptions:
    """Judge through an OpenAI-compatible inference server instead of loading the model in this process."""

    url: str
    """The server's address: an IP on the loopback or a private network, e.g. 'http://10.0.0.5:8080'."""
    model: str | None = None
    """The model id to request, when the server serves several."""
    max_in_flight: int = 4
    """Requests a batch keeps in flight at once."""
    timeout_s: float = 120.0
    """Seconds to wait for one answer, queueing on the server included."""
    retries: int = 5
    """Further attempts for a request that got no answer or a 5xx (with backoff), never for an answer."""
    api_key: str | None = None
    """Bearer token for servers started with --api-key."""
    chat_template_file: Path | None = None
    """The judge's chat template (Jinja file or tokenizer_config.json) when no local GGUF file gives it."""
    allow_cgnat: bool = False
    """Accept a server in the CGNAT block 100.64.0.0/10 (a Tailscale-style private network), refused by default."""


def load_judge(judge: str | Path | None = None, *, format: str | None = None, lang: str = "en",
               rubric: str | None = None, decoding: DecodingSettings | None = None, n_ctx: int = 4096,
               n_threads: int | None = None, n_gpu_layers: int = 0, device: str = "cpu",
               server: ServerOptions | None = None, sequences: Sequences = 1) -> Judge:
    """A `Judge` that owns its model: `judge` loaded by `open_judge_backend` (see there for what `judge`, `device`
    and `server` may be), used by `judge_with_backend` (the format's order, what a server cannot do)."""
    decoding = decoding or DecodingSettings()
    backend = open_judge_backend(judge, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers, device=device,
                                 seed=decoding.sampling.seed, server=server, sequences=sequences)
    try:
        return judge_with_backend(backend, judge=judge, format=format, lang=lang, rubric=rubric, decoding=decoding)
    except BaseException:
        backend.close()
        raise


def open_judge_backend(judge: str | Path | None = None, *, n_ctx: int = 4096, n_threads: int | None = None,
                       n_gpu_layers: int = 0, device: str = "cpu", seed: int = 2023,
                       server: ServerOptions | None = None, sequences: Sequences = 1) -> Backend:
    """The loaded model of `judge`, which the caller owns and closes.

    Args:
        judge: a library name, a .gguf path, or None for the demo judge, run by llama.cpp; a folder, a Hugging
            Face checkpoint (F32/F16/BF16 or GPTQ) run by transformers; with `server`, the local copy of the file
            the server serves (its identity and tokenizer), or None to know the judge by the server's model name.
        n_ctx: context window in tokens.
        n_threads: CPU threads; None = the runtime's choice for this machine.
        n_gpu_layers: layers llama.cpp offloads to a GPU (0 = CPU only, -1 = all).
        device: where transformers runs a folder: "cpu", "cuda" or "auto".
        seed: llama.cpp's default sampler seed (every generation sets its own).
        server: judge through this inference server instead of loading the model here.
        sequences: prompts a GGUF judge evaluates per forward pass in a batch run (`Judge.compare_many`), or
            'auto' (`choose_sequences`: 1 on the CPU, what the memory plan fits on a GPU). A count above 1 is
            refused for the other backends (a server's concurrency is its requests in flight).
    """
    backend: Backend
    if sequences not in (1, "auto") and (server is not None or resolve_judge(str(judge) if judge else None).is_dir()):
        raise InputError(f"{sequences} sequences per forward pass are for GGUF judges run here (llama.cpp); "
                         "an inference server judges several at once with its requests in flight")
    if server is not None:
        path = resolve_judge(str(judge)) if judge else None
        backend = create_backend("server", url=server.url, model=server.model, judge_file=path, n_ctx=n_ctx,
                                 max_in_flight=server.max_in_flight, timeout_s=server.timeout_s,
                                 retries=server.retries, api_key=server.api_key,
                                 chat_template_file=server.chat_template_file, allow_cgnat=server.allow_cgnat)
    else:
        path = resolve_judge(None if judge is None else str(judge))
        if path.is_dir():
            backend = create_backend("transformers", path=path, device=device, n_ctx=n_ctx, n_threads=n_threads)
        else:
            n_seq = choose_sequences(sequences, path, n_ctx=n_ctx, n_gpu_layers=n_gpu_layers)
            backend = create_backend("llama.cpp", path=path, n_ctx=n_ctx, n_threads=n_threads,
                                     n_gpu_layers=n_gpu_layers, seed=seed, n_seq=n_seq)
    try:
        raise_if_interrupted()  # a Ctrl-C that llama.cpp's log callback swallowed while the model loaded
    except BaseException:
        backend.close()
        raise
    return backend


def judge_with_backend(backend: Backend, *, judge: str | Path | None = None, format: str | None = None,
                       lang: str = "en", rubric: str | None = None, decoding: DecodingSettings | None = None,
                       owns_backend: bool = True) -> Judge:
    """A `Judge` over the loaded `backend` of `judge` (the name or path it was opened from, for the format chosen
    when it was imported into the library).

    The format is `format`, else the one chosen at import, else the one recorded in (or recognisable from) the
    model file, else generic (`choose_format`). A backend that returns no logprobs judges by generation, one
    without grammars unconstrained (the same `unparsed` rule applies): `judge.decoding` and every manifest say so.
    `owns_backend`: whether closing the judge closes `backend`; False for a model the caller shares and closes.
    A failure here leaves `backend` open.
    """
    info = backend.info
    chosen = choose_format(format, library=recorded_format(str(judge)) if judge else None,
                           recorded=info.judge_format, names=(info.name, info.file_name))
    return Judge(backend, format=chosen, lang=lang, rubric=rubric,
                 decoding=decoding_for_backend(backend, decoding or DecodingSettings()), owns_backend=owns_backend)


def decoding_for_backend(backend: Backend, decoding: DecodingSettings) -> DecodingSettings:
    """`decoding` less what `backend` cannot do: a server without logprobs generates its verdicts, one without
    grammars decodes unconstrained. Callers compare the result with what they asked to tell the user."""
    capabilities = backend.capabilities
    if decoding.fast and not capabilities.logprobs:
        decoding = replace(decoding, fast=False)
    if decoding.constrained and not capabilities.grammar:
        decoding = replace(decoding, constrained=False)
    return decoding


def decoding_limits(asked: DecodingSettings, used: DecodingSettings) -> list[str]:
    """In plain words, what the judge does with less than `asked` (see `decoding_for_backend`); empty when nothing
    differs. The CLI and the desktop app both tell the user with these."""
    reasons = []
    if asked.fast and not used.fast:
        reasons.append("it returns no token probabilities, so each verdict is read from text the judge writes "
                       "(slower, and no verdict probabilities; llama-cpp-python: start it with --logits_all true)")
    if asked.constrained and not used.constrained:
        reasons.append("it takes no grammar, so the judge's output is not held to the verdict format (an answer "
                       "that does not parse is kept as unparsed)")
    return reasons
