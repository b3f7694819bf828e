"""Several prompts in one forward pass: how llama.cpp's multi-sequence batches are cut so that each prompt's logits
are bit-identical to evaluating it alone.

With `kv_unified` off, llama.cpp gives each sequence its own KV stream (its own `n_ctx` cells), so a token attends
to exactly what it would attend to alone. What remains is how a batch is split into micro-batches: with several
streams llama.cpp takes the same number of tokens from each sequence of a micro-batch (`split_equal`), and a
sequence that contributes ONE token to a micro-batch would take the one-row kernel path, whose last bits differ from
the path every multi-token batch takes (see _llamacpp.py's module docstring). So each round below gives every
sequence in it the same count of at least two tokens, keeps the round within one micro-batch, and never leaves a
sequence with a single token still to evaluate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Chunk", "plan_rounds"]

_MIN_CHUNK = 2
"""The fewest tokens a sequence contributes to a round (one token alone takes another kernel path)."""


@dataclass(frozen=True)
class Chunk:
    """`count` tokens of sequence `seq`, from position `start`."""

    seq: int
    start: int
    count: int


def plan_rounds(lengths: Sequence[int], budget: int) -> list[list[Chunk]]:
    """Rounds (one `llama_decode` each) that evaluate prompts of `lengths` tokens, sequence i holding prompt i.

    Within a round every chunk has the same count, at least two tokens (a prompt of one token is evaluated alone),
    and the counts sum to at most `budget` (the micro-batch); no sequence is ever left with one token to go.
    """
    if budget < 2 * _MIN_CHUNK:  # three tokens left must go as one chunk, or as two of two
        raise ValueError(f"a round needs room for {2 * _MIN_CHUNK} tokens, not {budget}")
    done = [0] * len(lengths)
    rounds: list[list[Chunk]] = []
    while remaining := {s: n - done[s] for s, n in enumerate(lengths) if done[s] < n}:
        count, members = _round(remaining, budget)
        rounds.append([Chunk(s, done[s], count) for s in members])
        for s in members:
            done[s] += count
    return rounds


def _round(remaining: dict[int, int], budget: int) -> tuple[int, list[int]]:
    """The count and the sequences of the next round."""
    if any(left < _MIN_CHUNK for left in remaining.values()):  # only a one-token prompt: alone, as it would be
        seq = next(s for s, left in remaining.items() if left < _MIN_CHUNK)
        return remaining[seq], [seq]
    width = min(len(remaining), budget // _MIN_CHUNK)
    count = min(min(remaining.values()), budget // width)
    for candidate in (count, count - 1, count + 1):
        if candidate < _MIN_CHUNK:
            continue
        members = [s for s, left in remaining.items() if left >= candidate and left - candidate != 1]
        members = members[:budget // candidate]
        if members:
            return candidate, members
    # Unreachable: the sequence with the fewest tokens left always fits one of the counts above.
    raise AssertionError(f"no round for {remaining} within {budget}")
