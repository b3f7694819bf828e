"""`--selftest` from the source tree: the report, a clean headless process, and a failure that exits 1."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import judgedesk.core
import pytest
from judgedesk.core import ModelLoadError
from judgedesk.desktop._selftest import run_selftest

from tests.simulated_cpu import AVX512_BUILD, HASWELL, simulate_cpu

pytestmark = pytest.mark.real_model

_VERDICTS = ("A", "B", "tie", "inconsistent")


def _verdict(report: str) -> str:
    line = next(line for line in report.splitlines() if line.startswith("verdict: "))
    return line.removeprefix("verdict: ").split(" ", 1)[0]


def test_selftest_judges_the_pair_and_reports(qapp: object) -> None:
    out = io.StringIO()
    assert run_selftest(out) == 0
    report = out.getvalue()
    assert report.startswith(f"judgedesk {judgedesk.core.__version__} selftest (source)")
    assert "platform plugin: offscreen" in report
    assert "offline guard: installed" in report
    assert f"demo data: {judgedesk.core.demo_data_path()}" in report
    assert f"judge: {judgedesk.core.demo_judge_path()} (sha256 " in report
    assert _verdict(report) in _VERDICTS
    assert "(AB: " in report and ", BA: " in report  # both orders were judged
    assert report.rstrip().endswith("selftest passed")


def test_judge_names_the_judge_that_judges_the_pair(qapp: object, tmp_path: Path) -> None:
    """`--selftest --judge FILE`: the user's own judge file judges the pair, and a synthetic one says so."""
    from judgedesk.quantize import write_synthetic_gguf

    tiny = write_synthetic_gguf("test-tiny", tmp_path / "tiny.gguf", qtype="Q4_K_M").path
    out = io.StringIO()
    assert run_selftest(out, judge=str(tiny)) == 0
    report = out.getvalue()
    assert f"judge: {tiny} [SYNTHETIC: random weights] (sha256 " in report
    assert _verdict(report) in _VERDICTS and "(AB: " in report and ", BA: " in report
    assert report.rstrip().endswith("selftest passed")


def test_a_judge_that_does_not_exist_fails_naming_it(qapp: object, tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_selftest(out, judge=str(tmp_path / "missing.gguf")) == 1
    failed = next(line for line in out.getvalue().splitlines() if line.startswith("selftest FAILED"))
    assert "missing.gguf" in failed


def test_a_failure_is_reported_and_exits_1(qapp: object, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ModelLoadError(Path("demo.gguf"), "llama.cpp could not load it")

    monkeypatch.setattr(judgedesk.core, "load_judge", broken)
    out = io.StringIO()
    assert run_selftest(out) == 1
    report = out.getvalue()
    assert "selftest FAILED: ModelLoadError" in report and "llama.cpp could not load it" in report
    assert "selftest passed" not in report
    assert "Traceback" in capsys.readouterr().err  # the detail goes to stderr, for whoever debugs a bundle


def test_a_build_for_another_cpu_is_one_line_naming_the_library_and_the_fix(
        qapp: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    simulate_cpu(monkeypatch, HASWELL, AVX512_BUILD)
    out = io.StringIO()
    assert run_selftest(out) == 1
    failed = [line for line in out.getvalue().splitlines() if line.startswith("selftest FAILED")]
    assert len(failed) == 1 and "UnsupportedCpuError" in failed[0] and "AVX512F" in failed[0]
    assert "libggml-cpu" in failed[0] and "make setup" in failed[0]
    assert "Traceback" not in capsys.readouterr().err  # a sentence, not a stack


def test_main_runs_the_selftest_headless_in_a_clean_process(tmp_path: Path) -> None:
    """Through judgedesk.desktop.main, as the bundle runs it: no display, no QT_QPA_PLATFORM, cwd elsewhere."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["JUDGEDESK_HOME"] = str(tmp_path / "home")
    code = "import sys; from judgedesk.desktop import main; sys.exit(main(['--selftest']))"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "platform plugin: offscreen" in done.stdout
    assert _verdict(done.stdout) in _VERDICTS
    assert done.stdout.rstrip().endswith("selftest passed")
