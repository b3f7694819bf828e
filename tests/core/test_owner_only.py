"""Owner-only files and folders whatever the umask: new ones are made so, wider ones of ours are tightened,
another user's folder that others can read is refused with a message naming it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from judgedesk.core import InputError
from judgedesk.core._owner_only import make_owner_only_folder, open_owner_only, write_owner_only

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


@pytest.fixture(params=[0, 0o022, 0o277], ids=["umask-0", "umask-022", "umask-277"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_and_folders_are_owner_only_and_usable(tmp_path: Path, umask: int) -> None:
    folder = tmp_path / "a" / "run"
    make_owner_only_folder(folder)
    assert _mode(folder) == 0o700
    write_owner_only(folder / "report.html", "<p>confidential</p>")
    assert _mode(folder / "report.html") == 0o600
    assert (folder / "report.html").read_text(encoding="utf-8") == "<p>confidential</p>"
    os.close(open_owner_only(folder / ".lock"))
    assert _mode(folder / ".lock") == 0o600
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "report.html"]  # no temporary left


def test_an_existing_folder_others_can_read_is_tightened_keeping_the_owners_bits(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o755)
    make_owner_only_folder(folder)
    assert _mode(folder) == 0o700
    os.chmod(folder, 0o511)  # the owner made it read-only: left so, only group and others lose access
    make_owner_only_folder(folder)
    assert _mode(folder) == 0o500
    os.chmod(folder, 0o700)


def test_an_existing_file_of_ours_loses_only_group_and_other_bits(tmp_path: Path) -> None:
    path = tmp_path / "desktop.ini"
    path.write_text("[judge]\n", encoding="utf-8")
    os.chmod(path, 0o644)
    os.close(open_owner_only(path, os.O_RDONLY))
    assert _mode(path) == 0o600
    os.chmod(path, 0o400)  # pinned read-only by its owner: kept
    os.close(open_owner_only(path, os.O_RDONLY))
    assert _mode(path) == 0o400


def test_another_users_folder_that_others_can_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              ) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chmod(folder, 0o775)

    def not_ours(path: object, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", not_ours)
    with pytest.raises(InputError, match=r"theirs: group or others can read this folder \(mode 775\)"):
        make_owner_only_folder(folder)


def test_a_file_where_the_folder_should_be_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="file.txt: exists and is not a folder"):
        make_owner_only_folder(tmp_path / "file.txt")
    with pytest.raises(InputError, match="cannot create the folder"):
        make_owner_only_folder(tmp_path / "file.txt" / "sub")


def test_a_link_planted_under_the_temporary_name_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched", encoding="utf-8")
    (tmp_path / f".report.html.{os.getpid()}.tmp").symlink_to(target)
    with pytest.raises(OSError):
        write_owner_only(tmp_path / "report.html", "secret")
    assert target.read_text(encoding="utf-8") == "untouched"
    assert not (tmp_path / "report.html").exists()


def test_the_hash_cache_naming_the_users_judge_files_is_owner_only(tmp_path: Path, umask: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from judgedesk.core import _hashing

    monkeypatch.setattr(_hashing, "_cache_file", lambda: tmp_path / "cache" / "sha256.json")
    judge = tmp_path / "judge.gguf"
    judge.write_bytes(b"GGUF" + bytes(60))
    _hashing.file_sha256(judge)
    assert _mode(tmp_path / "cache" / "sha256.json") == 0o600


def test_a_copy_is_owner_only_from_its_first_byte(tmp_path: Path, umask: int) -> None:
    from judgedesk.core._owner_only import copy_owner_only

    source = tmp_path / "report.html"
    source.write_text("<p>confidential</p>", encoding="utf-8")
    source.chmod(0o644)
    (tmp_path / "export").mkdir()
    copied = copy_owner_only(source, tmp_path / "export" / "report.html")
    assert copied.read_text(encoding="utf-8") == "<p>confidential</p>" and _mode(copied) == 0o600
