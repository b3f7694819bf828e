"""The transformers backend: Hugging Face folders (F32 / F16 / BF16 safetensors, or GPTQ) on the CPU or a CUDA GPU.

It answers the engine exactly as the llama.cpp backend does, so a GGUF judge and its unquantized or GPTQ source can
be compared verdict for verdict:
- tokens: no BOS from `tokenize` (the engine adds it when the model wants one), and with `special=False`
  special-token text in user content stays text (a response containing `<|im_end|>` cannot close the message);
- fast verdicts: one forward pass over the prompt scores every option, the same pass greedy decoding starts from;
- generation: greedy by default, seeded per call (a private torch.Generator, so the global RNG is left alone),
  llama.cpp's sampler chain (repetition penalty, top-k, top-p, min-p, temperature) otherwise;
- grammars: judge formats' GBNF grammars are regular, and `_gbnf` enforces them token by token (a token is
  allowed when its text keeps the output inside the grammar; end of sequence only when the grammar is complete).
Every call starts from an empty KV cache, so a verdict never depends on what was judged before it.
"""

from __future__ import annotations

import copy
import gc
import inspect
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import BackendError, ContextOverflowError, ModelLoadError
from .._progress import CancelFlag
from ._gbnf import GrammarMatcher, State
from ._hf_folder import HFFolder, quiet_hf_warnings, read_hf_folder
from ._protocol import BackendCapabilities, Generation, ModelInfo, Sampling, check_fits, stop_if_cancelled
from ._stops import first_stop

__all__ = ["TransformersBackend"]

_INSTALL_HINT = "pip install judgedesk[hf]"
_DTYPES = ("auto", "float32", "float16", "bfloat16")
_PENALTY_LAST_N = 64  # llama-cpp-python's window for the repetition penalty


