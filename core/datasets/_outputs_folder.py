"""Which layout a folder of per-model outputs has, and each model's answers read from it.

Looked for in this order:

    benchmark    a benchmark's question.jsonl and model_answer/<model>.jsonl, in the folder, in a subfolder
                 (mt_bench/, arena-hard-v0.1/, then any other), or the folder is model_answer/ itself. Which
                 benchmark is told by question.jsonl's records:
        mtbench      FastChat's MT-bench (question_id, category, turns): every turn is judged, each its own item
                     with the earlier turns as its history (see `_mtbench`); the model is the file's name, as
                     FastChat names it.
        arenahard    Arena-Hard-Auto (uid, category, cluster, prompt; answers hold `messages`): see `_arenahard`;
                     the model is the records' `model`, else the file's name.
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
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from .._records import PriorTurn
from ._errors import DatasetError
from ._fields import FieldReader
from ._human_labels import HUMAN_LABELS_FILE
from ._reading import Record, read_records
from ._records import Problem

__all__ = [
    "EXPECTED_FOLDER_LAYOUTS",
    "Answer",
    "FolderLayout",
    "ModelAnswers",
    "QuestionBank",
    "find_folder_layout",
    "read_model_answers",
    "shown_path",
    "text_item_id",
]

_DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv")
EXPECTED_FOLDER_LAYOUTS = (
    "Expected one of:\n"
    "  one file per model (*.jsonl, *.json, *.csv, *.tsv) with fields instruction, output (and id, input, "
    "category) or AlpacaEval's instruction, output, generator;\n"
    "  an outputs/ subfolder holding such files;\n"
    "  FastChat MT-bench: question.jsonl (question_id, turns) and model_answer/<model>.jsonl;\n"
    "  Arena-Hard: question.jsonl (uid, prompt) and model_answer/<model>.jsonl (uid, model, messages);\n"
    "  AlpacaEval results: <model>/model_outputs.json."
)


@dataclass(frozen=True)
class FolderLayout:
    """Where a folder's model files are."""

    kind: Literal["mtbench", "arenahard", "outputs"]
    """A benchmark's folder, or files of outputs (plain or AlpacaEval; which one is known once they are read)."""
    outputs_dir: Path
    """The folder holding the model files: human labels are looked for here, then in its parent."""
    files: tuple[tuple[Path, str], ...]
    """Each model file with the model name used when its records do not name one."""
    questions: Path | None = None
    """The benchmark's question.jsonl (MT-bench, Arena-Hard)."""
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
    history: tuple[PriorTurn, ...] = ()
    """A conversation's earlier turns, each with this model's answer as its one answer (MT-bench turn 2)."""
    extra: Mapping[str, object] = field(default_factory=dict)
    """More of the question's fields for the item's metadata (Arena-Hard's cluster)."""


class QuestionBank(Protocol):
    """A benchmark's questions, which turn each record of a model's answer file into answers (MT-bench,
    Arena-Hard)."""

    model_field: str | None
    """The record field that names the model (Arena-Hard's `model`); None: the model is named after its file."""

    def answers(self, f: FieldReader, shown: str, line: int) -> tuple[str | None, list[Answer], set[str]]:
        """The record's question id, its usable answers (one per judged turn), and the ids of the items it was
        meant for but that were skipped (so they are not reported again as missing). Nothing usable: `f.errors`
        says why; partly usable (a turn missing): `f.notes` does."""
        ...


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


_BENCHMARK_FOLDERS = ("mt_bench", "arena-hard-v0.1")
"""Subfolders looked in first, by the names FastChat and Arena-Hard-Auto give them."""


