"""pairs.xlsx: the per-task table (`PairsTable`) as a workbook a spreadsheet opens directly, written with openpyxl.

No cell is a formula. openpyxl reads a text that starts with "=" as a formula and one such as "#N/A" as an error
value, so every text cell is written explicitly as a string; a text a spreadsheet would run if it were typed in
(`=`, `+`, `-`, `@`, a tab or a carriage return first) also gets the cell's quote-prefix mark, Excel's own "this is
text", so editing the cell and pressing Enter keeps it text. Unlike pairs.csv, the text itself stays exactly as it
was: no quote is added.

What a workbook cannot hold is changed visibly, never silently dropped: control characters XML forbids (NUL,
form feed, ...) become U+FFFD, and a text past Excel's 32,767 characters per cell is cut with a note saying so
(pairs.csv has every text whole).

openpyxl is imported when a workbook is written, so the CLI's other commands never pay for it.
"""

from __future__ import annotations

import io
import re
from typing import Any

from .._errors import BackendError
from ._csv_cells import starts_like_formula
from ._pairs_table import PairsTable

__all__ = ["EXCEL_CELL_LIMIT", "pairs_workbook"]

EXCEL_CELL_LIMIT = 32_767
"""The most characters an Excel cell holds."""
_CUT_NOTE = " … [cut at Excel's {limit:,}-character cell limit; pairs.csv has the whole text of {length:,} characters]"
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what XML 1.0 cannot carry (openpyxl refuses them)
_REPLACEMENT = "\ufffd"
_WIDTHS = {"position": 9, "item_id": 18, "model_a": 16, "model_b": 16, "model": 16, "category": 14, "decision": 12,
           "winning_model": 16, "confidence": 11, "score": 8, "status": 10, "ab_winner": 10, "ba_winner": 10,
           "human": 8, "override": 10, "override_note": 30, "instruction": 50, "input": 36, "response_a": 60,
           "response_b": 60, "response": 60}
"""Column widths in characters: short columns fit their values, free text gets room and wraps."""
_PERCENT_COLUMNS = frozenset({"confidence"})
_SHEET_TITLES = {"pairwise": "Pairs", "single": "Grades"}


def pairs_workbook(table: PairsTable) -> bytes:
    """The .xlsx file of `table`: one sheet, a bold header row frozen with the position and item columns, an
    autofilter over the columns, sensible widths, free-text columns wrapped."""
    try:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment, Font
        from openpyxl.utils import get_column_letter
    except ImportError:
        raise BackendError("writing pairs.xlsx needs openpyxl: pip install 'openpyxl>=3.1'") from None

    book = Workbook(write_only=True)  # rows stream to the file: 10,000 pairs of long texts stay out of memory
    sheet = book.create_sheet(_SHEET_TITLES.get(table.mode, "Pairs"))
    sheet.freeze_panes = "C2"  # the header row, and position and item while scrolling to the long texts
    for index, name in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS.get(name, 14)
    bold = Font(bold=True)
    wrapped = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    long_columns = set(table.long_columns)
    percent = {index for index, name in enumerate(table.columns) if name in _PERCENT_COLUMNS}

    def cell(value: Any, column: int) -> Any:
        if isinstance(value, str):
            text = _workbook_text(value)
            written = WriteOnlyCell(sheet, value=text)
            written.data_type = "s"  # never a formula ("=...") or an error value ("#N/A")
            if starts_like_formula(text):
                written.quotePrefix = True
        else:
            written = WriteOnlyCell(sheet, value=value)
            if column in percent and value is not None:
                written.number_format = "0%"
        written.alignment = wrapped if column in long_columns else top
        return written

    header = []
    for name in table.columns:
        title = WriteOnlyCell(sheet, value=name)
        title.data_type = "s"
        title.font = bold
        header.append(title)
    sheet.append(header)
    for row in table.rows:
        sheet.append([cell(value, column) for column, value in enumerate(row)])
    if table.rows:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table.rows) + 1}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _workbook_text(text: str) -> str:
    """`text` as a cell can hold it: forbidden control characters replaced, cut at Excel's limit with a note."""
    text = _ILLEGAL.sub(_REPLACEMENT, text)
    if len(text) <= EXCEL_CELL_LIMIT:
        return text
    note = _CUT_NOTE.format(limit=EXCEL_CELL_LIMIT, length=len(text))
    return text[:EXCEL_CELL_LIMIT - len(note)] + note
