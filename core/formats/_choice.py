"""Which format a judge is used with when none is named: the one order every caller follows.

The format given wins; else the one chosen when the judge was imported into the library; else the one recorded in
the model file's metadata; else one recognised from the judge's names (PandaLM, Auto-J, Prometheus); else generic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["choose_format", "default_format_for"]

_NAME_HINTS = (
    (re.compile(r"panda\s*-?lm", re.I), "pandalm"),
    (re.compile(r"auto\s*-?j", re.I), "autoj"),
    (re.compile(r"prometheus", re.I), "prometheus"),
)


def choose_format(given: str | None = None, *, library: str | None = None, recorded: str | None = None,
                  names: Sequence[str] = ()) -> str:
    """The judge format to use: `given`, else `library` (chosen at import), else `recorded` (in the file's
    metadata), else the format the judge's `names` (model name, file name) hint at, else generic."""
    for chosen in (given, library, recorded):
        if chosen:
            return chosen
    joined = " ".join(names)
    for pattern, fmt in _NAME_HINTS:
        if pattern.search(joined):
            return fmt
    return "generic"


def default_format_for(recorded: str | None, *names: str) -> str:
    """The judge format a model was trained for: recorded in its metadata, else recognised by name, else generic
    (`choose_format` with nothing given and no library choice)."""
    return choose_format(recorded=recorded, names=names)