def _question_kind(path: Path) -> Literal["mtbench", "arenahard"]:
    """Which benchmark a question.jsonl belongs to, from its first JSON object: Arena-Hard's have `prompt` (and
    `uid`), MT-bench's `turns`. A file that tells neither is read as MT-bench, whose reader reports what is wrong."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as lines:
            for number, line in enumerate(lines):
                if number >= 50:
                    break
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and "turns" not in record and ("prompt" in record or "uid" in record):
                    return "arenahard"
                if isinstance(record, dict):
                    return "mtbench"
    except OSError:
        pass
    return "mtbench"


def _benchmark(root: Path) -> FolderLayout | None:
    """A benchmark's folder (question.jsonl beside model_answer/) at, under or above `root`; None when there is
    none. When several subfolders hold one, the first is read and the others are named in a problem."""
    known = {name: rank for rank, name in enumerate(_BENCHMARK_FOLDERS)}
    subfolders = sorted((sub for sub in root.iterdir() if sub.is_dir() and not sub.name.startswith(".")),
                        key=lambda sub: (known.get(sub.name, len(known)), sub.name))
    candidates = [(root / "question.jsonl", root / "model_answer")]
    candidates += [(sub / "question.jsonl", sub / "model_answer") for sub in subfolders]
    candidates.append((root.parent / "question.jsonl", root))
    found = [(questions, answers) for questions, answers in candidates
             if questions.is_file() and answers.is_dir() and answers.name == "model_answer"]
    if not found:
        return None
    questions, answers = found[0]
    files, others = _model_entries(answers, (".jsonl",))
    problems = _skipped(others, root) + tuple(
        Problem(shown_path(other.parent, root), None, f"another benchmark's folder, not read (give that folder to "
                                                      f"read it): {shown_path(questions.parent, root)} is read")
        for other, _ in found[1:] if other.parent.parent == root)
    return FolderLayout(_question_kind(questions), answers, tuple((path, path.stem) for path in files), questions,
                        problems)


def find_folder_layout(root: Path) -> FolderLayout:
    """The layout of a folder of outputs; `DatasetError` when it is empty or has none."""
    try:
        entries = [entry for entry in root.iterdir() if not entry.name.startswith(".")]
    except OSError as exc:
        raise DatasetError(f"cannot read the folder ({exc.strerror or exc})", path=root) from None
    if not entries:
        raise DatasetError(f"empty folder. {EXPECTED_FOLDER_LAYOUTS}", path=root)
    layout = _benchmark(root)
    if layout is not None:
        if not layout.files:
            name = "MT-bench" if layout.kind == "mtbench" else "Arena-Hard"
            raise DatasetError(f"{name} folder without model answers: {shown_path(layout.outputs_dir, root)} "
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


# -- model files ------------------------------------------------------------------------------------------------


def _answer_fields(f: FieldReader, record: Record, shown: str) -> tuple[str | None, Answer | None]:
    """A plain or AlpacaEval record's id and its answer; the answer is None when the record cannot be used
    (f.errors says why)."""
    record_id = f.ident("id")
    instruction = f.text("instruction", required=True)
    input_text = f.text("input", required=False) or ""
    output = f.text("output", required=True)
    category = f.name("category") or f.name("dataset")
    reference = f.text("reference", required=False)
    if instruction is not None and not instruction.strip() and not input_text.strip():
        f.errors.append("empty 'instruction' and 'input'")
    if output is not None and not output.strip() and not f.errors:
        f.errors.append("empty output")
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


def read_model_answers(path: Path, shown: str, fallback_name: str, bank: QuestionBank | None) -> ModelAnswers:
    """One model's answers, or (not `recognised`) why the file is not a model's outputs.

    bank: the benchmark's questions when the folder is one (MT-bench, Arena-Hard); None for plain and AlpacaEval
        outputs. Empty outputs are skipped with a problem: an empty output in a folder of generations is a failed
        run, not an answer to judge.
    """
    read = read_records(path, shown)
    if read.skipped is not None:
        return ModelAnswers(fallback_name, fallback_name, shown, read.unit, (), frozenset(), read.problems,
                            alpaca=False, recognised=False)
    if bank is None and not any("output" in record.fields for record in read.records):
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
        if bank is not None:
            record_id, usable, skipped = bank.answers(f, shown, record.line)
            generator = f.name(bank.model_field) if bank.model_field is not None else None
        else:
            record_id, answer = _answer_fields(f, record, shown)
            usable = [answer] if answer is not None else []
            skipped = set() if usable else _item_keys(record, record_id)
            generator = f.name("generator")
        attempted.update(skipped)
        if not usable:
            problems.append(Problem(shown, record.line, "; ".join(f.errors) + "; skipped", record_id))
            continue
        if f.notes:
            problems.append(Problem(shown, record.line, "; ".join(f.notes), record_id))
        if generator is not None:
            generators.setdefault(generator)
        answers.extend(usable)
    model = fallback_name
    if len(generators) == 1:
        model = next(iter(generators))
    elif len(generators) > 1:
        listed = ", ".join(repr(name) for name in list(generators)[:5])
        problems.append(Problem(shown, None, f"records name {len(generators)} generators ({listed}); the model is "
                                             f"named after the file: {fallback_name!r}"))
    problems.sort(key=lambda problem: problem.line or 0)
    return ModelAnswers(model=model, fallback=fallback_name, shown=shown, unit=read.unit, answers=tuple(answers),
                        attempted=frozenset(attempted), problems=tuple(problems),
                        alpaca=bank is None and bool(generators), recognised=True)
