"""Pairs files: PandaLM's human-annotated test set, Auto-J's pairwise test set, and judgedesk's plain pairs layout.

The layout is recognised from the first record that holds both response fields of one of them:

    pandalm   instruction, input, response1, response2, annotator1..3 (0 tie, 1 response1, 2 response2),
              cmp_key "llama-7b_bloom-7b", motivation_app, idx
    autoj     prompt, "response 1", "response 2", label (0 response 1, 1 response 2, 2 tie), scenario, id
    pairs     id, instruction, input, response_a, response_b, label (A, B, tie), category, model_a, model_b,
              reference

Every row is a pair; rows that cannot be judged are skipped with a `Problem`. A pair with an empty response is
judged anyway when it carries a human label: the annotators judged exactly that pair (PandaLM's test set has 54),
and dropping it would break comparisons with the published numbers. It is reported, and the empty response is
not graded.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._records import EvalItem, Label
from ._errors import DatasetError
from ._fields import FieldReader
from ._pairing import Pairing, check_pairing, put_baseline_second
from ._reading import FileRecords, Record, read_records
from ._records import Dataset, GradeTask, PairTask, Problem

__all__ = ["PAIRS_LAYOUTS", "majority_label", "pair_grades", "read_pairs_file"]

PairsLayout = Literal["pandalm", "autoj", "pairs"]

_ANNOTATOR = re.compile(r"annotator(\d+)")
_PANDALM_CODES: dict[int, Label] = {0: "tie", 1: "A", 2: "B"}
_AUTOJ_CODES: dict[int, Label] = {0: "A", 1: "B", 2: "tie"}


@dataclass
class _PairFields:
    """What a layout's converter reads from one record, before the checks common to every layout."""

    id: str | None
    instruction: str | None
    responses: tuple[str | None, str | None]
    model_a: str
    model_b: str
    human: Label | None
    input: str = ""
    category: str | None = None
    reference: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Layout:
    name: PairsLayout
    fields: str
    """The fields, for messages that say what was expected."""
    instruction: str
    responses: tuple[str, str]
    read: Callable[[FieldReader], _PairFields]


def majority_label(votes: Sequence[Label]) -> Label | None:
    """The label more than half of the annotators gave; None when there is no such majority (a 3-way split)."""
    if not votes:
        return None
    label, count = Counter(votes).most_common(1)[0]
    return label if 2 * count > len(votes) else None


def _read_pandalm(f: FieldReader) -> _PairFields:
    names = sorted((key for key in f.fields if _ANNOTATOR.fullmatch(key) and f.present(key)),
                   key=lambda key: int(key[len("annotator"):]))
    votes = [f.code(key, _PANDALM_CODES) for key in names]
    valid = [vote for vote in votes if vote is not None]
    human = majority_label(valid) if len(valid) == len(votes) else None
    model_a, model_b = "response1", "response2"
    cmp_key = f.name("cmp_key")
    if cmp_key is not None:
        parts = cmp_key.split("_")
        # Model names are split at the one underscore; with more, which one separates them is unknowable.
        if len(parts) == 2 and all(parts):
            model_a, model_b = parts
    extra: dict[str, Any] = {"annotators": valid} if valid else {}
    if cmp_key is not None:
        extra["cmp_key"] = cmp_key
    return _PairFields(id=f.ident("idx"), instruction=f.text("instruction", required=True),
                       input=f.text("input", required=False) or "",
                       responses=(f.text("response1", required=True), f.text("response2", required=True)),
                       model_a=model_a, model_b=model_b, human=human, category=f.name("motivation_app"), extra=extra)


def _read_autoj(f: FieldReader) -> _PairFields:
    return _PairFields(id=f.ident("id"), instruction=f.text("prompt", required=True),
                       responses=(f.text("response 1", required=True), f.text("response 2", required=True)),
                       model_a="response 1", model_b="response 2", human=f.code("label", _AUTOJ_CODES),
                       category=f.name("scenario"))


def _read_plain(f: FieldReader) -> _PairFields:
    return _PairFields(id=f.ident("id"), instruction=f.text("instruction", required=True),
                       input=f.text("input", required=False) or "",
                       responses=(f.text("response_a", required=True), f.text("response_b", required=True)),
                       model_a=f.name("model_a") or "A", model_b=f.name("model_b") or "B", human=f.ab_label("label"),
                       category=f.name("category"), reference=f.text("reference", required=False))


_LAYOUTS = (
    _Layout("pandalm", "instruction, input, response1, response2, annotator1..3, cmp_key, motivation_app, idx",
            "instruction", ("response1", "response2"), _read_pandalm),
    _Layout("autoj", 'prompt, "response 1", "response 2", label (0, 1, 2 = tie), scenario',
            "prompt", ("response 1", "response 2"), _read_autoj),
    _Layout("pairs", "id, instruction, input, response_a, response_b, label (A, B, tie), category, model_a, model_b",
            "instruction", ("response_a", "response_b"), _read_plain),
)
PAIRS_LAYOUTS: dict[str, str] = {layout.name: layout.fields for layout in _LAYOUTS}
"""Each pairs layout's name and its fields, for messages and documentation."""


def _detect(records: Sequence[Record]) -> _Layout | None:
    for record in records:
        for layout in _LAYOUTS:
            if all(name in record.fields for name in layout.responses):
                return layout
    return None


