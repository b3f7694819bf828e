"""Desktop test setup: Qt runs offscreen, and each test gets an AppContext with real services.

QT_QPA_PLATFORM must be set before the first QApplication exists, so it is set at import, before pytest-qt makes
its application.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from judgedesk.core import demo_data_path


@pytest.fixture
def app_settings(tmp_path: Path, qapp: object):  # the type lives in a Qt module
    """Settings in a file of this test's own, with runs stored under tmp_path."""
    from judgedesk.desktop._settings import AppSettings

    settings = AppSettings(tmp_path / "settings" / "desktop.ini")
    settings.runs_dir = tmp_path / "runs"
    return settings


@pytest.fixture
def app_context(app_settings: object, qtbot: object) -> Iterator[object]:
    """An AppContext with the real judge service and job pool; shut down (model freed) after the test."""
    from judgedesk.desktop._context import AppContext

    context = AppContext(settings=app_settings)  # type: ignore[arg-type]
    qtbot.addWidget(context.messages)  # type: ignore[attr-defined]
    try:
        yield context
    finally:
        context.shutdown()


@pytest.fixture
def service(qapp: object) -> Iterator[object]:
    """A judge service of its own (no AppContext), shut down after the test."""
    from judgedesk.desktop._judge_service import JudgeService

    svc = JudgeService()
    yield svc
    svc.shutdown()


@pytest.fixture
def demo_folder(tmp_path: Path) -> Path:
    """A private copy of assets/demo (3 models, 20 prompts, human labels)."""
    target = tmp_path / "demo"
    shutil.copytree(demo_data_path(), target)
    return target


@pytest.fixture(scope="session")
def demo_two_prompt_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder: the demo judge on the first two demo prompts (3 models, 6 pairs in both orders; it contradicts
    itself on most), judged once per session. Copy it (`shutil.copytree`) before changing it."""
    from judgedesk.core import load_judge
    from judgedesk.core.datasets import load_dataset
    from judgedesk.core.runs import run_batch

    base = tmp_path_factory.mktemp("demo_two_prompt_run")
    data = base / "demo"
    shutil.copytree(demo_data_path(), data)
    judge = load_judge(n_ctx=2048, n_threads=1)
    try:
        run_batch(base / "run", load_dataset(data, limit=2), judge)
    finally:
        judge.close()
    return base / "run"


# PySide6 (6.12) sometimes aborts while the interpreter tears down after the last test ("Fatal Python error:
# bool_dealloc"/"none_dealloc", a refcount slip in its C extension), which turns a passing run into a failing exit
# status. The app's own entry point ends with os._exit for the same reason; the test process does the same once
# pytest has printed its summary, keeping pytest's exit status.
_exit_status: list[int] = []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _exit_status and "PySide6" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
