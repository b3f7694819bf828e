"""The judge library: importing GGUF judges (copied or referenced), listing, resolving, hashing and deleting them.

Most tests use a tiny GGUF written by gguf-py (fast to copy and hash); one imports the real demo judge and loads
it by its library name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter
from judgedesk.core import (
    DEMO_JUDGE,
    FormatError,
    ImportCancelled,
    InputError,
    ModelFileError,
    delete_judge,
    demo_judge_path,
    import_judge,
    judge_sha256,
    list_judges,
    load_judge,
    read_library,
    recorded_format,
    resolve_judge,
    validate_judge_name,
)
from judgedesk.core._library import library_file
from judgedesk.core._paths import judges_dir


@pytest.fixture(autouse=True)
def fresh_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own JUDGEDESK_HOME, so its library starts empty."""
    home = tmp_path / "home"
    monkeypatch.setenv("JUDGEDESK_HOME", str(home))
    return home


def _tiny_gguf(path: Path, *, name: str = "Tiny Judge") -> Path:
    writer = GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_file_type(1)
    writer.add_string("tiny.file_name", path.name)  # each file its own content: a copy of equal content is refused
    writer.add_tensor("token_embd.weight", np.arange(64, dtype=np.float32).reshape(8, 8))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _library_names() -> list[str]:
    return [e.name for e in list_judges() if e.name != DEMO_JUDGE]


def _leftovers() -> list[str]:
    """Hidden temporary files in the library folder (a half-copied judge, an unfinished library.json)."""
    return sorted(p.name for p in judges_dir().glob(".*")) if judges_dir().is_dir() else []


# -- copy and reference ------------------------------------------------------------------------------------------


def test_a_copied_judge_is_in_the_library_folder_with_its_record(tmp_path: Path) -> None:
    original = _tiny_gguf(tmp_path / "My Judge.Q4_K_M.gguf")
    seen: list[tuple[int, int, str]] = []
    record = import_judge(original, progress=lambda done, total, name: seen.append((done, total, name)))
    assert record.name == "My-Judge.Q4_K_M"
    assert record.path == judges_dir() / "My-Judge.Q4_K_M.gguf"
    assert record.path.read_bytes() == original.read_bytes()
    assert not record.referenced
    assert record.source == str(original.resolve())
    assert record.sha256 == _sha256(original)
    assert record.default_format == "generic"
    assert seen[-1] == (original.stat().st_size, original.stat().st_size, original.name)

    entry = next(e for e in list_judges() if e.name == record.name)
    assert (entry.size_bytes, entry.sha256, entry.referenced, entry.problem) == \
        (original.stat().st_size, _sha256(original), False, None)
    assert entry.header is not None and entry.header.name == "Tiny Judge"
    assert entry.imported_at == record.imported_at
    assert resolve_judge(record.name) == record.path
    assert _leftovers() == []


def test_library_json_records_every_field(tmp_path: Path) -> None:
    copied = import_judge(_tiny_gguf(tmp_path / "a.gguf"), source="converted from HF folder /x with Q4_K_M")
    referenced = import_judge(_tiny_gguf(tmp_path / "b.gguf"), copy=False, format="pandalm")
    data = json.loads(library_file().read_text(encoding="utf-8"))
    assert data["version"] == 1
    rows = {row["name"]: row for row in data["judges"]}
    assert rows["a"] == {"name": "a", "path": "a.gguf", "referenced": False,
                         "source": "converted from HF folder /x with Q4_K_M", "imported_at": copied.imported_at,
                         "sha256": copied.sha256, "default_format": "generic"}
    assert rows["b"]["path"] == str((tmp_path / "b.gguf").resolve())
    assert rows["b"]["referenced"] is True
    assert rows["b"]["default_format"] == "pandalm"
    assert read_library() == [copied, referenced]


def test_a_referenced_judge_stays_where_it_is(tmp_path: Path) -> None:
    original = _tiny_gguf(tmp_path / "elsewhere.gguf")
    record = import_judge(original, copy=False, name="kept-outside")
    assert record.path == original.resolve()
    assert list(judges_dir().glob("*.gguf")) == []
    entry = next(e for e in list_judges() if e.name == "kept-outside")
    assert entry.referenced and entry.path == original.resolve() and entry.sha256 == _sha256(original)
    assert resolve_judge("kept-outside") == original.resolve()

    delete_judge("kept-outside")
    assert original.exists(), "forgetting a referenced judge must not delete the user's file"
    assert _library_names() == []


def test_a_file_is_referenced_once(tmp_path: Path) -> None:
    original = _tiny_gguf(tmp_path / "once.gguf")
    import_judge(original, copy=False)
    with pytest.raises(InputError, match="already in the library as 'once'"):
        import_judge(original, copy=False)


