"""From a format's filled prompt to the judge's token ids, cutting responses in the middle when they do not fit.

Long responses are cut evenly: the longest are shortened first, to a common length, keeping each one's head and
tail (a response's opening and its conclusion both matter to a judge) with a visible marker in between. The
verdict that follows is flagged `truncated`, never silently judged on a cut input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ._chat_template import Segment, render_chat
from ._errors import ContextOverflowError, FormatError
from .backends import Backend
from .formats import JudgePrompt, PromptFields

__all__ = ["CUT_MARKER", "FittedPrompt", "fit_prompt", "prompt_tokens"]

CUT_MARKER = "\n[...]\n"
_MAX_ROUNDS = 6


@dataclass(frozen=True)
class FittedPrompt:
    """Token ids ready for the judge, and how much of the responses had to go."""

    tokens: list[int]
    """Prompt token ids, BOS and prefill included."""
    prompt: JudgePrompt
    """The filled prompt that produced them."""
    cut_tokens: int
    """Response tokens removed to fit (0 when nothing was cut)."""


def prompt_tokens(backend: Backend, prompt: JudgePrompt) -> list[int]:
    """Token ids of `prompt` for `backend`: chat template (if any), BOS, and the prefill."""
    info = backend.info
    if prompt.chat:
        if info.chat_template is None:
            raise FormatError(f"{info.file_name} has no chat template, which this judge format needs; "
                              "use --format pandalm or autoj (they need none), or, for a judge on a server, give "
                              "its local GGUF file (--judge) or its template (--chat-template)")
        segments = render_chat(info.chat_template, prompt.system, prompt.user, bos_token=info.bos_token,
                               eos_token=info.eos_token, model_name=info.file_name)
    else:
        segments = [Segment(prompt.user, special=False)]
    tokens: list[int] = []
    for segment in segments:
        tokens.extend(backend.tokenize(segment.text, special=segment.special))
    if info.add_bos and info.bos_id is not None and (not tokens or tokens[0] != info.bos_id):
        tokens.insert(0, info.bos_id)
    if prompt.prefill:
        tokens.extend(backend.tokenize(prompt.prefill, special=False))
    return tokens


def fit_prompt(backend: Backend, fields: PromptFields, render: Callable[[PromptFields], JudgePrompt], *,
               reserve: int, item_id: str) -> FittedPrompt:
    """Render and tokenize; if prompt plus `reserve` output tokens exceed the context, cut the responses."""
    limit = backend.n_ctx - reserve
    prompt = render(fields)
    tokens = prompt_tokens(backend, prompt)
    if len(tokens) <= limit:
        return FittedPrompt(tokens, prompt, 0)
    response_tokens = [backend.tokenize(r, special=False) for r in fields.responses]
    lengths = [len(t) for t in response_tokens]
    excess = len(tokens) - limit
    for _ in range(_MAX_ROUNDS):
        cap = _common_cap(lengths, excess + len(backend.tokenize(CUT_MARKER, special=False)) * len(lengths))
        if cap is None:
            break
        cut_texts = tuple(text if len(toks) <= cap else _cut_middle(backend, toks, cap)
                          for text, toks in zip(fields.responses, response_tokens, strict=True))
        prompt = render(replace(fields, responses=cut_texts))
        tokens = prompt_tokens(backend, prompt)
        removed = sum(max(0, n - cap) for n in lengths)
        if len(tokens) <= limit:
            return FittedPrompt(tokens, prompt, removed)
        excess += len(tokens) - limit  # re-tokenisation at the cut can cost a few tokens; cut a little more
    raise ContextOverflowError(
        f"the prompt needs {len(tokens) + reserve} tokens with the output budget, the judge's context is "
        f"{backend.n_ctx}, and cutting the responses is not enough (the instruction itself is too long); "
        "raise --ctx or shorten the instruction", item=item_id)


def _common_cap(lengths: list[int], excess: int) -> int | None:
    """The largest per-response length whose cuts remove at least `excess` tokens, or None if none does."""
    if sum(lengths) < excess:
        return None
    low, high = 0, max(lengths)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(max(0, n - middle) for n in lengths) >= excess:
            low = middle
        else:
            high = middle - 1
    return low


def _cut_middle(backend: Backend, tokens: list[int], cap: int) -> str:
    head = cap - cap // 2
    tail = cap // 2
    tail_text = backend.detokenize(tokens[len(tokens) - tail:]) if tail else ""
    return backend.detokenize(tokens[:head]) + CUT_MARKER + tail_text
