"""Judgements made elsewhere matched to a data set's pairs and grades, as the verdict and grade records a run stores.

A pairwise judgement finds its pair by the first of these that the data set has:

    the data set's own pair id                        judgedesk's JSONL `id`
    the item id the file gives, and the two models    question_id, uid, "<question_id>:turn2"
    its instruction's text id, and the two models     `text_item_id`: how a folder of AlpacaEval outputs names items
    its instruction's exact text, and the two models  items with other ids (single-turn items only)

A grade finds its response by item id and model. The file may list the two models either way round: its labels are
mapped onto the pair's own A and B, and each game's order is the side the judge saw first (AB when the file does
not say). A judgement that finds nothing, or a second one for a pair and order already imported, is a problem
naming its file and line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._errors import InputError
from .._records import EvalItem, Grade, Label, PairwiseVerdict, Status, swap_strength
from ._outputs_folder import text_item_id
from ._peer_records import Game, JudgementFile, PairJudgement
from ._records import Dataset, PairTask, Problem

__all__ = ["MatchedJudgement", "MatchedJudgements", "match_judgements"]

_SWAPPED: dict[Label, Label] = {"A": "B", "B": "A", "tie": "tie"}
_SWAPPED_KEYS = {"A": "B", "B": "A"}


@dataclass(frozen=True)
class MatchedJudgement:
    """One imported judgement of a data set's task, as a run stores it."""

    position: int
    """The task's index in the data set's `pairs` (pairwise) or `grades` (single)."""
    side: str
    """AB, BA or single."""
    status: Status
    record: Mapping[str, Any]
    """The verdict record (`PairwiseVerdict.to_dict()`, with AlpacaEval's `preference`) or the grade record."""
    source: str
    """file:line it came from."""


@dataclass(frozen=True)
class MatchedJudgements:
    """Every judgement of a set of files matched to one data set."""

    mode: Literal["pairwise", "single"]
    judgements: tuple[MatchedJudgement, ...]
    """In file order, then record order."""
    problems: tuple[Problem, ...]
    """Each file's reading problems, then the judgements that matched nothing or repeated one."""


def _item_key(item: EvalItem) -> str:
    """The item a task is of: a folder's tasks name it in their metadata; a pairs file's tasks are their item."""
    key = item.metadata.get("item")
    return key if isinstance(key, str) else item.id


class _PairIndex:
    def __init__(self, dataset: Dataset) -> None:
        self.source = dataset.source
        self.models = dataset.models
        self.by_task: dict[str, int] = {}
        self.by_item: dict[tuple[str, frozenset[str]], int] = {}
        self.items: set[str] = set()
        self.by_text: dict[str, set[str]] = {}
        for position, pair in enumerate(dataset.pairs):
            key = _item_key(pair.item)
            self.by_task.setdefault(pair.item.id, position)
            self.by_item.setdefault((key, frozenset((pair.model_a, pair.model_b))), position)
            self.items.add(key)
            if not pair.item.history:  # a later turn's text alone does not say which conversation it is in
                self.by_text.setdefault(pair.item.instruction, set()).add(key)

    def find(self, judgement: PairJudgement) -> tuple[int | None, str]:
        """The pair's position, or None and why there is none."""
        if judgement.models is None:
            task = judgement.task or ""
            position = self.by_task.get(task)
            return position, "" if position is not None else f"item {task!r} is not in {self.source}"
        keys = [judgement.item] if judgement.item is not None else []
        if judgement.instruction is not None:
            keys.append(text_item_id(judgement.instruction, ""))
            texts = self.by_text.get(judgement.instruction, set())
            if len(texts) == 1:
                keys.extend(texts)
        models = frozenset(judgement.models)
        for key in keys:
            position = self.by_item.get((key, models))
            if position is not None:
                return position, ""
        known = [key for key in keys if key in self.items]
        names = " and ".join(repr(model) for model in judgement.models)
        if known:
            return None, (f"{self.source} has item {known[0]!r} but no pair of {names} (models: "
                          f"{', '.join(self.models)})")
        what = f"item {judgement.item!r}" if judgement.item is not None else \
            f"instruction {_snippet(judgement.instruction or '')!r}"
        return None, f"{what} is not in {self.source}"


