"""The error tree: one root, one `Cancelled` for every "the user asked to stop", and a docstring that draws it all."""

from __future__ import annotations

import importlib
import pickle
import pkgutil
import re
from pathlib import Path

import judgedesk.core
import judgedesk.quantize
import pytest
from judgedesk.core import Cancelled, ImportCancelled, JudgedeskError, _errors
from judgedesk.core.runs import RunInterrupted
from judgedesk.quantize import QuantizeCancelled


def _error_classes() -> set[type[JudgedeskError]]:
    """Every JudgedeskError subclass defined in judgedesk.core or judgedesk.quantize, after importing them all."""
    for package in (judgedesk.core, judgedesk.quantize):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not info.name.endswith(".__main__"):  # runs the CLI when imported
                importlib.import_module(info.name)
    found: set[type[JudgedeskError]] = set()
    pending: list[type[JudgedeskError]] = [JudgedeskError]
    while pending:
        error = pending.pop()
        if error.__module__.startswith(("judgedesk.core", "judgedesk.quantize")):
            found.add(error)
        pending.extend(error.__subclasses__())
    return found


@pytest.mark.parametrize("error", [
    ImportCancelled("judge.gguf: import cancelled; nothing was added to the library"),
    RunInterrupted(Path("run"), 3, 10),
    QuantizeCancelled("conversion of folder cancelled; nothing was written"),
])
def test_every_cancellation_is_a_cancelled_judgedesk_error(error: Exception) -> None:
    assert isinstance(error, Cancelled) and isinstance(error, JudgedeskError)


def test_a_run_interrupted_carries_what_was_saved(tmp_path: Path) -> None:
    stop = RunInterrupted(tmp_path, 3, 10)
    assert (stop.folder, stop.done, stop.total) == (tmp_path, 3, 10)
    assert str(stop).startswith(f"stopped after 3 of 10; everything judged is saved in {tmp_path}.")
    copied = pickle.loads(pickle.dumps(stop))
    assert (copied.folder, copied.done, copied.total, str(copied)) == (tmp_path, 3, 10, str(stop))


def test_the_docstring_tree_names_every_error_class() -> None:
    drawn = _errors.__doc__ or ""
    missing = sorted(error.__name__ for error in _error_classes() if not re.search(rf"\b{error.__name__}\b", drawn))
    assert missing == []
