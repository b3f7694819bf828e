"""How the judge behaves, whatever the models: does it agree with itself when the responses swap places, does it
favour the response shown first or the longer one, and how often does it tie, contradict itself or fail to parse.

Every share comes with the counts it was computed from, and is None when there was nothing to count, so a report
can say "0.62 (31 of 50)" and never divides by zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._outcome import Outcome, share, to_plain

__all__ = ["JudgeBehaviour", "judge_behaviour"]


@dataclass(frozen=True)
class JudgeBehaviour:
    """The judge's position consistency, position and length preferences, and tie / inconsistent / unparsed rates."""

    n: int
    """Outcomes considered."""
    both_orders: int
    """Outcomes judged in both orders with both verdicts parsed: the base of the two position figures."""
    consistent: int
    """Of those, outcomes whose two orders gave the same winner (after mapping B-first back to A/B)."""
    position_consistency: float | None
    """consistent / both_orders."""
    order_verdicts: int
    """Non-tie verdicts of single orders among the both-order outcomes (each order counted on its own)."""
    first_shown_won: int
    """Of those, verdicts for the response shown first: 'A' in the A-first order, 'B' in the B-first order."""
    first_position_preference: float | None
    """first_shown_won / order_verdicts: 0.5 is no position bias, above 0.5 favours the first shown."""
    length_decided: int
    """Outcomes with a final decision A or B and responses of different lengths."""
    longer_won: int
    """Of those, outcomes won by the longer response."""
    length_preference: float | None
    """longer_won / length_decided: 0.5 is no length bias, above 0.5 favours the longer response."""
    ties: int
    """Final decisions 'tie'."""
    tie_rate: float | None
    """ties / n."""
    inconsistent: int
    """Final decisions 'inconsistent'."""
    inconsistent_rate: float | None
    """inconsistent / n."""
    unparsed: int
    """Final decisions 'unparsed'."""
    unparsed_rate: float | None
    """unparsed / n."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def judge_behaviour(outcomes: Iterable[Outcome]) -> JudgeBehaviour:
    """The judge's behaviour over `outcomes`.

    Position figures use only outcomes with both orders parsed: with each item shown both ways, the responses'
    own quality cancels out, which it does not in a one-order run. Length preference and the three rates use
    every outcome's final decision. Self-pairs (a model against itself) count everywhere: they measure the judge.
    """
    outcomes = list(outcomes)
    both = [outcome for outcome in outcomes if outcome.ab is not None and outcome.ba is not None]
    consistent = sum(outcome.ab == outcome.ba for outcome in both)
    verdicts = [outcome.ab for outcome in both if outcome.ab != "tie"]
    first_won = verdicts.count("A")
    swapped = [outcome.ba for outcome in both if outcome.ba != "tie"]
    first_won += swapped.count("B")
    order_verdicts = len(verdicts) + len(swapped)

    length_decided = longer_won = 0
    for outcome in outcomes:
        if outcome.decision in ("A", "B") and outcome.len_a != outcome.len_b:
            length_decided += 1
            longer = "A" if outcome.len_a > outcome.len_b else "B"
            longer_won += outcome.decision == longer

    decisions = [outcome.decision for outcome in outcomes]
    ties, inconsistent, unparsed = decisions.count("tie"), decisions.count("inconsistent"), decisions.count("unparsed")
    return JudgeBehaviour(
        n=len(outcomes),
        both_orders=len(both), consistent=consistent, position_consistency=share(consistent, len(both)),
        order_verdicts=order_verdicts, first_shown_won=first_won,
        first_position_preference=share(first_won, order_verdicts),
        length_decided=length_decided, longer_won=longer_won, length_preference=share(longer_won, length_decided),
        ties=ties, tie_rate=share(ties, len(outcomes)),
        inconsistent=inconsistent, inconsistent_rate=share(inconsistent, len(outcomes)),
        unparsed=unparsed, unparsed_rate=share(unparsed, len(outcomes)),
    )
