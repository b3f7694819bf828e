"""Which layout a folder of per-model outputs has, and each model's answers read from it.

Looked for in this order:

    mtbench      FastChat's MT-bench: question.jsonl and model_answer/<model>.jsonl, in the folder, in its
                 mt_bench/ subfolder, or the folder is model_answer/ itself. Only the first turn is judged:
                 the instruction is the question's turns[0], the response choices[0].turns[0]; the model is the
                 file's name, as FastChat names it.
    outputs/     a subfolder named outputs/ holding the files below (the demo layout: labels sit beside it).
    files        *.jsonl, *.json, *.csv and *.tsv files in the folder, one per model: plain records (id,
                 instruction, input, output, category, reference) or AlpacaEval outputs (a JSON list of
                 instruction, output, generator, dataset). The model is the generator all of a file's records
                 name, else the file's name without its extension.
    subfolders   AlpacaEval's results layout: <model>/model_outputs.json.

A file whose records have no `output` field is not a model's outputs (a pairs file, notes): it is skipped and
reported. Paths in problems are relative to the folder given.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._errors import DatasetError
from ._fields import FieldReader, json_kind
from ._human_labels import HUMAN_LABELS_FILE
from ._reading import FileRecords, Record, read_records
from ._records import Problem

__all__ = [
    "EXPECTED_FOLDER_LAYOUTS",
    "Answer",
    "FolderLayout",
    "ModelAnswers",
    "Question",
    "find_folder_layout",
    "read_model_answers",
    "read_questions",
    "shown_path",
    "text_item_id",
]

_DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv")
EXPECTED_FOLDER_LAYOUTS = (
    "Expected one of:\n"
    "  one file per model (*.jsonl, *.json, *.csv, *.tsv) with fields instruction, output (and id, input, "
    "category) or AlpacaEval's instruction, output, generator;\n"
    "  an outputs/ subfolder holding such files;\n"
    "  FastChat MT-bench: question.jsonl and model_answer/<model>.jsonl;\n"
    "  AlpacaEval results: <model>/model_outputs.json."
)


@dataclass(frozen=True)
class FolderLayout:
    """Where a folder's model files are."""

    kind: Literal["mtbench", "outputs"]
    """mtbench, or files of outputs (plain or AlpacaEval; which one is known once they are read)."""
    outputs_dir: Path
    """The folder holding the model files: human labels are looked for here, then in its parent."""
    files: tuple[tuple[Path, str], ...]
    """Each model file with the model name used when its records do not name one."""
    questions: Path | None = None
    """MT-bench's question.jsonl."""
    problems: tuple[Problem, ...] = ()
    """Entries named like model files that are not files (a folder, a looping or broken link), so not read."""


@dataclass(frozen=True)
class Answer:
    """One model's response to one item, as read."""

    id: str | None
    """The record's own id (MT-bench: question_id); None when it has none."""
    instruction: str
    input: str
    output: str
    category: str | None
    reference: str | None
    shown: str
    """The file it came from, relative to the folder given."""
    line: int


@dataclass(frozen=True)
class ModelAnswers:
    """Everything read from one model's file."""

    model: str
    """The model's name: the generator its records name, else `fallback`."""
    fallback: str
    """The name from the file (or, for model_outputs.json, its folder)."""
    shown: str
    unit: str
    """What line numbers count in this file: "line" or "record"."""
    answers: tuple[Answer, ...]
    """Usable answers, in file order (empty outputs excluded)."""
    attempted: frozenset[str]
    """Ids of records skipped with a problem, so they are not reported again as missing."""
    problems: tuple[Problem, ...]
    alpaca: bool
    """Whether its records name a generator, as AlpacaEval's do."""
    recognised: bool
    """False when the file could not be read or is not a model's outputs; `problems` says why."""


def shown_path(path: Path, root: Path) -> str:
    """`path` relative to the folder given, with forward slashes ("outputs/model-a.jsonl", "../labels")."""
    return Path(os.path.relpath(path, root)).as_posix()


def _why_not_a_file(path: Path) -> str | None:
    """Why an entry named like a model file cannot be read as one; None for a regular file."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops back on itself"
        if path.is_symlink():
            return "a symbolic link to something that does not exist"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    return "not a regular file (a pipe, socket or device)"  # reading a pipe would wait forever


def _model_entries(folder: Path, suffixes: tuple[str, ...]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The model files in `folder`, and the entries named like one that are not files, with the reason."""
    files, others = [], []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in suffixes or path.name.startswith(".") or path.name == HUMAN_LABELS_FILE:
            continue
        reason = _why_not_a_file(path)
        if reason is None:
            files.append(path)
        else:
            others.append((path, reason))
    return files, others


