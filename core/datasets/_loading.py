"""`load_dataset`: one entry point that tells a pairs file from a folder of per-model outputs, and `--strict`.

    a file     a pairs file (JSONL, JSON array, CSV/TSV): PandaLM's test set, Auto-J's pairwise test set, or the
               plain pairs layout (see `_pairs_file`)
    a folder   per-model outputs: plain files, AlpacaEval outputs, or FastChat MT-bench (see `_outputs_folder`)

Only an input that cannot be used at all raises (`DatasetError`); everything else that is wrong is a `Problem`
in the returned `Dataset`, and `raise_if_problems` turns those into an error for callers that want no surprises.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import InputError
from ._errors import DatasetError
from ._outputs_dataset import read_outputs_folder
from ._pairing import PAIRINGS, Pairing
from ._pairs_file import read_pairs_file
from ._records import Dataset

__all__ = ["load_dataset", "preview", "raise_if_problems"]

_LISTED_PROBLEMS = 20


def load_dataset(path: str | os.PathLike[str], *, baseline: str | None = None, pairing: Pairing = "all",
                 limit: int | None = None) -> Dataset:
    """Read a pairs file or a folder of per-model outputs, whichever `path` is, in whichever layout it has.

    baseline: a model name. With pairing "baseline", each other model is paired against it; with "all", it only
        makes the baseline model_b in the pairs it is part of. Always model_b, so "A wins" means "beats the baseline".
    pairing: for folders, "all" pairs every two models on every item both answered (model order = file order,
        (m_i, m_j) for i < j); "baseline" pairs each other model with the baseline. For pairs files, "baseline"
        keeps only the pairs that involve the baseline.
    limit: keep the first N items: for a pairs file the first N usable rows (pairs), for a folder the first N
        matched items with all their pairs. Problems past the limit are not reported.

    Raises `DatasetError` when the input is unusable as a whole (no such path, an empty folder, an unreadable or
    empty file, no recognisable layout), and `InputError` for a bad option (unknown baseline, pairing, limit < 1).
    """
    source = Path(path)
    if pairing not in PAIRINGS:
        raise InputError(f"unknown pairing {pairing!r}; use one of: {', '.join(PAIRINGS)}", field="pairing")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"limit must be a whole number of at least 1, not {limit!r}", field="limit")
    if source.is_dir():
        return read_outputs_folder(source, baseline=baseline, pairing=pairing, limit=limit)
    if source.is_file():
        return read_pairs_file(source, baseline=baseline, pairing=pairing, limit=limit)
    if not source.exists():
        raise DatasetError("no such file or folder", path=source)
    raise DatasetError("neither a file nor a folder", path=source)


def raise_if_problems(dataset: Dataset) -> None:
    """Raise `InputError` listing the data set's problems, if it has any (the CLI's --strict)."""
    if not dataset.problems:
        return
    count = len(dataset.problems)
    lines = [f"{count} problem(s) in the input:"]
    lines.extend(f"  {problem}" for problem in dataset.problems[:_LISTED_PROBLEMS])
    if count > _LISTED_PROBLEMS:
        lines.append(f"  ... and {count - _LISTED_PROBLEMS} more")
    raise InputError("\n".join(lines), path=dataset.source)


def preview(dataset: Dataset) -> str:
    """What a user reads before anything runs: layout, files, models, counts, and the problems found."""
    return dataset.summary()
