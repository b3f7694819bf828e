"""Data sets: pairs files and folders of per-model outputs, read into pairs to judge and responses to grade.

`load_dataset(path)` tells a pairs file (PandaLM's test set, Auto-J's pairwise test set, plain pairs) from a folder
of per-model outputs (plain files, AlpacaEval outputs, FastChat MT-bench) and reads it natively. Bad input never
stops the import and is never hidden: every line, field or file that could not be used is a `Problem` in the
returned `Dataset`. Only an input unusable as a whole raises `DatasetError`.
"""

from __future__ import annotations

from ._errors import DatasetError
from ._human_labels import HUMAN_LABELS_FILE
from ._loading import load_dataset, preview, raise_if_problems
from ._pairing import Pairing
from ._records import Dataset, GradeTask, PairTask, Problem

__all__ = [
    "HUMAN_LABELS_FILE",
    "Dataset",
    "DatasetError",
    "GradeTask",
    "PairTask",
    "Pairing",
    "Problem",
    "load_dataset",
    "preview",
    "raise_if_problems",
]