def _no_layout(read: FileRecords) -> str:
    expected = "\n".join(f"  {name}: {fields}" for name, fields in PAIRS_LAYOUTS.items())
    if not read.records:
        found = "no JSON object or CSV row could be read"
        if read.problems:
            found += " (" + "; ".join(str(problem) for problem in read.problems[:3]) + ")"
    else:
        names = ", ".join(repr(name) for name in list(read.records[0].fields)[:12]) or "none"
        found = f"no record has the two response fields of a known layout (the first has {names})"
        if any("output" in record.fields for record in read.records[:20]):
            found += ("; it looks like one model's outputs: put each model's outputs file in one folder and give "
                      "the folder")
    return (f"not a pairs file: {found}. Expected one of these pairs layouts:\n{expected}\n"
            "(a folder of per-model outputs is read by giving the folder)")


def _pair(layout: _Layout, record: Record, read: FileRecords, seen: dict[str, int], file_name: str,
          ) -> tuple[PairTask | None, Problem | None]:
    """One record as a pair, or None with the problem that skipped it; a kept pair may come with a problem too."""
    f = FieldReader(record.fields)
    p = layout.read(f)
    item_id = p.id if p.id is not None else str(record.line)
    if not f.errors:
        if p.instruction is not None and not p.instruction.strip() and not p.input.strip():
            f.errors.append(f"empty {layout.instruction!r}" + (" and 'input'" if layout.name != "autoj" else ""))
        empty = [name for name, text in zip(layout.responses, p.responses, strict=True)
                 if text is not None and not text.strip()]
        if empty:
            which = " and ".join(repr(name) for name in empty)
            if p.human is None:
                f.errors.append(f"empty {which}")
            else:
                f.notes.append(f"empty {which}: judged, since the pair has a human label, but not graded")
    if not f.errors and item_id in seen:
        f.errors.append(f"duplicate id {item_id!r} (first at {read.where(seen[item_id])})")
    if f.errors:
        return None, Problem(read.shown, record.line, "; ".join(f.errors) + "; skipped", item_id)
    seen[item_id] = record.line
    assert p.instruction is not None and p.responses[0] is not None and p.responses[1] is not None
    metadata = {"file": file_name, "line": record.line, "model_a": p.model_a, "model_b": p.model_b,
                "human": p.human, **p.extra}
    item = EvalItem(id=item_id, instruction=p.instruction, responses=(p.responses[0], p.responses[1]),
                    input=p.input, reference=p.reference, category=p.category, metadata=metadata)
    problem = Problem(read.shown, record.line, "; ".join(f.notes), item_id) if f.notes else None
    return PairTask(item=item, model_a=p.model_a, model_b=p.model_b, human=p.human), problem


def pair_grades(pairs: Sequence[PairTask]) -> tuple[GradeTask, ...]:
    """Both responses of every pair, once per (model, item content, response); empty responses are left out.

    A grade's id is `<pair id>|<model>`, from the first pair that holds the response.
    """
    seen: set[tuple[str, str, str, str | None, str]] = set()
    ids: set[str] = set()
    grades = []
    for pair in pairs:
        item = pair.item
        for model, response in zip((pair.model_a, pair.model_b), item.responses, strict=True):
            key = (model, item.instruction, item.input, item.reference, response)
            if not response.strip() or key in seen:
                continue
            seen.add(key)
            grade_id = f"{item.id}|{model}"
            if grade_id in ids:  # both sides of one pair carry the same model name
                grade_id += "|B"
            ids.add(grade_id)
            metadata = {"item": item.id, "model": model, "file": item.metadata.get("file"),
                        "line": item.metadata.get("line")}
            grades.append(GradeTask(item=EvalItem(id=grade_id, instruction=item.instruction, responses=(response,),
                                                  input=item.input, reference=item.reference,
                                                  category=item.category, metadata=metadata), model=model))
    return tuple(grades)


def read_pairs_file(path: Path, *, baseline: str | None, pairing: Pairing, limit: int | None) -> Dataset:
    """A pairs file as a data set; `DatasetError` when it is unreadable or in no known layout."""
    read = read_records(path, str(path))
    if read.skipped is not None:
        raise DatasetError(read.skipped, path=path)
    layout = _detect(read.records)
    if layout is None:
        raise DatasetError(_no_layout(read), path=path)
    kept: list[tuple[int, PairTask]] = []
    problems = list(read.problems)
    seen: dict[str, int] = {}
    for record in read.records:
        pair, problem = _pair(layout, record, read, seen, path.name)
        if pair is not None:
            kept.append((record.line, pair))
        if problem is not None:
            problems.append(problem)
    problems.sort(key=lambda problem: problem.line or 0)

    check_pairing(_models(pair for _, pair in kept), baseline, pairing)
    if baseline is not None:
        if pairing == "baseline":
            kept = [(line, pair) for line, pair in kept if (pair.model_a == baseline) != (pair.model_b == baseline)]
        kept = [(line, put_baseline_second(pair, baseline)) for line, pair in kept]
    if limit is not None and len(kept) > limit:
        # The first `limit` usable rows: what lies past the last of them was never meant to be read.
        kept = kept[:limit]
        last = kept[-1][0] if kept else 0
        problems = [problem for problem in problems if problem.line is None or problem.line <= last]
    pairs = tuple(pair for _, pair in kept)
    return Dataset(source=path, kind=layout.name, models=_models(pairs), pairs=pairs, grades=pair_grades(pairs),
                   problems=tuple(problems), files=(read.shown,))


def _models(pairs: Any) -> tuple[str, ...]:
    """Model names in order of first appearance."""
    names: dict[str, None] = {}
    for pair in pairs:
        names.setdefault(pair.model_a)
        names.setdefault(pair.model_b)
    return tuple(names)