def test_a_file_is_copied_once_whatever_its_path(tmp_path: Path) -> None:
    original = _tiny_gguf(tmp_path / "once.gguf")
    import_judge(original)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    same_bytes = shutil.copyfile(original, elsewhere / "renamed.gguf")
    for again in (original, same_bytes):
        with pytest.raises(InputError, match=r"renamed\.gguf|once\.gguf") as raised:
            import_judge(again)
        assert str(raised.value).endswith("this file is already in the library as 'once'")
    assert sorted(p.name for p in judges_dir().iterdir()) == ["library.json", "once.gguf"]
    assert _library_names() == ["once"]


def test_a_file_of_the_same_size_but_other_content_is_copied(tmp_path: Path) -> None:
    first, second = _tiny_gguf(tmp_path / "a.gguf"), _tiny_gguf(tmp_path / "b.gguf")
    assert first.stat().st_size == second.stat().st_size and _sha256(first) != _sha256(second)
    import_judge(first)
    import_judge(second)
    assert _library_names() == ["a", "b"]


def test_recorded_format_wins_and_unknown_formats_are_refused(tmp_path: Path) -> None:
    import_judge(_tiny_gguf(tmp_path / "j.gguf"), format="prometheus")
    assert next(e for e in list_judges() if e.name == "j").default_format == "prometheus"
    with pytest.raises(FormatError):
        import_judge(_tiny_gguf(tmp_path / "k.gguf"), format="no-such-format")
    assert _library_names() == ["j"]


@pytest.mark.real_model
def test_the_demo_judge_imported_by_reference_loads_by_its_name(tmp_path: Path) -> None:
    copy = tmp_path / "demo-copy.gguf"
    shutil.copyfile(demo_judge_path(), copy)
    import_judge(copy, copy=False, name="smol")
    judge = load_judge("smol")
    try:
        assert judge.backend.info.file_type == "Q4_1"
    finally:
        judge.close()


# -- names -------------------------------------------------------------------------------------------------------


def test_derived_names_are_made_unique(tmp_path: Path) -> None:
    folders = [tmp_path / folder for folder in ("x", "y", "z")]
    for folder in folders:
        folder.mkdir()
    # Three files of one name and different content (the same content twice is refused, see above).
    names = [import_judge(_tiny_gguf(folder / "judge.gguf", name=folder.name)).name for folder in folders]
    assert names == ["judge", "judge-2", "judge-3"]
    assert sorted(p.name for p in judges_dir().glob("*.gguf")) == ["judge-2.gguf", "judge-3.gguf", "judge.gguf"]


def test_a_taken_name_is_refused_whatever_its_case(tmp_path: Path) -> None:
    import_judge(_tiny_gguf(tmp_path / "a.gguf"), name="Panda")
    with pytest.raises(InputError, match="already in the library"):
        import_judge(_tiny_gguf(tmp_path / "b.gguf"), name="panda")
    with pytest.raises(InputError, match="demo judge"):
        import_judge(tmp_path / "b.gguf", name="Demo")


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 101, "con", "nul.backup",
                                  "judge.gguf", "white space", "ünïcode"])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(InputError, match="field 'name'"):
        validate_judge_name(name)


def test_names_from_awkward_file_names_are_safe(tmp_path: Path) -> None:
    assert import_judge(_tiny_gguf(tmp_path / "  my judge (v2)!.gguf")).name == "my-judge-v2"
    assert import_judge(_tiny_gguf(tmp_path / "CON.gguf")).name == "CON-judge"
    assert import_judge(_tiny_gguf(tmp_path / "demo.gguf")).name == "demo-judge"


# -- bad files and cancel ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("copy", [True, False])
def test_a_corrupt_file_is_a_model_file_error_and_nothing_is_added(tmp_path: Path, copy: bool) -> None:
    good = _tiny_gguf(tmp_path / "good.gguf")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(ModelFileError, match="broken.gguf: truncated GGUF file"):
        import_judge(broken, copy=copy)
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("not a model" * 10)
    with pytest.raises(ModelFileError, match="notes.gguf: not a GGUF model file"):
        import_judge(not_gguf, copy=copy)
    with pytest.raises(ModelFileError, match="missing.gguf: no such file"):
        import_judge(tmp_path / "missing.gguf", copy=copy)
    assert _library_names() == []
    assert not library_file().exists()
    assert _leftovers() == []


def test_a_cancelled_copy_leaves_nothing(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ImportCancelled, match="nothing was added"):
        import_judge(_tiny_gguf(tmp_path / "c.gguf"), cancel=cancel)
    assert _library_names() == []
    assert list(judges_dir().iterdir()) == []


def test_a_referenced_file_that_disappeared_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    original = _tiny_gguf(tmp_path / "gone.gguf")
    import_judge(original, copy=False)
    original.unlink()
    entry = next(e for e in list_judges() if e.name == "gone")
    assert entry.problem is not None and "referenced file is gone" in entry.problem
    assert entry.header is None and entry.size_bytes is None
    assert entry.default_format == "generic"
    with pytest.raises(ModelFileError, match="gone.gguf: the file of library judge 'gone' is gone"):
        resolve_judge("gone")
    with pytest.raises(ModelFileError, match="gone.gguf"):
        judge_sha256("gone")
    delete_judge("gone")
    assert _library_names() == []