class TransformersBackend:
    """A Hugging Face judge folder loaded with transformers; use as a context manager or call `close()`."""

    name = "transformers"
    capabilities = BackendCapabilities()  # logprobs, grammars (judgedesk's GBNF automaton), one thread at a time

    def __init__(self, path: str | Path, *, device: str = "auto", dtype: str = "auto", n_ctx: int = 4096,
                 n_threads: int | None = None) -> None:
        """Load the folder `path`.

        Args:
            path: a Hugging Face model folder: config.json, safetensors weights, tokenizer files; checked by
                judgedesk before transformers sees it.
            device: "cpu", "cuda", or "auto" (CUDA when torch sees a GPU, else the CPU).
            dtype: compute type: "float32", "float16", "bfloat16", or "auto": float32 on the CPU (CPUs without
                bf16/fp16 units run half-precision matrix products several times slower), the stored type on a GPU
                (for GPTQ, the type it was quantized in).
            n_ctx: context window in tokens, capped at the model's trained context.
            n_threads: CPU threads for torch (process-wide: torch has one pool); default torch's own choice.
        """
        self._folder: HFFolder = read_hf_folder(path)  # raises ModelFileError for anything transformers could trip on
        folder = self._folder
        if dtype not in _DTYPES:
            raise BackendError(f"unknown dtype {dtype!r}; use one of: {', '.join(_DTYPES)}")
        quantized = folder.quantization is not None
        if quantized and not isinstance(folder.config.get("quantization_config"), dict):
            raise ModelLoadError(folder.path, "quantize_config.json but no quantization_config in config.json: an "
                                              "auto-gptq checkpoint, which needs importing first (import_autogptq)")
        if quantized and str(folder.quantization.get("quant_method", "")).lower() != "gptq":  # type: ignore[union-attr]
            raise ModelLoadError(folder.path, f"quantization method {folder.file_type} is not supported; judgedesk "
                                              "runs GPTQ and unquantized (F32/F16/BF16) folders")
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise BackendError(f"the transformers backend needs torch and transformers: {_INSTALL_HINT}") from exc
        self._torch = torch
        self._transformers = transformers
        self.device = _resolve_device(torch, device)
        if quantized and self.device == "cpu":
            _check_cpu_groups(folder)
        if n_threads is not None:
            torch.set_num_threads(n_threads)
        torch_dtype = _resolve_dtype(torch, dtype, self.device, folder, quantized)
        trained = folder.context_length
        self.n_ctx = min(n_ctx, trained) if trained else n_ctx
        self._tokenizer = _load_tokenizer(transformers, folder.path)
        self._model = _load_model(transformers, folder.path, torch_dtype, self.device, quantized)
        self._versions = _versions(torch, transformers, quantized)
        self._dtype_name = str(self._model.dtype).removeprefix("torch.")
        self._cache_name = _cache_argument(self._model)
        tokenizer = self._tokenizer
        self._eog = _end_of_generation_ids(tokenizer, self._model)
        self._special = set(tokenizer.all_special_ids)
        self._piece_anchor = tokenizer.encode("a", add_special_tokens=False)[-1:]
        self._pieces: list[str] | None = None
        self._matchers: dict[str, GrammarMatcher] = {}
        bos_id = tokenizer.bos_token_id
        probe = tokenizer.encode("a", add_special_tokens=True)
        template = tokenizer.chat_template
        if isinstance(template, dict):  # several named templates: the default one is the chat template
            template = template.get("default")
        self.info = ModelInfo(
            sha256=folder.sha256(),
            name=folder.name,
            file_name=folder.path.name,
            architecture=folder.architecture,
            file_type=folder.file_type,
            chat_template=template if isinstance(template, str) else None,
            bos_token=tokenizer.bos_token or "",
            eos_token=tokenizer.eos_token or "",
            bos_id=bos_id,
            add_bos=bos_id is not None and bool(probe) and probe[0] == bos_id,
            context_length=trained,
            judge_format=folder.judge_format,
            path=folder.path,
        )

    # -- tokens ---------------------------------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        if not text:
            return []
        return list(self._tokenizer.encode(text, add_special_tokens=False, split_special_tokens=not special))

    def detokenize(self, tokens: Sequence[int], *, special: bool = False) -> str:
        # Special tokens render as nothing unless asked for, as in llama.cpp's detokenize; spaces are never
        # "cleaned up".
        return str(self._tokenizer.decode(list(tokens), skip_special_tokens=not special,
                                          clean_up_tokenization_spaces=False))

    def _piece(self, token: int) -> str:
        """The text `token` adds after ordinary text ("" for ids past the tokenizer's vocabulary)."""
        if self._pieces is None:
            # All at once, on the first grammar: one batched decode is seconds faster than 50k single ones. Each
            # token is decoded after an anchor token so that a SentencePiece word's leading space is kept.
            anchor = self._piece_anchor
            prefix = len(self.detokenize(anchor))
            texts = self._tokenizer.batch_decode([anchor + [t] for t in range(len(self._tokenizer))],
                                                 skip_special_tokens=True, clean_up_tokenization_spaces=False)
            self._pieces = [text[prefix:] for text in texts]
        return self._pieces[token] if token < len(self._pieces) else ""

    # -- evaluation -----------------------------------------------------------------------------------------

    def _forward(self, tokens: Sequence[int], cache: Any = None, *, last_only: bool = False) -> tuple[Any, Any]:
        """Logits (float64 on the CPU, one row per input token, or only the last row) and the KV cache after
        `tokens`. A prompt pass needs only the last row: the output layer over every prompt position would cost
        a vocabulary-sized product per token and a float64 copy of hundreds of MB."""
        torch = self._torch
        ids = torch.tensor([list(tokens)], dtype=torch.long, device=self.device)
        extra = {"logits_to_keep": 1} if last_only else {}
        try:
            with torch.inference_mode():
                output = self._model(input_ids=ids, use_cache=True, **{self._cache_name: cache}, **extra)
                logits = output.logits[0].to(torch.float64).cpu()
        except RuntimeError as exc:  # out of memory, or a kernel refusing the weights
            raise BackendError(f"{self._folder.path}: the model failed to run: {exc}") from exc
        return logits, getattr(output, self._cache_name)

    def score_options(self, prompt: Sequence[int], options: Sequence[Sequence[int]]) -> list[list[float]]:
        """Log-probability of each token of each option after `prompt`: one prompt pass, then a few tokens."""
        if not prompt:
            raise ContextOverflowError("an empty prompt cannot be scored")
        check_fits(len(prompt) + max((len(o) for o in options), default=0), self.n_ctx)
        log_softmax = self._torch.log_softmax
        logits, cache = self._forward(prompt, last_only=True)
        after_prefix: dict[tuple[int, ...], Any] = {(): log_softmax(logits[-1], dim=-1)}
        for option in options:
            if any(tuple(option[:k]) not in after_prefix for k in range(1, len(option))):
                # A copy, because transformers' caches grow in place and the next option starts from the prompt.
                rows, _ = self._forward(option[:len(option) - 1], copy.deepcopy(cache))
                for k in range(1, len(option)):
                    after_prefix.setdefault(tuple(option[:k]), log_softmax(rows[k - 1], dim=-1))
        return [[float(after_prefix[tuple(option[:k])][token]) for k, token in enumerate(option)]
                for option in options]

    def generate(self, prompt: Sequence[int], *, max_tokens: int, sampling: Sampling, grammar: str | None = None,
                 stop: Sequence[str] = (), cancel: CancelFlag | None = None) -> Generation:
        if not prompt:
            raise ContextOverflowError("generation needs a prompt of at least one token")
        check_fits(len(prompt), self.n_ctx)
        matcher = self._matcher(grammar) if grammar else None
        state = matcher.start if matcher is not None else None
        generator = self._torch.Generator(device="cpu").manual_seed(sampling.seed)
        budget = max(0, min(max_tokens, self.n_ctx - len(prompt)))
        produced: list[int] = []
        finish = "length"
        stopped_at = None
        text = ""
        logits, cache = (None, None) if budget == 0 else self._forward(prompt, last_only=True)
        while len(produced) < budget:
            stop_if_cancelled(cancel)
            assert logits is not None
            if matcher is not None and state is not None and matcher.finished(state):
                finish = "eos"  # the grammar is complete: only end of sequence could follow
                break
            token = self._choose(logits[-1], list(prompt) + produced, sampling, matcher, state, generator)
            if token is None or token in self._eog:
                finish = "eos"
                break
            produced.append(token)
            if matcher is not None and state is not None:
                state = matcher.advance(state, self._piece(token))
            if stop:
                text = self.detokenize(produced)
                hit = first_stop(text, stop)
                if hit is not None:
                    stopped_at = stop[hit[1]]
                    text = text[:hit[0]]
                    finish = "stop"
                    break
            if len(produced) < budget:
                logits, cache = self._forward([token], cache)
        if finish != "stop":
            text = self.detokenize(produced)
        return Generation(text=text, n_tokens=len(produced), finish=finish, stopped_at=stopped_at)  # type: ignore[arg-type]

    def _matcher(self, grammar: str) -> GrammarMatcher:
        if grammar not in self._matchers:
            self._matchers[grammar] = GrammarMatcher(grammar)
        return self._matchers[grammar]

    def _allowed(self, token: int, matcher: GrammarMatcher | None, state: State | None) -> bool:
        if token in self._eog:
            return matcher is None or (state is not None and matcher.accepts(state))
        if matcher is None:
            return True
        if token in self._special:
            return False
        piece = self._piece(token)
        return bool(piece) and state is not None and matcher.advance(state, piece) is not None

    def _choose(self, logits: Any, context: list[int], sampling: Sampling, matcher: GrammarMatcher | None,
                state: State | None, generator: Any) -> int | None:
        """The next token: llama.cpp's chain of penalties, grammar, then greedy or top-k / top-p / min-p / temp."""
        torch = self._torch
        scores = logits.clone()
        if sampling.repeat_penalty != 1.0:
            recent = torch.tensor(sorted(set(context[-_PENALTY_LAST_N:])), dtype=torch.long)
            values = scores[recent]
            scores[recent] = torch.where(values > 0, values / sampling.repeat_penalty,
                                         values * sampling.repeat_penalty)
        greedy = sampling.temperature <= 0
        wanted = 1 if greedy else (sampling.top_k if sampling.top_k > 0 else len(scores))
        candidates: list[int] = []
        for token in _best_first(torch, scores, wanted):
            if self._allowed(token, matcher, state):
                candidates.append(token)
                if len(candidates) >= wanted:
                    break
        if not candidates:
            return None
        if greedy:
            return candidates[0]
        kept = scores[candidates]
        probs = torch.softmax(kept, dim=0)
        if sampling.top_p < 1.0:
            # Keep the smallest head whose mass reaches top_p (at least one token).
            cumulative = torch.cumsum(probs, dim=0)
            keep = int(torch.searchsorted(cumulative, torch.tensor(sampling.top_p, dtype=cumulative.dtype)).item()) + 1
            kept, probs = kept[:keep], probs[:keep]
        if sampling.min_p > 0.0:
            keep = int((probs >= sampling.min_p * probs[0]).sum().item())
            kept = kept[:max(1, keep)]
        final = torch.softmax(kept / sampling.temperature, dim=0)
        choice = int(torch.multinomial(final, 1, generator=generator).item())
        return candidates[choice]

    # -- description ----------------------------------------------------------------------------------------

    def settings(self) -> Mapping[str, Any]:
        torch = self._torch
        return {"n_ctx": self.n_ctx, "device": self.device, "dtype": self._dtype_name,
                "n_threads": torch.get_num_threads() if self.device == "cpu" else None,
                "grammar": "judgedesk GBNF automaton"}

    def versions(self) -> Mapping[str, str]:
        return dict(self._versions)

    def close(self) -> None:
        model = getattr(self, "_model", None)
        if model is not None:
            self._model = None
            del model
            gc.collect()
            if self.device == "cuda":
                self._torch.cuda.empty_cache()

    def __enter__(self) -> TransformersBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _best_first(torch: Any, scores: Any, wanted: int) -> Iterator[int]:
    """Token ids by decreasing score: the head from a cheap top-k, the rest (rarely needed) from a full sort."""
    head = min(len(scores), max(64, 2 * wanted))
    top = torch.topk(scores, head).indices.tolist()
    yield from top
    if head < len(scores):
        seen = set(top)  # ties at the border may sort differently in the two calls
        yield from (token for token in torch.argsort(scores, descending=True).tolist() if token not in seen)


