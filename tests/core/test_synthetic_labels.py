"""A synthetic judge (`judgedesk quantize synthetic`) is labelled as such everywhere judgedesk names it: the CLI's
warning when it is loaded, `judgedesk models` and the library, and a batch's summary.json and report.html. The
demo judge, a real one, gets none of these labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judgedesk.core import demo_data_path, list_judges, read_library
from judgedesk.core.cli import main
from judgedesk.core.reports._warnings import SYNTHETIC_JUDGE_TITLE
from judgedesk.quantize import write_synthetic_gguf


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_gguf("test-tiny", tmp_path_factory.mktemp("synthetic") / "tiny-synthetic.gguf",
                                context_length=4096).path


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))


def _batch(judge: str, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict, str, str]:
    """Run a 2-prompt batch; (summary.json, report.html, everything printed with its line wrapping undone)."""
    assert main(["batch", str(demo_data_path()), "--judge", judge, "--out", str(out), "--limit", "2",
                 "--threads", "1", "--format", "pandalm"]) == 0
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return summary, (out / "report.html").read_text(encoding="utf-8"), " ".join(printed.split())


def test_a_batch_of_a_synthetic_judge_carries_the_banner(synthetic: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    summary, html, printed = _batch(str(synthetic), tmp_path / "run", capsys)
    assert "SYNTHETIC judge with random weights" in printed  # on loading
    assert SYNTHETIC_JUDGE_TITLE in printed  # with the run's warnings
    assert summary["run"]["synthetic_judge"] is True
    assert summary["warnings"][0]["code"] == "synthetic_judge"
    assert summary["warnings"][0]["title"] == SYNTHETIC_JUDGE_TITLE
    assert f"Warning: {SYNTHETIC_JUDGE_TITLE}." in html


def test_a_batch_of_the_demo_judge_has_no_synthetic_label(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    summary, html, printed = _batch("demo", tmp_path / "run", capsys)
    assert "synthetic_judge" not in summary["run"]
    assert all(w["code"] != "synthetic_judge" for w in summary["warnings"])
    assert "SYNTHETIC" not in printed and SYNTHETIC_JUDGE_TITLE not in html


def test_models_lists_a_synthetic_judge_as_synthetic(synthetic: Path, library: None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "import", str(synthetic), "--reference"]) == 0
    assert "SYNTHETIC judge with random weights" in capsys.readouterr().err
    (record,) = read_library()
    assert record.synthetic is True and record.to_json()["synthetic"] is True
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    line = next(line for line in table.splitlines() if line.startswith("tiny-synthetic"))
    assert "[SYNTHETIC: random weights]" in line
    demo_line = next(line for line in table.splitlines() if line.startswith("demo"))
    assert "SYNTHETIC" not in demo_line
    assert main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["tiny-synthetic"]["synthetic"] is True and rows["demo"]["synthetic"] is False
    assert [e.header.synthetic for e in list_judges() if e.header] == [False, True]


def test_a_real_judges_library_record_is_unchanged(library: None, capsys: pytest.CaptureFixture[str],
                                                   demo_path: Path) -> None:
    assert main(["models", "import", str(demo_path), "--reference", "--name", "smol"]) == 0
    assert "SYNTHETIC" not in capsys.readouterr().err
    (record,) = read_library()
    assert record.synthetic is False and "synthetic" not in record.to_json()
