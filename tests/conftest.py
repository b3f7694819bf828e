"""Session-wide test setup: judgedesk's user folders point into a temporary directory.

The hash cache and the judge library live under JUDGEDESK_HOME when it is set, so no test reads or writes the
real user data or cache folders, and a judge someone copied into their own library never shows up in a test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from judgedesk.core import demo_judge_path

_HOME = "JUDGEDESK_HOME"
pytest_plugins = ["tests.hf_fixtures"]  # smollm2_hf_dir, for tests/quantize/ and tests/core/backends/


@pytest.fixture(scope="session", autouse=True)
def judgedesk_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh JUDGEDESK_HOME for the whole session; the previous value (or its absence) is restored after."""
    home = tmp_path_factory.mktemp("judgedesk_home")
    previous = os.environ.get(_HOME)
    os.environ[_HOME] = str(home)
    try:
        yield home
    finally:
        if previous is None:
            os.environ.pop(_HOME, None)
        else:
            os.environ[_HOME] = previous


@pytest.fixture(scope="session")
def demo_path() -> Path:
    """The embedded demo judge's GGUF file."""
    return demo_judge_path()
