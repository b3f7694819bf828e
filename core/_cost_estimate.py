"""What a pairwise comparison will cost before it runs: prompt tokens with the judge's own tokenizer, whether the
responses will be cut to fit the context, tokens to generate, and the time that takes at a measured rate.

The time is a rough guide, not a promise: it counts prompt tokens and generated tokens in one unit ("work tokens",
a generated token counting as `GENERATED_TOKEN_WEIGHT` prompt tokens, since generation runs one token per forward
pass while a prompt is processed in batches) and divides by a rate measured on this machine (the app keeps the last
comparisons' rate) or by a conservative default. Generation is counted at its full budget; a judge that usually
stops earlier shows it in its measured rate, which is taken over the same work-token count.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._engine import Judge
from ._records import EvalItem

__all__ = ["DEFAULT_WORK_TOKENS_PER_S", "GENERATED_TOKEN_WEIGHT", "CostEstimate", "estimate_comparison_cost"]

GENERATED_TOKEN_WEIGHT = 10
"""A generated token costs about this many prompt tokens of time (one forward pass each, no batching)."""
DEFAULT_WORK_TOKENS_PER_S = 40.0
"""Work tokens per second assumed before any rate was measured, for a judge of unknown size (served): slow on
purpose (a 7B judge on a few CPU cores processes prompts at tens of tokens per second)."""
_WORK_TOKENS_PER_S_PER_GB = 25.0
"""Before any rate was measured, a judge file of n GB is assumed to run at this many work tokens per second over n:
time grows with the weights read per token. Slow on purpose (a 4 GB judge at about 6 tokens/s, the demo judge at
about 250, what a loaded 2-core machine gives), so the first estimate errs long; the measured rate replaces it."""


@dataclass(frozen=True)
class CostEstimate:
    """The expected cost of judging one pair in one or both orders."""

    prompt_tokens: int
    """Tokens of one order's prompt as the judge will see it (after any cut)."""
    needed_tokens: int
    """Tokens the prompt would take uncut (equal to `prompt_tokens` when nothing is cut)."""
    cut_tokens: int
    """Response tokens that will be cut from the middle to fit the context (0 = judged whole)."""
    generated_tokens: int
    """Tokens generated per order at most (0 for a fast verdict without an explanation)."""
    orders: int
    """Orders judged (1 or 2)."""
    n_ctx: int
    """The judge's context size."""
    rate: float
    """Work tokens per second the time is computed with."""
    rate_measured: bool
    """Whether `rate` was measured on this machine (else the conservative default)."""

    @property
    def work_tokens(self) -> int:
        """Prompt and generated tokens of all orders, a generated token weighted by `GENERATED_TOKEN_WEIGHT`."""
        return self.orders * (self.prompt_tokens + GENERATED_TOKEN_WEIGHT * self.generated_tokens)

    @property
    def seconds(self) -> float:
        """Expected time, in seconds."""
        return self.work_tokens / self.rate

    @property
    def prompt_seconds(self) -> float:
        """Expected time for reading the prompts alone (what long inputs cost, whatever the generation does)."""
        return self.orders * self.prompt_tokens / self.rate

    def longer_than(self, seconds: float) -> bool:
        """Whether the comparison is expected to take longer than `seconds`. Before a rate was measured only the
        prompts count: the generation budget is an upper bound that a judge rarely uses, and the measured rate is
        what tells how much of it this judge does use."""
        return self.prompt_seconds > seconds or (self.rate_measured and self.seconds > seconds)

    @property
    def duration(self) -> str:
        """The expected time in words ('40 s', '3 min', '1.5 h')."""
        return _duration(self.seconds)

    def describe(self) -> str:
        """The estimate in plain words, for a confirmation before a long comparison."""
        orders = "both orders" if self.orders == 2 else "one order"
        lines = [f"About {self.duration} expected ({orders}, {self.prompt_tokens:,} prompt tokens per "
                 f"order" + (f", up to {self.generated_tokens:,} tokens generated per order" if self.generated_tokens
                             else ", no text generated") + ")."]
        if self.cut_tokens:
            lines.append(f"The responses need {self.needed_tokens:,} tokens with the prompt, more than the judge's "
                         f"context of {self.n_ctx:,}: {self.cut_tokens:,} tokens will be cut from their middles. "
                         "Raise the context size in Settings to judge them whole (it costs memory and time).")
        source = ("measured on this machine from the last comparisons" if self.rate_measured
                  else "a conservative default, until a comparison has been timed on this machine")
        lines.append(f"Rate: {self.rate:,.0f} tokens/s ({source}).")
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def estimate_comparison_cost(judge: Judge, item: EvalItem, *, both: bool = True,
                             rate: float | None = None) -> CostEstimate:
    """Estimate what `judge.judge_both_orders(item, both=both)` will cost, without running the model: the prompt is
    rendered and tokenized as the engine does (and cut the same way). `rate` is work tokens per second measured on
    this machine; None = a conservative default from the judge file's size (`DEFAULT_WORK_TOKENS_PER_S` for a
    judge without a file)."""
    backend = judge.backend
    spec = judge.format.output("pairwise", judge.lang)
    decoding = judge.decoding
    fast = decoding.fast and spec.verdict_first
    generated = 0 if fast and not decoding.explain else decoding.max_tokens or spec.max_tokens
    # The engine's own assembly (conversation, category, the reserve, the cut), so the estimate is of what runs.
    preview = judge.prompt_preview(item, task="pairwise", order="AB")
    prompt_tokens = preview.token_count
    measured = bool(rate and rate > 0)
    return CostEstimate(prompt_tokens=prompt_tokens, needed_tokens=prompt_tokens + preview.cut_tokens,
                        cut_tokens=preview.cut_tokens, generated_tokens=generated, orders=2 if both else 1,
                        n_ctx=backend.n_ctx, rate=rate if rate and measured else _default_rate(judge),
                        rate_measured=measured)


def _default_rate(judge: Judge) -> float:
    """The conservative rate for a judge never timed on this machine, from its file's size."""
    path = judge.backend.info.path
    try:
        size_gb = path.stat().st_size / 1e9 if path is not None else 0.0
    except OSError:
        size_gb = 0.0
    return _WORK_TOKENS_PER_S_PER_GB / max(size_gb, 0.05) if size_gb else DEFAULT_WORK_TOKENS_PER_S