def _check_cpu_groups(folder: HFFolder) -> None:
    """The CPU's int4 kernel needs every layer's input width to be a whole number of GPTQ groups."""
    group = (folder.quantization or {}).get("group_size")
    if not isinstance(group, int) or group <= 0:
        return
    uneven = {name: size for name, size in folder.linear_input_sizes().items() if size % group}
    if uneven:
        widths = ", ".join(f"{name} {size}" for name, size in uneven.items())
        raise ModelLoadError(folder.path, f"GPTQ group size {group} does not divide {widths}; the CPU kernel cannot "
                                          "run it (quantize with a group size that divides them, or use a GPU)")


def _resolve_device(torch: Any, device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise BackendError("device 'cuda' was asked for, but torch sees no CUDA GPU (use device 'cpu' or 'auto')")
    if device not in ("cpu", "cuda"):
        raise BackendError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")
    return device


def _resolve_dtype(torch: Any, dtype: str, device: str, folder: HFFolder, quantized: bool) -> Any:
    if dtype != "auto":
        return getattr(torch, dtype)
    if device == "cpu":
        return torch.float32
    if quantized:
        return "auto"  # the type the GPTQ folder was quantized in, recorded in config.json
    return {"F16": torch.float16, "BF16": torch.bfloat16}.get(folder.file_type, torch.float32)


def _load_tokenizer(transformers: Any, path: Path) -> Any:
    try:
        with quiet_hf_warnings():
            return transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # any failure inside transformers is a bad folder, reported with its path
        raise ModelLoadError(path, f"the tokenizer could not be loaded: {type(exc).__name__}: {exc}") from exc


def _cache_argument(model: Any) -> str:
    """The name under which this transformers release passes the KV cache in and out of `forward`: `cache` since it
    deprecated `past_key_values` (5.25 warns, 5.40 removes it), `past_key_values` before."""
    parameters = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def _load_model(transformers: Any, path: Path, torch_dtype: Any, device: str, quantized: bool) -> Any:
    if quantized:
        try:
            import gptqmodel  # noqa: F401 - transformers runs GPTQ through it (via optimum)
            import optimum  # noqa: F401
        except ImportError as exc:
            raise BackendError(f"GPTQ judges need gptqmodel and optimum: {_INSTALL_HINT}") from exc
    try:
        with quiet_hf_warnings():
            model, report = transformers.AutoModelForCausalLM.from_pretrained(
                path, local_files_only=True, dtype=torch_dtype, device_map=device, output_loading_info=True)
    except Exception as exc:  # a corrupt or unsupported checkpoint must not crash the caller
        raise ModelLoadError(path, f"{type(exc).__name__}: {exc}") from exc
    # transformers fills missing or misshapen weights with random values and only logs it: a judge that is partly
    # random noise must not load.
    for key, what in (("missing_keys", "missing"), ("mismatched_keys", "of the wrong shape")):
        names = sorted(str(name) for name in report.get(key) or ())
        if names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            raise ModelLoadError(path, f"{len(names)} weight(s) {what} in the checkpoint: {shown}")
    model.eval()
    return model


def _end_of_generation_ids(tokenizer: Any, model: Any) -> frozenset[int]:
    """Every id that ends generation: the tokenizer's EOS and the model's (generation) config EOS ids."""
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, model.config.eos_token_id,
                  getattr(getattr(model, "generation_config", None), "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(v for v in value if isinstance(v, int))
    return frozenset(ids)


def _versions(torch: Any, transformers: Any, quantized: bool) -> dict[str, str]:
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    if quantized:
        from importlib.metadata import PackageNotFoundError, version

        for package in ("gptqmodel", "optimum"):
            try:
                versions[package] = version(package)
            except PackageNotFoundError:
                pass  # not installed: the manifest lists only what ran
    return versions