def _skipped(others: list[tuple[Path, str]], root: Path) -> tuple[Problem, ...]:
    return tuple(Problem(shown_path(path, root), None, f"{reason}; skipped") for path, reason in others)


def _mtbench(root: Path) -> FolderLayout | None:
    candidates = [(root / "question.jsonl", root / "model_answer"),
                  (root / "mt_bench" / "question.jsonl", root / "mt_bench" / "model_answer"),
                  (root.parent / "question.jsonl", root)]
    for questions, answers in candidates:
        if questions.is_file() and answers.is_dir() and answers.name == "model_answer":
            files, others = _model_entries(answers, (".jsonl",))
            return FolderLayout("mtbench", answers, tuple((path, path.stem) for path in files), questions,
                                _skipped(others, root))
    return None


def find_folder_layout(root: Path) -> FolderLayout:
    """The layout of a folder of outputs; `DatasetError` when it is empty or has none."""
    try:
        entries = [entry for entry in root.iterdir() if not entry.name.startswith(".")]
    except OSError as exc:
        raise DatasetError(f"cannot read the folder ({exc.strerror or exc})", path=root) from None
    if not entries:
        raise DatasetError(f"empty folder. {EXPECTED_FOLDER_LAYOUTS}", path=root)
    layout = _mtbench(root)
    if layout is not None:
        if not layout.files:
            raise DatasetError(f"MT-bench folder without model answers: {shown_path(layout.outputs_dir, root)} "
                               "has no <model>.jsonl files", path=root)
        return layout
    for folder in (root / "outputs", root):
        if folder.is_dir():
            files, others = _model_entries(folder, _DATA_SUFFIXES)
            if files:
                return FolderLayout("outputs", folder, tuple((path, path.stem) for path in files),
                                    problems=_skipped(others, root))
    results, others = [], []
    for sub in sorted(root.iterdir()):
        if sub.is_dir() and os.path.lexists(sub / "model_outputs.json"):
            reason = _why_not_a_file(sub / "model_outputs.json")
            if reason is None:
                results.append((sub / "model_outputs.json", sub.name))
            else:
                others.append((sub / "model_outputs.json", reason))
    if results:
        return FolderLayout("outputs", root, tuple(results), problems=_skipped(others, root))
    others += _model_entries(root, _DATA_SUFFIXES)[1]
    unreadable = "".join(f"\n  {problem}" for problem in _skipped(others, root))
    raise DatasetError(f"no model outputs found{':' if unreadable else ''}{unreadable}. {EXPECTED_FOLDER_LAYOUTS}",
                       path=root)


# -- MT-bench ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """An MT-bench question: its first turn, category and reference answer."""

    text: str
    category: str | None
    reference: str | None


def _first_turn(f: FieldReader, container: Mapping[str, Any], where: str) -> str | None:
    """turns[0] of a question, or of an answer's first choice, noting in `f` what is wrong."""
    turns = container.get("turns")
    if not isinstance(turns, list) or not turns:
        found = "nothing" if turns is None else json_kind(turns)
        f.errors.append(f"{where} must be a non-empty list of texts (found {found})")
        return None
    turn = FieldReader({f"{where}[0]": turns[0]})
    text = turn.text(f"{where}[0]", required=True)
    f.errors.extend(turn.errors)
    f.notes.extend(turn.notes)
    return text


def read_questions(path: Path, shown: str) -> tuple[dict[str, Question], list[Problem], FileRecords]:
    """MT-bench's questions by question_id; problems for the ones that cannot be used."""
    read = read_records(path, shown)
    questions: dict[str, Question] = {}
    first: dict[str, int] = {}
    problems = list(read.problems)
    for record in read.records:
        f = FieldReader(record.fields)
        qid = f.ident("question_id")
        if qid is None and not f.errors:
            f.errors.append("missing field 'question_id'")
        text = _first_turn(f, record.fields, "turns")
        reference = record.fields.get("reference")
        ref_text = reference[0] if isinstance(reference, list) and reference and isinstance(reference[0], str) \
            else None
        if qid is not None and qid in first and not f.errors:
            f.errors.append(f"duplicate question_id {qid!r} (first at line {first[qid]})")
        if text is not None and not text.strip():
            f.errors.append("empty turns[0]")
        if f.errors or qid is None or text is None:
            problems.append(Problem(shown, record.line, "; ".join(f.errors) + "; question skipped", qid))
            continue
        first[qid] = record.line
        questions[qid] = Question(text, f.name("category"), ref_text)
        if f.notes:
            problems.append(Problem(shown, record.line, "; ".join(f.notes), qid))
    return questions, problems, read


