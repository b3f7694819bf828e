"""A folder of per-model outputs as a data set: answers matched into items, then pairs, grades and human labels.

Answers are matched across models by id when every usable record has one (MT-bench: always, by question_id and
turn; Arena-Hard: always, by uid),
else by the exact (instruction, input) text; a text-matched item's id is `text-` and 12 hex digits of the text's
SHA-256 (`text_item_id`), so it stays the same whatever the file order or `limit`. Items keep the order they are
first met in (files in name order, records in file order). Ids of what is judged:

    pair    <item id>|<model_a>|<model_b>
    grade   <item id>|<model>

An MT-bench item past turn 1 ("81:turn2") carries the earlier turns as its history: a pair's with both models'
answers in the pair's response order, a grade's with the graded model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .._records import EvalItem, Label, PriorTurn
from ._arenahard import read_arenahard_questions
from ._errors import DatasetError
from ._human_labels import find_human_labels, read_human_labels
from ._mtbench import read_mtbench_questions
from ._outputs_folder import (
    EXPECTED_FOLDER_LAYOUTS,
    Answer,
    FolderLayout,
    ModelAnswers,
    QuestionBank,
    find_folder_layout,
    read_model_answers,
    shown_path,
    text_item_id,
)
from ._pairing import Pairing, check_pairing, model_pairs
from ._records import Dataset, GradeTask, PairTask, Problem

__all__ = ["read_outputs_folder", "text_item_id"]


@dataclass
class _Item:
    id: str
    first: Answer
    answers: dict[str, Answer] = field(default_factory=dict)

    def eval_item(self, responses: tuple[str, ...], item_id: str, metadata: dict[str, object],
                  history: tuple[PriorTurn, ...] = ()) -> EvalItem:
        first = self.first
        return EvalItem(id=item_id, instruction=first.instruction, responses=responses, input=first.input,
                        reference=first.reference, category=first.category,
                        metadata={"item": self.id, **first.extra, **metadata}, history=history)


def _unique_model_names(models: list[ModelAnswers]) -> tuple[list[ModelAnswers], list[Problem]]:
    """Two files may not share a model name: the later one falls back to its file name, then to its path."""
    taken: dict[str, str] = {}
    renamed, problems = [], []
    for model in models:
        name = model.model
        if name in taken:
            name = model.fallback if model.fallback not in taken else model.shown
            problems.append(Problem(model.shown, None, f"model name {model.model!r} is already used by "
                                                       f"{taken[model.model]}; this file's model is named {name!r}"))
            model = replace(model, model=name)
        taken[name] = model.shown
        renamed.append(model)
    return renamed, problems


def _match(models: list[ModelAnswers], by_id: bool) -> tuple[dict[str, _Item], list[Problem]]:
    """Items by id, in first-met order; problems for duplicates within a file and for differing texts."""
    items: dict[str, _Item] = {}
    problems = []
    for model in models:
        for answer in model.answers:
            item_id = answer.id if by_id and answer.id is not None else text_item_id(answer.instruction, answer.input)
            item = items.setdefault(item_id, _Item(item_id, answer))
            if model.model in item.answers:
                first = item.answers[model.model]
                what = f"id {item_id!r}" if by_id else "instruction and input"
                reason = f"duplicate {what} (first at {model.unit} {first.line}); skipped"
                problems.append(Problem(answer.shown, answer.line, reason, item_id))
                continue
            if by_id and (answer.instruction, answer.input) != (item.first.instruction, item.first.input):
                problems.append(Problem(answer.shown, answer.line, f"instruction or input differs from "
                                                                   f"{item.first.shown}'s for the same id; "
                                                                   f"{item.first.shown}'s is used", item_id))
            item.answers[model.model] = answer
    return items, problems


def _missing(items: list[_Item], models: list[ModelAnswers]) -> list[Problem]:
    """One problem per model and item it has no answer for (and no record that was skipped with a problem)."""
    problems = []
    for item in items:
        have = len(item.answers)
        for model in models:
            if model.model not in item.answers and item.id not in model.attempted:
                problems.append(Problem(model.shown, None, f"no output for this item, which {have} other model(s) "
                                                           "have: pairs with it are skipped", item.id))
    return problems


def read_outputs_folder(root: Path, *, baseline: str | None, pairing: Pairing, limit: int | None) -> Dataset:
    """A folder of per-model outputs as a data set; `DatasetError` when it holds no usable layout."""
    layout = find_folder_layout(root)
    files: list[str] = []
    problems: list[Problem] = list(layout.problems)
    bank = _question_bank(layout, root, files, problems)
    read_models = [read_model_answers(path, shown_path(path, root), name, bank) for path, name in layout.files]
    files.extend(model.shown for model in read_models)
    for model in read_models:
        problems.extend(model.problems)
    models, name_problems = _unique_model_names([model for model in read_models if model.recognised])
    problems.extend(name_problems)
    if not models:
        reasons = "\n".join(f"  {problem}" for problem in problems[:5])
        raise DatasetError(f"no file holds model outputs:\n{reasons}\n{EXPECTED_FOLDER_LAYOUTS}", path=root)

    answers = [answer for model in models for answer in model.answers]
    by_id = bank is not None or (bool(answers) and all(answer.id is not None for answer in answers))
    matched, match_problems = _match(models, by_id)
    problems.extend(match_problems)
    names = [model.model for model in models]
    check_pairing(names, baseline, pairing)

    items = list(matched.values())
    if limit is not None and len(items) > limit:
        items = items[:limit]
        kept = {item.id for item in items}
        # Problems about items past the limit go with them; those about lines and files stay.
        problems = [problem for problem in problems if problem.item is None or problem.item in kept]
    problems.extend(_missing(items, models))

    pairs = [_pair(item, a, b) for item in items for a, b in model_pairs(names, baseline, pairing)
             if a in item.answers and b in item.answers]
    labels_path = find_human_labels(layout.outputs_dir)
    if labels_path is not None:
        shown = shown_path(labels_path, root)
        files.append(shown)
        labels, label_problems = read_human_labels(labels_path, shown, items=matched.keys(), models=names)
        problems.extend(label_problems)
        pairs = [_with_human(pair, labels.get(pair.item.metadata["item"], pair.model_a, pair.model_b))
                 for pair in pairs]
    grades = [GradeTask(item=item.eval_item((answer.output,), f"{item.id}|{name}",
                                            {"model": name, "file": answer.shown, "line": answer.line},
                                            answer.history), model=name)
              for item in items for name in names if (answer := item.answers.get(name)) is not None]
    kind = layout.kind if layout.kind != "outputs" else "alpacaeval" if all(m.alpaca for m in models) else "outputs"
    return Dataset(source=root, kind=kind, models=tuple(names), pairs=tuple(pairs), grades=tuple(grades),
                   problems=tuple(problems), files=tuple(files))


def _question_bank(layout: FolderLayout, root: Path, files: list[str], problems: list[Problem],
                   ) -> QuestionBank | None:
    """A benchmark's questions (MT-bench, Arena-Hard), their files and problems noted; None for other folders."""
    if layout.questions is None:
        return None
    read = read_mtbench_questions if layout.kind == "mtbench" else read_arenahard_questions
    bank, question_problems, question_files = read(layout.questions, root)
    files.extend(question_files)
    problems.extend(question_problems)
    return bank


def _pair(item: _Item, model_a: str, model_b: str) -> PairTask:
    a, b = item.answers[model_a], item.answers[model_b]
    metadata: dict[str, object] = {"model_a": model_a, "model_b": model_b, "files": [a.shown, b.shown],
                                   "lines": [a.line, b.line]}
    # Both answers are to the same turn of the same question, so their earlier turns line up one to one.
    history = tuple(PriorTurn(turn_a.question, (turn_a.answers[0], turn_b.answers[0]), turn_a.reference)
                    for turn_a, turn_b in zip(a.history, b.history, strict=True))
    return PairTask(item=item.eval_item((a.output, b.output), f"{item.id}|{model_a}|{model_b}", metadata, history),
                    model_a=model_a, model_b=model_b)


def _with_human(pair: PairTask, label: Label | None) -> PairTask:
    if label is None:
        return pair
    item = replace(pair.item, metadata={**pair.item.metadata, "human": label})
    return replace(pair, item=item, human=label)
