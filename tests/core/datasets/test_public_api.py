"""The data set package's public surface: `__all__`, the error tree, and the preview."""

from __future__ import annotations

import judgedesk.core.datasets as datasets
from judgedesk.core import InputError, JudgedeskError
from judgedesk.core.datasets import DatasetError, load_dataset, preview

from ._data_files import DEMO


def _ruff_order(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2), name


def test_all_is_sorted_and_complete() -> None:
    names = list(datasets.__all__)
    assert names == sorted(set(names), key=_ruff_order)
    assert [name for name in names if not hasattr(datasets, name)] == []
    for name in ("Dataset", "PairTask", "GradeTask", "Problem", "DatasetError", "load_dataset", "preview",
                 "raise_if_problems"):
        assert name in names


def test_dataset_error_is_an_input_error() -> None:
    assert issubclass(DatasetError, InputError) and issubclass(DatasetError, JudgedeskError)
    error = DatasetError("empty folder", path="somewhere")
    assert str(error) == "somewhere: empty folder" and error.path is not None


def test_preview_is_the_summary() -> None:
    data = load_dataset(DEMO)
    assert preview(data) == data.summary()
    assert "3 model(s): model-alpha, model-beta, model-gamma" in preview(data)
