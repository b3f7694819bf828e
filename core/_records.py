"""Typed records judgedesk reads and writes: evaluation items, verdicts, grades, both-order results, manifests.

Everything serialised is a frozen dataclass with a `to_dict()` of JSON-safe values. Records carry no timestamps or
absolute paths, so judging the same items twice with the same judge gives byte-identical JSON.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

__all__ = [
    "BothOrdersResult",
    "Decision",
    "EvalItem",
    "Grade",
    "Label",
    "Manifest",
    "PairwiseVerdict",
    "PriorTurn",
    "Status",
    "Strength",
    "strength_winner",
    "swap_strength",
    "to_json",
    "winner_probabilities",
]

Label = Literal["A", "B", "tie"]
"""A pairwise winner: response A, response B, or a tie."""
Decision = Literal["A", "B", "tie", "inconsistent", "unparsed"]
"""The final decision over both orders."""
Order = Literal["AB", "BA"]
Strength = Literal["A>>B", "A>B", "A=B", "B>A", "B>>A"]
"""A five-level pairwise verdict (Arena-Hard's): A much better, A better, a tie, B better, B much better."""
_STRENGTH_WINNER: dict[str, Label] = {"A>>B": "A", "A>B": "A", "A=B": "tie", "B>A": "B", "B>>A": "B"}
_SWAPPED_STRENGTH: dict[str, Strength] = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}


def strength_winner(strength: str) -> Label:
    """The winner a five-level verdict names ("A>>B" and "A>B" -> A, "A=B" -> tie)."""
    return _STRENGTH_WINNER[strength]


def swap_strength(strength: str) -> Strength:
    """The same verdict with A and B exchanged ("A>>B" -> "B>>A"), to map a verdict between orders."""
    return _SWAPPED_STRENGTH[strength]


def winner_probabilities(probabilities: Mapping[str, float]) -> dict[str, float]:
    """Probabilities per winner (A, B, tie): five-level keys are summed into the winner they name."""
    out: dict[str, float] = {}
    for key, value in probabilities.items():
        label = _STRENGTH_WINNER.get(key, key)
        out[label] = out.get(label, 0.0) + float(value)
    return out


class Status(enum.StrEnum):
    """How a judgement ended. A judged verdict or grade is OK, TRUNCATED or UNPARSED; a run's row can also be
    ERROR (stored) or PENDING (not judged yet, never stored).

    Members equal their strings ("ok" == Status.OK), so run databases, JSON, CSV and reports hold the plain text.
    """

    OK = "ok"
    """Verdict and run row: parsed, on the full input."""
    TRUNCATED = "truncated"
    """Verdict and run row: parsed, but the responses were cut to fit the context."""
    UNPARSED = "unparsed"
    """Verdict and run row: the judge's output holds no verdict (kept, reported, left out of metrics)."""
    ERROR = "error"
    """Run row (and `judgedesk parse` line) only: nothing could be judged (e.g. an input too long for the context,
    a line that is not JSON); the record holds the error."""
    PENDING = "pending"
    """Run row only, never stored: an order still to be judged."""


@dataclass(frozen=True)
class PriorTurn:
    """An earlier turn of a conversation: the user's message and each response's answer to it."""

    question: str
    """What the user wrote at this turn."""
    answers: tuple[str, ...]
    """Each response's answer at this turn, in the same order as the item's `responses`."""
    reference: str | None = None
    """The reference answer for this turn, when there is one."""


@dataclass(frozen=True)
class EvalItem:
    """One thing to judge: an instruction with its responses."""

    id: str
    """Stable identifier, unique within a data set."""
    instruction: str
    """The task given to the models."""
    responses: tuple[str, ...]
    """The responses: two for pairwise comparison, one for grading."""
    input: str = ""
    """Optional further context for the task (Alpaca's 'input'); empty when there is none."""
    reference: str | None = None
    """Optional reference answer (used by Prometheus)."""
    category: str | None = None
    """Optional category, for per-category statistics."""
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """Free metadata carried through unchanged (model names, human labels, source line)."""
    history: tuple[PriorTurn, ...] = ()
    """A conversation's earlier turns, oldest first; empty for a single-turn item. The item judges the turn after
    them: `instruction` is the user's message at that turn and `responses` the answers to it."""

    @property
    def turn(self) -> int:
        """Which turn of its conversation the item judges (1 for a single-turn item)."""
        return len(self.history) + 1


@dataclass(frozen=True)
class Manifest:
    """Everything that determines a verdict, so a result can be reproduced or audited."""

    judge_sha256: str
    """SHA-256 of the judge model file."""
    judge_name: str
    """The model's own name (GGUF general.name)."""
    judge_file: str
    """The judge file's base name."""
    architecture: str
    """Model architecture (GGUF general.architecture)."""
    file_type: str
    """Quantization (Q4_K_M, F16, ...)."""
    format: str
    """Judge format name (pandalm, autoj, prometheus, mtbench, arenahard, generic)."""
    template_sha256: str
    """Hash of the format's prompt templates, grammar and (for chat formats) the model's chat template."""
    decoding: Mapping[str, Any]
    """Decoding parameters: mode, temperature, top_k, top_p, repeat_penalty, max_tokens, n_ctx, n_batch, threads."""
    seed: int
    """Seed passed to every sampling call."""
    versions: Mapping[str, str]
    """judgedesk, llama.cpp binding and backend versions."""
    backend: str
    """Backend name (llama.cpp, mock, ...)."""
    synthetic: bool = False
    """The judge file is shape-only with random weights (`judgedesk quantize synthetic`): its verdicts measure speed
    and memory and mean nothing. Written into a record's JSON only when true, so every real judge's record stays as
    it always was."""


