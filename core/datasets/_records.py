"""What reading a data set produces: pairs to judge, responses to grade, and every problem found on the way.

An importer never stops on bad input and never hides it: each malformed line, missing field, duplicate id,
unmatched item, empty response or undecodable file becomes a `Problem` naming the file and line, and the rest of
the data is still read. `--strict` turns problems into a fatal error at the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from .._records import EvalItem, Label

__all__ = ["Dataset", "GradeTask", "PairTask", "Problem"]


@dataclass(frozen=True)
class Problem:
    """Something in the input that could not be used as it is."""

    path: str
    """The file (as given, relative to the data set's root when inside a folder)."""
    line: int | None
    """1-based line (JSONL, CSV) or record number (JSON arrays); None for a whole-file problem."""
    reason: str
    """What is wrong, in words a user can act on."""
    item: str | None = None
    """The item id concerned, when known."""

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line is not None else "")
        return f"{where}: {self.reason}" + (f" (item {self.item!r})" if self.item else "")


@dataclass(frozen=True)
class PairTask:
    """Two models' responses to one item, to be judged as a pair."""

    item: EvalItem
    """The item, with `responses` = (model_a's response, model_b's response)."""
    model_a: str
    """Name of the model that wrote response A."""
    model_b: str
    """Name of the model that wrote response B."""
    human: Label | None = None
    """The human label (A, B or tie) when the data set has one: the majority of its annotators."""


@dataclass(frozen=True)
class GradeTask:
    """One model's response to one item, to be graded on its own."""

    item: EvalItem
    """The item, with `responses` = (the response,)."""
    model: str
    """Name of the model that wrote it."""


@dataclass(frozen=True)
class Dataset:
    """Everything read from a file or folder, ready for a batch run."""

    source: Path
    """The file or folder read."""
    kind: Literal["pandalm", "autoj", "pairs", "alpacaeval", "mtbench", "arenahard", "outputs"]
    """The layout detected: a pairs file (pandalm, autoj, pairs) or a folder of per-model outputs."""
    models: tuple[str, ...]
    """Model names, in a stable order (file order for folders)."""
    pairs: tuple[PairTask, ...]
    """The pairs to judge, in input order."""
    grades: tuple[GradeTask, ...]
    """Every response on its own, for single grading, in input order."""
    problems: tuple[Problem, ...] = field(default=())
    """Everything that was skipped, and why."""
    files: tuple[str, ...] = field(default=())
    """The files read (for the preview)."""

    def without_conversations(self, why: str) -> Dataset:
        """This data set without the later turns of its conversations (items with a history), and one problem
        saying how many were left out and `why`; itself when it has none."""
        pairs = tuple(task for task in self.pairs if not task.item.history)
        grades = tuple(task for task in self.grades if not task.item.history)
        left_out = len(self.pairs) - len(pairs) + len(self.grades) - len(grades)
        if not left_out:
            return self
        problem = Problem(path=self.source.name, line=None,
                          reason=f"{left_out} pair(s) or response(s) of later conversation turns left out: {why}")
        return replace(self, pairs=pairs, grades=grades, problems=(*self.problems, problem))

    def summary(self) -> str:
        """One paragraph a user reads before anything runs."""
        categories = {p.item.category for p in self.pairs if p.item.category}
        labelled = sum(p.human is not None for p in self.pairs)
        lines = [
            f"{self.source}: {self.kind} layout, {len(self.files)} file(s), {len(self.models)} model(s): "
            f"{', '.join(self.models) or '-'}",
            f"{len(self.pairs)} pair(s) to judge, {len(self.grades)} response(s) to grade, "
            f"{labelled} human label(s), {len(categories)} categor{'y' if len(categories) == 1 else 'ies'}",
        ]
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s) (each says whether the row was skipped or read as it is):")
            lines.extend(f"  {p}" for p in self.problems[:20])
            if len(self.problems) > 20:
                lines.append(f"  ... and {len(self.problems) - 20} more")
        return "\n".join(lines)
