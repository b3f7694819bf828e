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

from tests.local_server import LocalServer

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


@pytest.fixture(scope="session")
def requantized_demo_path(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo judge requantized from its Q4_1 to Q2_K (about 2 s): a second quantization of the same model, so a
    fidelity check compares two judges that really differ (a judge against itself agrees by construction)."""
    from judgedesk.quantize import quantize_gguf

    out = tmp_path_factory.mktemp("requantized") / "SmolLM2-135M-Instruct.Q2_K.gguf"
    return quantize_gguf(demo_path, out, qtype="Q2_K", allow_requantize=True, threads=2)


@pytest.fixture(autouse=True)
def restore_allowlist() -> Iterator[None]:
    """Each test starts with the offline allowlist it found, and leaves it so (the server backend adds to it)."""
    from judgedesk.core import _offline

    saved = _offline._allowlist
    try:
        yield
    finally:
        _offline._allowlist = saved


@pytest.fixture(scope="session")
def local_server(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """llama-cpp-python's OpenAI-compatible server with the demo judge on 127.0.0.1, shared by the session's tests
    (fault tests start their own)."""
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    with LocalServer(demo_path, n_ctx=2048, log=log) as server:
        yield server
