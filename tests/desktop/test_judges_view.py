"""The Judges view, driven through its widgets: import (copy, reference, corrupt), delete, the memory plan, a
fidelity check of the demo judge against a requantized copy, and a Hugging Face folder converted and quantized (and a
conversion cancelled half-way)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from judgedesk.core import DEMO_JUDGE, demo_judge_path, list_judges
from judgedesk.core._hashing import file_sha256
from judgedesk.core._paths import judges_dir
from judgedesk.desktop._judges_view import JudgesView
from judgedesk.desktop._tasks import TaskState
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QMessageBox, QPlainTextEdit, QProgressBar, QPushButton, QTableWidget

_COLUMNS = ("Name", "Architecture", "Quantization", "Size", "SHA-256", "Default format", "Stored", "Source", "Status")


@pytest.fixture(autouse=True)
def fresh_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library of this test's own."""
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))


@pytest.fixture
def view(app_context, qtbot) -> JudgesView:
    widget = JudgesView(app_context)
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "outside" / "smol-copy.gguf"
    copy.parent.mkdir()
    shutil.copyfile(demo_judge_path(), copy)
    return copy


def _rows(view: JudgesView) -> dict[str, dict[str, str]]:
    table = view.findChild(QTableWidget, "judgesTable")
    rows = {}
    for row in range(table.rowCount()):
        name = table.item(row, 0).data(Qt.ItemDataRole.UserRole)
        rows[name] = {column: table.item(row, i).text() for i, column in enumerate(_COLUMNS)}
    return rows


def _import(view: JudgesView, app_context, qtbot, path: Path, *, copy: bool) -> None:
    with qtbot.waitSignal(app_context.judges_did_change, timeout=60_000):
        task = view.import_gguf(path, copy=copy)
        assert task is not None


def _library_leftovers() -> list[str]:
    return sorted(p.name for p in judges_dir().iterdir() if p.name.startswith(".") and p.name != ".converting") \
        if judges_dir().is_dir() else []


# -- the table ---------------------------------------------------------------------------------------------------


def test_the_demo_judge_is_listed_as_weak(view: JudgesView, qtbot) -> None:
    rows = _rows(view)
    assert list(rows) == [DEMO_JUDGE]
    demo = rows[DEMO_JUDGE]
    assert (demo["Name"], demo["Architecture"], demo["Quantization"], demo["Stored"], demo["Status"]) == \
        ("demo (weak)", "llama", "Q4_1", "built in", "ok")
    assert demo["Size"] == "93.8 MiB"
    # Small files are hashed in the background as soon as they are shown.
    qtbot.waitUntil(lambda: _rows(view)[DEMO_JUDGE]["SHA-256"] != "not computed", timeout=30_000)
    assert _rows(view)[DEMO_JUDGE]["SHA-256"] == file_sha256(demo_judge_path())[:12] + "…"
    assert not view.findChild(QPushButton, "deleteJudge").isEnabled()


@pytest.mark.parametrize("copy", [True, False])
def test_importing_a_gguf_adds_it_to_the_table_and_the_library(view: JudgesView, app_context, qtbot,
                                                               demo_copy: Path, copy: bool) -> None:
    _import(view, app_context, qtbot, demo_copy, copy=copy)
    row = _rows(view)["smol-copy"]
    assert (row["Architecture"], row["Quantization"], row["Default format"]) == ("llama", "Q4_1", "generic")
    assert row["Stored"] == ("copied" if copy else "referenced")
    assert row["SHA-256"] == file_sha256(demo_copy)[:12] + "…"
    assert row["Source"] == str(demo_copy.resolve())
    entry = next(e for e in list_judges() if e.name == "smol-copy")
    assert entry.referenced is not copy
    assert entry.path == (judges_dir() / "smol-copy.gguf" if copy else demo_copy.resolve())
    assert view.selected_name() == "smol-copy"
    assert "Added smol-copy" in app_context.messages.current_text()
    assert not view.findChild(QProgressBar, "jobProgress").isVisible()


