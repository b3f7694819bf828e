"""desktop.ini is readable by its owner only, whatever the umask, and so is the folder it is kept in."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from judgedesk.desktop._settings import AppSettings

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_settings_file_and_its_folder_are_owner_only_under_umask_0(tmp_path: Path, qapp: object) -> None:
    old = os.umask(0)
    try:
        settings = AppSettings(tmp_path / "data" / "desktop.ini")
        settings.server_url = "http://10.0.0.5:8080"
        settings.runs_dir = tmp_path / "runs"
    finally:
        os.umask(old)
    assert _mode(tmp_path / "data") == 0o700
    assert _mode(tmp_path / "data" / "desktop.ini") == 0o600
    assert "10.0.0.5" in (tmp_path / "data" / "desktop.ini").read_text(encoding="utf-8")


def test_an_older_settings_file_others_can_read_is_tightened(tmp_path: Path, qapp: object) -> None:
    path = tmp_path / "data" / "desktop.ini"
    path.parent.mkdir(mode=0o755)
    path.write_text("[judge]\nthreads=2\n", encoding="utf-8")
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    settings = AppSettings(path)
    assert settings.threads == 2
    settings.threads = 3
    assert (_mode(path.parent), _mode(path)) == (0o700, 0o600)
