"""The llama.cpp backend: GGUF judges through llama-cpp-python, on the CPU or with layers offloaded to a GPU.

Determinism: a verdict never depends on what was judged before it. On the CPU a call reuses the KV cache of the
longest prefix it shares with the previous call (the two orders of a pair share the whole instruction), because
llama.cpp's CPU kernels give bit-identical logits however a prompt is split into batches of two tokens or more
(tested on the real judge in tests/core/backends/test_llamacpp_prefix_reuse.py). A batch of ONE token takes another
path whose last bits differ once the context holds a few hundred tokens (0.16 in a logprob at 300 tokens on the
demo judge), and its KV entry then differs for every later call that reuses it; so no prompt token is ever
evaluated alone (`_batches`), and a reused prefix always leaves at least two tokens to evaluate. With GPU layers the
batch split can change the last bits, so there every call starts from an empty cache. Context, batch and thread
counts are fixed at load and recorded in the manifest.

With `n_seq` > 1 the context holds that many sequences, each in its own KV stream of `n_ctx` tokens, and
`score_options_batch` evaluates up to `n_seq` prompts in one forward pass, cut as _sequences.py explains so that
every prompt's logits are the ones it gets alone (tested bit for bit on the CPU). Sequence 0 is also the sequence of
every single-prompt call.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .._errors import ModelFileError, ModelLoadError
from .._gguf_file import GGUFHeader, read_gguf_header
from .._hashing import file_sha256
from .._llama_log import captured_llama_log, llama_failure_reason
from .._llama_runtime import default_threads, load_llama_cpp
from .._load_probe import check_first_load
from .._progress import CancelFlag
from ._gbnf import GrammarError
from ._protocol import BackendCapabilities, Generation, ModelInfo, Sampling, check_fits, stop_if_cancelled
from ._sequences import plan_rounds
from ._stops import first_stop

__all__ = ["LlamaCppBackend"]

_CANCEL_CHUNK = 128
"""Prompt tokens evaluated between two checks of a cancel flag during generation."""
_MIN_BATCH = 2
"""The fewest prompt tokens evaluated in one batch (see the module docstring)."""


def branching_prefixes(options: Sequence[Sequence[int]]) -> set[tuple[int, ...]]:
    """The prefixes of `options` (token lists) that two or more options continue with different tokens: the only
    places whose log-probabilities a verdict read from the options needs (a token without siblings is forced)."""
    children: dict[tuple[int, ...], set[int]] = {}
    for option in options:
        for k, token in enumerate(option):
            children.setdefault(tuple(option[:k]), set()).add(token)
    return {prefix for prefix, tokens in children.items() if len(tokens) > 1}


def _option_scores(options: Sequence[Sequence[int]], after_prompt: np.ndarray,
                   after: Callable[[tuple[int, ...]], np.ndarray]) -> list[list[float]]:
    """Each option token's log-probability: from `after_prompt` for the first, from `after(prefix)` (a forward pass,
    once per prefix) where options part later, and 0 for a forced token (see `branching_prefixes`)."""
    after_prefix: dict[tuple[int, ...], np.ndarray] = {(): after_prompt}
    branching = branching_prefixes(options)
    scores = []
    for option in options:
        per_token = []
        for k, token in enumerate(option):
            prefix = tuple(option[:k])
            if prefix not in branching:
                per_token.append(0.0)
                continue
            if prefix not in after_prefix:
                after_prefix[prefix] = after(prefix)
            per_token.append(float(after_prefix[prefix][token]))
        scores.append(per_token)
    return scores


def _batches(count: int, size: int) -> list[int]:
    """Batch lengths for `count` tokens: at most `size` each, and never a batch of one token when there are more
    (a remainder of one makes the last two batches size - 1 and 2)."""
    lengths = [size] * (count // size) + ([count % size] if count % size else [])
    if len(lengths) >= 2 and lengths[-1] == 1 and size > _MIN_BATCH:
        lengths[-2:] = [size - 1, _MIN_BATCH]
    return lengths

_NO_GPU_BUILD = ("{asked} GPU layers were asked for, but this llama-cpp-python build has no GPU support, so the "
                 "judge runs on the CPU (for NVIDIA GPUs: CMAKE_ARGS=\"-DGGML_CUDA=on\" pip install --force-reinstall "
                 "--no-cache-dir llama-cpp-python==0.3.36)")


def _check_chat_templates(llama_cpp: ModuleType, header: GGUFHeader) -> None:
    """Compile the file's chat templates as llama-cpp-python's Llama() will (it compiles every one, though judgedesk
    renders its own prompts), so that one Jinja cannot parse is a ModelFileError naming its key, not a traceback."""
    from jinja2 import TemplateError

    for key, template in header.metadata.items():
        if key == "tokenizer.chat_template" or key.startswith("tokenizer.chat_template."):
            if not isinstance(template, str):
                raise ModelFileError(header.path, f"metadata {key} holds {header.value_types[key]}, not a template")
            try:
                llama_cpp.llama_chat_format.Jinja2ChatFormatter(template=template, eos_token="", bos_token="")
            except TemplateError as exc:
                lineno = getattr(exc, "lineno", None)  # only syntax errors know their line
                where = f" (line {lineno})" if lineno else ""
                raise ModelFileError(header.path, f"metadata {key} is not a chat template Jinja can compile: "
                                                  f"{exc}{where}") from None


class LlamaCppBackend:
    """A GGUF judge loaded with llama.cpp; use as a context manager or call `close()`."""

    name = "llama.cpp"

    def __init__(self, path: str | Path, *, n_ctx: int = 4096, n_threads: int | None = None, n_batch: int = 512,
                 n_gpu_layers: int = 0, seed: int = 2023, reuse_prefix: bool | None = None, n_seq: int = 1) -> None:
        """Load `path`.

        Args:
            path: the GGUF file; checked by judgedesk before llama.cpp sees it.
            n_ctx: context window in tokens (llama-cpp-python's default of 512 silently truncates judge prompts);
                capped at the model's trained context.
            n_threads: CPU threads for generation and prompt processing; default `default_threads()`.
            n_batch: prompt-processing batch size (also the micro-batch).
            n_gpu_layers: layers to offload to a GPU (0 = CPU only, -1 = all); 0 on a build without GPU support.
            seed: default sampler seed.
            reuse_prefix: keep the KV cache of a prefix shared with the previous call; default: on the CPU only.
            n_seq: prompts `score_options_batch` evaluates in one forward pass, each in a sequence of its own with
                `n_ctx` tokens of KV cache (so the cache is `n_seq` times as large).
        """
        if n_seq < 1:
            raise ValueError(f"n_seq must be 1 or more, not {n_seq}")
        path = Path(path)
        header = read_gguf_header(path)  # raises ModelFileError on anything llama.cpp is known to abort on
        trained = header.context_length
        self.n_ctx = min(n_ctx, trained) if trained else n_ctx
        self._n_threads = n_threads or default_threads()
        self._n_batch = n_batch
        try:
            llama_cpp = load_llama_cpp()  # raises UnsupportedCpuError where llama.cpp would die of SIGILL
        except ImportError as exc:  # pragma: no cover - the core install always has it
            raise ModelLoadError(path, "llama-cpp-python is not installed: pip install llama-cpp-python==0.3.36") \
                from exc
        self._lib = llama_cpp
        _check_chat_templates(llama_cpp, header)
        sha256 = file_sha256(path)
        check_first_load(path, sha256, llama_cpp.__version__)  # what the checks cannot foresee, a child meets first
        offload_note = None
        if n_gpu_layers and not llama_cpp.llama_supports_gpu_offload():
            # llama.cpp would ignore the layers itself; recording 0 keeps the manifest true to what ran, and the
            # capabilities' offload note tells the user why.
            offload_note = _NO_GPU_BUILD.format(asked=n_gpu_layers)
            n_gpu_layers = 0
        # One model, one thread at a time.
        self.capabilities = BackendCapabilities(offload_note=offload_note)
        self._n_gpu_layers = n_gpu_layers
        self._reuse_prefix = (n_gpu_layers == 0) if reuse_prefix is None else reuse_prefix
        try:
            with captured_llama_log(llama_cpp) as log:
                self._llm = llama_cpp.Llama(
                    model_path=str(path), n_ctx=self.n_ctx, n_batch=n_batch, n_ubatch=n_batch,
                    n_threads=self._n_threads, n_threads_batch=self._n_threads, n_gpu_layers=n_gpu_layers,
                    seed=seed, logits_all=False, verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            # llama-cpp-python says only "Failed to load model from file"; llama.cpp's log says why.
            reason = llama_failure_reason(log)
            raise ModelLoadError(path, f"llama.cpp refused it: {reason}" if reason else str(exc)) from exc
        if self._llm._is_recurrent or self._llm._is_hybrid:
            self._reuse_prefix = False  # their state cannot be trimmed back to a prefix
            n_seq = 1  # nor kept in streams of their own
        self._n_seq = n_seq
        if n_seq > 1:
            self._open_sequences(path, n_seq)
            self.capabilities = BackendCapabilities(offload_note=offload_note, max_sequences=n_seq)
        model = self._llm._model
        bos_id = model.token_bos()
        eos_id = model.token_eos()
        self._n_vocab = self._llm.n_vocab()
        self.info = ModelInfo(
            sha256=sha256,
            name=header.name,
            file_name=path.name,
            architecture=header.architecture,
            file_type=header.file_type,
            chat_template=header.chat_template,
            bos_token=model.token_get_text(bos_id) if bos_id >= 0 else "",
            eos_token=model.token_get_text(eos_id) if eos_id >= 0 else "",
            bos_id=bos_id if bos_id >= 0 else None,
            add_bos=bool(model.add_bos_token()),
            context_length=trained,
            judge_format=header.judge_format, synthetic=header.synthetic,
            path=path,
        )

    def _open_sequences(self, path: Path, n_seq: int) -> None:
        """Replace the one-sequence context Llama() made with one of `n_seq` sequences in streams of their own."""
        llm, lib = self._llm, self._lib
        params = lib.llama_context_default_params()
        for name, _ in type(params)._fields_:
            setattr(params, name, getattr(llm.context_params, name))
        params.n_seq_max = n_seq
        params.kv_unified = False  # a stream per sequence: each attends only to its own n_ctx cells
        params.n_ctx = self.n_ctx * n_seq
        llm._ctx.close()  # free its KV cache before n_seq times as much is allocated
        try:
            with captured_llama_log(lib) as log:
                llm._ctx = lib._internals.LlamaContext(model=llm._model, params=params, verbose=False)
        except ValueError as exc:
            reason = llama_failure_reason(log)
            self.close()
            raise ModelLoadError(path, f"llama.cpp could not make a context of {n_seq} sequences of {self.n_ctx} "
                                       f"tokens (try fewer sequences or a smaller context): "
                                       f"{reason or exc}") from exc
        llm.context_params = params
        llm.n_tokens = 0
        self._batch = lib.llama_batch_init(self._n_batch, 0, 1)

    # -- tokens ---------------------------------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        if not text:
            return []
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        return self._llm.detokenize(list(tokens), special=special).decode("utf-8", errors="replace")

    # -- evaluation -----------------------------------------------------------------------------------------

    def _keep_shared_prefix(self, tokens: Sequence[int]) -> int:
        """Trim the context to the longest prefix of `tokens` it already holds (0 without reuse); return its length.

        At least the last two tokens are always evaluated again, so the last one's logits come from a live decode in
        a batch of two or more (see the module docstring).
        """
        llm = self._llm
        kept = 0
        if self._reuse_prefix:
            limit = min(llm.n_tokens, len(tokens) - _MIN_BATCH)
            cached = llm.input_ids
            while kept < limit and cached[kept] == tokens[kept]:
                kept += 1
        if kept == 0:
            llm.reset()  # also clears recurrent state, which cannot be trimmed
        llm.n_tokens = kept
        llm._ctx.kv_cache_seq_rm(-1, kept, -1)
        return kept

    def _eval_prompt(self, tokens: Sequence[int]) -> None:
        check_fits(len(tokens), self.n_ctx)
        kept = self._keep_shared_prefix(tokens)
        self._evaluate(list(tokens[kept:]), None)

    def _evaluate(self, tokens: list[int], cancel: CancelFlag | None) -> None:
        """Evaluate `tokens` after the cache in `_batches` (of n_batch tokens, or fewer between checks of `cancel`)."""
        size = min(self._n_batch, _CANCEL_CHUNK) if cancel is not None else self._n_batch
        start = 0
        for length in _batches(len(tokens), size):
            stop_if_cancelled(cancel)
            self._llm.eval(tokens[start:start + length])
            start += length

    def _last_logprobs(self) -> np.ndarray:
        return self._logprobs_at(-1)

    def _logprobs_at(self, row: int) -> np.ndarray:
        """Log-probabilities after the batch row `row` of the last decode (-1: its last output)."""
        pointer = self._lib.llama_get_logits_ith(self._llm._ctx.ctx, row)
        logits = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)),
                                       shape=(self._n_vocab,)).astype(np.float64)
        shifted = logits - logits.max()
        return shifted - np.log(np.exp(shifted).sum())

    def score_options(self, prompt: Sequence[int], options: Sequence[Sequence[int]]) -> list[list[float]]:
        """Log-probability of each token of each option after `prompt`: one prompt pass, then a few tokens; 0 for a
        token no other option branches from (as the protocol allows: it is forced, and evaluating its prefix, a
        forward pass of its own, would change nothing)."""
        check_fits(len(prompt) + max((len(o) for o in options), default=0), self.n_ctx)
        self._eval_prompt(prompt)
        start = self._llm.n_tokens

        def after(prefix: tuple[int, ...]) -> np.ndarray:
            # Roll back to the prompt (eval trims the KV cache past n_tokens), then feed the prefix.
            self._llm.n_tokens = start
            self._llm.eval(list(prefix))
            return self._last_logprobs()

        return _option_scores(options, self._last_logprobs(), after)

    def score_options_batch(self, requests: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]]
                            ) -> list[list[list[float]]]:
        """`score_options` for each (prompt, options) of `requests`, `n_seq` prompts per forward pass; the values
        are bit-identical to `score_options` one request at a time (on the CPU)."""
        if self._n_seq == 1:
            return [self.score_options(prompt, options) for prompt, options in requests]
        for prompt, options in requests:
            check_fits(len(prompt) + max((len(o) for o in options), default=0), self.n_ctx)
        scores: list[list[list[float]]] = []
        for first in range(0, len(requests), self._n_seq):
            scores += self._score_group(requests[first:first + self._n_seq])
        return scores

    def _score_group(self, group: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]]) -> list[list[list[float]]]:
        """Score up to `n_seq` requests, request i in sequence i: their prompts in rounds of one forward pass each,
        then each option's earlier tokens in its own sequence, as `score_options` feeds them."""
        ctx = self._llm._ctx
        self._llm.n_tokens = 0  # sequence 0 no longer holds the last single-prompt call's tokens
        for seq in range(len(group)):
            ctx.kv_cache_seq_rm(seq, 0, -1)
        after_prompt: dict[int, np.ndarray] = {}
        for chunks in plan_rounds([len(prompt) for prompt, _ in group], self._n_batch):
            rows = [(c.seq, c.start + k, group[c.seq][0][c.start + k]) for c in chunks for k in range(c.count)]
            wanted = {c.seq: c.start + c.count - 1 for c in chunks if c.start + c.count == len(group[c.seq][0])}
            outputs = self._decode(rows, wanted)
            after_prompt.update(outputs)
        results = []
        for seq, (prompt, options) in enumerate(group):
            def after(prefix: tuple[int, ...], seq: int = seq, start: int = len(prompt)) -> np.ndarray:
                ctx.kv_cache_seq_rm(seq, start, -1)
                rows = [(seq, start + j, t) for j, t in enumerate(prefix)]
                return self._decode(rows, {seq: start + len(prefix) - 1})[seq]

            results.append(_option_scores(options, after_prompt[seq], after))
        return results

    def _decode(self, rows: Sequence[tuple[int, int, int]], wanted: Mapping[int, int]) -> dict[int, np.ndarray]:
        """One llama_decode of `rows` (sequence, position, token); the log-probabilities after the token at
        position `wanted[seq]` of each sequence in `wanted`."""
        batch = self._batch
        out_rows = {}
        for i, (seq, position, token) in enumerate(rows):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position, 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = wanted.get(seq) == position
            if batch.logits[i]:
                out_rows[seq] = i
        batch.n_tokens = len(rows)
        code = self._lib.llama_decode(self._llm._ctx.ctx, batch)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code}")
        return {seq: self._logprobs_at(i) for seq, i in out_rows.items()}

    def _parsed_grammar(self, grammar: str) -> Any:
        """`grammar` for llama-cpp-python's sampler, once llama.cpp has parsed it. LlamaGrammar parses nothing, and
        the sampler chain would take the NULL that llama.cpp returns for a grammar it cannot parse: SIGSEGV."""
        probe = self._lib.llama_sampler_init_grammar(self._llm._model.vocab, grammar.encode("utf-8"), b"root")
        if not probe:
            first = next((line for line in grammar.splitlines() if line.strip()), "")
            raise GrammarError(f"llama.cpp cannot parse the output grammar (starting {first[:80]!r})")
        self._lib.llama_sampler_free(probe)
        return self._lib.LlamaGrammar.from_string(grammar, verbose=False)

    def generate(self, prompt: Sequence[int], *, max_tokens: int, sampling: Sampling, grammar: str | None = None,
                 stop: Sequence[str] = (), cancel: CancelFlag | None = None) -> Generation:
        llm = self._llm
        check_fits(len(prompt), self.n_ctx)
        stop_if_cancelled(cancel)
        compiled = self._parsed_grammar(grammar) if grammar else None
        kept = self._keep_shared_prefix(prompt)
        llm.set_seed(sampling.seed)  # llama-cpp-python derives a new seed per call otherwise
        room = self.n_ctx - len(prompt)
        budget = max(0, min(max_tokens, room))
        produced: list[int] = []
        finish = "length"
        stopped_at = None
        text = ""
        if budget > 0:
            vocab = llm._model.vocab
            pending = self._eval_cancellably(list(prompt[kept:]), cancel)
            for token in llm.generate(pending, reset=False, top_k=sampling.top_k, top_p=sampling.top_p,
                                      min_p=sampling.min_p, temp=sampling.temperature,
                                      repeat_penalty=sampling.repeat_penalty, grammar=compiled):
                # Between tokens, so a cancel frees the model at once instead of after the whole budget; the
                # next call trims the cache back to its own prefix, so nothing of this generation leaks into it.
                stop_if_cancelled(cancel)
                if self._lib.llama_vocab_is_eog(vocab, token):
                    finish = "eos"
                    break
                produced.append(token)
                if stop:
                    text = llm.detokenize(produced).decode("utf-8", errors="ignore")
                    hit = first_stop(text, stop)
                    if hit is not None:
                        stopped_at = stop[hit[1]]
                        text = text[:hit[0]]
                        finish = "stop"
                        break
                if len(produced) >= budget:
                    break
        if finish != "stop":
            text = llm.detokenize(produced).decode("utf-8", errors="replace")
        return Generation(text=text, n_tokens=len(produced), finish=finish, stopped_at=stopped_at)  # type: ignore[arg-type]

    def _eval_cancellably(self, tokens: list[int], cancel: CancelFlag | None) -> list[int]:
        """Evaluate all but the last two of `tokens` in batches, checking `cancel` between them, so a cancel during a
        long prompt stops within a batch; return what is left for `generate`, which evaluates it as one batch. On
        the CPU the split cannot change a logit (see the module docstring); with GPU layers the prompt goes whole,
        and with nothing to cancel it goes in n_batch batches, never a token alone."""
        if self._n_gpu_layers or len(tokens) <= _CANCEL_CHUNK:
            return tokens
        head = len(tokens) - _MIN_BATCH
        self._evaluate(tokens[:head], cancel)
        stop_if_cancelled(cancel)
        return tokens[head:]

    # -- description ----------------------------------------------------------------------------------------

    def settings(self) -> Mapping[str, Any]:
        settings = {"n_ctx": self.n_ctx, "n_batch": self._n_batch, "n_threads": self._n_threads,
                    "n_gpu_layers": self._n_gpu_layers}
        if self._n_seq > 1:  # only then, so one-sequence manifests stay as they were
            settings["n_seq"] = self._n_seq
        return settings

    def versions(self) -> Mapping[str, str]:
        return {"llama_cpp_python": self._lib.__version__}

    def close(self) -> None:
        batch = getattr(self, "_batch", None)
        if batch is not None:
            self._lib.llama_batch_free(batch)
            self._batch = None
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None

    def __enter__(self) -> LlamaCppBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
