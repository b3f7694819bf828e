"""The server backend: the same judge prompts sent to an OpenAI-compatible inference server on the user's network.

The engine does not change: it still builds token ids and asks for option scores and generations. This backend
turns each call into /v1/completions requests (see `_server_api` for the three kinds of server), with the seed and
every decoding parameter in each request. Nothing here holds a model, so several requests may be in flight at once
(`capabilities.max_in_flight`); the batch runner uses that, the server batches them.

Identity: given the judge's local GGUF file (`judge_file`), the manifest carries that file's SHA-256, name and
quantization, and its tokenizer is used locally, so a run keyed on it moves freely between the in-process backend
and a server serving the same file. Without it, the judge is known only by the server's model name (manifest hash
'server:<model>').

Exactness: token-id servers (llama.cpp, vLLM) see exactly the engine's ids. A text-only server (llama-cpp-python)
is sent the prompt's text and judgedesk checks, through the server's own tokenizer, that it reads back as the same
ids; an item whose text spells one of the judge's special tokens fails that check and is refused, never sent.

Fast verdicts use the server's logprobs of the verdict options; stop phrases are applied to the returned text (a
server does not say which stop fired), so a critique is cut exactly where the in-process backend stops.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .._chat_template import read_chat_template_file
from .._errors import InputError, ServerError, ServerRequestError
from .._gguf_file import read_gguf_header
from .._hashing import file_sha256
from .._progress import CancelFlag
from .._server_endpoint import parse_server_url
from ..formats import gbnf_literal
from ._http import JsonClient, RetryPolicy, Transport
from ._protocol import (
    BackendCapabilities,
    Generation,
    ModelInfo,
    Sampling,
    check_fits,
    served_identity,
    stop_if_cancelled,
)
from ._server_api import completion, detokenize, probe_server, tokenize, top_logprobs
from ._server_tokens import LocalVocabulary, PieceLedger
from ._stops import first_stop

__all__ = ["ServerBackend"]

# Top-k sizes asked for when scoring options; a verdict option outside the first is looked for in the next.
_LOGPROB_STEPS = (20, 200, 5000)
# Special-token spellings (ChatML, Llama 2, sentence markers) that vLLM would parse inside the user's text.
_SPECIAL_LOOKING = re.compile(r"<\|[^|<>\s]{1,40}\|>|</?s>|\[/?INST\]|<</?SYS>>|<[a-z_]{2,20}>")
_PROBE_TEXT = "Judge 1 or 2? Réponse: 猫 <b>ok</b>\n"


class ServerBackend:
    """A judge served by an inference server; use as a context manager or call `close()`."""

    name = "server"
    info: ModelInfo
    """Set while connecting, from the local judge file or, without one, from what the server says."""
    n_ctx: int
    """The context window: the asked size capped at the server's and the file's."""
    notes: tuple[str, ...]
    """In plain words, what the server was started without that judgedesk asked for, and what it does instead
    (fewer requests in flight than asked, a smaller context); empty when the server gives all of it."""

    def __init__(self, url: str, *, model: str | None = None, judge_file: str | Path | None = None,
                 chat_template_file: str | Path | None = None, n_ctx: int = 4096, max_in_flight: int = 4,
                 timeout_s: float = 120.0, retries: int = 5, api_key: str | None = None,
                 allow_cgnat: bool = False, transport: Transport | None = None) -> None:
        """Connect to the server at `url` and learn what it serves.

        Args:
            url: the server's address, an IP on the loopback or a private network ('http://10.0.0.5:8080');
                exactly that host:port is added to the offline allowlist.
            model: the model id to request, when the server serves several.
            judge_file: the judge's local GGUF file (the one the server serves): its identity goes into the
                manifest and its tokenizer is used locally.
            chat_template_file: the judge's chat template (a Jinja file or tokenizer_config.json), for chat
                formats when neither a local file nor the server provides it (vLLM does not).
            n_ctx: context window in tokens, capped at the server's and the file's.
            max_in_flight: requests a batch may have in flight at once.
            timeout_s: seconds to wait for one answer (queueing on the server included).
            retries: further attempts for a request that got no answer or a 5xx.
            api_key: sent as a bearer token (llama-server and vLLM --api-key).
            allow_cgnat: accept a server in the CGNAT block 100.64.0.0/10 (see parse_server_url).
            transport: the HTTP seam, for tests.
        """
        if max_in_flight < 1:
            raise InputError("must be at least 1", field="max_in_flight")
        endpoint = parse_server_url(url, allow_cgnat=allow_cgnat)
        endpoint.allow()
        self.endpoint = endpoint
        self._client = JsonClient(endpoint, timeout_s=timeout_s, retry=RetryPolicy(retries=retries), api_key=api_key,
                                  transport=transport)
        self._vocab: LocalVocabulary | None = None
        try:
            self.facts = probe_server(self._client, model)
            self._ledger = PieceLedger()
            # Every prompt re-tokenizes the template's pieces and the options, and each order is sent once per
            # text: remembered, they cost the server one request each, not one per judgement.
            self._tokenize_on_server = functools.lru_cache(maxsize=4096)(self._tokenize_on_server_uncached)
            self._check_reads_back = functools.lru_cache(maxsize=4096)(self._check_reads_back_uncached)
            self._piece_text: dict[int, str] = {}
            self._top_k = _LOGPROB_STEPS[0]
            self._top_k_cap = _LOGPROB_STEPS[-1]
            self._leading = self._server_leading_tokens()
            if judge_file is not None:
                self._load_local(Path(judge_file), n_ctx)
            else:
                self._describe_from_server(n_ctx)
            if chat_template_file is not None:
                given = read_chat_template_file(chat_template_file)
                self.info = replace(self.info, chat_template=given.template,
                                    bos_token=given.bos_token or self.info.bos_token,
                                    eos_token=given.eos_token or self.info.eos_token)
            max_in_flight, self.notes = self._fit_to_server(max_in_flight, n_ctx)
            self.capabilities = BackendCapabilities(logprobs=self._probe_logprobs(), grammar=self.facts.has_grammar,
                                                    max_in_flight=max_in_flight, endpoint=endpoint.address)
        except BaseException:
            self.close()
            raise

    # -- identity -------------------------------------------------------------------------------------------

    def _load_local(self, path: Path, n_ctx: int) -> None:
        header = read_gguf_header(path)
        vocab = self._vocab = LocalVocabulary(path)
        if vocab.tokenize(_PROBE_TEXT, special=False) != self._server_ids(_PROBE_TEXT):
            raise ServerError(f"{self.endpoint.url}: the server's model {self.facts.model!r} tokenizes "
                              f"differently from {path.name}: it is not the same judge")
        trained = header.context_length
        self.n_ctx = min(n for n in (n_ctx, trained, self.facts.n_ctx) if n)
        self.info = ModelInfo(
            sha256=file_sha256(path), name=header.name, file_name=path.name, architecture=header.architecture,
            file_type=header.file_type, chat_template=header.chat_template, bos_token=vocab.bos_token,
            eos_token=vocab.eos_token, bos_id=vocab.bos_id, add_bos=vocab.add_bos, context_length=trained,
            judge_format=header.judge_format, synthetic=header.synthetic, path=path,
        )

    def _describe_from_server(self, n_ctx: int) -> None:
        facts = self.facts
        with_special = tokenize(self._client, facts, "", special=True, add_special=True)
        bos_id = with_special[0] if with_special else None
        file_name = facts.model.replace("\\", "/").rsplit("/", 1)[-1]
        self.n_ctx = min(n for n in (n_ctx, facts.n_ctx) if n)
        self.info = ModelInfo(
            sha256=served_identity(facts.model), name=re.sub(r"\.gguf$", "", file_name, flags=re.I),
            file_name=file_name, architecture="unknown", file_type="unknown", chat_template=facts.chat_template,
            bos_token=facts.bos_token or "", eos_token=facts.eos_token or "", bos_id=bos_id,
            add_bos=bos_id is not None,
        )

    def _fit_to_server(self, max_in_flight: int, n_ctx: int) -> tuple[int, tuple[str, ...]]:
        """Requests in flight capped at the server's slots, and what the server lacks of what was asked."""
        facts, notes = self.facts, []
        llama_server = facts.dialect == "llama.cpp"
        if facts.slots is not None and facts.slots < max_in_flight:
            # More would only wait in the server's queue, where their time counts against the timeout.
            notes.append(f"it decodes {facts.slots} request{'s' if facts.slots > 1 else ''} at once"
                         f"{f' (--parallel {facts.slots})' if llama_server else ''}: judgedesk keeps {facts.slots} in "
                         f"flight, not {max_in_flight}"
                         f"{f'; start it with --parallel {max_in_flight} for more' if llama_server else ''}")
            max_in_flight = facts.slots
        wanted = min(n for n in (n_ctx, self.info.context_length) if n)
        if facts.n_ctx is not None and facts.n_ctx < wanted:
            hint = ""
            if llama_server:
                slots = facts.slots or 1
                hint = (f"; llama-server divides --ctx-size among its {slots} slot{'s' if slots > 1 else ''}: "
                        f"start it with --ctx-size {wanted * slots} for {wanted} each")
            notes.append(f"a request may use {facts.n_ctx} tokens there: judgedesk fits prompts into {facts.n_ctx}, "
                         f"not {wanted} (longer inputs are shortened or fail){hint}")
        return max_in_flight, tuple(notes)

    def _server_leading_tokens(self) -> list[int]:
        """What the server puts before every text it tokenizes (llama-cpp-python: BOS, when its model adds one)."""
        if self.facts.dialect != "llama-cpp-python":
            return []
        return tokenize(self._client, self.facts, "", special=True)

    def _probe_logprobs(self) -> bool:
        """Whether the server returns logprobs (llama-cpp-python needs --logits_all true); asked once, no retry."""
        prompt = self._send_form(self.tokenize("Hi", special=False))
        try:
            choice = completion(self._client, self.facts, prompt, max_tokens=1, sampling=Sampling(), logprobs=2,
                                attempts=1)
            return bool(top_logprobs(choice, where=self.endpoint.url))
        except ServerError:
            return False

    # -- tokens ---------------------------------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        if not text:
            return []
        if self._vocab is not None:
            ids = self._vocab.tokenize(text, special=special)
        else:
            ids = list(self._tokenize_on_server(text, special))
        self._ledger.record(ids, text)
        return ids

    def _tokenize_on_server_uncached(self, text: str, special: bool) -> tuple[int, ...]:
        ids = self._server_ids(text, special=special)
        if not special:
            self._refuse_special_text(text, ids)
        return tuple(ids)

    def _server_ids(self, text: str, *, special: bool = False) -> list[int]:
        ids = tokenize(self._client, self.facts, text, special=special)
        lead = self._leading
        return ids[len(lead):] if lead and ids[:len(lead)] == lead else ids

    def _refuse_special_text(self, text: str, ids: list[int]) -> None:
        """The user's text must reach the judge as text: refuse it where the server read a special token in it.

        llama.cpp tokenizes with parse_special off, so there is nothing to check. llama-cpp-python's detokenizer
        drops special tokens, so a round trip that loses text found one. vLLM parses special-token text always and
        keeps it when detokenizing, so its check looks for special-token spellings the server reads as one token.
        """
        if self.facts.dialect == "llama.cpp":
            return
        found = None
        if self.facts.dialect == "llama-cpp-python":
            if detokenize(self._client, self.facts, ids) != text:
                found = next((m.group(0) for m in _SPECIAL_LOOKING.finditer(text)), "a special token")
        else:
            for match in _SPECIAL_LOOKING.finditer(text):
                if len(self._server_ids(match.group(0), special=True)) == 1:
                    found = match.group(0)
                    break
        if found is not None:
            raise ServerRequestError(f"the text contains {found!r}, which this server would read as one of the "
                                     "judge's special tokens, not as text; judgedesk does not send it (the in-process "
                                     "backend, or the judge's local file with --judge, reads it as text)")

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        if self._vocab is not None:
            return self._vocab.detokenize(tokens, special=special)
        if special and self.facts.dialect == "llama-cpp-python":
            # Its detokenizer drops special tokens' text; the ledger spells ids this backend tokenized as the
            # text they came from (a prompt just built), BOS written as its text.
            body, lead = list(tokens), ""
            if self.info.bos_id is not None and body[:1] == [self.info.bos_id]:
                body, lead = body[1:], self.info.bos_token
            spelled = self._ledger.spell(body)
            if spelled is not None:
                return lead + spelled
        # llama.cpp's and vLLM's detokenizers write special tokens out anyway.
        return detokenize(self._client, self.facts, tokens)

    def _send_form(self, ids: Sequence[int]) -> list[int] | str:
        """The prompt as the server takes it: the ids themselves, or text checked to read back as these ids."""
        if self.facts.takes_token_ids:
            return list(ids)
        body = list(ids)
        if self.info.add_bos and body and body[0] == self.info.bos_id:
            body = body[1:]  # a text server adds BOS itself
        text = self._ledger.spell(body)
        if text is None:
            raise ServerError("judgedesk cannot spell this prompt as text for the server (internal: a piece was "
                              "tokenized outside the backend)")
        self._check_reads_back(text, tuple(body))
        return text

    def _check_reads_back_uncached(self, text: str, body: tuple[int, ...]) -> None:
        read_back = tuple(self._server_ids(text, special=True))
        if read_back != body:
            at = next((k for k, (a, b) in enumerate(zip(read_back, body, strict=False)) if a != b),
                      min(len(read_back), len(body)))
            raise ServerRequestError(
                f"this server takes prompts as text and would read this one as different tokens than judgedesk "
                f"built (first difference at token {at}, near {self.detokenize(body[max(0, at - 3):at + 3])!r}); "
                "usually the item spells a special token of the judge. A server that takes token ids "
                "(llama.cpp's llama-server, vLLM) avoids this")

    # -- evaluation -----------------------------------------------------------------------------------------

    def score_options(self, prompt: Sequence[int], options: Sequence[Sequence[int]]) -> list[list[float]]:
        """Log-probabilities of the options' tokens among their siblings; a token with no sibling scores 0.

        One request per branching point of the options (PandaLM's 1 / 2 / Tie: one request): constrained decoding
        compares only siblings, so nothing else is needed for the verdict's probabilities.
        """
        if not self.capabilities.logprobs:
            raise ServerError(f"{self.endpoint.url}: the server returns no logprobs, so fast verdicts cannot be read "
                              "(llama-cpp-python: start it with --logits_all true); judge with --generate")
        children: dict[tuple[int, ...], set[int]] = {}
        for option in options:
            for k, token in enumerate(option):
                children.setdefault(tuple(option[:k]), set()).add(token)
        scored: dict[tuple[int, ...], dict[int, float]] = {}
        for prefix, siblings in children.items():
            if len(siblings) > 1:
                if prefix and not self.facts.takes_token_ids:
                    # Part of an option (plain text, no special tokens): spelled by the tokenizer, checked on send.
                    self._ledger.record(prefix, self.detokenize(prefix))
                scored[prefix] = self._next_token_logprobs(list(prompt) + list(prefix), siblings)
        return [[scored[tuple(option[:k])][token] if tuple(option[:k]) in scored else 0.0
                 for k, token in enumerate(option)] for option in options]

    def _next_token_logprobs(self, prompt: list[int], wanted: set[int]) -> dict[int, float]:
        check_fits(len(prompt) + 1, self.n_ctx)
        sent = self._send_form(prompt)
        texts = {token: self._single_piece(token) for token in wanted}
        if len(set(texts.values())) < len(texts):
            raise ServerError(f"{self.endpoint.url}: two verdict options' tokens read as the same text, and this "
                              "server names logprobs by text only; judge with --generate")
        where = f"{self.endpoint.url}/v1/completions"
        # The one token generated is held to the options: a server reports no position at all when the model
        # would end right there (llama-cpp-python), and the logprobs read are the raw ones either way.
        usable = all(text and "\ufffd" not in text for text in texts.values())
        grammar = "root ::= " + " | ".join(gbnf_literal(t) for t in sorted(set(texts.values()))) if usable else None
        start, cap = self._top_k, self._top_k_cap  # other threads may move them meanwhile
        top: dict[int | str, float] = {}
        found: dict[int, float | None] = {token: None for token in wanted}
        for attempt, size in enumerate(step for step in _LOGPROB_STEPS if start <= step <= cap):
            try:
                choice = completion(self._client, self.facts, sent, max_tokens=1, sampling=Sampling(),
                                    logprobs=size, grammar=grammar)
            except ServerRequestError:
                if attempt == 0:
                    raise  # refused as such (too long for the server's context, ...), not for its top-k size
                self._top_k_cap = min(self._top_k_cap, size - 1)  # vLLM's --max-logprobs: stay below it
                break
            top = top_logprobs(choice, where=where)
            found = {token: top[token] if token in top else top.get(texts[token]) for token in wanted}
            if all(value is not None for value in found.values()):
                # A judge that needed a larger top-k once will need it again: start there next time rather than
                # ask every verdict twice.
                self._top_k = size
                return {token: float(value) for token, value in found.items() if value is not None}
            if len(top) < size:  # the server gave fewer than asked (its own cap): a larger request will not help
                break
        missing = ", ".join(repr(texts[t]) for t, v in found.items() if v is None)
        raise ServerRequestError(f"the verdict option token(s) {missing} are not among the {len(top)} most likely "
                                 "tokens the server returned (vLLM: raise --max-logprobs); judge with --generate")

    def _single_piece(self, token: int) -> str:
        """A token's text as a server names it in text-keyed logprobs (cached)."""
        piece = self._piece_text.get(token)
        if piece is None:
            piece = self.detokenize([token])
            self._piece_text[token] = piece
        return piece

    def generate(self, prompt: Sequence[int], *, max_tokens: int, sampling: Sampling, grammar: str | None = None,
                 stop: Sequence[str] = (), cancel: CancelFlag | None = None) -> Generation:
        check_fits(len(prompt), self.n_ctx)
        stop_if_cancelled(cancel)  # one request: checked before it is sent
        budget = max(0, min(max_tokens, self.n_ctx - len(prompt)))
        if budget == 0:
            return Generation(text="", n_tokens=0, finish="length")
        choice = completion(self._client, self.facts, self._send_form(prompt), max_tokens=budget, sampling=sampling,
                            grammar=grammar)
        text = str(choice.get("text") or "")
        reason = choice.get("finish_reason")
        if stop:
            # Stop phrases are applied here, not sent: servers report "stop" for EOS and stop phrases alike, and
            # the engine must know which. Greedy text before the phrase is the same either way.
            hit = first_stop(text, stop)
            if hit is not None:
                kept = text[:hit[0]]
                return Generation(text=kept, n_tokens=self._count_tokens(kept), finish="stop",
                                  stopped_at=stop[hit[1]])
        return Generation(text=text, n_tokens=self._count_tokens(text),
                          finish="length" if reason == "length" else "eos")

    def _count_tokens(self, text: str) -> int:
        """Tokens in generated text: the judge's own output, so no special-token refusal applies to it."""
        if not text:
            return 0
        if self._vocab is not None:
            return len(self._vocab.tokenize(text, special=False))
        return len(self._server_ids(text))

    # -- description ----------------------------------------------------------------------------------------

    def settings(self) -> Mapping[str, Any]:
        return {"n_ctx": self.n_ctx, "endpoint": self.endpoint.url, "server": self.facts.dialect,
                "server_model": self.facts.model, "max_in_flight": self.capabilities.max_in_flight,
                "timeout_s": self._client.timeout_s, "retries": self._client.retry.retries}

    def versions(self) -> Mapping[str, str]:
        version = f"{self.facts.dialect} {self.facts.version}" if self.facts.version else self.facts.dialect
        return {"server": version}

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._client.attempts

    def close(self) -> None:
        vocab = getattr(self, "_vocab", None)
        if vocab is not None:
            vocab.close()
            self._vocab = None
        self._client.close()

    def __enter__(self) -> ServerBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