# -- model files ------------------------------------------------------------------------------------------------


def _answer_fields(f: FieldReader, record: Record, shown: str, questions: dict[str, Question] | None,
                   ) -> tuple[str | None, Answer | None]:
    """The record's id and its answer; the answer is None when the record cannot be used (f.errors says why)."""
    if questions is not None:
        qid = f.ident("question_id")
        if qid is None and not f.errors:
            f.errors.append("missing field 'question_id'")
        choices = f.fields.get("choices")
        output = None
        if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
            output = _first_turn(f, choices[0], "choices[0].turns")
        else:
            found = "nothing" if choices is None else json_kind(choices)
            f.errors.append(f"field 'choices' must be a list of objects with 'turns' (found {found})")
        question = questions.get(qid) if qid is not None else None
        if qid is not None and question is None:
            f.errors.append(f"question_id {qid} is not in question.jsonl")
        if f.errors or question is None or output is None:
            return qid, None
        return qid, Answer(qid, question.text, "", output, question.category, question.reference, shown,
                           record.line)
    record_id = f.ident("id")
    instruction = f.text("instruction", required=True)
    input_text = f.text("input", required=False) or ""
    output = f.text("output", required=True)
    category = f.name("category") or f.name("dataset")
    reference = f.text("reference", required=False)
    if instruction is not None and not instruction.strip() and not input_text.strip():
        f.errors.append("empty 'instruction' and 'input'")
    if f.errors or instruction is None or output is None:
        return record_id, None
    return record_id, Answer(record_id, instruction, input_text, output, category, reference, shown, record.line)


def text_item_id(instruction: str, input: str) -> str:
    """The stable id of an item matched by its text: `text-` and 12 hex digits of the text's SHA-256."""
    digest = hashlib.sha256(f"{instruction}\x00{input}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"text-{digest[:12]}"


def _item_keys(record: Record, record_id: str | None) -> set[str]:
    """Every id a skipped record could have been matched under, so its item is not reported again as missing."""
    keys = {record_id} if record_id is not None else set()
    instruction, input_text = record.fields.get("instruction"), record.fields.get("input") or ""
    if isinstance(instruction, str) and isinstance(input_text, str):
        keys.add(text_item_id(instruction, input_text))
    return keys


def read_model_answers(path: Path, shown: str, fallback_name: str, questions: dict[str, Question] | None,
                       ) -> ModelAnswers:
    """One model's answers, or (not `recognised`) why the file is not a model's outputs.

    Empty outputs are skipped with a problem: an empty output in a folder of generations is a failed run,
    not an answer to judge.
    """
    read = read_records(path, shown)
    if read.skipped is not None:
        return ModelAnswers(fallback_name, fallback_name, shown, read.unit, (), frozenset(), read.problems,
                            alpaca=False, recognised=False)
    if questions is None and not any("output" in record.fields for record in read.records):
        found = (f"the first has {', '.join(repr(name) for name in list(read.records[0].fields)[:12]) or 'none'}"
                 if read.records else "no record could be read")
        problem = Problem(shown, None, f"not a model's outputs: no record has an 'output' field ({found}); "
                                       "file skipped")
        return ModelAnswers(fallback_name, fallback_name, shown, read.unit, (), frozenset(), (*read.problems, problem),
                            alpaca=False, recognised=False)
    answers: list[Answer] = []
    attempted: set[str] = set()
    problems = list(read.problems)
    generators: dict[str, None] = {}
    for record in read.records:
        f = FieldReader(record.fields)
        record_id, answer = _answer_fields(f, record, shown, questions)
        generator = f.name("generator") if questions is None else None
        if answer is not None and not answer.output.strip():
            f.errors.append("empty output")
        if f.errors or answer is None:
            problems.append(Problem(shown, record.line, "; ".join(f.errors) + "; skipped", record_id))
            attempted.update(_item_keys(record, record_id))
            continue
        if f.notes:
            problems.append(Problem(shown, record.line, "; ".join(f.notes), record_id))
        if generator is not None:
            generators.setdefault(generator)
        answers.append(answer)
    model = fallback_name
    if len(generators) == 1:
        model = next(iter(generators))
    elif len(generators) > 1:
        listed = ", ".join(repr(name) for name in list(generators)[:5])
        problems.append(Problem(shown, None, f"records name {len(generators)} generators ({listed}); the model is "
                                             f"named after the file: {fallback_name!r}"))
    problems.sort(key=lambda problem: problem.line or 0)
    return ModelAnswers(model=model, fallback=fallback_name, shown=shown, unit=read.unit, answers=tuple(answers),
                        attempted=frozenset(attempted),
                        problems=tuple(problems), alpaca=bool(generators), recognised=True)
