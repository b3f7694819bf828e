"""The PyInstaller bundle (build.spec): it builds, runs its selftest in a clean environment, and quantizes.

The build goes into a temporary folder (not dist/ and build/, which `make bundle` owns) and takes about half a
minute. Every check runs the bundle from elsewhere with no PYTHONPATH, no virtual environment and a fresh
JUDGEDESK_HOME, so it can only use what it carries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from judgedesk.core import demo_judge_path, read_gguf_header
from judgedesk.quantize import quantize_gguf

pytestmark = [pytest.mark.slow, pytest.mark.real_model]

ROOT = Path(__file__).resolve().parents[2]
_MAX_BUNDLE_MB = 500  # ~320 MB today: demo judge ~95, Qt ~100, numpy ~40; torch alone would add over 1 GB
_HEAVY = ("torch", "transformers", "gptqmodel", "optimum", "tokenizers", "llm")
_WINDOW_SECONDS = 10
_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """dist/judgedesk/ built from build.spec into a temporary folder; the executable's path."""
    pytest.importorskip("PyInstaller", reason="the [bundle] extra (pyinstaller) is not installed")
    out = tmp_path_factory.mktemp("bundle")
    done = subprocess.run([sys.executable, "-m", "PyInstaller", str(ROOT / "build.spec"), "--noconfirm",
                           "--distpath", str(out / "dist"), "--workpath", str(out / "build")],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-6000:]
    executable = out / "dist" / "judgedesk" / ("judgedesk.exe" if sys.platform == "win32" else "judgedesk")
    assert executable.is_file()
    yield executable


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key in _KEPT_ENV}
    env["HOME"] = str(tmp_path)
    env["JUDGEDESK_HOME"] = str(tmp_path / "judgedesk_home")
    env.setdefault("LANG", "C.UTF-8")
    return env


def test_bundle_selftest_passes_headless_from_a_clean_environment(bundle: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(bundle), "--selftest"], cwd=tmp_path, env=_clean_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    report = done.stdout
    root = bundle.parent
    assert "selftest (bundle)" in report
    assert "platform plugin: offscreen" in report
    assert "offline guard: installed" in report
    # The demo data and the demo judge are the bundle's own copies, not the source tree's or the venv's.
    assert f"demo data: {root}" in report
    judge_line = next(line for line in report.splitlines() if line.startswith("judge: "))
    assert str(root) in judge_line and demo_judge_path().name in judge_line
    verdict = next(line for line in report.splitlines() if line.startswith("verdict: "))
    assert verdict.split()[1] in ("A", "B", "tie", "inconsistent")
    assert report.rstrip().endswith("selftest passed")


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run (Debian package xvfb) is not installed")
def test_bundle_loads_the_x11_platform_plugin_under_xvfb(bundle: Path, tmp_path: Path) -> None:
    """The xcb plugin is the one a Linux desktop uses, and the one that needs system libraries (libxcb-*)."""
    env = _clean_env(tmp_path) | {"QT_QPA_PLATFORM": "xcb"}
    done = subprocess.run(["xvfb-run", "-a", str(bundle), "--selftest"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "platform plugin: xcb" in done.stdout


def test_bundle_opens_its_window_and_keeps_running(bundle: Path, tmp_path: Path) -> None:
    """The app itself, not just the selftest: every view imports and the window stays up until it is closed."""
    env = _clean_env(tmp_path) | {"QT_QPA_PLATFORM": "offscreen"}
    app = subprocess.Popen([str(bundle)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        deadline = time.monotonic() + _WINDOW_SECONDS
        while time.monotonic() < deadline and app.poll() is None:
            time.sleep(0.2)
        running = app.poll() is None
    finally:
        app.terminate()
        out, err = app.communicate(timeout=30)
    assert running, f"the app exited with {app.returncode}:\n{out}{err}"
    assert "Traceback" not in err, err


def test_bundle_is_small_and_carries_no_hf_stack(bundle: Path) -> None:
    root = bundle.parent
    size_mb = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20
    assert size_mb < _MAX_BUNDLE_MB, f"the bundle is {size_mb:.0f} MB"
    internal = root / "_internal"
    assert not [name for name in _HEAVY if (internal / name).exists()]
    assert list(internal.rglob("libllama*")), "llama.cpp's shared library was not collected"


def test_quantizing_in_the_bundle_runs_the_bundle_as_its_worker(bundle: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """quantize_gguf as the frozen app calls it: the child is the bundle started with --judgedesk-quantize-worker."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle))
    for key, value in _clean_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    steps: list[tuple[int, int]] = []
    out = quantize_gguf(demo_judge_path(), tmp_path / "demo.Q8_0.gguf", qtype="Q8_0", allow_requantize=True,
                        threads=2, progress=lambda done, total, tensor: steps.append((done, total)))
    assert read_gguf_header(out).file_type == "Q8_0"
    assert steps and steps[-1][0] == steps[-1][1]  # progress came back from the bundle, tensor by tensor
