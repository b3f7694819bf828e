"""Opening a judge, the one way: which format it gets, and who closes its model.

The format order (given, else chosen at import, else recorded in the file, else hinted by the judge's names, else
generic) is tested here once, through `judge_with_backend`, the function every caller (CLI, desktop app, fidelity
check) goes through.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGUFWriter
from judgedesk.core import Judge, choose_format, default_format_for, import_judge, judge_with_backend
from judgedesk.core.backends._mock import MockBackend


@pytest.fixture(autouse=True)
def fresh_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own JUDGEDESK_HOME, so its library starts empty."""
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))


class ClosingMock(MockBackend):
    """The mock backend, counting how often it was closed."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def _backend(*, model_name: str = "Some-Judge-7B", recorded: str | None = None) -> MockBackend:
    backend = MockBackend(model_name=model_name)
    backend.info = replace(backend.info, judge_format=recorded)
    return backend


def _library_judge(tmp_path: Path, name: str, fmt: str) -> str:
    path = tmp_path / f"{name}.gguf"
    writer = GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    import_judge(path, name=name, copy=False, format=fmt)
    return name


def test_the_format_is_given_else_chosen_at_import_else_recorded_in_the_file_else_hinted_by_name(
        tmp_path: Path) -> None:
    name = _library_judge(tmp_path, "imported", "prometheus")
    hinted = _backend(model_name="PandaLM-7B")
    recorded = _backend(model_name="PandaLM-7B", recorded="autoj")

    def chosen(backend: MockBackend, **options: str) -> str:
        return judge_with_backend(backend, **options).format.name

    assert chosen(recorded, judge=name, format="generic") == "generic"  # given
    assert chosen(recorded, judge=name) == "prometheus"  # chosen when it was imported
    assert chosen(recorded, judge="not-in-the-library") == "autoj"  # recorded in the file
    assert chosen(hinted) == "pandalm"  # recognised by name
    assert chosen(_backend()) == "generic"
    # The same order, as the plain function the library's listing and import also use.
    assert choose_format("generic", library="prometheus", recorded="autoj", names=("PandaLM",)) == "generic"
    assert choose_format(None, library="prometheus", recorded="autoj", names=("PandaLM",)) == "prometheus"
    assert choose_format(None, recorded="autoj", names=("PandaLM",)) == "autoj"
    assert choose_format(None, names=("PandaLM",)) == "pandalm"
    assert choose_format() == "generic"


@pytest.mark.parametrize(("names", "expected"), [
    (("PandaLM-7B",), "pandalm"),
    (("", "panda-lm.Q4_K_M.gguf"), "pandalm"),
    (("Auto-J-13B",), "autoj"),
    (("autoj-bilingual-6b",), "autoj"),
    (("prometheus-7b-v2.0",), "prometheus"),
    (("SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.Q4_1.gguf"), "generic"),
])
def test_the_name_hints(names: tuple[str, ...], expected: str) -> None:
    assert default_format_for(None, *names) == expected
    assert default_format_for("generic", *names) == "generic"  # what the file records wins over its name


def test_a_judge_closes_the_backend_it_owns_and_leaves_a_shared_one_open() -> None:
    owned = ClosingMock()
    with Judge(owned, format="generic") as judge:
        assert judge.owns_backend
    assert owned.closed == 1

    shared = ClosingMock()
    for _ in range(2):
        with judge_with_backend(shared, format="pandalm", owns_backend=False) as judge:
            assert not judge.owns_backend
    assert shared.closed == 0