def test_an_unreadable_library_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    library_file().parent.mkdir(parents=True)
    library_file().write_text("{ not json", encoding="utf-8")
    assert [e.name for e in list_judges()] == [DEMO_JUDGE]
    with pytest.raises(InputError, match="library.json: the judge library file cannot be read"):
        import_judge(_tiny_gguf(tmp_path / "x.gguf"), copy=False)
    assert library_file().read_text(encoding="utf-8") == "{ not json"


# -- delete and hashes -------------------------------------------------------------------------------------------


def test_deleting_a_copied_judge_deletes_its_file(tmp_path: Path) -> None:
    record = import_judge(_tiny_gguf(tmp_path / "c.gguf"))
    assert delete_judge(record.name) == record
    assert not record.path.exists()
    assert _library_names() == [] and read_library() == []
    with pytest.raises(InputError, match="unknown judge 'c'"):
        resolve_judge("c")


def test_the_demo_judge_and_unknown_names_cannot_be_deleted() -> None:
    with pytest.raises(InputError, match="demo judge is built into judgedesk"):
        delete_judge(DEMO_JUDGE)
    with pytest.raises(InputError, match="no judge named 'nobody'"):
        delete_judge("nobody")
    assert demo_judge_path().exists()


def test_a_file_placed_in_the_folder_is_listed_hashed_and_deletable(tmp_path: Path) -> None:
    judges_dir().mkdir(parents=True)
    placed = _tiny_gguf(judges_dir() / "by-hand.gguf")
    entry = next(e for e in list_judges() if e.name == "by-hand")
    assert entry.source == "placed in the library folder"
    assert entry.sha256 is None and not entry.referenced and entry.imported_at is None
    assert judge_sha256("by-hand") == _sha256(placed)
    assert resolve_judge("by-hand") == placed
    assert delete_judge("by-hand") == placed
    assert not placed.exists()


def test_a_hash_computed_later_is_recorded(tmp_path: Path) -> None:
    original = _tiny_gguf(tmp_path / "later.gguf")
    import_judge(original, copy=False)
    data = json.loads(library_file().read_text(encoding="utf-8"))
    data["judges"][0]["sha256"] = None
    library_file().write_text(json.dumps(data), encoding="utf-8")
    assert next(e for e in list_judges() if e.name == "later").sha256 is None
    assert judge_sha256("later") == _sha256(original)
    assert next(e for e in list_judges() if e.name == "later").sha256 == _sha256(original)
    with pytest.raises(InputError, match="unknown judge"):
        judge_sha256("nobody")


def test_the_demo_judge_is_listed_first_with_its_size(tmp_path: Path) -> None:
    import_judge(_tiny_gguf(tmp_path / "a.gguf"))
    first = list_judges()[0]
    assert (first.name, first.label) == (DEMO_JUDGE, "demo (weak)")
    assert first.size_bytes == demo_judge_path().stat().st_size
    assert "demo" in first.source


def test_a_moved_file_is_renamed_into_the_library(tmp_path: Path) -> None:
    judges_dir().mkdir(parents=True)
    product = _tiny_gguf(judges_dir() / ".work.gguf")  # a conversion's output, on the library's file system
    content = product.read_bytes()
    record = import_judge(product, move=True, name="converted", source="converted from HF folder X with Q4_K_M")
    assert not product.exists()
    assert record.path.read_bytes() == content and not record.referenced
    assert record.source == "converted from HF folder X with Q4_K_M"


def test_the_recorded_format_is_found_by_name(tmp_path: Path) -> None:
    import_judge(_tiny_gguf(tmp_path / "p.gguf"), copy=False, format="pandalm")
    assert recorded_format("p") == "pandalm"
    assert recorded_format(DEMO_JUDGE) is None and recorded_format(None) is None
    assert recorded_format(str(tmp_path / "p.gguf")) is None


@pytest.mark.real_model
def test_load_judge_uses_the_format_chosen_at_import(tmp_path: Path) -> None:
    from judgedesk.core import demo_judge_path, import_judge, load_judge

    copy = tmp_path / "my-judge.gguf"
    shutil.copyfile(demo_judge_path(), copy)
    import_judge(copy, name="as-pandalm", copy=False, format="pandalm")
    with load_judge("as-pandalm") as judge:
        assert judge.format.name == "pandalm"
    with load_judge("as-pandalm", format="generic") as judge:
        assert judge.format.name == "generic"


@pytest.mark.parametrize("mode", ["copy", "move"])
def test_the_library_its_folder_and_its_judges_are_owner_only_whatever_the_umask(tmp_path: Path, mode: str) -> None:
    source = _tiny_gguf(tmp_path / "judge.gguf")
    source.chmod(0o644)  # a moved file would otherwise keep this
    old = os.umask(0)
    try:
        record = import_judge(source, copy=True, move=mode == "move")
    finally:
        os.umask(old)
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in (judges_dir(), library_file(), Path(record.path))}
    assert modes == {judges_dir(): 0o700, library_file(): 0o600, Path(record.path): 0o600}