def test_a_corrupt_file_is_an_error_in_the_message_bar_and_nothing_is_added(view: JudgesView, app_context, qtbot,
                                                                           tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    with demo_judge_path().open("rb") as source:
        broken.write_bytes(source.read(5 << 20))
    task = view.import_gguf(broken, copy=True)
    qtbot.waitSignal(task.task_did_fail, timeout=30_000).wait()
    text = app_context.messages.current_text()
    assert "broken.gguf" in text and "truncated GGUF file" in text
    assert app_context.messages.kind == "error"
    assert [e.name for e in list_judges()] == [DEMO_JUDGE]
    assert list(_rows(view)) == [DEMO_JUDGE]
    assert _library_leftovers() == []


# -- delete ------------------------------------------------------------------------------------------------------


def test_deleting_a_copied_judge_through_the_button(view: JudgesView, app_context, qtbot, demo_copy: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _import(view, app_context, qtbot, demo_copy, copy=True)
    asked: list[str] = []

    def answer_yes(parent, title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    view.select_judge("smol-copy")
    with qtbot.waitSignal(app_context.judges_did_change, timeout=10_000):
        qtbot.mouseClick(view.findChild(QPushButton, "deleteJudge"), Qt.MouseButton.LeftButton)
    assert "is deleted" in asked[0]
    assert not (judges_dir() / "smol-copy.gguf").exists()
    assert list(_rows(view)) == [DEMO_JUDGE]
    assert demo_copy.exists()


def test_declining_the_confirmation_keeps_the_judge(view: JudgesView, app_context, qtbot, demo_copy: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _import(view, app_context, qtbot, demo_copy, copy=False)
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Cancel)
    assert not view.delete_judge("smol-copy")
    assert "smol-copy" in _rows(view)


def test_the_delete_key_in_the_table_deletes(view: JudgesView, app_context, qtbot, demo_copy: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _import(view, app_context, qtbot, demo_copy, copy=False)
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    view.show()
    table = view.findChild(QTableWidget, "judgesTable")
    view.select_judge("smol-copy")
    table.setFocus()
    with qtbot.waitSignal(app_context.judges_did_change, timeout=10_000):
        qtbot.keyClick(table, Qt.Key.Key_Delete)
    assert "smol-copy" not in _rows(view)
    assert demo_copy.exists()


def test_deleting_the_loaded_judge_unloads_it_first(view: JudgesView, app_context, qtbot, demo_copy: Path) -> None:
    _import(view, app_context, qtbot, demo_copy, copy=False)
    app_context.settings.default_judge = "smol-copy"
    task = app_context.service.preload(app_context.settings.judge_spec())
    qtbot.waitSignal(task.task_did_finish, timeout=60_000).wait()
    assert app_context.service.loaded is not None
    with qtbot.waitSignal(app_context.judges_did_change, timeout=30_000):
        assert view.delete_judge("smol-copy", confirm=False)
    assert app_context.service.loaded is None
    assert demo_copy.exists(), "a referenced judge's file is the user's: never deleted"
    assert [e.name for e in list_judges()] == [DEMO_JUDGE]
    assert app_context.settings.default_judge == DEMO_JUDGE


def test_the_demo_judge_cannot_be_deleted(view: JudgesView, app_context) -> None:
    assert not view.delete_judge(DEMO_JUDGE, confirm=False)
    assert "cannot be deleted" in app_context.messages.current_text()
    assert demo_judge_path().exists()


def test_a_referenced_file_that_disappeared_shows_as_a_problem(view: JudgesView, app_context, qtbot,
                                                               demo_copy: Path) -> None:
    _import(view, app_context, qtbot, demo_copy, copy=False)
    demo_copy.unlink()
    view.refresh()
    row = _rows(view)["smol-copy"]
    assert "referenced file is gone" in row["Status"]
    assert row["Size"] == "—"
    view.select_judge("smol-copy")
    assert not view.findChild(QPushButton, "planMemory").isEnabled()
    assert view.delete_judge("smol-copy", confirm=False)
    assert "smol-copy" not in _rows(view)


# -- memory plan -------------------------------------------------------------------------------------------------


def test_the_memory_plan_of_the_demo_judge_has_rows(view: JudgesView, qtbot) -> None:
    table = view.findChild(QTableWidget, "planTable")
    view.select_judge(DEMO_JUDGE)
    view.set_budget(24.0)
    with qtbot.waitSignal(view.findChild(QPushButton, "planMemory").clicked):
        qtbot.mouseClick(view.findChild(QPushButton, "planMemory"), Qt.MouseButton.LeftButton)
    qtbot.waitSignal(view.plan_panel.plan_task.task_did_finish, timeout=30_000).wait()
    rows = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert len(rows) >= 10
    own = next(r for r in rows if r[0] == "Q4_1 (this file)")
    assert own[5] == "fits" and own[6] == "all 30"
    assert "RTX 3090 / 4090" in view.findChild(type(view.plan_panel.plan_title), "planTitle").text()

    view.set_budget(0.05)  # 50 MiB: an F16 135M model does not fit; some layers can be offloaded
    qtbot.waitSignal(view.plan_memory().task_did_finish, timeout=30_000).wait()
    f16 = next([table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())
               if table.item(r, 0).text() == "F16")
    assert f16[5] == "does not fit"
    assert " of 30 (" in f16[6]


def test_planning_for_the_cpu(view: JudgesView, qtbot) -> None:
    view.set_budget(0, device="cpu")
    qtbot.waitSignal(view.plan_memory(demo_judge_path()).task_did_finish, timeout=30_000).wait()
    assert view.plan_panel.last_plan is not None and view.plan_panel.last_plan.device == "cpu"
    assert view.findChild(QTableWidget, "planTable").item(0, 6).text() == "CPU only"


# -- fidelity ----------------------------------------------------------------------------------------------------


@pytest.mark.real_model
def test_a_fidelity_check_of_the_demo_judge_against_a_requantized_copy(view: JudgesView, app_context, qtbot,
                                                                       requantized_demo_path: Path) -> None:
    # Q4_1 against Q2_K of the same model: a real comparison (a judge against itself would agree by construction).
    _import(view, app_context, qtbot, requantized_demo_path, copy=False)
    candidate = requantized_demo_path.stem
    app_context.settings.threads = 1  # the test machine's two cores are shared
    progress: list[object] = []
    view.findChild(QCheckBox, "fidelityBothOrders").setChecked(False)  # 3 pairs x 1 order x 2 judges: 6 verdicts
    task = view.fidelity_panel.run_fidelity(DEMO_JUDGE, candidate, limit=1)
    assert task is not None
    task.task_did_progress.connect(progress.append)
    qtbot.waitSignal(task.task_did_finish, timeout=300_000).wait()
    report = view.fidelity_panel.last_report
    assert report is not None and report.orders == 3
    assert "Q4_1" in report.reference and "Q2_K" in report.candidate
    assert report.agreeing + len(report.flipped) == report.orders and 0.0 <= report.agreement <= 1.0
    assert report.mean_kl is not None and report.mean_kl > 0  # two quantizations: the probabilities moved
    summary = view.findChild(type(view.fidelity_panel.fidelity_summary), "fidelitySummary").text()
    assert summary.startswith(f"Agreement {report.agreement:.1%} ({report.agreeing}/{report.orders} orders)")
    assert f"mean KL {report.mean_kl:.4f} nats" in summary and summary.endswith(f"{len(report.flipped)} flipped")
    text = view.findChild(QPlainTextEdit, "fidelityResult").toPlainText()
    assert f"verdict agreement: {report.agreeing}/{report.orders} orders" in text
    for flip in report.flipped:  # every flipped order is listed, with both winners
        assert f"{flip.pair} [{flip.order}]: {flip.reference} -> {flip.candidate}" in text
    assert view.findChild(QProgressBar, "fidelityProgress").value() == 1000
    assert {stage for stage, _, _ in progress} == {"reference", "candidate"}
    assert view.findChild(QPushButton, "runFidelity").isEnabled()


@pytest.mark.real_model
def test_a_fidelity_check_can_be_cancelled(view: JudgesView, qtbot) -> None:
    task = view.fidelity_panel.run_fidelity(DEMO_JUDGE, DEMO_JUDGE, limit=3)
    qtbot.waitUntil(lambda: task.state is TaskState.RUNNING, timeout=30_000)
    with qtbot.waitSignal(task.task_was_cancelled, timeout=60_000):
        qtbot.mouseClick(view.findChild(QPushButton, "cancelFidelity"), Qt.MouseButton.LeftButton)
    assert view.fidelity_panel.last_report is None
    assert "cancelled" in view.fidelity_panel.fidelity_status.text()
    assert view.findChild(QPushButton, "runFidelity").isEnabled()
    assert not view.findChild(QPushButton, "cancelFidelity").isEnabled()


# -- Hugging Face folders ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama checkpoint with a SentencePiece tokenizer (seconds to convert and quantize)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    spm = pytest.importorskip("sentencepiece")
    from tests.quantize._tiny_checkpoints import build_model, train_sentencepiece

    folder = tmp_path_factory.mktemp("checkpoints") / "tiny-llama"
    folder.mkdir()
    train_sentencepiece(folder)
    vocab = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model")).vocab_size()
    build_model(folder, "llama", vocab_size=vocab)
    return folder


def test_a_hf_folder_is_converted_quantized_and_added(view: JudgesView, app_context, qtbot,
                                                      tiny_checkpoint: Path) -> None:
    progress: list[tuple[object, ...]] = []
    task = view.import_hf_folder(tiny_checkpoint, qtype="Q4_K_M")
    task.task_did_progress.connect(progress.append)
    assert view.findChild(QPushButton, "cancelJob").isVisibleTo(view)
    qtbot.waitSignal(task.task_did_finish, timeout=120_000).wait()
    row = _rows(view)["tiny-llama.Q4_K_M"]
    assert (row["Architecture"], row["Quantization"], row["Stored"]) == ("llama", "Q4_K_M", "copied")
    assert row["Source"] == f"converted from HF folder {tiny_checkpoint} with Q4_K_M"
    entry = next(e for e in list_judges() if e.name == "tiny-llama.Q4_K_M")
    assert entry.path == judges_dir() / "tiny-llama.Q4_K_M.gguf" and entry.sha256 == file_sha256(entry.path)
    stages = [p[0] for p in progress]
    assert "Converting" in stages and "Quantizing to Q4_K_M" in stages
    assert view.findChild(QProgressBar, "jobProgress").value() == 1000
    assert _library_leftovers() == [] and not (judges_dir() / ".converting").exists()


def test_a_conversion_cancelled_midway_adds_nothing(view: JudgesView, app_context, qtbot,
                                                    tiny_checkpoint: Path) -> None:
    task = view.import_hf_folder(tiny_checkpoint, qtype="Q5_K_M")
    task.task_did_progress.connect(lambda _: qtbot.mouseClick(view.findChild(QPushButton, "cancelJob"),
                                                              Qt.MouseButton.LeftButton))
    qtbot.waitSignal(task.task_was_cancelled, timeout=60_000).wait()
    assert [e.name for e in list_judges()] == [DEMO_JUDGE]
    assert app_context.messages.kind == "info" and "cancelled" in app_context.messages.current_text()
    assert _library_leftovers() == [] and not (judges_dir() / ".converting").exists()
    assert not view.findChild(QPushButton, "cancelJob").isVisibleTo(view)


def test_a_folder_that_is_no_checkpoint_is_an_error_in_the_message_bar(view: JudgesView, app_context, qtbot,
                                                                        tmp_path: Path) -> None:
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    task = view.import_hf_folder(empty)
    qtbot.waitSignal(task.task_did_fail, timeout=30_000).wait()
    assert app_context.messages.kind == "error" and "not-a-model" in app_context.messages.current_text()
    assert "Traceback" not in app_context.messages.current_text()
    assert [e.name for e in list_judges()] == [DEMO_JUDGE]


def test_a_file_that_is_not_gguf_points_to_the_import_hf_folder_button(view: JudgesView, app_context, qtbot,
                                                                        tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      " + bytes(64))
    task = view.import_gguf(weights, copy=True)
    qtbot.waitSignal(task.task_did_fail, timeout=30_000).wait()
    text = app_context.messages.current_text()
    assert app_context.messages.kind == "error" and str(weights) in text and "not a GGUF model file" in text
    button = view.findChild(QPushButton, "importHfFolder")
    assert f"“{button.text().replace('&', '')}”" in text  # the button's own caption, as the user sees it
    assert "judgedesk quantize" not in text and "command" not in text
    assert [e.name for e in list_judges()] == [DEMO_JUDGE]
