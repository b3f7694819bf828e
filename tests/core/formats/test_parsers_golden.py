"""Golden cases for every format's parser: real judge outputs, malformed, cut-off and injected ones.

The table lives in golden/parser_cases.json. A case whose `bug` field is set documents a known parser bug and
runs as a strict xfail, so fixing the bug turns it into a failure that asks for the field to be removed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from judgedesk.core.formats import ParsedGrade, ParsedVerdict, format_names, get_format

GOLDEN = Path(__file__).parent / "golden" / "parser_cases.json"
CASES: list[dict[str, Any]] = json.loads(GOLDEN.read_text(encoding="utf-8"))["cases"]


def _params() -> list[Any]:
    params = []
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case["bug"])] if "bug" in case else []
        params.append(pytest.param(case, id=case["id"], marks=marks))
    return params


def _parse(case: dict[str, Any]) -> ParsedVerdict | ParsedGrade:
    fmt = get_format(case["format"])
    if case["task"] == "pairwise":
        return fmt.parse_pairwise(case["output"], case["lang"])
    return fmt.parse_grade(case["output"], case["lang"])


@pytest.mark.parametrize("case", _params())
def test_golden_case(case: dict[str, Any]) -> None:
    parsed = _parse(case)
    if case["task"] == "pairwise":
        assert isinstance(parsed, ParsedVerdict)
        assert parsed.winner == case["winner"], parsed
        unparsed = case["winner"] is None
    else:
        assert isinstance(parsed, ParsedGrade)
        assert parsed.score == case["score"], parsed
        unparsed = case["score"] is None
    if unparsed:
        assert parsed.problem, f"an unparsed output must say why: {parsed}"
    else:
        assert parsed.problem is None, parsed
    for field in ("reason", "reference", "critique"):
        if field in case:
            assert getattr(parsed, field) == case[field], parsed
        for fragment in case.get(f"{field}_contains", ()):
            text = getattr(parsed, field)
            assert text is not None and fragment in text, parsed


def test_golden_cases_have_unique_ids_and_known_formats() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids))
    for case in CASES:
        fmt = get_format(case["format"])
        assert case["task"] in fmt.tasks, case["id"]
        assert case["lang"] in fmt.languages, case["id"]
        assert ("winner" in case) == (case["task"] == "pairwise"), case["id"]
        assert ("score" in case) == (case["task"] == "single"), case["id"]


@pytest.mark.parametrize(
    ("name", "task", "lang"),
    [
        (name, task, lang)
        for name in format_names()
        for task in sorted(get_format(name).tasks)
        for lang in sorted(get_format(name).languages)
    ],
)
def test_golden_table_covers_every_format_task_and_language(name: str, task: str, lang: str) -> None:
    mine = [c for c in CASES if (c["format"], c["task"], c["lang"]) == (name, task, lang) and "bug" not in c]
    key = "winner" if task == "pairwise" else "score"
    assert any(c[key] is not None for c in mine), "no well-formed case"
    assert any(c[key] is None for c in mine), "no malformed case"
    assert any(c["output"] == "" for c in mine), "no empty-output case"


def test_pandalm_does_not_grade_single_responses() -> None:
    parsed = get_format("pandalm").parse_grade("Rating: [[7]] [RESULT] 4", "en")
    assert parsed.score is None
    assert parsed.problem


# A number too big for a float becomes inf; a parser must still answer "unparsed" rather than raise.
_HUGE = "9" * 400
_HUGE_NUMBER_CASES = [
    pytest.param("autoj", "single", "en", f"Critique.\n\nRating: [[{_HUGE}]]", id="autoj-en"),
    pytest.param("autoj", "single", "zh", f"评论。\n\n评分：[[{_HUGE}]]", id="autoj-zh"),
    pytest.param("generic", "single", "en", f'{{"score": {_HUGE}, "critique": "x"}}', id="generic"),
    pytest.param(
        "prometheus",
        "single",
        "en",
        f"Feedback text [RESULT] {_HUGE}",
        id="prometheus",
    ),
]


@pytest.mark.parametrize(("name", "task", "lang", "text"), _HUGE_NUMBER_CASES)
def test_huge_score_is_unparsed_without_raising(name: str, task: str, lang: str, text: str) -> None:
    parsed = get_format(name).parse_grade(text, lang)
    assert parsed.score is None
    assert parsed.problem
