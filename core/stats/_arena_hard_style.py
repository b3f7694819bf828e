"""Arena-Hard's style features: what an answer's length and markdown are, and how two answers' features become the
covariates of its style-controlled Bradley–Terry fit.

Arena-Hard stores, with each answer, its token length and its markdown counts (headers h1–h6, ordered and
unordered list items, `**bold**` and `__bold__` spans), counted after the contents of ``` code blocks are removed
(so a `# comment` in code is no header). `show_result.py` sums each group of counts, and for a battle of answer a
against answer b turns them into four covariates:

    length:    (L_a − L_b) / (L_a + L_b)
    markdown:  (d_a − d_b) / (d_a + d_b + 1)   for headers, lists and bold, with density d = count / (L + 1)

each then standardised over all battle rows (minus its mean, over its standard deviation with ddof 1).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from ._outcome import to_plain

__all__ = ["STYLE_FEATURES", "AnswerStyle", "answer_style", "style_differences"]

STYLE_FEATURES: tuple[str, ...] = ("length", "header_count", "list_count", "bold_count")
"""The covariates, in Arena-Hard's column order; "length" is the first, "markdown" the other three."""

_CODE_BLOCK = re.compile(r"```([^`]*)```")
_HEADERS = tuple(re.compile(rf"^#{{{level}}}\s", re.MULTILINE) for level in range(1, 7))
_ORDERED = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.MULTILINE)
_BOLD = (re.compile(r"\*\*[^*\n]+\*\*"), re.compile(r"__[^_\n]+__"))


@dataclass(frozen=True)
class AnswerStyle:
    """One answer's length and markdown counts, as Arena-Hard records them in an answer's `metadata`."""

    length: int
    """Its length: tokens in Arena-Hard (`token_len`), characters unless a token counter was given."""
    header_count: int
    """Markdown headers, # to ######, outside code blocks."""
    list_count: int
    """Ordered and unordered list items outside code blocks."""
    bold_count: int
    """`**...**` and `__...__` spans (within a line) outside code blocks."""

    def __post_init__(self) -> None:
        for name in STYLE_FEATURES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"expected a count of at least 0, got {value!r}", field=name)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> AnswerStyle:
        """Read an Arena-Hard answer's `metadata` (`token_len`, and `header_count`, `list_count`, `bold_count`
        as numbers or as dicts of per-kind counts, which are summed as show_result.py does)."""
        values: dict[str, int] = {}
        for name, key in zip(STYLE_FEATURES, ("token_len", *STYLE_FEATURES[1:]), strict=True):
            value = metadata.get(key)
            if isinstance(value, Mapping):
                value = sum(value.values())
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"expected a count or a dict of counts, got {value!r}", field=key)
            values[name] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def answer_style(text: str, *, count_tokens: Callable[[str], int] | None = None) -> AnswerStyle:
    """The style features of an answer, counted as Arena-Hard counts them.

    The length is `count_tokens(text)` when given (Arena-Hard uses tiktoken's encoding for its judge's model
    family), else the number of characters; the covariate is a ratio of lengths, so the unit barely matters.
    Markdown is counted after every code block's contents are removed, Arena-Hard's way: each text matched
    between ``` fences is deleted wherever it occurs, leaving the fences.
    """
    stripped = text
    for block in _CODE_BLOCK.findall(text):
        if block:
            stripped = stripped.replace(block, "")
    return AnswerStyle(
        length=len(text) if count_tokens is None else int(count_tokens(text)),
        header_count=sum(len(pattern.findall(stripped)) for pattern in _HEADERS),
        list_count=len(_ORDERED.findall(stripped)) + len(_UNORDERED.findall(stripped)),
        bold_count=sum(len(pattern.findall(stripped)) for pattern in _BOLD),
    )


def style_differences(style_a: AnswerStyle, style_b: AnswerStyle) -> np.ndarray:
    """The four raw (not yet standardised) covariates of answer a against answer b, in `STYLE_FEATURES` order.

    Two empty answers (length 0 each) differ by 0 in length, where Arena-Hard's formula would divide 0 by 0.
    """
    a = np.array([getattr(style_a, name) for name in STYLE_FEATURES], dtype=float)
    b = np.array([getattr(style_b, name) for name in STYLE_FEATURES], dtype=float)
    total = a[0] + b[0]
    length = (a[0] - b[0]) / total if total else 0.0
    density_a = a[1:] / (a[0] + 1.0)
    density_b = b[1:] / (b[0] + 1.0)
    return np.array([length, *((density_a - density_b) / (density_a + density_b + 1.0))])