def _snippet(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _verdict(pair: PairTask, judgement: PairJudgement, game: Game) -> tuple[Literal["AB", "BA"], dict[str, Any]]:
    """The game as a verdict in the pair's labels, and the side the judge saw first."""
    listed = (pair.model_a, pair.model_b) if judgement.models is None else judgement.models
    swap = listed != (pair.model_a, pair.model_b)
    side: Literal["AB", "BA"] = \
        "AB" if game.first_shown is None or listed[game.first_shown] == pair.model_a else "BA"
    winner, strength, probabilities = game.winner, game.strength, game.probabilities
    if swap:
        winner = None if winner is None else _SWAPPED[winner]
        strength = None if strength is None else swap_strength(strength)
        if probabilities is not None:
            probabilities = {_SWAPPED_KEYS.get(label, label): value for label, value in probabilities.items()}
    verdict = PairwiseVerdict(item_id=pair.item.id, order=side, winner=winner, status=game.status,
                              raw_output=game.raw_output, reason=game.reason,
                              probabilities=None if probabilities is None else dict(probabilities), strength=strength)
    record = verdict.to_dict()
    if game.preference is not None:
        record["preference"] = game.preference
    return side, record


def _file_mode(files: Sequence[JudgementFile]) -> Literal["pairwise", "single"]:
    modes: dict[str, list[str]] = {}
    for file in files:
        if file.mode is not None:
            modes.setdefault(file.mode, []).append(file.shown)
    if len(modes) > 1:
        listed = "; ".join(f"{mode}: {', '.join(shown)}" for mode, shown in modes.items())
        raise InputError(f"the files hold both pairwise judgements and single grades ({listed}); a run is one or "
                         "the other: import each kind with its own command and --out folder")
    if not modes:
        reasons = "\n".join(f"  {problem}" for file in files for problem in file.problems[:3])
        raise InputError(f"no file holds judgements:\n{reasons}")
    return "single" if "single" in modes else "pairwise"


def match_judgements(dataset: Dataset, files: Sequence[JudgementFile]) -> MatchedJudgements:
    """Every judgement of `files` matched to `dataset`'s pairs (or grades); problems for the rest.

    Raises `InputError` when the files hold no judgement at all, or both pairwise judgements and grades.
    """
    mode = _file_mode(files)
    problems: list[Problem] = [problem for file in files for problem in file.problems]
    matched: list[MatchedJudgement] = []
    first: dict[tuple[int, str], str] = {}

    def keep(position: int, side: str, status: Status, record: dict[str, Any], file: JudgementFile,
             number: int) -> None:
        where = f"{file.shown}:{file.lines.line(number)}"
        if (position, side) in first:
            what = "response" if side == "single" else f"pair in order {side}"
            problems.append(file.lines.problem(number, f"a second judgement of this {what} (first at "
                                                       f"{first[(position, side)]}); skipped", record["item_id"]))
            return
        first[(position, side)] = where
        matched.append(MatchedJudgement(position, side, status, record, where))

    if mode == "pairwise":
        index = _PairIndex(dataset)
        for file in files:
            for judgement in file.pairs:
                position, why = index.find(judgement)
                if position is None:
                    problems.append(file.lines.problem(judgement.record, f"{why}; not imported", judgement.item))
                    continue
                pair = dataset.pairs[position]
                for game in judgement.games:
                    side, record = _verdict(pair, judgement, game)
                    keep(position, side, game.status, record, file, judgement.record)
    else:
        grades = {(_item_key(grade.item), grade.model): position for position, grade in enumerate(dataset.grades)}
        for file in files:
            for grade in file.grades:
                position = grades.get((grade.item, grade.model))
                if position is None:
                    problems.append(file.lines.problem(grade.record, f"no response of {grade.model!r} to item "
                                                                     f"{grade.item!r} in {dataset.source}; not "
                                                                     "imported", grade.item))
                    continue
                task = dataset.grades[position]
                record = Grade(item_id=task.item.id, score=grade.score, scale=grade.scale, status=grade.status,
                               raw_output=grade.raw_output).to_dict()
                keep(position, "single", grade.status, record, file, grade.record)
    return MatchedJudgements(mode, tuple(matched), tuple(problems))
