"""FastChat's MT-bench folder read turn by turn: questions, reference answers, and each model's answers.

    question.jsonl                 question_id, category, turns [turn 1, turn 2, ...], optionally reference [...]
    reference_answer/gpt-4.jsonl   question_id, choices[0].turns: the reference answer at each turn. FastChat gives
                                   GPT-4's to its judge (for math, reasoning and coding); another file there is
                                   used when it is the only one
    model_answer/<model>.jsonl     question_id, choices[0].turns: the model's answer at each turn

Each question gives one item per turn. Turn 1 keeps the question_id as its id, so runs stored before turns were
read still match; turn N >= 2 is "<question_id>:turn<N>" (`turn_item_id`) and carries the earlier turns as its
history. A turn's reference is the reference file's, else the question's own `reference` field.

A model answer that stops short (fewer turns than its question, an empty or non-text turn) is a problem naming the
file and line; the turns before it are judged, that turn and the later ones are not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._records import PriorTurn
from ._errors import DatasetError
from ._fields import FieldReader, json_kind
from ._outputs_folder import Answer, shown_path
from ._reading import read_records
from ._records import Problem

__all__ = ["MTBenchQuestions", "Question", "read_mtbench_questions", "turn_item_id"]

REFERENCE_FOLDER = "reference_answer"
REFERENCE_JUDGE_FILE = "gpt-4.jsonl"
"""The reference answers FastChat's judge is given (its `--judge-model gpt-4` default)."""


def turn_item_id(question_id: str, turn: int) -> str:
    """The item id of one turn of an MT-bench question: the question_id for turn 1, "<id>:turn<N>" after."""
    return question_id if turn == 1 else f"{question_id}:turn{turn}"


@dataclass(frozen=True)
class Question:
    """An MT-bench question: every turn, its category and each turn's reference answer."""

    id: str
    turns: tuple[str, ...]
    """The user's message at each turn (only the turns read up to the first unusable one)."""
    category: str | None
    references: tuple[str | None, ...]
    """The reference answer at each turn; None where there is none."""


def _texts(values: Any, where: str) -> tuple[list[str], str | None]:
    """The leading usable texts of a `turns` list, and what is wrong with the first one that is not.

    A number is read as its text (FieldReader's rule); anything else, or an empty text, ends the list.
    """
    if not isinstance(values, list) or not values:
        found = "nothing" if values is None else json_kind(values)
        return [], f"{where} must be a non-empty list of texts (found {found})"
    texts: list[str] = []
    for index, value in enumerate(values):
        name = f"{where}[{index}]"
        f = FieldReader({name: value})
        text = f.text(name, required=True)
        if text is None or f.errors:
            return texts, "; ".join(f.errors) or f"{name} is null"
        if not text.strip():
            return texts, f"empty {name}"
        texts.append(text)
    return texts, None


