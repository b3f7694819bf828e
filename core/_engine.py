"""The judge engine: pairwise verdicts (one or both orders) and single grades, on any backend and format.

Three decoding paths, chosen per format:
- verdict-first formats (pandalm, generic), fast mode (default): one forward pass over the prompt scores each
  verdict option; no text is generated unless an explanation is asked for, which is then generated after the
  chosen option.
- verdict-first formats, generate mode: one grammar-constrained greedy generation, parsed.
- verdict-last formats (autoj, prometheus, mtbench, arenahard): the critique is generated freely until the verdict
  phrase (or the budget), then the verdict itself is constrained: option scoring for pairwise, a grammar for scores.
Every path ends in the format's parser, applied to the full raw output, so the same text always gives the same
verdict however it was produced.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import Cancelled, FormatError, InputError, JudgedeskError, ServerUnavailableError
from ._progress import CancelFlag, Progress
from ._prompt_assembly import FittedPrompt, fit_prompt
from ._prompt_preview import PromptPreview, preview_prompt
from ._records import (
    BothOrdersResult,
    EvalItem,
    Grade,
    Label,
    Manifest,
    PairwiseVerdict,
    PriorTurn,
    Status,
    decide,
    swap_strength,
)
from ._version import __version__
from .backends import Backend, Sampling
from .formats import JudgeFormat, OutputSpec, PromptFields, Task, check_format, get_format, hash_texts

__all__ = ["VERDICT_DECODING_KEYS", "DecodingSettings", "Judge", "constrained_option_probabilities"]

_POSITION_TO_LABEL: dict[str, dict[str, Label]] = {
    "AB": {"1": "A", "2": "B", "tie": "tie"},
    "BA": {"1": "B", "2": "A", "tie": "tie"},
}
# The manifest's decoding entries that can change a verdict: the decoding itself, and the context size (it decides
# what is cut). The rest of a backend's settings (threads, batch, GPU layers, a server's endpoint) are recorded but
# do not key a run, so a run can move between backends that serve the same judge file.
VERDICT_DECODING_KEYS = frozenset({"mode", "explain", "constrained", "max_tokens", "temperature", "top_k", "top_p",
                                   "min_p", "repeat_penalty", "lang", "n_ctx"})
_SCORE_TAIL_TOKENS = 8
# Re-tokenising generated text can take a few more tokens than were generated.
_RETOKENIZE_MARGIN = 8


@dataclass(frozen=True)
class DecodingSettings:
    """How the judge decodes; every field goes into the manifest."""

    fast: bool = True
    """Read verdict-first formats' verdicts from logits instead of generating text."""
    explain: bool = False
    """Also generate the reason (and reference) in fast mode."""
    constrained: bool = True
    """Constrain outputs with the format's grammar so a verdict is always parseable."""
    max_tokens: int | None = None
    """Output budget; None means the format's published budget."""
    sampling: Sampling = Sampling()
    """Temperature (0 = greedy), top-k/p, min-p, repetition penalty, seed."""


def constrained_option_probabilities(options: Sequence[Sequence[int]],
                                     logprobs: Sequence[Sequence[float]]) -> list[float]:
    """Probability of each option under decoding constrained to the options.

    Constrained decoding masks every token that leaves the option set and renormalises what remains, so an
    option's probability is the product, along its tokens, of each token's probability among the allowed
    siblings at that point; a token with no alternative is forced and counts as 1. This is the distribution
    greedy constrained decoding takes its argmax from, so the fast verdict matches the generated one.
    """
    children: dict[tuple[int, ...], dict[int, float]] = {}
    for option, scores in zip(options, logprobs, strict=True):
        for k, (token, score) in enumerate(zip(option, scores, strict=True)):
            children.setdefault(tuple(option[:k]), {})[token] = score
    result = []
    for option in options:
        total = 0.0
        for k, token in enumerate(option):
            siblings = children[tuple(option[:k])]
            top = max(siblings.values())
            total += siblings[token] - (top + math.log(sum(math.exp(v - top) for v in siblings.values())))
        result.append(math.exp(total))
    norm = sum(result)
    return [p / norm for p in result] if norm > 0 else [1.0 / len(result)] * len(result)


