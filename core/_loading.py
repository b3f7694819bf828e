"""One call from a judge name or path to a ready `Judge`: resolve the file, pick its format, load the backend."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ._engine import DecodingSettings, Judge
from ._interrupts import raise_if_interrupted
from ._judges import default_format_for, recorded_format, resolve_judge
from .backends import Backend, create_backend

__all__ = ["ServerOptions", "decoding_for_backend", "decoding_limits", "load_judge", "offload_note"]


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


def load_judge(judge: str | None = None, *, format: str | None = None, lang: str = "en", rubric: str | None = None,
               decoding: DecodingSettings | None = None, n_ctx: int = 4096, n_threads: int | None = None,
               n_gpu_layers: int = 0, server: ServerOptions | None = None) -> Judge:
    """Load `judge` (a name, a .gguf path, or None for the demo judge) with the llama.cpp backend, or connect to
    `server`, where `judge` (optional) names the local copy of the file the server serves.

    The format defaults to the one chosen when the judge was imported into the library, else the one recorded in
    (or recognisable from) the model file, else generic. A server that returns no logprobs judges by generation,
    one without grammars unconstrained (the same `unparsed` rule applies): `judge.decoding` and every manifest
    say so.
    """
    decoding = decoding or DecodingSettings()
    backend: Backend
    if server is None:
        path = resolve_judge(judge)
        backend = create_backend("llama.cpp", path=path, n_ctx=n_ctx, n_threads=n_threads,
                                 n_gpu_layers=n_gpu_layers, seed=decoding.sampling.seed)
    else:
        path = resolve_judge(judge) if judge else None
        backend = create_backend("server", url=server.url, model=server.model, judge_file=path, n_ctx=n_ctx,
                                 max_in_flight=server.max_in_flight, timeout_s=server.timeout_s,
                                 retries=server.retries, api_key=server.api_key,
                                 chat_template_file=server.chat_template_file, allow_cgnat=server.allow_cgnat)
    try:
        raise_if_interrupted()  # a Ctrl-C that llama.cpp's log callback swallowed while the model loaded
        chosen = format or recorded_format(judge) or default_format_for(backend.info.judge_format,
                                                                         backend.info.name, backend.info.file_name)
        return Judge(backend, format=chosen, lang=lang, rubric=rubric, decoding=decoding_for_backend(backend, decoding))
    except BaseException:
        backend.close()
        raise


def decoding_for_backend(backend: Backend, decoding: DecodingSettings) -> DecodingSettings:
    """`decoding` less what `backend` cannot do: a server without logprobs generates its verdicts, one without
    grammars decodes unconstrained. Callers compare the result with what they asked to tell the user."""
    if decoding.fast and not getattr(backend, "logprobs", True):
        decoding = replace(decoding, fast=False)
    facts = getattr(backend, "facts", None)
    if decoding.constrained and facts is not None and not facts.has_grammar:
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


def offload_note(asked_layers: int, backend: Backend) -> str | None:
    """In plain words, why the GPU layers asked for are not what runs (a llama.cpp built without GPU support); None
    when they are, or when the backend has no GPU layers of its own (a server)."""
    ran = backend.settings().get("n_gpu_layers")
    if not asked_layers or ran is None or ran == asked_layers:
        return None
    return (f"{asked_layers} GPU layers were asked for, but this llama-cpp-python build has no GPU support, so the "
            "judge runs on the CPU (for NVIDIA GPUs: CMAKE_ARGS=\"-DGGML_CUDA=on\" pip install --force-reinstall "
            "--no-cache-dir llama-cpp-python==0.3.36)")
