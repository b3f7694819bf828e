"""What kind of OpenAI-compatible server answers at an endpoint, and how each kind is spoken to.

llama.cpp's `llama-server`, vLLM and llama-cpp-python's `python -m llama_cpp.server` agree on /v1/models and
/v1/completions, and differ in the rest judgedesk needs:

    kind               prompt         tokenizer endpoint                 grammar field                 logprob keys
    llama.cpp          token ids      /tokenize (parse_special flag)     grammar                       token ids
    vllm               token ids      /tokenize (specials always parsed) structured_outputs.grammar    token_id:N
    llama-cpp-python   text only      /extras/tokenize (adds BOS)        grammar                       token text

A server of another kind is refused: with no tokenizer endpoint, nothing could check that it reads the prompts as
judgedesk builds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._errors import ServerError, ServerRequestError, ServerUnavailableError
from ._http import JsonClient, require
from ._protocol import Sampling

__all__ = ["Dialect", "ServerFacts", "completion", "detokenize", "probe_server", "tokenize", "top_logprobs"]

Dialect = Literal["llama.cpp", "vllm", "llama-cpp-python"]


@dataclass(frozen=True)
class ServerFacts:
    """What the server said about itself when judgedesk connected."""

    dialect: Dialect
    """Which kind of server it is."""
    model: str
    """The model id requests name (the server's own name for the judge)."""
    version: str | None = None
    """The server's version, when it reports one."""
    n_ctx: int | None = None
    """The server's context size per request, when it reports one."""
    chat_template: str | None = None
    """The model's chat template, when the server reports it (llama.cpp)."""
    bos_token: str | None = None
    """Text of the BOS token, when reported."""
    eos_token: str | None = None
    """Text of the EOS token, when reported."""
    slots: int | None = None
    """Requests the server decodes at once, when it reports it (llama.cpp's --parallel, `total_slots`)."""

    @property
    def takes_token_ids(self) -> bool:
        """Whether /v1/completions takes the prompt as token ids (else as text the server tokenizes again)."""
        return self.dialect in ("llama.cpp", "vllm")

    @property
    def has_grammar(self) -> bool:
        """All three known kinds take a grammar; kept as a property so a kind without one can say so."""
        return True


def probe_server(client: JsonClient, model: str | None) -> ServerFacts:
    """Ask the server what it is and which model it serves; `model` picks one when it serves several."""
    where = f"{client.endpoint.url}/v1/models"
    listed = require(client.get("/v1/models"), "data", where=where)
    entries = {str(require(e, "id", where=where)): e for e in listed if isinstance(e, dict)}
    if not entries:
        raise ServerError(f"{where}: the server lists no model")
    if model is None:
        if len(entries) > 1:
            raise ServerRequestError(f"{where}: the server serves several models ({', '.join(entries)}); "
                                     "name one with --server-model")
        model = next(iter(entries))
    elif model not in entries:
        raise ServerRequestError(f"{where}: the server does not serve {model!r}; it serves {', '.join(entries)}")
    props = _optional(client, "GET", "/props")
    if isinstance(props, dict) and "default_generation_settings" in props:
        settings = props["default_generation_settings"]
        n_ctx = props.get("n_ctx") or (settings.get("n_ctx") if isinstance(settings, dict) else None)
        build = props.get("build_info")
        # default_generation_settings.n_ctx is one slot's context (llama-server divides --ctx-size among its
        # --parallel slots unless --kv-unified): the most one request may use.
        return ServerFacts("llama.cpp", model, str(build) if build else None, _int(n_ctx),
                           props.get("chat_template") or None, props.get("bos_token"), props.get("eos_token"),
                           _int(props.get("total_slots")))
    version = _optional(client, "GET", "/version")
    if isinstance(version, dict) and "version" in version:
        return ServerFacts("vllm", model, str(version["version"]), _int(entries[model].get("max_model_len")))
    if isinstance(_optional(client, "POST", "/extras/tokenize", {"input": "a"}), dict):
        return ServerFacts("llama-cpp-python", model)
    # Without a tokenizer endpoint nothing could check that the server reads the judge's prompt as judgedesk built
    # it, so a server of another kind is refused rather than judged with prompts that may differ.
    raise ServerError(f"{client.endpoint.url}: an OpenAI-compatible server, but not one judgedesk knows (llama.cpp's "
                      "llama-server, vLLM, llama-cpp-python): it answers none of their tokenizer endpoints, so "
                      "judgedesk could not check that the judge reads its prompts exactly")


def _optional(client: JsonClient, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    """An endpoint only some kinds of server have: None when this one answers 4xx (or not at all) there."""
    try:
        if method == "GET":
            return client.get(path, attempts=1)
        return client.post(path, payload or {}, attempts=1)
    except (ServerRequestError, ServerUnavailableError):
        return None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and value > 0 else None


def tokenize(client: JsonClient, facts: ServerFacts, text: str, *, special: bool,
             add_special: bool = False) -> list[int]:
    """The server's token ids for `text`. llama-cpp-python always adds BOS (when its model does) and always
    parses special-token text; the caller strips and checks for that."""
    where = f"{client.endpoint.url} (tokenize)"
    if facts.dialect == "llama.cpp":
        answer = client.post("/tokenize", {"content": text, "add_special": add_special, "parse_special": special})
    elif facts.dialect == "vllm":
        answer = client.post("/tokenize", {"model": facts.model, "prompt": text, "add_special_tokens": add_special})
    else:
        answer = client.post("/extras/tokenize", {"model": facts.model, "input": text})
    tokens = require(answer, "tokens", where=where)
    return [int(t["id"]) if isinstance(t, dict) else int(t) for t in tokens]


def detokenize(client: JsonClient, facts: ServerFacts, tokens: Sequence[int]) -> str:
    """The server's text for `tokens` (llama-cpp-python drops special tokens' text; the others keep it)."""
    where = f"{client.endpoint.url} (detokenize)"
    if facts.dialect == "llama.cpp":
        return str(require(client.post("/detokenize", {"tokens": list(tokens)}), "content", where=where))
    if facts.dialect == "vllm":
        return str(require(client.post("/detokenize", {"model": facts.model, "tokens": list(tokens)}), "prompt",
                           where=where))
    return str(require(client.post("/extras/detokenize", {"model": facts.model, "tokens": list(tokens)}), "text",
                       where=where))


def completion(client: JsonClient, facts: ServerFacts, prompt: list[int] | str, *, max_tokens: int,
               sampling: Sampling, grammar: str | None = None, logprobs: int | None = None,
               attempts: int | None = None) -> dict[str, Any]:
    """One /v1/completions request, every decoding parameter and the seed spelled out; returns choices[0]."""
    payload: dict[str, Any] = {
        "model": facts.model, "prompt": prompt, "max_tokens": max_tokens, "stream": False, "n": 1,
        "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": sampling.top_k,
        "min_p": sampling.min_p, "seed": sampling.seed,
    }
    # Each server reads its own name for the repetition penalty; an unknown field is ignored by all three.
    payload["repetition_penalty" if facts.dialect == "vllm" else "repeat_penalty"] = sampling.repeat_penalty
    if facts.dialect == "llama.cpp":
        # llama-server reuses a slot's cached prefix by default, and verdicts read after a reused prefix moved by up
        # to 0.024 in probability from a fresh evaluation on the demo judge (the in-process backend's own prefix
        # reuse moves them by nothing): each prompt is evaluated whole, so a verdict does not depend on what the
        # slot judged before.
        payload["cache_prompt"] = False
    if grammar is not None:
        if facts.dialect == "vllm":
            payload.update(_vllm_grammar(facts.version, grammar))
        else:
            payload["grammar"] = grammar
    if logprobs is not None:
        payload["logprobs"] = logprobs
        if facts.dialect == "vllm":
            payload["return_tokens_as_token_ids"] = True
    answer = client.post("/v1/completions", payload, attempts=attempts)
    return dict(require(answer, "choices", 0, where=f"{client.endpoint.url}/v1/completions"))


def _vllm_grammar(version: str | None, grammar: str) -> dict[str, Any]:
    """vLLM took `guided_grammar` until 0.10 and `structured_outputs` from 0.11 on."""
    try:
        major, minor = (int(part) for part in (version or "").split(".")[:2])
    except ValueError:
        major, minor = 0, 11
    if (major, minor) < (0, 11):
        return {"guided_grammar": grammar}
    return {"structured_outputs": {"grammar": grammar}}


def top_logprobs(choice: dict[str, Any], *, where: str) -> dict[int | str, float]:
    """The first generated position's top log-probabilities, keyed by token id where the server gives ids
    (llama.cpp; vLLM's 'token_id:N' keys) and by token text otherwise (llama-cpp-python)."""
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        raise ServerError(f"{where}: the server returned no logprobs")
    content = logprobs.get("content")
    if isinstance(content, list) and content:  # llama.cpp: chat-style entries with ids
        entries = require(content, 0, "top_logprobs", where=where)
        return {int(e["id"]) if "id" in e else str(e["token"]): float(e["logprob"]) for e in entries}
    top = require(logprobs, "top_logprobs", 0, where=where)
    result: dict[int | str, float] = {}
    for key, value in dict(top).items():
        if isinstance(key, str) and key.startswith("token_id:"):
            result[int(key.removeprefix("token_id:"))] = float(value)
        else:
            result[str(key)] = float(value)
    return result