@dataclass(frozen=True)
class _Assembly:
    """A prompt fitted for the judge and what decoding after it needs: the one code path by which `compare`,
    `grade` and `prompt_preview` build a prompt, so a preview never drifts from what is judged."""

    spec: OutputSpec
    fitted: FittedPrompt
    budget: int
    """The output budget."""
    reserve: int
    """Tokens kept free after the prompt for the output; the prompt is cut to fit n_ctx - reserve."""
    fast: bool
    """Whether the verdict is read from logits (pairwise, verdict-first, fast decoding)."""
    option_tokens: list[list[int]]
    """The verdict options' token ids, in the spec's order (empty for grading)."""


class Judge:
    """A judge model with a format: `compare`, `judge_both_orders` and `grade` items; `prompt_preview` shows
    exactly what the judge is given."""

    def __init__(self, backend: Backend, *, format: str | JudgeFormat = "generic", lang: str = "en",
                 rubric: str | None = None, decoding: DecodingSettings | None = None,
                 owns_backend: bool = True) -> None:
        """Judge with `backend` using `format` in `lang`.

        Args:
            backend: the loaded model.
            format: a registered format name or a format object.
            lang: prompt language ('en', or 'zh' for Auto-J).
            rubric: evaluation criteria for formats that take one (prometheus, generic); None = the default.
            decoding: decoding settings; default greedy, constrained, fast verdicts.
            owns_backend: whether this Judge owns `backend` and `close()` frees it; False for a model shared by
                several judges, whose owner closes it when the last is done.
        """
        self.backend = backend
        self.owns_backend = owns_backend
        """Whether `close()` frees the backend (False: a shared model its owner closes)."""
        self.format = get_format(format) if isinstance(format, str) else format
        if lang not in self.format.languages:
            raise FormatError(f"format {self.format.name!r} has no {lang!r} prompt "
                              f"(languages: {', '.join(sorted(self.format.languages))})")
        self.lang = lang
        self.rubric = rubric
        self.decoding = decoding or DecodingSettings()
        self._manifests: dict[str, Manifest] = {}

    # -- public API -----------------------------------------------------------------------------------------

    def compare(self, item: EvalItem, *, order: str = "AB", cancel: CancelFlag | None = None) -> PairwiseVerdict:
        """Judge `item`'s two responses with A shown first (order AB) or B shown first (BA).

        `cancel` reaches the backend's generation, which checks it between tokens and raises `Cancelled`.
        """
        assembly = self._assemble_pairwise(item, order)
        spec, fitted, fast, budget = assembly.spec, assembly.fitted, assembly.fast, assembly.budget
        option_texts, option_tokens = list(spec.options.values()), assembly.option_tokens
        probabilities: dict[str, float] | None = None
        if spec.verdict_first and fast:
            probs = self._option_probabilities(fitted.tokens, option_tokens)
            if not self.decoding.explain:
                return self._read_verdict(item, order, assembly, probs)
            chosen = max(range(len(probs)), key=probs.__getitem__)
            rest = self._generate(list(fitted.tokens) + option_tokens[chosen], budget - len(option_tokens[chosen]),
                                  spec.rest_only_grammar(), cancel)
            raw = fitted.prompt.prefill + option_texts[chosen] + rest
            probabilities = dict(zip(spec.options, probs, strict=True))
        elif spec.verdict_first:
            raw = fitted.prompt.prefill + self._generate(fitted.tokens, budget, spec.grammar(), cancel)
        elif self.decoding.constrained:
            lead = self._critique(fitted, spec.verdict_phrase, spec.verdict_statement, budget, cancel)
            lead_tokens = list(fitted.tokens) + self.backend.tokenize(lead, special=False)
            probs = self._option_probabilities(lead_tokens, option_tokens)
            chosen = max(range(len(probs)), key=probs.__getitem__)
            raw = lead + option_texts[chosen]
            probabilities = dict(zip(spec.options, probs, strict=True))
        else:
            raw = self._generate(fitted.tokens, budget, None, cancel)
        return self._verdict(item, order, assembly, raw, probabilities)

    def compare_many(self, requests: Sequence[tuple[EvalItem, str]],
                     cancel: CancelFlag | None = None) -> list[PairwiseVerdict | JudgedeskError]:
        """`compare(item, order=order)` for each (item, order) of `requests`, in order; an item's own error (too
        long for the context, ...) takes its place in the list instead of stopping the others.

        Fast verdicts (verdict-first format, read from logits, no reasons) of a backend that evaluates several
        prompts in one forward pass (`capabilities.max_sequences` > 1) are read that way, with the same verdicts
        as one at a time; everything else is judged one at a time. `cancel` is checked between judgements.
        """
        results: list[PairwiseVerdict | JudgedeskError | None] = [None] * len(requests)
        batched: list[tuple[int, _Assembly]] = []
        for index, (item, order) in enumerate(requests):
            try:
                assembly = self._assemble_pairwise(item, order)
            except JudgedeskError as exc:
                results[index] = exc
                continue
            if self.batches_fast_verdicts and assembly.spec.verdict_first and assembly.fast:
                batched.append((index, assembly))
                continue
            _stop_if_cancelled(cancel)
            try:
                results[index] = self.compare(item, order=order, cancel=cancel)
            except (Cancelled, ServerUnavailableError):
                raise
            except JudgedeskError as exc:
                results[index] = exc
        _stop_if_cancelled(cancel)
        if batched:
            scores = self.backend.score_options_batch(  # type: ignore[attr-defined]
                [(assembly.fitted.tokens, assembly.option_tokens) for _, assembly in batched])
            for (index, assembly), logprobs in zip(batched, scores, strict=True):
                item, order = requests[index]
                probs = constrained_option_probabilities(assembly.option_tokens, logprobs)
                results[index] = self._read_verdict(item, order, assembly, probs)
        return [result for result in results if result is not None]

    @property
    def batches_fast_verdicts(self) -> bool:
        """Whether `compare_many` reads fast verdicts several prompts per forward pass (a backend with
        `capabilities.max_sequences` > 1, fast decoding without reasons)."""
        return (self.backend.capabilities.max_sequences > 1 and self.decoding.fast and not self.decoding.explain
                and hasattr(self.backend, "score_options_batch"))

    def _read_verdict(self, item: EvalItem, order: str, assembly: _Assembly, probs: list[float]) -> PairwiseVerdict:
        """The verdict read from the options' probabilities `probs` (fast, no reasons): the likeliest option."""
        spec = assembly.spec
        chosen = max(range(len(probs)), key=probs.__getitem__)
        raw = assembly.fitted.prompt.prefill + list(spec.options.values())[chosen]
        return self._verdict(item, order, assembly, raw, dict(zip(spec.options, probs, strict=True)))

    def _verdict(self, item: EvalItem, order: str, assembly: _Assembly, raw: str,
                 probabilities: dict[str, float] | None) -> PairwiseVerdict:
        """The record of `raw` (the judge's output) for `item` shown in `order`."""
        fitted, fast = assembly.fitted, assembly.fast
        parsed = self.format.parse_pairwise(raw, self.lang)
        labels = _POSITION_TO_LABEL[order]
        mapped: dict[str, float] | None = None
        if probabilities is not None:
            mapped = {_caller_key(k, order): round(v, 6) for k, v in probabilities.items()}
        strength = None
        if parsed.strength is not None and parsed.winner is not None:
            strength = parsed.strength if order == "AB" else swap_strength(parsed.strength)
        return PairwiseVerdict(
            item_id=item.id, order=order,  # type: ignore[arg-type]
            winner=None if parsed.winner is None else labels[parsed.winner],
            status=_status(parsed.winner is not None, fitted), raw_output=raw, reason=parsed.reason,
            reference=parsed.reference, probabilities=mapped, cut_tokens=fitted.cut_tokens,
            manifest=self.manifest("pairwise", fast=fast), strength=strength,
        )

    def judge_both_orders(self, item: EvalItem, *, both: bool = True, inconsistent_as_tie: bool = False,
                          progress: Progress | None = None, cancel: CancelFlag | None = None) -> BothOrdersResult:
        """Judge as (A, B) and, unless `both` is False, as (B, A); decide from both (see `decide`).

        progress(done, total, order) is called as each order starts ('AB', then 'BA'). cancel is checked before
        each order and, during a generation, between tokens: a cancel stops within a token and raises `Cancelled`.
        """
        orders = ("AB", "BA") if both else ("AB",)
        verdicts: list[PairwiseVerdict] = []
        for done, order in enumerate(orders):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"item {item.id!r}: judging cancelled before the {order} order")
            if progress is not None:
                progress(done, len(orders), order)
            verdicts.append(self.compare(item, order=order, cancel=cancel))
        ab = verdicts[0]
        ba = verdicts[1] if both else None
        return BothOrdersResult(item_id=item.id, ab=ab, ba=ba,
                                decision=decide(ab, ba, inconsistent_as_tie=inconsistent_as_tie))

    def grade(self, item: EvalItem, *, response_index: int = 0) -> Grade:
        """Grade one of `item`'s responses on the format's scale."""
        assembly = self._assemble_single(item, response_index)
        spec, fitted, budget = assembly.spec, assembly.fitted, assembly.budget
        if spec.verdict_first or not self.decoding.constrained:
            grammar = spec.grammar() if self.decoding.constrained else None
            raw = fitted.prompt.prefill + self._generate(fitted.tokens, budget, grammar)
        else:
            lead = self._critique(fitted, spec.verdict_phrase, spec.verdict_statement, budget)
            lead_tokens = list(fitted.tokens) + self.backend.tokenize(lead, special=False)
            raw = lead + self._generate(lead_tokens, _SCORE_TAIL_TOKENS, spec.rest_only_grammar())
        parsed = self.format.parse_grade(raw, self.lang)
        assert spec.scale is not None
        return Grade(item_id=item.id, score=parsed.score, scale=spec.scale,
                     status=_status(parsed.score is not None, fitted), raw_output=raw, critique=parsed.critique,
                     response_index=response_index, cut_tokens=fitted.cut_tokens,
                     manifest=self.manifest("single", fast=False))

    def prompt_preview(self, item: EvalItem, *, task: Task = "pairwise", order: str = "AB",
                       response_index: int = 0) -> PromptPreview:
        """Exactly what `compare(item, order=order)` (task 'pairwise') or `grade(item, response_index=...)`
        ('single') gives the judge, without running the model.

        The prompt is assembled by the same code as theirs (fields, conversation, swapped order, the cut to fit the
        context with the same output reserve), so its token ids are the ones the judge evaluates, and its text is
        those ids as the judge's tokenizer writes them, special tokens spelled out. Errors are theirs too (a
        format without the task, a conversation the format cannot show, a prompt too long to cut).
        """
        if task == "pairwise":
            assembly = self._assemble_pairwise(item, order)
            options = {_caller_key(key, order): text for key, text in assembly.spec.options.items()}
            shown_order: str | None = order
        elif task == "single":
            assembly = self._assemble_single(item, response_index)
            options, shown_order = {}, None
        else:
            raise InputError(f"unknown task {task!r}; use 'pairwise' or 'single'", item=item.id, field="task")
        return preview_prompt(self.backend, assembly.fitted, assembly.spec, item_id=item.id, task=task,
                              order=shown_order, response_index=response_index if task == "single" else None,
                              format_name=self.format.name, lang=self.lang, reserve=assembly.reserve,
                              options=options)

    def manifest(self, task: Task, *, fast: bool) -> Manifest:
        """The manifest every verdict of `task` carries."""
        key = f"{task}|{fast}"
        if key not in self._manifests:
            info = self.backend.info
            spec = self.format.output(task, self.lang)
            templates = list(self.format.template_texts())
            templates += [self.lang, self.rubric or "", spec.grammar()]
            if self.format.uses_chat_template:
                templates.append(info.chat_template or "")
            sampling = self.decoding.sampling
            decoding: dict[str, Any] = {
                "mode": "logits" if fast else "generate", "explain": self.decoding.explain,
                "constrained": self.decoding.constrained, "max_tokens": self._budget(spec.max_tokens),
                "temperature": sampling.temperature, "top_k": sampling.top_k, "top_p": sampling.top_p,
                "min_p": sampling.min_p, "repeat_penalty": sampling.repeat_penalty, "lang": self.lang,
                **self.backend.settings(),
            }
            self._manifests[key] = Manifest(
                judge_sha256=info.sha256, judge_name=info.name, judge_file=info.file_name,
                architecture=info.architecture, file_type=info.file_type, format=self.format.name,
                template_sha256=hash_texts(*templates), decoding=decoding, seed=sampling.seed,
                versions={"judgedesk": __version__, **self.backend.versions()}, backend=self.backend.name,
                synthetic=info.synthetic,
            )
        return self._manifests[key]

    def close(self) -> None:
        """Free the model when this Judge owns it (`owns_backend`); a shared model is left to its owner."""
        if self.owns_backend:
            self.backend.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------------------

    def _assemble_pairwise(self, item: EvalItem, order: str) -> _Assembly:
        """The prompt `compare` sends for `item` in `order`, fitted to the context with room for the output."""
        check_format(self.format, "pairwise", self.lang)
        if order not in _POSITION_TO_LABEL:
            raise InputError(f"unknown order {order!r}; use 'AB' (A shown first) or 'BA'", item=item.id,
                             field="order")
        self._check_conversation(item)
        first, second = _pair(item)
        shown = (first, second) if order == "AB" else (second, first)
        spec = self.format.output("pairwise", self.lang)
        fields = self._fields(item, shown, swapped=order == "BA")
        fast = self.decoding.fast and spec.verdict_first
        budget = self._budget(spec.max_tokens)
        option_tokens = [self.backend.tokenize(t, special=False) for t in spec.options.values()]
        # Room for the output: the longest option, the generation budget unless the verdict is read from logits
        # alone, and a verdict-last judge's verdict statement.
        fixed = max(len(t) for t in option_tokens)
        if not spec.verdict_first:
            fixed += self._statement_tokens(spec.verdict_statement)
        generates = not fast or self.decoding.explain
        reserve = fixed + (self._reserved_generation(budget, fixed) if generates else 0)
        fitted = fit_prompt(self.backend, fields, lambda f: self.format.prompt("pairwise", f, self.lang),
                            reserve=reserve, item_id=item.id)
        return _Assembly(spec, fitted, self._room(budget, fitted, fixed), reserve, fast, option_tokens)

    def _assemble_single(self, item: EvalItem, response_index: int) -> _Assembly:
        """The prompt `grade` sends for `item`'s response `response_index`, fitted with room for the output."""
        check_format(self.format, "single", self.lang)
        self._check_conversation(item)
        if not 0 <= response_index < len(item.responses):
            raise InputError(f"has no response number {response_index + 1}", item=item.id, field="responses")
        response = item.responses[response_index]
        if not response.strip():
            raise InputError("the response to grade is empty", item=item.id, field="response")
        spec = self.format.output("single", self.lang)
        fields = self._fields(item, (response,), answer_index=response_index)
        budget = self._budget(spec.max_tokens)
        fixed = _SCORE_TAIL_TOKENS + self._statement_tokens(spec.verdict_statement)
        reserve = fixed + self._reserved_generation(budget, fixed)
        fitted = fit_prompt(self.backend, fields, lambda f: self.format.prompt("single", f, self.lang),
                            reserve=reserve, item_id=item.id)
        return _Assembly(spec, fitted, self._room(budget, fitted, fixed), reserve, False, [])

    def _fields(self, item: EvalItem, shown: tuple[str, ...], *, swapped: bool = False,
                answer_index: int | None = None) -> PromptFields:
        """The prompt's fields: `shown` responses, and each earlier turn's answers in the same order (swapped for
        order BA; only the graded response's answers when grading)."""
        history = []
        for turn in item.history:
            answers = turn.answers
            if answer_index is not None:
                answers = (answers[answer_index],)
            elif swapped:
                answers = tuple(reversed(answers))
            history.append(PriorTurn(turn.question, answers, turn.reference))
        return PromptFields(instruction=item.instruction, responses=shown, input=item.input,
                            reference=item.reference, rubric=self.rubric, category=item.category,
                            history=tuple(history))

    def _check_conversation(self, item: EvalItem) -> None:
        if not item.history:
            return
        if not self.format.takes_conversation:
            raise FormatError(f"item {item.id!r} is turn {item.turn} of a conversation, and format "
                              f"{self.format.name!r} cannot show a conversation; judge it with a format that does "
                              f"(mtbench), or judge the first turns only")
        for number, turn in enumerate(item.history, start=1):
            if len(turn.answers) != len(item.responses):
                raise InputError(f"turn {number} has {len(turn.answers)} answer(s) for {len(item.responses)} "
                                 f"response(s)", item=item.id, field="history")

    def _budget(self, published: int) -> int:
        return self.decoding.max_tokens or published

    def _reserved_generation(self, budget: int, fixed: int) -> int:
        """The output budget the prompt makes room for: all of it, unless it and the verdict's own tokens would fill
        the whole context (Arena-Hard's published 4096 on a 4096-token judge), which no prompt could then fit;
        there half the context, and the critique stops where the context ends (`_room`)."""
        return budget if budget + fixed < self.backend.n_ctx else self.backend.n_ctx // 2

    def _room(self, budget: int, fitted: FittedPrompt, fixed: int) -> int:
        """The generation budget that fits after the prompt with the verdict's own tokens: `budget` itself whenever
        the prompt was fitted with room for all of it."""
        return max(1, min(budget, self.backend.n_ctx - len(fitted.tokens) - fixed))

    def _option_probabilities(self, prompt: Sequence[int], options: list[list[int]]) -> list[float]:
        return constrained_option_probabilities(options, self.backend.score_options(prompt, options))

    def _generate(self, prompt: Sequence[int], budget: int, grammar: str | None,
                  cancel: CancelFlag | None = None) -> str:
        grammar = grammar if self.decoding.constrained else None
        return self.backend.generate(prompt, max_tokens=budget, sampling=self.decoding.sampling,
                                     grammar=grammar, cancel=cancel).text

    def _statement_tokens(self, statement: str) -> int:
        """Room for the verdict statement a verdict-last judge may need appended, and re-tokenisation slack."""
        return len(self.backend.tokenize(statement, special=False)) + _RETOKENIZE_MARGIN if statement else 0

    def _critique(self, fitted: FittedPrompt, phrase: str, statement: str, budget: int,
                  cancel: CancelFlag | None = None) -> str:
        """Free text up to the verdict phrase; the phrase itself, or the full statement if the judge never got there."""
        generation = self.backend.generate(fitted.tokens, max_tokens=budget, sampling=self.decoding.sampling,
                                           stop=(phrase,), cancel=cancel)
        if generation.stopped_at is not None:
            return generation.text + generation.stopped_at
        return generation.text.rstrip() + statement


def _stop_if_cancelled(cancel: CancelFlag | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("judging cancelled")


def _caller_key(key: str, order: str) -> str:
    """An option's key in the caller's labels: a position ('1', '2', 'tie') or a five-level verdict ('A>B')."""
    if key in _POSITION_TO_LABEL[order]:
        return _POSITION_TO_LABEL[order][key]
    return key if order == "AB" else swap_strength(key)


def _pair(item: EvalItem) -> tuple[str, str]:
    if len(item.responses) != 2:
        raise InputError(f"pairwise comparison needs two responses, got {len(item.responses)}", item=item.id,
                         field="responses")
    # An empty response is judged: a model that answered nothing is an outcome (PandaLM's human-labelled test set
    # has such pairs). Only both empty leaves nothing to compare.
    if not any(text.strip() for text in item.responses):
        raise InputError("both responses are empty", item=item.id, field="responses")
    return item.responses[0], item.responses[1]


def _status(parsed: bool, fitted: FittedPrompt) -> Status:
    if not parsed:
        return Status.UNPARSED
    return Status.TRUNCATED if fitted.cut_tokens else Status.OK

