"""Every kind of bad input becomes a Problem naming its file, line and item; the rest of the data is still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judgedesk.core import InputError
from judgedesk.core.datasets import DatasetError, Problem, load_dataset, raise_if_problems

from ._data_files import write_lines


def _pair(n: int, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {"id": f"p{n}", "instruction": f"Q{n}", "response_a": f"a{n}", "response_b": f"b{n}"}
    row.update(fields)
    return row


def _answer(item: str, output: str = "out", **fields: object) -> dict[str, object]:
    return {"id": item, "instruction": f"Question {item}", "output": output, **fields}


def _where(problems: tuple[Problem, ...]) -> list[tuple[str, int | None, str | None]]:
    return [(Path(p.path).name, p.line, p.item) for p in problems]


# -- pairs files -------------------------------------------------------------------------------------------------


def test_every_row_problem_in_a_pairs_file(tmp_path: Path) -> None:
    rows = [
        _pair(1),                                      # 1 fine
        "{not json",                                   # 2 malformed
        "[1, 2]",                                      # 3 not an object
        {"id": "p4", "instruction": "Q4", "response_a": "a4"},   # 4 missing field
        _pair(5, response_b=["a", "list"]),            # 5 non-text field: skipped
        _pair(6, response_a=42),                       # 6 a number: read as text, kept
        _pair(1, instruction="again"),                 # 7 duplicate id
        _pair(8, response_b="   "),                    # 8 empty response, no label: skipped
        _pair(9, response_a="", label="B"),            # 9 empty response with a label: judged, not graded
        _pair(10, instruction=None),                   # 10 null required field
        _pair(11, id=["x"]),                           # 11 bad id
        _pair(12, label="maybe"),                      # 12 bad label: kept without one
        _pair(13, category={"a": 1}),                  # 13 bad category: kept without one
        json.dumps(_pair(14, response_a="\ud800")),    # 14 lone surrogate: cannot be written as UTF-8
        "",                                            # 15 blank: ignored
        _pair(16),                                     # 16 fine
    ]
    data = load_dataset(write_lines(tmp_path / "pairs.jsonl", rows))
    assert [p.item.id for p in data.pairs] == ["p1", "p6", "p9", "p12", "p13", "p16"]
    assert _where(data.problems) == [
        ("pairs.jsonl", 2, None), ("pairs.jsonl", 3, None), ("pairs.jsonl", 4, "p4"), ("pairs.jsonl", 5, "p5"),
        ("pairs.jsonl", 6, "p6"), ("pairs.jsonl", 7, "p1"), ("pairs.jsonl", 8, "p8"), ("pairs.jsonl", 9, "p9"),
        ("pairs.jsonl", 10, "p10"), ("pairs.jsonl", 11, "11"), ("pairs.jsonl", 12, "p12"),
        ("pairs.jsonl", 13, "p13"), ("pairs.jsonl", 14, "p14")]
    reasons = {p.line: p.reason for p in data.problems}
    assert reasons[2].startswith("not valid JSON (") and reasons[2].endswith("line skipped")
    assert reasons[3] == "not a JSON object (found a list); line skipped"
    assert reasons[4] == "missing field 'response_b'; skipped"
    assert reasons[5] == "field 'response_b' must be text, found a list; skipped"
    assert reasons[6] == "field 'response_a' is a number, read as the text '42'"
    assert reasons[7] == "duplicate id 'p1' (first at line 1); skipped"
    assert reasons[8] == "empty 'response_b'; skipped"
    assert "judged, since the pair has a human label, but not graded" in reasons[9]
    assert reasons[10] == "field 'instruction' is null; skipped"
    assert "'id' must be text or a whole number, found a list" in reasons[11]
    assert "expected A, B or tie" in reasons[12]
    assert "'category' ignored" in reasons[13]
    assert "unpaired surrogate" in reasons[14]
    assert data.pairs[1].item.responses[0] == "42"
    assert data.pairs[2].human == "B"
    assert ("B", "b9") in {(g.model, g.item.responses[0]) for g in data.grades}
    assert ("A", "") not in {(g.model, g.item.responses[0]) for g in data.grades}


def test_json_array_problems_count_records(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps([_pair(1), "text", _pair(1)], indent=2), encoding="utf-8")
    data = load_dataset(path)
    assert _where(data.problems) == [("pairs.json", 2, None), ("pairs.json", 3, "p1")]
    assert data.problems[1].reason == "duplicate id 'p1' (first at record 1); skipped"


def test_csv_row_problems(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("id,instruction,response_a,response_b\n"
                    "c1,Q,a,b\n"
                    "c2,Q,a,b,extra\n"
                    "c3,Q,a\n"
                    'c4,"Q" x,a,b\n'
                    "c5,Q,a,b\n"
                    '"c6,Q,a,b\n', encoding="utf-8")
    data = load_dataset(path)
    assert [p.item.id for p in data.pairs] == ["c1", "c5"]
    assert _where(data.problems) == [("pairs.csv", 3, None), ("pairs.csv", 4, "c3"), ("pairs.csv", 5, None),
                                     ("pairs.csv", 7, None)]
    assert "5 fields but the header has 4" in data.problems[0].reason
    assert "missing field 'response_b'" in data.problems[1].reason
    assert data.problems[2].reason == "not valid CSV (',' expected after '\"'); row skipped"
    assert data.problems[3].reason == "not valid CSV (unexpected end of data); row skipped"


def test_bom_is_accepted_in_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_pair(1)).encode() + b"\r\n" + json.dumps(_pair(2)).encode())
    data = load_dataset(path)
    assert len(data.pairs) == 2 and data.problems == ()


def test_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(json.dumps(_pair(1)).encode("utf-16"))
    with pytest.raises(DatasetError, match="UTF-16 text; save it as UTF-8"):
        load_dataset(path)


# -- folders -----------------------------------------------------------------------------------------------------


def test_every_problem_in_a_folder(tmp_path: Path) -> None:
    write_lines(tmp_path / "a.jsonl", [
        _answer("1"),
        "oops",                            # 2 malformed
        _answer("2"),
        _answer("1", "again"),             # 4 duplicate id
        _answer("3", ""),                  # 5 empty output: skipped, and not reported again as missing
        {"id": "4", "output": "x"},        # 6 missing instruction
    ])
    write_lines(tmp_path / "b.jsonl", [_answer("1"), _answer("3"), _answer("4"), _answer("5")])
    (tmp_path / "c.jsonl").write_bytes(b'{"id": "1", "instruction": "Question 1", "output": "\xff"}\n')
    (tmp_path / "d.jsonl").write_bytes(b"")
    (tmp_path / "e.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps(_answer("1")).encode() + b"\n")
    data = load_dataset(tmp_path)
    assert data.models == ("a", "b", "e")
    assert data.files == ("a.jsonl", "b.jsonl", "c.jsonl", "d.jsonl", "e.jsonl")
    assert [(p.path, p.line, p.item) for p in data.problems] == [
        ("a.jsonl", 2, None), ("a.jsonl", 5, "3"), ("a.jsonl", 6, "4"),
        ("c.jsonl", 1, None), ("d.jsonl", None, None),
        ("a.jsonl", 4, "1"),
        # items answered by some models only: one problem per model that lacks it
        ("b.jsonl", None, "2"), ("e.jsonl", None, "2"), ("e.jsonl", None, "3"), ("e.jsonl", None, "4"),
        ("a.jsonl", None, "5"), ("e.jsonl", None, "5"),
    ]
    reasons = [p.reason for p in data.problems]
    assert reasons[1] == "empty output; skipped"
    assert "not UTF-8 text (byte 0xff" in reasons[3] and reasons[3].endswith("file skipped")
    assert reasons[4] == "empty file; file skipped"
    assert reasons[5] == "duplicate id '1' (first at line 1); skipped"
    assert reasons[6].startswith("no output for this item, which 1 other model(s) have")
    assert [p.item.id for p in data.pairs] == ["1|a|b", "1|a|e", "1|b|e"]
    assert [g.item.id for g in data.grades] == ["1|a", "1|b", "1|e", "2|a", "3|b", "4|b", "5|b"]


def test_text_matched_skipped_record_is_not_reported_twice(tmp_path: Path) -> None:
    write_lines(tmp_path / "a.jsonl", [{"instruction": "Q", "output": ""}, {"instruction": "R", "output": "r"}])
    write_lines(tmp_path / "b.jsonl", [{"instruction": "Q", "output": "q"}, {"instruction": "R", "output": "r"}])
    data = load_dataset(tmp_path)
    assert [(p.path, p.line, p.reason) for p in data.problems] == [("a.jsonl", 1, "empty output; skipped")]
    assert len(data.pairs) == 1


def test_problem_paths_are_relative_to_the_folder(tmp_path: Path) -> None:
    write_lines(tmp_path / "outputs" / "m1.jsonl", [_answer("1"), "bad"])
    write_lines(tmp_path / "outputs" / "m2.jsonl", [_answer("1")])
    data = load_dataset(tmp_path)
    assert [(p.path, p.line) for p in data.problems] == [("outputs/m1.jsonl", 2)]


def test_entries_named_like_model_files_that_are_not_files_are_problems(tmp_path: Path) -> None:
    write_lines(tmp_path / "outputs" / "m1.jsonl", [_answer("1")])
    write_lines(tmp_path / "outputs" / "m2.jsonl", [_answer("1")])
    (tmp_path / "outputs" / "model-x.jsonl").mkdir()
    (tmp_path / "outputs" / "loop.jsonl").symlink_to(tmp_path / "outputs" / "loop.jsonl")
    (tmp_path / "outputs" / "gone.json").symlink_to(tmp_path / "nowhere.json")
    (tmp_path / "outputs" / "notes").mkdir()  # not named like a model file: not a problem
    data = load_dataset(tmp_path)
    assert data.models == ("m1", "m2") and len(data.pairs) == 1
    assert [(p.path, p.line, p.reason) for p in data.problems] == [
        ("outputs/gone.json", None, "a symbolic link to something that does not exist; skipped"),
        ("outputs/loop.jsonl", None, "a symbolic link that loops back on itself; skipped"),
        ("outputs/model-x.jsonl", None, "a folder, not a file; skipped"),
    ]


def test_a_folder_of_only_unreadable_entries_names_them_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "model-x.jsonl").mkdir()
    with pytest.raises(DatasetError, match=r"no model outputs found:\n  model-x.jsonl: a folder, not a file"):
        load_dataset(tmp_path)


def test_numbers_as_names_are_read_as_text_and_reported(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "pairs.jsonl", [_pair(1, model_a=3, model_b="beta", category=12.5),
                                                  _pair(2, model_a="alpha", model_b=True)])
    data = load_dataset(path)
    assert [(p.model_a, p.model_b, p.item.category) for p in data.pairs] == [("3", "beta", "12.5"),
                                                                          ("alpha", "True", None)]
    assert [(Path(p.path).name, p.line, p.item, p.reason) for p in data.problems] == [
        ("pairs.jsonl", 1, "p1", "field 'model_a' is a number, read as the name '3'; "
                                 "field 'category' is a number, read as the name '12.5'"),
        ("pairs.jsonl", 2, "p2", "field 'model_b' is a boolean, read as the name 'True'"),
    ]


def test_a_number_as_a_generator_or_category_in_a_folder_is_reported(tmp_path: Path) -> None:
    write_lines(tmp_path / "a.jsonl", [_answer("1", generator=7, category=3)])
    write_lines(tmp_path / "b.jsonl", [_answer("1")])
    data = load_dataset(tmp_path)
    assert data.models == ("7", "b")
    assert [(p.path, p.line, p.item) for p in data.problems] == [("a.jsonl", 1, "1")]
    assert "field 'category' is a number" in data.problems[0].reason
    assert "field 'generator' is a number" in data.problems[0].reason


# -- strict ------------------------------------------------------------------------------------------------------


def test_raise_if_problems_lists_them(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "pairs.jsonl", [_pair(n) if n % 2 else "bad" for n in range(60)])
    data = load_dataset(path)
    with pytest.raises(InputError) as caught:
        raise_if_problems(data)
    message = str(caught.value)
    assert message.startswith(f"{path}: 30 problem(s) in the input:")
    assert f"{path}:1: not valid JSON" in message
    assert "... and 10 more" in message
    assert caught.value.path == path
    raise_if_problems(load_dataset(write_lines(tmp_path / "ok.jsonl", [_pair(1)])))


def test_a_number_naming_a_model_in_the_labels_file_is_used_and_reported(tmp_path: Path) -> None:
    write_lines(tmp_path / "3.jsonl", [_answer("1")])
    write_lines(tmp_path / "b.jsonl", [_answer("1")])
    write_lines(tmp_path / "human_labels.jsonl", [{"id": "1", "model_a": 3, "model_b": "b", "label": "A"}])
    data = load_dataset(tmp_path)
    assert [p.human for p in data.pairs] == ["A"]
    assert [(p.path, p.line, p.reason) for p in data.problems] == [
        ("human_labels.jsonl", 1, "field 'model_a' is a number, read as the name '3'")]
