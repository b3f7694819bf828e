"""The Settings view: edits persist in the settings file, and the offline statement tells the truth."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from judgedesk.core import demo_judge_path, guard_installed, import_judge
from judgedesk.core._offline import allowing
from judgedesk.desktop import _settings_view
from judgedesk.desktop._settings import AppSettings
from judgedesk.desktop._settings_view import OFFLINE_STATEMENT, SettingsView
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton, QSpinBox


@pytest.fixture(autouse=True)
def fresh_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))


@pytest.fixture
def view(app_context, qtbot) -> SettingsView:
    widget = SettingsView(app_context)
    qtbot.addWidget(widget)
    return widget


def test_edits_persist_across_a_new_settings_instance(view: SettingsView, app_context, qtbot,
                                                      tmp_path: Path) -> None:
    changes: list[None] = []
    app_context.settings_did_change.connect(lambda: changes.append(None))
    view.findChild(QSpinBox, "settingsThreads").setValue(3)
    view.findChild(QSpinBox, "settingsGpuLayers").setValue(-1)
    view.findChild(QSpinBox, "settingsContext").setValue(8192)
    view.findChild(QSpinBox, "settingsSeed").setValue(7)
    formats = view.findChild(QComboBox, "settingsFormat")
    formats.setCurrentIndex(formats.findData("pandalm"))
    runs = tmp_path / "my runs"
    view.choose_runs_dir(runs)
    assert len(changes) == 6

    reread = AppSettings(app_context.settings.path)
    assert (reread.threads, reread.gpu_layers, reread.n_ctx, reread.seed) == (3, -1, 8192, 7)
    assert reread.default_format == "pandalm"
    assert reread.runs_dir == runs
    spec = reread.judge_spec()
    assert (spec.n_threads, spec.n_gpu_layers, spec.n_ctx, spec.decoding.sampling.seed) == (3, -1, 8192, 7)


def test_automatic_threads_and_the_judges_own_format_are_none(view: SettingsView, app_context) -> None:
    view.findChild(QSpinBox, "settingsThreads").setValue(4)
    view.findChild(QSpinBox, "settingsThreads").setValue(0)
    view.findChild(QComboBox, "settingsFormat").setCurrentIndex(0)
    reread = AppSettings(app_context.settings.path)
    assert reread.threads is None and reread.default_format is None
    assert view.findChild(QSpinBox, "settingsThreads").text() == "automatic"


def test_the_default_judge_comes_from_the_library_and_persists(view: SettingsView, app_context,
                                                              tmp_path: Path) -> None:
    judges = view.findChild(QComboBox, "settingsJudge")
    assert [judges.itemData(i) for i in range(judges.count())] == ["demo"]
    assert judges.itemText(0) == "demo (weak)"
    copy = tmp_path / "panda-copy.gguf"
    shutil.copyfile(demo_judge_path(), copy)
    import_judge(copy, copy=False)
    app_context.judges_did_change.emit()
    assert judges.findData("panda-copy") >= 0
    judges.setCurrentIndex(judges.findData("panda-copy"))
    assert AppSettings(app_context.settings.path).default_judge == "panda-copy"


def test_a_runs_folder_that_is_a_file_is_refused(view: SettingsView, app_context, tmp_path: Path) -> None:
    before = app_context.settings.runs_dir
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    edit = view.findChild(QLineEdit, "settingsRunsDir")
    edit.setText(str(not_a_folder))
    edit.editingFinished.emit()
    assert "not a folder" in app_context.messages.current_text()
    assert app_context.settings.runs_dir == before
    assert edit.text() == str(before)
    assert view.findChild(QPushButton, "chooseRunsDir") is not None


def test_the_offline_statement_shows_when_the_guard_is_installed(view: SettingsView) -> None:
    assert guard_installed()
    label = view.findChild(QLabel, "offlineStatement")
    assert OFFLINE_STATEMENT in label.text()
    assert "1b5e20" in label.styleSheet()
    assert view.findChild(QLabel, "allowedEndpoints").text().startswith("Allowed endpoints: none")


def test_the_allowlist_is_listed(view: SettingsView) -> None:
    with allowing("127.0.0.1", 8080):
        view.refresh_offline()
        assert "127.0.0.1:8080" in view.findChild(QLabel, "allowedEndpoints").text()
    view.refresh_offline()
    assert "none" in view.findChild(QLabel, "allowedEndpoints").text()


def test_a_missing_guard_is_said_in_red(view: SettingsView, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_settings_view, "guard_installed", lambda: False)
    view.refresh_offline()
    label = view.findChild(QLabel, "offlineStatement")
    assert OFFLINE_STATEMENT not in label.text()
    assert "NOT installed" in label.text()
    assert "b71c1c" in label.styleSheet()


# -- what threads and GPU layers will do on this machine -------------------------------------------------------


def _type(qtbot, box: QSpinBox, value: str) -> None:
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, value)


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_settings_view, "cpu_cores", lambda: 2)  # before the view is built


def test_threads_beyond_the_cores_are_kept_with_a_warning_and_the_hint_follows_the_value(
        two_cores: None, view: SettingsView, app_context, qtbot) -> None:
    threads = view.findChild(QSpinBox, "settingsThreads")
    note = view.findChild(QLabel, "settingsThreadsNote")
    assert note.text() == "automatic: llama.cpp picks for this machine's 2 cores"
    _type(qtbot, threads, "77")
    assert note.text() == "77 threads on 2 cores: llama.cpp will be slower than with 2"
    assert "#9a4a00" in note.styleSheet()  # the warning colour
    assert AppSettings(app_context.settings.path).threads == 77  # warned, not clamped (see _judge_settings_notes)
    _type(qtbot, threads, "2")
    assert note.text() == "2 of this machine's 2 cores" and "#9a4a00" not in note.styleSheet()
    _type(qtbot, threads, "0")
    assert note.text().startswith("automatic") and AppSettings(app_context.settings.path).threads is None


def test_gpu_layers_on_a_build_without_gpu_support_say_they_stay_on_the_cpu(view: SettingsView, app_context, qtbot,
                                                                            monkeypatch) -> None:
    monkeypatch.setattr(_settings_view, "gpu_offload_supported", lambda: False)
    layers = view.findChild(QSpinBox, "settingsGpuLayers")
    note = view.findChild(QLabel, "settingsGpuLayersNote")
    _type(qtbot, layers, "819")
    assert note.text().startswith("no GPU support in this llama.cpp build: layers stay on the CPU")
    assert "#9a4a00" in note.styleSheet() and AppSettings(app_context.settings.path).gpu_layers == 819
    _type(qtbot, layers, "0")
    assert note.text() == "CPU only; see the memory plan (Judges)" and "#9a4a00" not in note.styleSheet()


def test_gpu_layers_are_measured_against_the_judges_layer_count(view: SettingsView, qtbot, monkeypatch) -> None:
    monkeypatch.setattr(_settings_view, "gpu_offload_supported", lambda: True)
    layers = view.findChild(QSpinBox, "settingsGpuLayers")
    note = view.findChild(QLabel, "settingsGpuLayersNote")
    _type(qtbot, layers, "819")  # the default judge is the demo judge: SmolLM2-135M, 30 layers
    assert note.text() == "the judge has 30 layers: 819 means all 30"
    _type(qtbot, layers, "12")
    assert note.text() == "12 of the judge's 30 layers on the GPU, the rest on the CPU"
    layers.setValue(-1)
    assert layers.text() == "all layers" and note.text() == "all 30 layers of the judge on the GPU"
    layers.setValue(0)
    assert "layers" not in note.text() and note.text().startswith("CPU only")


def test_a_long_gpu_note_wraps_inside_a_1024_px_window(view: SettingsView, qtbot, monkeypatch) -> None:
    monkeypatch.setattr(_settings_view, "gpu_offload_supported", lambda: False)
    view.resize(1024 - 130, 700)  # the main window's navigation takes 130 px
    view.show()
    qtbot.waitExposed(view)
    view.findChild(QSpinBox, "settingsGpuLayers").setValue(819)
    note = view.findChild(QLabel, "settingsGpuLayersNote")
    qtbot.waitUntil(lambda: note.height() >= 2 * note.fontMetrics().lineSpacing())  # wrapped onto a second line
    right = note.mapTo(view, note.rect().topRight()).x()
    assert note.wordWrap() and right < view.width()
    assert note.fontMetrics().horizontalAdvance(note.text()) > note.width()  # would not fit on one line
