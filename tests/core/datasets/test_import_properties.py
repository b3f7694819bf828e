"""Property tests for the importers: any rows, any bytes. Only `DatasetError` escapes, and every row that is not
used shows up as a Problem on its own line.

Rows mix the fields of the real layouts with junk keys and values of every JSON type, so a layout is recognised
often enough for the row checks to run; raw lines add malformed JSON and values that are not objects.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from judgedesk.core.datasets import Dataset, DatasetError, load_dataset

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALUES = st.one_of(
    st.text(max_size=6), st.sampled_from(["", " ", "A", "b", "tie", "0", "1", "2", "x_y"]),
    st.integers(-2, 3), st.none(), st.booleans(), st.floats(allow_nan=True),
    st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
TEXT = st.one_of(st.sampled_from(["x", "Hello", "tie", "A", " ", ""]), st.text(min_size=1, max_size=8))
LIKELY = {  # values that make a row usable, and ids and texts that repeat so items match and ids collide
    "id": st.sampled_from(["1", "2", "3"]), "idx": st.integers(1, 3), "question_id": st.integers(1, 3),
    "instruction": st.sampled_from(["Q1", "Q2", "Q3", " "]), "input": st.sampled_from(["", "ctx"]),
    "model_a": st.sampled_from(["m0", "m1", "m2", "gpt"]), "model_b": st.sampled_from(["m0", "m1", "m2"]),
    "label": st.sampled_from(["A", "b", "tie", "0", 1, 2, "?"]), "generator": st.sampled_from(["m0", "m1", "gen"]),
    "annotator1": st.integers(0, 2), "annotator2": st.integers(0, 2), "annotator3": st.integers(0, 3),
}
LAYOUT_FIELDS = {
    "pandalm": (["instruction", "response1", "response2"],
                ["idx", "input", "annotator1", "annotator2", "annotator3", "cmp_key", "motivation_app"]),
    "autoj": (["prompt", "response 1", "response 2"], ["id", "label", "scenario"]),
    "pairs": (["instruction", "response_a", "response_b"],
              ["id", "input", "label", "category", "model_a", "model_b", "reference"]),
    "outputs": (["id", "instruction", "output"], ["input", "generator", "category", "dataset", "reference"]),
    "labels": (["id", "model_a", "model_b", "label"], []),
}
DROP = object()
RAW_LINES = st.one_of(
    st.sampled_from(["", "   ", "{", "}", "[", "]", "[]", "{}", "null", "1", '"text"', "[1, 2]", '{"a": }', "\ufeff"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=12),
)


def _corrupt(row: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(row)
    for name, value in changes:
        if value is DROP:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def _rows(layout: str) -> st.SearchStrategy[dict[str, Any]]:
    """A usable row of the layout, then a few fields replaced by any JSON value, dropped, or added as junk."""
    required, optional = LAYOUT_FIELDS[layout]
    row = st.fixed_dictionaries({name: LIKELY.get(name, TEXT) for name in required},
                                optional={name: LIKELY.get(name, TEXT) for name in optional})
    names = st.one_of(st.sampled_from(required + optional), st.text(max_size=4))
    changes = st.lists(st.tuples(names, st.one_of(VALUES, st.just(DROP))), max_size=2)
    return st.builds(_corrupt, row, changes)


def _lines(layout: str) -> st.SearchStrategy[list[str]]:
    # ensure_ascii: a row may hold lone surrogates, which only an escape can carry into a UTF-8 file
    row_line = _rows(layout).map(lambda row: json.dumps(row, ensure_ascii=True))
    line = st.integers(0, 5).flatmap(lambda n: RAW_LINES if n == 5 else row_line)
    return st.lists(line, max_size=10)


@contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _units(text: str) -> list[int]:
    """What problem lines count in this text: positions of a JSON array, else its non-blank lines."""
    text = text.removeprefix("\ufeff")  # a BOM, which the reader drops
    try:
        whole = json.loads(text)
    except (ValueError, RecursionError):
        whole = None
    if isinstance(whole, list):
        return list(range(1, len(whole) + 1))
    return [number for number, raw in enumerate(text.split("\n"), start=1) if raw.strip()]


def _check_records(data: Dataset) -> None:
    for task in (*data.pairs, *data.grades):
        item = task.item
        for text in (item.id, item.instruction, item.input, *item.responses):
            assert isinstance(text, str)
            text.encode("utf-8")
        json.dumps(dict(item.metadata), ensure_ascii=False).encode("utf-8")
    assert len({pair.item.id for pair in data.pairs}) == len(data.pairs)
    assert len({grade.item.id for grade in data.grades}) == len(data.grades)
    assert all(pair.human in (None, "A", "B", "tie") for pair in data.pairs)
    assert all(len(pair.item.responses) == 2 for pair in data.pairs)
    assert all(grade.item.responses[0].strip() for grade in data.grades)
    assert data.summary()


@SETTINGS
@given(layout=st.sampled_from(["pandalm", "autoj", "pairs"]), lines=st.data())
def test_any_pairs_file_rows(layout: str, lines: st.DataObject) -> None:
    text = "\n".join(lines.draw(_lines(layout))) + "\n"
    with _folder() as folder:
        path = folder / "pairs.jsonl"
        path.write_text(text, encoding="utf-8")
        try:
            data = load_dataset(path)
        except DatasetError:
            event("unusable")
            return
    event(f"{data.kind}: {'some' if data.pairs else 'no'} pairs, {'some' if data.problems else 'no'} problems")
    _check_records(data)
    used = {pair.item.metadata["line"] for pair in data.pairs}
    reported = {problem.line for problem in data.problems}
    assert all(problem.path == str(path) for problem in data.problems)
    assert set(_units(text)) <= used | reported


@SETTINGS
@given(files=st.lists(_lines("outputs"), min_size=2, max_size=3), labels=st.one_of(st.none(), _lines("labels")))
def test_any_outputs_folder_rows(files: list[list[str]], labels: list[str] | None) -> None:
    texts = {f"m{n}.jsonl": "\n".join(lines) + "\n" for n, lines in enumerate(files)}
    with _folder() as folder:
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
        if labels is not None:
            (folder / "human_labels.jsonl").write_text("\n".join(labels), encoding="utf-8")
        try:
            data = load_dataset(folder)
        except DatasetError:
            event("unusable")
            return
    event(f"{len(data.models)} model(s), {'some' if data.pairs else 'no'} pairs, "
          f"{sum(pair.human is not None for pair in data.pairs) and 'some' or 'no'} labels")
    _check_records(data)
    used = {(grade.item.metadata["file"], grade.item.metadata["line"]) for grade in data.grades}
    reported = {(problem.path, problem.line) for problem in data.problems}
    skipped = {problem.path for problem in data.problems if problem.reason.endswith("file skipped")}
    for name, text in texts.items():
        if name not in skipped:
            assert {(name, unit) for unit in _units(text)} <= used | reported


@SETTINGS
@given(content=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".json", ".csv", ".tsv", ".txt"]),
       bom=st.booleans())
def test_any_bytes(content: bytes, suffix: str, bom: bool) -> None:
    data_bytes = (b"\xef\xbb\xbf" if bom else b"") + content
    with _folder() as folder:
        path = folder / f"file{suffix}"
        path.write_bytes(data_bytes)
        try:
            _check_records(load_dataset(path))
        except DatasetError:
            pass
        (folder / "good.jsonl").write_text('{"id": "1", "instruction": "q", "output": "a"}\n', encoding="utf-8")
        try:
            _check_records(load_dataset(folder))
        except DatasetError:
            pass


@SETTINGS
@given(lines=_lines("pairs"), limit=st.integers(1, 4))
def test_limit_never_exceeds(lines: list[str], limit: int) -> None:
    with _folder() as folder:
        path = folder / "pairs.jsonl"
        path.write_text("\n".join(lines), encoding="utf-8")
        try:
            full, limited = load_dataset(path), load_dataset(path, limit=limit)
        except DatasetError:
            return
    assert limited.pairs == full.pairs[:limit]
    assert set(limited.problems) <= set(full.problems)
