"""Golden tests for pairs files: PandaLM's test set, Auto-J's pairwise set, the plain layout in JSONL, JSON and CSV."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from judgedesk.core import InputError
from judgedesk.core.datasets import DatasetError, load_dataset
from judgedesk.core.datasets._pairs_file import majority_label

from ._data_files import PANDALM, write_lines


def _pandalm_row(idx: int, votes: tuple[int, int, int], **fields: object) -> dict[str, object]:
    row: dict[str, object] = {"idx": idx, "motivation_app": "Grammarly", "cmp_key": "llama-7b_bloom-7b",
                              "instruction": f"Task {idx}", "input": "", "response1": f"one {idx}",
                              "response2": f"two {idx}"}
    row.update({f"annotator{n}": vote for n, vote in enumerate(votes, start=1)})
    row.update(fields)
    return row


# -- PandaLM -----------------------------------------------------------------------------------------------------


def test_pandalm_rows_golden(tmp_path: Path) -> None:
    rows = [_pandalm_row(7, (1, 1, 2), input="context"), _pandalm_row(8, (0, 0, 0)), _pandalm_row(9, (2, 2, 1)),
            _pandalm_row(10, (0, 1, 2))]
    path = tmp_path / "pandalm.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    data = load_dataset(path)
    assert data.kind == "pandalm"
    assert data.models == ("llama-7b", "bloom-7b")
    assert data.problems == ()
    assert [(p.item.id, p.human) for p in data.pairs] == [("7", "A"), ("8", "tie"), ("9", "B"), ("10", None)]
    first = data.pairs[0]
    assert (first.model_a, first.model_b) == ("llama-7b", "bloom-7b")
    assert first.item.instruction == "Task 7"
    assert first.item.input == "context"
    assert first.item.responses == ("one 7", "two 7")
    assert first.item.category == "Grammarly"
    assert first.item.metadata["annotators"] == ["A", "A", "B"]
    assert first.item.metadata["line"] == 1  # JSON arrays count records


def test_pandalm_without_cmp_key_or_idx_uses_positions(tmp_path: Path) -> None:
    row = _pandalm_row(0, (1, 1, 1))
    del row["cmp_key"], row["idx"]
    data = load_dataset(write_lines(tmp_path / "p.jsonl", ["", row]))
    assert data.pairs[0].item.id == "2"
    assert (data.pairs[0].model_a, data.pairs[0].model_b) == ("response1", "response2")


def test_majority_label() -> None:
    assert majority_label(["A", "A", "B"]) == "A"
    assert majority_label(["tie", "B", "tie"]) == "tie"
    assert majority_label(["A", "B", "tie"]) is None
    assert majority_label(["B"]) == "B"
    assert majority_label([]) is None


def test_pandalm_slice_of_the_real_file(tmp_path: Path) -> None:
    rows = json.loads(PANDALM.read_text(encoding="utf-8"))[:30]
    path = tmp_path / "slice.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    data = load_dataset(path)
    assert data.kind == "pandalm" and len(data.pairs) == 30
    codes = {0: "tie", 1: "A", 2: "B"}
    for row, pair in zip(rows, data.pairs, strict=True):
        votes = Counter(row[f"annotator{n}"] for n in (1, 2, 3))
        code, count = votes.most_common(1)[0]
        assert pair.human == codes[code] and count >= 2
        assert pair.item.id == str(row["idx"])
        assert f"{pair.model_a}_{pair.model_b}" == row["cmp_key"]
        assert pair.item.category == row["motivation_app"]
    assert data.pairs[0].human == "B" and data.pairs[0].model_a == "bloom-7b"


def test_pandalm_full_file_label_counts() -> None:
    data = load_dataset(PANDALM)
    assert len(data.pairs) == 999
    assert Counter(pair.human for pair in data.pairs) == {"tie": 105, "A": 422, "B": 472}
    assert len(data.models) == 5
    # 54 labelled pairs with an empty response are judged (and reported); 6 responses are JSON booleans.
    reasons = Counter("empty" if "empty" in p.reason else "boolean" if "boolean" in p.reason else p.reason
                      for p in data.problems)
    assert reasons == {"empty": 54, "boolean": 6}
    assert next(p for p in data.pairs if p.item.id == "157").item.responses[0] == "True"
    graded = {(g.model, g.item.instruction, g.item.input, g.item.responses[0]) for g in data.grades}
    assert len(graded) == len(data.grades)
    assert all(g.item.responses[0].strip() for g in data.grades)


# -- Auto-J ------------------------------------------------------------------------------------------------------


def test_autoj_labels_golden(tmp_path: Path) -> None:
    rows = [{"scenario": "code_generation", "label": label, "prompt": f"Prompt {n}", "response 1": f"r1 {n}",
             "response 2": f"r2 {n}"} for n, label in enumerate([0, 1, 2, "1"])]
    data = load_dataset(write_lines(tmp_path / "testdata_pairwise.jsonl", rows))
    assert data.kind == "autoj"
    assert [(p.item.id, p.human) for p in data.pairs] == [("1", "A"), ("2", "B"), ("3", "tie"), ("4", "B")]
    pair = data.pairs[0]
    assert (pair.model_a, pair.model_b) == ("response 1", "response 2")
    assert pair.item.instruction == "Prompt 0" and pair.item.input == ""
    assert pair.item.category == "code_generation"
    assert data.problems == ()


def test_autoj_id_field_wins_and_bad_label_is_reported(tmp_path: Path) -> None:
    rows = [{"id": "aj-1", "label": 5, "prompt": "P", "response 1": "x", "response 2": "y"}]
    data = load_dataset(write_lines(tmp_path / "a.jsonl", rows))
    assert data.pairs[0].item.id == "aj-1"
    assert data.pairs[0].human is None
    (problem,) = data.problems
    assert (problem.line, problem.item) == (1, "aj-1")
    assert "'label' is 5" in problem.reason


# -- plain pairs -------------------------------------------------------------------------------------------------


def _plain(n: int, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {"id": f"p{n}", "instruction": f"Q{n}", "response_a": f"a{n}", "response_b": f"b{n}"}
    row.update(fields)
    return row


def test_plain_pairs_jsonl_golden(tmp_path: Path) -> None:
    rows = [_plain(1, label="A", category="math", input="ctx"), _plain(2, label="b"), _plain(3, label=" TIE "),
            _plain(4, model_a="gpt", model_b="llama", reference="ref")]
    data = load_dataset(write_lines(tmp_path / "pairs.jsonl", rows))
    assert data.kind == "pairs"
    assert [p.human for p in data.pairs] == ["A", "B", "tie", None]
    assert data.models == ("A", "B", "gpt", "llama")
    assert data.pairs[0].item.input == "ctx" and data.pairs[0].item.category == "math"
    assert data.pairs[3].item.reference == "ref"
    assert data.problems == ()


def test_plain_pairs_json_array(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps([_plain(1, label="A"), _plain(2)]), encoding="utf-8")
    data = load_dataset(path)
    assert [p.item.id for p in data.pairs] == ["p1", "p2"]


def test_csv_with_quoting_multiline_fields_and_bom(tmp_path: Path) -> None:
    text = ("id,instruction,input,response_a,response_b,label\r\n"
            'c1,"Say ""hi"", politely",,"Hello, there.","line one\r\nline two",A\r\n'
            "c2,Plain,,x,y,tie\r\n")
    path = tmp_path / "pairs.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    data = load_dataset(path)
    assert data.problems == ()
    first, second = data.pairs
    assert first.item.id == "c1"  # the BOM is not part of the first header name
    assert first.item.instruction == 'Say "hi", politely'
    assert first.item.responses == ("Hello, there.", "line one\r\nline two")
    assert first.human == "A"
    assert second.item.metadata["line"] == 4  # the quoted field spans lines 2-3


def test_csv_pandalm_with_digit_annotators(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("idx,instruction,input,response1,response2,annotator1,annotator2,annotator3\n"
                    "1,Do it,,x,y,2,2,0\n", encoding="utf-8")
    assert load_dataset(path).pairs[0].human == "B"


def test_tsv(tmp_path: Path) -> None:
    path = tmp_path / "p.tsv"
    path.write_text("instruction\tresponse_a\tresponse_b\nQ\tx, y\tz\n", encoding="utf-8")
    assert load_dataset(path).pairs[0].item.responses == ("x, y", "z")


# -- grades, limit, baseline -------------------------------------------------------------------------------------


def test_grades_are_deduplicated_by_model_and_content(tmp_path: Path) -> None:
    rows = [_plain(1, model_a="m1", model_b="m2"),
            {**_plain(2, model_a="m1", model_b="m3"), "instruction": "Q1", "response_a": "a1"},
            _plain(3, model_a="m1", model_b="m1")]
    data = load_dataset(write_lines(tmp_path / "p.jsonl", rows))
    assert [(g.item.id, g.model, g.item.responses[0]) for g in data.grades] == [
        ("p1|m1", "m1", "a1"), ("p1|m2", "m2", "b1"), ("p2|m3", "m3", "b2"), ("p3|m1", "m1", "a3"),
        ("p3|m1|B", "m1", "b3")]


def test_limit_keeps_the_first_valid_rows(tmp_path: Path) -> None:
    rows = [_plain(1), "{broken", _plain(2), _plain(3), "also broken", _plain(4)]
    data = load_dataset(write_lines(tmp_path / "p.jsonl", rows), limit=2)
    assert [p.item.id for p in data.pairs] == ["p1", "p2"]
    assert [p.line for p in data.problems] == [2]


def test_baseline_on_a_pairs_file_orients_and_filters(tmp_path: Path) -> None:
    rows = [_plain(1, model_a="base", model_b="x", label="A"), _plain(2, model_a="x", model_b="y", label="B"),
            _plain(3, model_a="y", model_b="base", label="tie")]
    path = write_lines(tmp_path / "p.jsonl", rows)
    every = load_dataset(path, baseline="base")
    assert [(p.model_a, p.model_b, p.human, p.item.responses) for p in every.pairs] == [
        ("x", "base", "B", ("b1", "a1")), ("x", "y", "B", ("a2", "b2")), ("y", "base", "tie", ("a3", "b3"))]
    assert every.pairs[0].item.metadata["swapped"] is True
    only = load_dataset(path, baseline="base", pairing="baseline")
    assert [p.item.id for p in only.pairs] == ["p1", "p3"]
    with pytest.raises(InputError, match="unknown baseline model 'nope'; models: base, x, y"):
        load_dataset(path, baseline="nope")


# -- unusable input ----------------------------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_dataset(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("content", [b"", b"  \n\n", b"\xef\xbb\xbf\n"])
def test_empty_pairs_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "p.jsonl"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match="empty file"):
        load_dataset(path)


def test_not_utf8_pairs_file(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_bytes(json.dumps(_plain(1)).encode() + b"\n{\"x\": \"caf\xe9\"}\n")
    with pytest.raises(DatasetError, match=r"not UTF-8 text \(byte 0xe9"):
        load_dataset(path)


def test_unknown_layout_lists_what_was_expected(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "p.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    message = str(caught.value)
    assert str(path) in message and "'question', 'answer'" in message
    for name in ("pandalm:", "autoj:", "pairs:", "response1", '"response 1"', "response_a"):
        assert name in message


def test_one_models_outputs_given_as_a_file_gets_a_hint(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "model.jsonl", [{"id": "1", "instruction": "q", "output": "a"}])
    with pytest.raises(DatasetError, match="looks like one model's outputs"):
        load_dataset(path)


def test_broken_json_array_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('[{"instruction": "q",\n "response_a": "x"', encoding="utf-8")
    with pytest.raises(DatasetError, match="not a valid JSON array"):
        load_dataset(path)


@pytest.mark.parametrize(("options", "field"), [({"limit": 0}, "limit"), ({"pairing": "some"}, "pairing"),
                                                ({"pairing": "baseline"}, "baseline")])
def test_bad_options(tmp_path: Path, options: dict[str, object], field: str) -> None:
    path = write_lines(tmp_path / "p.jsonl", [_plain(1)])
    with pytest.raises(InputError) as caught:
        load_dataset(path, **options)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert not isinstance(caught.value, DatasetError)
