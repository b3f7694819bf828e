"""`judgedesk models import|remove`: the judge library from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter
from judgedesk.core.cli import main


@pytest.fixture(autouse=True)
def fresh_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _tiny_gguf(path: Path) -> Path:
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("Tiny")
    writer.add_file_type(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _listed(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    status, out, _ = _run(capsys, "models", "--json")
    assert status == 0
    return {row["name"]: row for row in json.loads(out)}


def test_import_copies_and_remove_deletes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    original = _tiny_gguf(tmp_path / "tiny.gguf")
    status, out, _ = _run(capsys, "models", "import", str(original), "--name", "tiny-judge", "--format", "pandalm")
    assert status == 0
    assert out.startswith("imported tiny-judge (copied to ") and "format pandalm" in out
    row = _listed(capsys)["tiny-judge"]
    assert row["referenced"] is False and row["default_format"] == "pandalm"
    assert row["source"] == str(original.resolve()) and len(str(row["sha256"])) == 64
    copied = Path(str(row["path"]))
    assert copied.exists()

    status, out, _ = _run(capsys, "models", "remove", "tiny-judge")
    assert status == 0 and out.startswith("deleted tiny-judge")
    assert not copied.exists() and original.exists()
    assert "tiny-judge" not in _listed(capsys)


def test_import_by_reference_and_remove_keeps_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    original = _tiny_gguf(tmp_path / "kept.gguf")
    status, out, _ = _run(capsys, "models", "import", str(original), "--reference")
    assert status == 0 and "referenced at" in out
    assert _listed(capsys)["kept"]["referenced"] is True
    original.unlink()
    row = _listed(capsys)["kept"]
    assert row["size_bytes"] is None and "referenced file is gone" in str(row["problem"])
    status, out, _ = _run(capsys, "models", "remove", "kept")
    assert status == 0 and "removed kept from the library" in out


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(40))
    status, _, err = _run(capsys, "models", "import", str(broken))
    assert status == 1 and err.startswith("judgedesk: error: ") and "broken.gguf" in err
    assert len(err.strip().splitlines()) == 1
    status, _, err = _run(capsys, "models", "remove", "demo")
    assert status == 1 and "cannot be deleted" in err
    status, _, err = _run(capsys, "models", "import", str(_tiny_gguf(tmp_path / "x.gguf")), "--name", "../x")
    assert status == 1 and "field 'name'" in err
