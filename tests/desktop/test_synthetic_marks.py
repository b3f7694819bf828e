"""The app marks a synthetic judge wherever it names one: the Judges table and details, the judge picker, the
status bar's loaded judge and each verdict's manifest line; the demo judge (a real one) is never marked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from judgedesk.core import DEMO_JUDGE, Manifest, import_judge
from judgedesk.desktop._app import start_window
from judgedesk.desktop._judge_picker import JudgePicker
from judgedesk.desktop._judges_view import JudgesView
from judgedesk.desktop._settings import AppSettings
from judgedesk.desktop._synthetic_mark import SYNTHETIC_MARK
from judgedesk.desktop._verdict_card import manifest_summary
from judgedesk.quantize import write_synthetic_gguf
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget


@pytest.fixture(autouse=True)
def library_with_a_synthetic_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))
    path = write_synthetic_gguf("test-tiny", tmp_path / "tiny.gguf").path
    import_judge(path, name="tiny-synthetic", copy=False)


def test_judges_table_and_details_mark_it(app_context, qtbot) -> None:
    view = JudgesView(app_context)
    qtbot.addWidget(view)
    table = view.findChild(QTableWidget, "judgesTable")
    names = {table.item(row, 0).data(Qt.ItemDataRole.UserRole): table.item(row, 0).text()
             for row in range(table.rowCount())}
    assert names["tiny-synthetic"] == f"tiny-synthetic {SYNTHETIC_MARK}"
    assert SYNTHETIC_MARK not in names[DEMO_JUDGE]
    view.select_judge("tiny-synthetic")
    assert "SYNTHETIC judge" in view.details.text()
    view.select_judge(DEMO_JUDGE)
    assert "SYNTHETIC" not in view.details.text()


def test_the_judge_picker_marks_it(app_context, qtbot) -> None:
    picker = JudgePicker(app_context)
    qtbot.addWidget(picker)
    labels = {picker.judge_box.itemData(i): picker.judge_box.itemText(i) for i in range(picker.judge_box.count())}
    assert labels["tiny-synthetic"].endswith(SYNTHETIC_MARK)
    assert SYNTHETIC_MARK not in labels[DEMO_JUDGE]


def test_a_verdicts_manifest_line_marks_it() -> None:
    real = Manifest(judge_file="judge.gguf", judge_name="judge", judge_sha256="0" * 64, architecture="llama",
                    file_type="Q4_K_M", format="pandalm", template_sha256="1" * 64, decoding={"mode": "logits"},
                    seed=1, backend="llama.cpp", versions={})
    assert SYNTHETIC_MARK not in manifest_summary(real)
    assert manifest_summary(dataclasses.replace(real, synthetic=True)).startswith(f"judge.gguf {SYNTHETIC_MARK}")


def test_the_status_bar_marks_it_once_loaded(tmp_path: Path, qtbot) -> None:
    settings = AppSettings()  # start_window's own settings, under this test's JUDGEDESK_HOME
    settings.runs_dir = tmp_path / "runs"
    settings.default_judge = "tiny-synthetic"
    window = start_window()
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.context.service.loaded is not None, timeout=60000)
    assert window.context.service.loaded.info.synthetic is True
    assert f"tiny.gguf {SYNTHETIC_MARK}" in window.judge_label.text()
    window.close()
