"""Human labels for a folder of per-model outputs: `human_labels.jsonl` beside the output files or one level up.

One JSON object per line, `{"id": item id, "model_a": name, "model_b": name, "label": "A" | "B" | "tie"}`, where
the label says which of model_a and model_b was better. A label is attached to the pair of those two models on
that item in either order (mirrored when the pair is the other way round). Labels for pairs the run does not
include (outside `limit`, another pairing, a missing output) are left unused without a problem; labels naming an
unknown item or model, malformed or duplicated ones are problems.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from .._records import Label
from ._fields import FieldReader
from ._reading import read_records
from ._records import Problem

__all__ = ["HUMAN_LABELS_FILE", "HumanLabels", "find_human_labels", "read_human_labels"]

HUMAN_LABELS_FILE = "human_labels.jsonl"
"""The file name a folder of outputs (or its parent) holds human labels under."""

_MIRRORED: dict[Label, Label] = {"A": "B", "B": "A", "tie": "tie"}


@dataclass(frozen=True)
class _HumanLabel:
    model_a: str
    label: Label


class HumanLabels:
    """Labels by item and unordered model pair."""

    def __init__(self) -> None:
        self._labels: dict[tuple[str, frozenset[str]], tuple[_HumanLabel, int]] = {}

    def add(self, item: str, model_a: str, model_b: str, label: Label, line: int) -> int | None:
        """Add a label; if the pair already has one, keep it and return the line it came from."""
        key = (item, frozenset((model_a, model_b)))
        if key in self._labels:
            return self._labels[key][1]
        self._labels[key] = (_HumanLabel(model_a, label), line)
        return None

    def get(self, item: str, model_a: str, model_b: str) -> Label | None:
        """The label of `model_a` against `model_b` on `item`, mirrored if it was given the other way round."""
        found = self._labels.get((item, frozenset((model_a, model_b))))
        if found is None:
            return None
        label = found[0]
        return label.label if label.model_a == model_a else _MIRRORED[label.label]

    def __len__(self) -> int:
        return len(self._labels)


def find_human_labels(outputs_dir: Path) -> Path | None:
    """`human_labels.jsonl` in the folder of output files, else in its parent; None when neither has one."""
    for folder in (outputs_dir, outputs_dir.parent):
        candidate = folder / HUMAN_LABELS_FILE
        if candidate.is_file():
            return candidate
    return None


def read_human_labels(path: Path, shown: str, *, items: Collection[str], models: Collection[str],
                      ) -> tuple[HumanLabels, list[Problem]]:
    """The labels of a labels file, checked against the items and models read; problems for the rest."""
    read = read_records(path, shown)
    labels = HumanLabels()
    problems = list(read.problems)
    known_models = ", ".join(models)
    for record in read.records:
        f = FieldReader(record.fields)
        item = f.ident("id")
        pair = (f.name("model_a"), f.name("model_b"))
        label = f.ab_label("label")
        for name, value in (("id", item), ("model_a", pair[0]), ("model_b", pair[1])):
            if value is None and f.present(name) is False:
                f.errors.append(f"missing field {name!r}")
        if label is None and not f.notes and not f.present("label"):
            f.errors.append("missing field 'label'")
        if item is not None and item not in items:
            f.errors.append(f"no item {item!r} in the outputs")
        for model in pair:
            if model is not None and model not in models:
                f.errors.append(f"no model {model!r} (models: {known_models})")
        if f.errors or item is None or pair[0] is None or pair[1] is None or label is None:
            problems.append(Problem(shown, record.line, "; ".join(f.errors + f.notes) + "; label skipped", item))
            continue
        if f.notes:  # a model named by a number: used, since it names a model that exists, but reported
            problems.append(Problem(shown, record.line, "; ".join(f.notes), item))
        first = labels.add(item, pair[0], pair[1], label, record.line)
        if first is not None:
            problems.append(Problem(shown, record.line, f"a second label for this pair (first at line {first}); "
                                                        "label skipped", item))
    return labels, problems
