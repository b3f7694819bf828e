"""How the app marks a synthetic judge (`judgedesk quantize synthetic`: a real judge's shape with random weights)
wherever it names one: the Judges table, the judge pickers and each verdict's manifest line, so its verdicts are
never taken for a judge's."""

from __future__ import annotations

__all__ = ["SYNTHETIC_MARK"]

SYNTHETIC_MARK = "[SYNTHETIC: random weights]"
"""Appended to a synthetic judge's name."""
