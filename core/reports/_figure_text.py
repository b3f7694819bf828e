"""One way to write an estimate or a rating with its interval, for the report, the app and the command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["estimate_text", "rating_text"]


def estimate_text(entry: Mapping[str, Any] | None) -> str:
    """A win-rate estimate: '62.0% [55.1%, 68.9%]', or the estimate with the reason it has no interval."""
    if not entry:
        return "–"
    if entry.get("estimate") is None:
        return entry.get("no_interval") or "–"
    if entry.get("ci_low") is None:
        return f"{entry['estimate']:.1%} ({entry.get('no_interval') or 'no interval'})"
    return f"{entry['estimate']:.1%} [{entry['ci_low']:.1%}, {entry['ci_high']:.1%}]"


def rating_text(entry: Mapping[str, Any] | None) -> str:
    """A rating: '1043 [1012, 1074]', or the rating with the reason it has no interval."""
    if not entry:
        return "–"
    if entry.get("ci_low") is None:
        return f"{entry['rating']:.0f} ({entry.get('no_interval') or 'no interval'})"
    return f"{entry['rating']:.0f} [{entry['ci_low']:.0f}, {entry['ci_high']:.0f}]"