@dataclass(frozen=True)
class PairwiseVerdict:
    """One judgement of a pair in one order, with winners expressed in the caller's A/B."""

    item_id: str
    """The item judged."""
    order: Order
    """Which response the judge saw first: AB (A first) or BA (B first)."""
    winner: Label | None
    """A, B or tie in the caller's labels (already mapped back for order BA); None when unparsed."""
    status: Status
    """OK, TRUNCATED or UNPARSED."""
    raw_output: str
    """Everything the judge produced (including any forced prefix), in the judge's own positions."""
    reason: str | None = None
    """The judge's explanation, when the format produces one and it was asked for."""
    reference: str | None = None
    """A reference answer, when the format produces one (PandaLM)."""
    probabilities: Mapping[str, float] | None = None
    """Normalised probability of each option (caller's labels), when computed from logits."""
    cut_tokens: int = 0
    """Tokens removed from the middle of the responses to fit the context (0 when nothing was cut)."""
    manifest: Manifest | None = None
    """What produced this verdict."""
    strength: Strength | None = None
    """The five-level verdict (A>>B ... B>>A) in the caller's labels, for formats that grade the margin
    (arenahard); None for the others."""

    def to_dict(self) -> dict[str, Any]:
        out = _plain(self)
        # Only five-level formats write it, so every other verdict's JSON stays as it always was.
        if out["strength"] is None:
            del out["strength"]
        return out


@dataclass(frozen=True)
class Grade:
    """One response graded on its own."""

    item_id: str
    """The item graded."""
    score: float | None
    """The score given; None when unparsed."""
    scale: tuple[int, int]
    """Lowest and highest possible score."""
    status: Status
    """OK, TRUNCATED or UNPARSED."""
    raw_output: str
    """Everything the judge produced."""
    critique: str | None = None
    """The judge's feedback text before the score."""
    response_index: int = 0
    """Which of the item's responses was graded."""
    cut_tokens: int = 0
    """Tokens removed from the middle of the response to fit the context."""
    manifest: Manifest | None = None
    """What produced this grade."""

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class BothOrdersResult:
    """A pair judged as (A, B) and as (B, A), and the decision drawn from both."""

    item_id: str
    """The item judged."""
    ab: PairwiseVerdict
    """The verdict with A shown first."""
    ba: PairwiseVerdict | None
    """The verdict with B shown first, mapped back to A/B; None when only one order was judged."""
    decision: Decision
    """Agreed winner; tie when both say tie; inconsistent when the orders disagree; unparsed if either failed."""

    @property
    def consistent(self) -> bool | None:
        """Whether both orders agree; None when only one order was judged or a verdict is unparsed."""
        if self.ba is None or self.decision == "unparsed":
            return None
        return self.decision != "inconsistent"

    def to_dict(self) -> dict[str, Any]:
        out = _plain(self)
        out["consistent"] = self.consistent
        return out


def decide(ab: PairwiseVerdict, ba: PairwiseVerdict | None, *, inconsistent_as_tie: bool = False) -> Decision:
    """The final decision over both orders.

    Contradicting orders are `inconsistent`, a label of its own, so position bias stays visible. With
    `inconsistent_as_tie` they count as a tie instead: PandaLM's published swap protocol (its issues 18 and 41).
    """
    winners = [ab.winner] if ba is None else [ab.winner, ba.winner]
    return decide_winners(winners, inconsistent_as_tie=inconsistent_as_tie)


def decide_winners(winners: Sequence[Label | None], *, inconsistent_as_tie: bool = False) -> Decision:
    """The decision rule of `decide` over the winners of the judged orders (None = unparsed)."""
    if any(w is None for w in winners):
        return "unparsed"
    if all(w == winners[0] for w in winners):
        return winners[0]  # type: ignore[return-value]
    return "tie" if inconsistent_as_tie else "inconsistent"


def _plain(record: Any) -> dict[str, Any]:
    out = asdict(record)
    manifest = out.get("manifest")
    if isinstance(manifest, dict) and not manifest.get("synthetic"):
        manifest.pop("synthetic", None)  # see Manifest.synthetic
    for f in fields(record):
        value = out[f.name]
        if isinstance(value, tuple):
            out[f.name] = list(value)
    return out


def to_json(record: PairwiseVerdict | Grade | BothOrdersResult) -> str:
    """Canonical JSON of a record: sorted keys, no ASCII escaping, so equal records give equal bytes."""
    return json.dumps(record.to_dict(), sort_keys=True, ensure_ascii=False)
