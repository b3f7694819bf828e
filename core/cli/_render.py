"""Human-readable terminal output for verdicts, grades and judge listings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from .._judges import DEMO_JUDGE, JudgeEntry
from .._records import BothOrdersResult, Grade, PairwiseVerdict, Strength, winner_probabilities

__all__ = ["render_both_orders", "render_grade", "render_judges"]

_FIVE_LEVELS: tuple[str, ...] = get_args(Strength)

_DECISION_TEXT = {
    "A": "A is better",
    "B": "B is better",
    "tie": "tie",
    "inconsistent": "inconsistent: the verdict changed when the responses were swapped (position bias)",
    "unparsed": "unparsed: the judge's output holds no verdict (see the raw output with --json)",
}


def _judge_line(verdict: PairwiseVerdict | Grade) -> str:
    m = verdict.manifest
    if m is None:
        return "judge: unknown"
    mode = {"logits": "fast verdict from logits", "generate": "generated"}.get(str(m.decoding.get("mode")), "?")
    return f"judge: {m.judge_name} ({m.file_type}, {m.architecture}) | format {m.format} | {mode} | seed {m.seed}"


def _probabilities(verdict: PairwiseVerdict) -> str:
    if not verdict.probabilities:
        return ""
    probabilities = verdict.probabilities
    winners = sorted(winner_probabilities(probabilities).items())
    text = ", ".join(f"{label} {p:.0%}" for label, p in winners)
    if any(level in probabilities for level in _FIVE_LEVELS):
        # A five-level judge (arenahard): each verdict from A much better to B much better, then what each winner
        # adds up to.
        levels = ", ".join(f"{level} {probabilities[level]:.0%}" for level in _FIVE_LEVELS if level in probabilities)
        text = f"{levels}; {text}"
    return "  [" + text + "]"


def _order_line(name: str, verdict: PairwiseVerdict) -> str:
    winner = verdict.winner or "unparsed"
    flag = f"  (responses cut to fit: {verdict.cut_tokens} tokens)" if verdict.cut_tokens else ""
    return f"  {name}: {winner}{_probabilities(verdict)}{flag}"


def render_both_orders(result: BothOrdersResult, *, explain: bool) -> str:
    """The decision, each order's verdict and confidence, and the reason when asked."""
    lines = [_judge_line(result.ab), f"decision: {_DECISION_TEXT[result.decision]}"]
    lines.append(_order_line("A shown first", result.ab))
    if result.ba is not None:
        lines.append(_order_line("B shown first", result.ba))
    if explain:
        for name, verdict in (("A first", result.ab), ("B first", result.ba)):
            if verdict is None:
                continue
            if verdict.reason:
                lines.append(f"reason ({name}): {verdict.reason}")
            if verdict.reference:
                lines.append(f"reference ({name}): {verdict.reference}")
    return "\n".join(lines)


def render_grade(grade: Grade) -> str:
    """The score on its scale and the critique."""
    low, high = grade.scale
    score = "unparsed" if grade.score is None else f"{grade.score:g} / {high} (scale {low}-{high})"
    lines = [_judge_line(grade), f"score: {score}"]
    if grade.cut_tokens:
        lines.append(f"  (response cut to fit: {grade.cut_tokens} tokens)")
    if grade.critique:
        lines.append(f"critique: {grade.critique}")
    return "\n".join(lines)


def _size(num: int) -> str:
    value = float(num)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def render_judges(entries: Sequence[JudgeEntry]) -> str:
    """A table of known judges."""
    if not entries:
        return "no judges found: install the demo judge (make run) or pass --judge PATH.gguf"
    rows = [("NAME", "QUANT", "ARCH", "SIZE", "FORMAT", "PATH")]
    for e in entries:
        h = e.header
        name = e.label if e.name == DEMO_JUDGE else e.name
        rows.append((name + (" [SYNTHETIC: random weights]" if h and h.synthetic else ""), h.file_type if h else "-",
                     h.architecture if h else "-", "-" if e.size_bytes is None else _size(e.size_bytes),
                     e.default_format,
                     str(e.path) + (f"  [unusable: {e.problem}]" if e.problem else "")))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:5])) + "  " + r[5] for r in rows)
