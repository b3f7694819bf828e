"""Desktop test setup: Qt runs offscreen, and each test gets an AppContext with real services.

QT_QPA_PLATFORM must be set before the first QApplication exists, so it is set at import, before pytest-qt makes
its application.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from judgedesk.core import demo_data_path  # noqa: E402


@pytest.fixture
def app_settings(tmp_path: Path, qapp: object):  # noqa: ANN201 - the type lives in a Qt module
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
def demo_folder(tmp_path: Path) -> Path:
    """A private copy of assets/demo (3 models, 20 prompts, human labels)."""
    target = tmp_path / "demo"
    shutil.copytree(demo_data_path(), target)
    return target
