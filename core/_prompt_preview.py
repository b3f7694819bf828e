"""What the judge is given for one item, as text an analyst can audit: the record `Judge.prompt_preview` returns.

The text is the prompt's token ids written back by the judge's own tokenizer with special tokens spelled out
("<|im_start|>system\\n..."), not the format's template filled in: what a chat template added, where BOS sits and
what a cut left of the responses are all shown as the model reads them. Tokenizing the text with special tokens
parsed gives the ids back (`round_trips`) unless the item's own text spells a special token, which the judge reads
as plain text and the preview cannot tell apart by eye; `round_trips` is False then, and the CLI and app say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._prompt_assembly import FittedPrompt
from .backends import Backend
from .formats import OutputSpec, Task

__all__ = ["PromptPreview", "preview_prompt"]


@dataclass(frozen=True)
class PromptPreview:
    """Exactly what the judge is given for one item in one order (or one graded response), before it runs."""

    item_id: str
    """The item's id."""
    task: Task
    """'pairwise' (compare) or 'single' (grade)."""
    order: str | None
    """Pairwise: 'AB' (A shown first) or 'BA'; None for grading."""
    response_index: int | None
    """Grading: which of the item's responses is graded (0-based); None for pairwise."""
    format: str
    """The judge format's name."""
    lang: str
    """The prompt language."""
    text: str
    """The prompt as the judge's tokenizer writes its ids: special tokens (BOS, chat-template markers) spelled out,
    responses as cut to fit, the prefill at the end."""
    tokens: tuple[int, ...]
    """The token ids the judge evaluates, BOS and prefill included."""
    n_ctx: int
    """The judge's context size."""
    reserve: int
    """Tokens kept free after the prompt for the output; the responses are cut so the prompt fits n_ctx - reserve."""
    cut_tokens: int
    """Response tokens cut from the middle to fit (0 = the responses are shown whole)."""
    chat_template: bool
    """Whether the model's own chat template wraps the prompt."""
    prefill: str
    """The start of the answer written for the judge (already at the end of `text`); empty when none."""
    verdict_first: bool
    """Whether the verdict opens the output (read from one forward pass) rather than closing a critique."""
    verdict_phrase: str
    """Verdict-last formats: the phrase after which generation pauses and the verdict is constrained; else ''."""
    options: Mapping[str, str]
    """Pairwise: each verdict in the caller's labels (A, B, tie, or a five-level 'A>B') -> the text the judge writes
    for it in this order. Empty for grading."""
    scale: tuple[int, int] | None
    """Grading: the lowest and highest score; None for pairwise."""
    round_trips: bool
    """Whether tokenizing `text` with special tokens parsed gives `tokens` back. False when the item's text spells a
    special token (the judge reads it as plain text) or the tokenizer writes some text back differently."""

    @property
    def token_count(self) -> int:
        """Prompt tokens."""
        return len(self.tokens)

    def describe(self) -> str:
        """The details in plain words, one per line (the CLI writes them to stderr, the app under the prompt)."""
        what = f"order {self.order}" if self.task == "pairwise" else f"response {(self.response_index or 0) + 1}"
        lines = [f"{self.format} ({self.lang}), {self.task}, {what}: {self.token_count:,} prompt tokens of a "
                 f"{self.n_ctx:,}-token context ({self.reserve:,} kept for the output)"]
        lines.append(f"{self.cut_tokens:,} response tokens cut from the middle to fit" if self.cut_tokens
                     else "nothing cut")
        lines.append("wrapped in the model's chat template" if self.chat_template else "no chat template")
        if self.prefill:
            lines.append(f"prefill (written for the judge, at the end): {self.prefill!r}")
        if self.verdict_phrase:
            then = "the verdict is chosen among the options" if self.task == "pairwise" else \
                "the score is written under the scale's grammar"
            lines.append(f"the judge writes a critique; generation pauses at {self.verdict_phrase!r} and {then}")
        if self.options:
            lines.append("options: " + ", ".join(f"{label} = {text!r}" for label, text in self.options.items()))
        if self.scale is not None:
            lines.append(f"scale: {self.scale[0]} to {self.scale[1]}")
        if not self.round_trips:
            lines.append("note: this text does not tokenize back to the judged ids (the item spells a special "
                         "token, which the judge reads as plain text, or the tokenizer writes some text back "
                         "differently); the token count is of the judged ids")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's --json)."""
        return {
            "item_id": self.item_id, "task": self.task, "order": self.order, "response_index": self.response_index,
            "format": self.format, "lang": self.lang, "text": self.text, "token_count": self.token_count,
            "tokens": list(self.tokens), "n_ctx": self.n_ctx, "reserve": self.reserve,
            "cut_tokens": self.cut_tokens, "chat_template": self.chat_template, "prefill": self.prefill,
            "verdict_first": self.verdict_first, "verdict_phrase": self.verdict_phrase,
            "options": dict(self.options), "scale": list(self.scale) if self.scale else None,
            "round_trips": self.round_trips,
        }


def preview_prompt(backend: Backend, fitted: FittedPrompt, spec: OutputSpec, *, item_id: str, task: Task,
                   order: str | None, response_index: int | None, format_name: str, lang: str, reserve: int,
                   options: Mapping[str, str]) -> PromptPreview:
    """The preview of a fitted prompt: its ids written out by `backend`'s tokenizer, and whether they read back."""
    tokens = tuple(fitted.tokens)
    text = backend.detokenize(tokens, special=True)
    round_trips = bool(text) and tuple(backend.tokenize(text, special=True)) == tokens
    return PromptPreview(
        item_id=item_id, task=task, order=order, response_index=response_index, format=format_name, lang=lang,
        text=text, tokens=tokens, n_ctx=backend.n_ctx, reserve=reserve, cut_tokens=fitted.cut_tokens,
        chat_template=fitted.prompt.chat, prefill=fitted.prompt.prefill, verdict_first=spec.verdict_first,
        verdict_phrase=spec.verdict_phrase, options=dict(options), scale=spec.scale, round_trips=round_trips,
    )