def _choice_turns(fields: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """choices[0].turns of an answer record (a model's or a reference)."""
    choices = fields.get("choices")
    if not (isinstance(choices, list) and choices and isinstance(choices[0], Mapping)):
        found = "nothing" if choices is None else json_kind(choices)
        return [], f"field 'choices' must be a list of objects with 'turns' (found {found})"
    return _texts(choices[0].get("turns"), "choices[0].turns")


def _reference_file(questions: Path, root: Path) -> tuple[Path | None, list[Problem]]:
    """reference_answer/gpt-4.jsonl beside question.jsonl, else the only .jsonl there; None when there is none."""
    folder = questions.parent / REFERENCE_FOLDER
    if not folder.is_dir():
        return None, []
    if (folder / REFERENCE_JUDGE_FILE).is_file():
        return folder / REFERENCE_JUDGE_FILE, []
    files = sorted(path for path in folder.glob("*.jsonl") if path.is_file())
    if len(files) == 1:
        return files[0], []
    if not files:
        return None, []
    names = ", ".join(path.name for path in files)
    return None, [Problem(shown_path(folder, root), None, f"several reference answer files ({names}) and no "
                                                          f"{REFERENCE_JUDGE_FILE}: none is used")]


def _read_references(path: Path, shown: str) -> tuple[dict[str, list[str]], list[Problem]]:
    """Each question's reference answer per turn, from a reference_answer/*.jsonl file."""
    read = read_records(path, shown)
    references: dict[str, list[str]] = {}
    problems = list(read.problems)
    for record in read.records:
        f = FieldReader(record.fields)
        qid = f.ident("question_id")
        turns, wrong = _choice_turns(record.fields)
        if qid is None:
            reason = "; ".join(f.errors) or "missing field 'question_id'"
            problems.append(Problem(shown, record.line, f"{reason}; reference skipped"))
            continue
        if qid in references:
            problems.append(Problem(shown, record.line, "a second reference for this question; skipped", qid))
            continue
        if wrong is not None:
            kept = f"the first {len(turns)} turn(s) are used" if turns else "reference skipped"
            problems.append(Problem(shown, record.line, f"{wrong}; {kept}", qid))
        if turns:
            references[qid] = turns
    return references, problems


class MTBenchQuestions:
    """MT-bench's questions, turning a model_answer record into one answer per turn (`QuestionBank`)."""

    model_field: str | None = None
    """FastChat names a model after its answer file, whatever the records' model_id says."""

    def __init__(self, questions: Mapping[str, Question]) -> None:
        self.questions = questions

    def _turn_ids(self, question: Question, start: int) -> set[str]:
        return {turn_item_id(question.id, turn) for turn in range(start, len(question.turns) + 1)}

    def answers(self, f: FieldReader, shown: str, line: int) -> tuple[str | None, list[Answer], set[str]]:
        qid = f.ident("question_id")
        if qid is None and not f.errors:
            f.errors.append("missing field 'question_id'")
        question = self.questions.get(qid) if qid is not None else None
        if qid is not None and question is None:
            f.errors.append(f"question_id {qid} is not in question.jsonl")
        turns, wrong = _choice_turns(f.fields)
        if question is None or f.errors or not turns:
            if wrong is not None:
                f.errors.append("empty output (choices[0].turns[0])" if wrong.startswith("empty ") else wrong)
            if question is not None:
                return qid, [], self._turn_ids(question, 1)
            return qid, [], set() if qid is None else {qid}
        count = min(len(turns), len(question.turns))
        if count < len(question.turns):
            reason = wrong or (f"the answer has {len(turns)} turn(s) and the question {len(question.turns)}: "
                               f"choices[0].turns[{count}] is missing")
            later = "turn" if count + 1 == len(question.turns) else "turns"
            f.notes.append(f"{reason}; {later} {count + 1}{'' if later == 'turn' else '+'} not judged for this model")
        answers: list[Answer] = []
        for index in range(count):
            history = tuple(PriorTurn(question.turns[k], (turns[k],), question.references[k]) for k in range(index))
            answers.append(Answer(turn_item_id(question.id, index + 1), question.turns[index], "", turns[index],
                                  question.category, question.references[index], shown, line, history=history))
        return qid, answers, self._turn_ids(question, count + 1)


def read_mtbench_questions(path: Path, root: Path) -> tuple[MTBenchQuestions, list[Problem], list[str]]:
    """MT-bench's questions (with the reference answers beside them), the problems found, and the files read.

    Raises `DatasetError` when no question can be used.
    """
    shown = shown_path(path, root)
    read = read_records(path, shown)
    problems = list(read.problems)
    files = [shown]
    reference_path, reference_problems = _reference_file(path, root)
    problems += reference_problems
    references: dict[str, list[str]] = {}
    if reference_path is not None:
        files.append(shown_path(reference_path, root))
        references, found = _read_references(reference_path, files[-1])
        problems += found
    questions: dict[str, Question] = {}
    first: dict[str, int] = {}
    for record in read.records:
        f = FieldReader(record.fields)
        qid = f.ident("question_id")
        if qid is None and not f.errors:
            f.errors.append("missing field 'question_id'")
        turns, wrong = _texts(record.fields.get("turns"), "turns")
        if not turns and wrong is not None:
            f.errors.append(wrong)
        if qid is not None and qid in first and not f.errors:
            f.errors.append(f"duplicate question_id {qid!r} (first at line {first[qid]})")
        if f.errors or qid is None:
            problems.append(Problem(shown, record.line, "; ".join(f.errors) + "; question skipped", qid))
            continue
        if wrong is not None:
            f.notes.append(f"{wrong}: only the first {len(turns)} turn(s) are judged")
        first[qid] = record.line
        questions[qid] = Question(qid, tuple(turns), f.name("category"),
                                  _turn_references(record.fields.get("reference"), references.get(qid), len(turns)))
        if f.notes:
            problems.append(Problem(shown, record.line, "; ".join(f.notes), qid))
    if read.skipped is not None or not questions:
        reasons = "; ".join(str(problem) for problem in problems[:3]) or "no questions"
        raise DatasetError(f"MT-bench questions unusable: {reasons}", path=root)
    return MTBenchQuestions(questions), problems, files


def _turn_references(own: Any, answered: Sequence[str] | None, count: int) -> tuple[str | None, ...]:
    """Each turn's reference: the reference file's answer, else the question's own `reference` entry."""
    own_texts = own if isinstance(own, list) else []
    out: list[str | None] = []
    for turn in range(count):
        if answered is not None and turn < len(answered):
            out.append(answered[turn])
        elif turn < len(own_texts) and isinstance(own_texts[turn], str) and own_texts[turn].strip():
            out.append(own_texts[turn])
        else:
            out.append(None)
    return tuple(out)
