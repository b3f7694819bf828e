"""Arena-Hard-Auto's folder: its questions and each model's answers.

    question.jsonl               uid, category, cluster, prompt
    model_answer/<model>.jsonl   uid, ans_id, model, messages: [{role: user, content: the prompt},
                                 {role: assistant, content: {answer: ...}}], tstamp

The item id is the question's uid; its category is the question's `category` (Arena-Hard picks the judge's
system prompt and baseline by it) and its `cluster` (the topic) is kept in the item's metadata. The model is the
records' `model`, else the file's name. The answer judged is the last assistant message, as Arena-Hard's
gen_judgment.py reads it (`messages[-1]["content"]["answer"]`); a plain text content is read too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import DatasetError
from ._fields import FieldReader, json_kind
from ._outputs_folder import Answer, shown_path
from ._reading import read_records
from ._records import Problem

__all__ = ["ArenaHardQuestions", "ArenaQuestion", "read_arenahard_questions"]


@dataclass(frozen=True)
class ArenaQuestion:
    """An Arena-Hard question."""

    uid: str
    prompt: str
    category: str | None
    cluster: str | None


def _question_id(f: FieldReader) -> str | None:
    """`uid`, or `question_id` as Arena-Hard v0.1's first releases named it."""
    uid = f.ident("uid")
    if uid is None:
        uid = f.ident("question_id")
    if uid is None and not f.errors:
        f.errors.append("missing field 'uid'")
    return uid


def _answer_text(messages: Any) -> tuple[str | None, str | None]:
    """The last assistant message's answer, or what is wrong with `messages`."""
    if not isinstance(messages, list) or not messages:
        found = "nothing" if messages is None else json_kind(messages)
        return None, f"field 'messages' must be a non-empty list of messages (found {found})"
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "assistant":
        return None, f"messages[{len(messages) - 1}] is not the assistant's message"
    content = last.get("content")
    where = f"messages[{len(messages) - 1}].content"
    if isinstance(content, Mapping):
        content, where = content.get("answer"), where + ".answer"
    f = FieldReader({where: content})
    text = f.text(where, required=True)
    if text is None or f.errors:
        return None, "; ".join(f.errors)
    if not text.strip():
        return None, f"empty output ({where})"
    return text, None


class ArenaHardQuestions:
    """Arena-Hard's questions, turning a model_answer record into its answer (`QuestionBank`)."""

    model_field: str | None = "model"

    def __init__(self, questions: Mapping[str, ArenaQuestion]) -> None:
        self.questions = questions

    def answers(self, f: FieldReader, shown: str, line: int) -> tuple[str | None, list[Answer], set[str]]:
        uid = _question_id(f)
        question = self.questions.get(uid) if uid is not None else None
        if uid is not None and question is None:
            f.errors.append(f"uid {uid} is not in question.jsonl")
        text, wrong = _answer_text(f.fields.get("messages"))
        if wrong is not None:
            f.errors.append(wrong)
        if f.errors or question is None or text is None:
            return uid, [], set() if uid is None else {uid}
        extra = {"cluster": question.cluster} if question.cluster is not None else {}
        return uid, [Answer(uid, question.prompt, "", text, question.category, None, shown, line, extra=extra)], set()


def read_arenahard_questions(path: Path, root: Path) -> tuple[ArenaHardQuestions, list[Problem], list[str]]:
    """Arena-Hard's questions, the problems found, and the files read; `DatasetError` when none can be used."""
    shown = shown_path(path, root)
    read = read_records(path, shown)
    problems = list(read.problems)
    questions: dict[str, ArenaQuestion] = {}
    first: dict[str, int] = {}
    for record in read.records:
        f = FieldReader(record.fields)
        uid = _question_id(f)
        prompt = f.text("prompt", required=True)
        if prompt is not None and not prompt.strip():
            f.errors.append("empty 'prompt'")
        if uid is not None and uid in first and not f.errors:
            f.errors.append(f"duplicate uid {uid!r} (first at line {first[uid]})")
        if f.errors or uid is None or prompt is None:
            problems.append(Problem(shown, record.line, "; ".join(f.errors) + "; question skipped", uid))
            continue
        first[uid] = record.line
        questions[uid] = ArenaQuestion(uid, prompt, f.name("category"), f.name("cluster"))
        if f.notes:
            problems.append(Problem(shown, record.line, "; ".join(f.notes), uid))
    if read.skipped is not None or not questions:
        reasons = "; ".join(str(problem) for problem in problems[:3]) or "no questions"
        raise DatasetError(f"Arena-Hard questions unusable: {reasons}", path=root)
    return ArenaHardQuestions(questions), problems, [shown]
