"""Warnings about a run as a whole: a judge that contradicts itself, or whose output cannot be read, on most pairs;
a synthetic judge (random weights), whose figures mean nothing but speed and memory.

Built once, into the summary (`summary["warnings"]`), so the CLI, the HTML report and the app say the same thing.
Each warning says what happened (with its counts), what it means, and what to do. They read the judge's own
decisions: "inconsistent as tie" changes the ranking, never whether the judge contradicted itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..stats import JudgeBehaviour

__all__ = ["MOSTLY_FAILED_SHARE", "SYNTHETIC_JUDGE_TITLE", "RunWarning", "run_warnings", "synthetic_judge_warning"]

MOSTLY_FAILED_SHARE = 0.5
"""A run gets a warning when the judge was inconsistent on more than this share of its decided pairs (pairs with a
final decision that could be read: A, B, tie or inconsistent), or unparsed on more than this share of all pairs."""

_STRONGER_JUDGE = ("Judge with a stronger model: in the app, Judges view → Import GGUF… or Import HF folder… "
                   "(a Hugging Face folder is converted on this machine); on the command line, "
                   "--judge FILE.gguf or `judgedesk models import`.")


@dataclass(frozen=True)
class RunWarning:
    """One warning about a run."""

    code: str
    """What kind: 'synthetic_judge', 'judge_inconsistent' or 'judge_unparsed'."""
    count: int
    """Pairs concerned."""
    of: int
    """The pairs the share is taken over."""
    share: float
    """count / of."""
    title: str
    """One line saying what happened, with its counts."""
    meaning: str
    """What it means for the figures."""
    advice: str
    """What to do about it."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        """The warning as one paragraph (the CLI prints it)."""
        return f"{self.title}. {self.meaning} {self.advice}"


def run_warnings(behaviour: JudgeBehaviour, *, inconsistent_as_tie: bool) -> list[RunWarning]:
    """The warnings a pairwise run's judge behaviour calls for (none for a judge that mostly decided)."""
    warnings = []
    decided = behaviour.n - behaviour.unparsed
    if decided and behaviour.inconsistent / decided > MOSTLY_FAILED_SHARE:
        share = behaviour.inconsistent / decided
        agreed = decided - behaviour.inconsistent
        rest = (f"the ranking and win rates rest on {_pairs(agreed)} where both orders agreed" if agreed
                else "nothing is left to rank")
        meaning = ("Its verdict flipped when the two responses swapped places: that is position bias, not a "
                   f"preference between the models, so {rest}.")
        if inconsistent_as_tie:
            meaning = ("Its verdict flipped when the two responses swapped places: that is position bias, not a "
                       "preference between the models. 'Inconsistent as tie' counts these pairs as ties, so the "
                       "ranking and win rates mostly measure that bias and sit near 50%.")
        warnings.append(RunWarning(
            code="judge_inconsistent", count=behaviour.inconsistent, of=decided, share=share,
            title=f"The judge contradicted itself on {behaviour.inconsistent} of {decided} pairs ({share:.0%})",
            meaning=meaning,
            advice=f"{_STRONGER_JUDGE} Check too that the judge's prompt format (--format, or the Format choice) "
                   "is the one it was trained with."))
    if behaviour.n and behaviour.unparsed / behaviour.n > MOSTLY_FAILED_SHARE:
        share = behaviour.unparsed / behaviour.n
        warnings.append(RunWarning(
            code="judge_unparsed", count=behaviour.unparsed, of=behaviour.n, share=share,
            title=f"No verdict could be read on {behaviour.unparsed} of {behaviour.n} pairs ({share:.0%})",
            meaning="Those pairs are left out of every figure, which rest on the rest.",
            advice="Check that the judge's prompt format (--format, or the Format choice) fits the model, and look "
                   f"at its raw output in the verdicts. {_STRONGER_JUDGE}"))
    return warnings


SYNTHETIC_JUDGE_TITLE = "Synthetic judge: random weights, figures measure speed and memory only"
"""The banner of a run judged by a shape-only file (`judgedesk quantize synthetic`)."""


def synthetic_judge_warning(judgements: int) -> RunWarning:
    """The warning of a run whose judge file says it is synthetic (its records' manifests carry `synthetic`)."""
    return RunWarning(
        code="synthetic_judge", count=judgements, of=judgements, share=1.0 if judgements else 0.0,
        title=SYNTHETIC_JUDGE_TITLE,
        meaning="The judge is a shape-only file with random weights (written by `judgedesk quantize synthetic`, "
                "marked judgedesk.synthetic): its verdicts are noise, so the ranking, win rates and agreement say "
                "nothing about the models. Its timings and memory are those of the real judge it imitates.",
        advice=f"Use this run to measure speed and memory only. {_STRONGER_JUDGE}")


def _pairs(count: int) -> str:
    return "the one pair" if count == 1 else f"the {count} pairs"
