"""The Settings view: how the judge runs (threads, GPU layers, context, seed), an inference server to judge
through, the defaults (format, judge), where runs are stored, and a plain statement of whether this process is
offline and which endpoint it may reach.

Every edit is saved at once to `context.settings` and announced with `context.settings_did_change`.
"""

from __future__ import annotations

from pathlib import Path

from judgedesk.core import allowed_endpoints, format_names, guard_installed, list_judges
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ._context import AppContext
from ._judge_settings_notes import (
    SettingsNote,
    cpu_cores,
    gpu_layers_note,
    gpu_offload_supported,
    judge_layer_count,
    threads_note,
)
from ._server_panel import ServerPanel
from ._widgets import SELECTABLE

__all__ = ["OFFLINE_STATEMENT", "SettingsView"]

OFFLINE_STATEMENT = "Offline: network access is blocked in this process"
_NOT_OFFLINE = ("The network guard is NOT installed: this process could reach the network. judgedesk installs it "
                "when judgedesk.core is imported; something went wrong, so do not judge confidential data here.")
_MAX_SEED = 2**31 - 1
_NOTE_STYLE = "color: #555;"
_WARNING_STYLE = "color: #9a4a00;"


class SettingsView(QWidget):
    """Preferences, saved as they are edited."""

    title = "Settings"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._judge_layers: tuple[str, int | None] | None = None
        """(judge name, its layer count): read from the GGUF header once per default judge."""
        judge_group = self._build_judge_group()
        defaults = self._build_defaults()
        privacy = self._build_privacy()
        self.server_panel = ServerPanel(context)
        self.server_panel.server_did_connect.connect(lambda _: self.refresh_offline())
        layout = QVBoxLayout(self)
        layout.addWidget(privacy)
        layout.addWidget(judge_group)
        layout.addWidget(self.server_panel)
        layout.addWidget(defaults)
        layout.addStretch(1)
        self._connect_signals()

    # -- layout ---------------------------------------------------------------------------------------------

    def _build_judge_group(self) -> QGroupBox:
        settings = self._context.settings
        self.threads_box = QSpinBox()
        self.threads_box.setObjectName("settingsThreads")
        self.threads_box.setRange(0, 512)
        self.threads_box.setSpecialValueText("automatic")
        self.threads_box.setToolTip("CPU threads for the judge; automatic lets llama.cpp choose for this machine")
        self.threads_box.setValue(settings.threads or 0)

        self.gpu_layers_box = QSpinBox()
        self.gpu_layers_box.setObjectName("settingsGpuLayers")
        self.gpu_layers_box.setRange(-1, 999)
        self.gpu_layers_box.setSpecialValueText("all layers")
        self.gpu_layers_box.setToolTip("Layers offloaded to the GPU: 0 = CPU only (needs a CUDA or Metal build of "
                                       "llama-cpp-python; see the memory plan in the Judges view)")
        self.gpu_layers_box.setValue(settings.gpu_layers)

        self.ctx_box = QSpinBox()
        self.ctx_box.setObjectName("settingsContext")
        self.ctx_box.setRange(512, 1 << 20)
        self.ctx_box.setSingleStep(1024)
        self.ctx_box.setSuffix(" tokens")
        self.ctx_box.setToolTip("Context window: prompt plus both responses must fit (longer responses are cut)")
        self.ctx_box.setValue(settings.n_ctx)

        self.seed_box = QSpinBox()
        self.seed_box.setObjectName("settingsSeed")
        self.seed_box.setRange(0, _MAX_SEED)
        self.seed_box.setToolTip("Sampler seed passed on every call, recorded in each verdict's manifest")
        self.seed_box.setValue(min(max(settings.seed, 0), _MAX_SEED))

        judge_group = QGroupBox("Judge")
        form = QFormLayout(judge_group)
        # The notes grow with the window and wrap (at a size hint, a long one was cut at 1024 px).
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.threads_note = QLabel()
        self.gpu_layers_note = QLabel()
        for label, box, note in (("&Threads", self.threads_box, self.threads_note),
                                 ("&GPU layers", self.gpu_layers_box, self.gpu_layers_note),
                                 ("&Context size", self.ctx_box, QLabel("prompt and both responses must fit")),
                                 ("&Seed", self.seed_box, QLabel("recorded in every verdict's manifest"))):
            box.setMinimumWidth(170)
            row = QHBoxLayout()
            row.addWidget(box, 0, Qt.AlignmentFlag.AlignTop)
            note.setObjectName(f"{box.objectName()}Note")
            note.setWordWrap(True)
            note.setStyleSheet(_NOTE_STYLE)
            row.addWidget(note, 1)
            caption = QLabel(label)
            caption.setBuddy(box)
            form.addRow(caption, row)
        applies = QLabel("Changes are saved at once and used by the next comparison or batch run.")
        applies.setStyleSheet(_NOTE_STYLE)
        form.addRow(applies)
        self.refresh_judge_notes()
        return judge_group

    def _build_defaults(self) -> QGroupBox:
        settings = self._context.settings
        self.format_box = QComboBox()
        self.format_box.setObjectName("settingsFormat")
        self.format_box.addItem("each judge's own", "")
        for name in format_names():
            self.format_box.addItem(name, name)
        self.format_box.setCurrentIndex(max(self.format_box.findData(settings.default_format or ""), 0))

        self.judge_box = QComboBox()
        self.judge_box.setObjectName("settingsJudge")
        self.refresh_judges()

        self.runs_edit = QLineEdit(str(settings.runs_dir))
        self.runs_edit.setObjectName("settingsRunsDir")
        self.runs_edit.setToolTip("Each batch run is a folder in here (its verdict database, manifest and reports)")
        self.runs_button = QPushButton("Choose…")
        self.runs_button.setObjectName("chooseRunsDir")
        self.runs_button.clicked.connect(lambda: self.choose_runs_dir())
        runs_row = QHBoxLayout()
        runs_row.addWidget(self.runs_edit, 1)
        runs_row.addWidget(self.runs_button)

        defaults = QGroupBox("Defaults")
        defaults_form = QFormLayout(defaults)
        defaults_form.addRow("Default &format", self.format_box)
        defaults_form.addRow("Default &judge", self.judge_box)
        runs_caption = QLabel("&Runs folder")
        runs_caption.setBuddy(self.runs_edit)
        defaults_form.addRow(runs_caption, runs_row)
        return defaults

    def _build_privacy(self) -> QGroupBox:
        privacy = QGroupBox("Privacy")
        self.offline_label = QLabel()
        self.offline_label.setObjectName("offlineStatement")
        self.offline_label.setWordWrap(True)
        self.offline_label.setTextInteractionFlags(SELECTABLE)
        self.allowlist_label = QLabel()
        self.allowlist_label.setObjectName("allowedEndpoints")
        self.allowlist_label.setWordWrap(True)
        self.allowlist_label.setTextInteractionFlags(SELECTABLE)
        privacy_layout = QVBoxLayout(privacy)
        privacy_layout.addWidget(self.offline_label)
        privacy_layout.addWidget(self.allowlist_label)
        self.refresh_offline()
        return privacy

    def _connect_signals(self) -> None:
        context = self._context
        self.threads_box.valueChanged.connect(self._threads_changed)
        self.gpu_layers_box.valueChanged.connect(self._gpu_layers_changed)
        self.ctx_box.valueChanged.connect(lambda v: self._save("n_ctx", v))
        self.seed_box.valueChanged.connect(lambda v: self._save("seed", v))
        self.format_box.currentIndexChanged.connect(lambda _: self._save("default_format",
                                                                         self.format_box.currentData() or None))
        self.judge_box.currentIndexChanged.connect(self._judge_changed)
        self.runs_edit.editingFinished.connect(self._runs_edited)
        context.judges_did_change.connect(self.refresh_judges)
        context.settings_did_change.connect(self.refresh_offline)
        context.settings_did_change.connect(self.refresh_judge_notes)  # the default judge sets the layer count
        context.judges_did_change.connect(self.refresh_judge_notes)
        context.service.judge_did_load.connect(lambda _: self.refresh_offline())  # a server connects when it loads

    # -- offline --------------------------------------------------------------------------------------------

    def refresh_offline(self) -> None:
        """State whether the offline guard is installed, and what it lets through."""
        endpoint = self._context.settings.server_endpoint()
        if guard_installed():
            where = ("Judges, data and results never leave this computer." if endpoint is None else
                     f"Judge prompts (your data) go only to the inference server at {endpoint.address}, "
                     "on your own network; nothing else leaves this computer.")
            self.offline_label.setText(f"● {OFFLINE_STATEMENT}. {where}")
            self.offline_label.setStyleSheet("color: #1b5e20; font-weight: bold;")
        else:
            self.offline_label.setText(f"● {_NOT_OFFLINE}")
            self.offline_label.setStyleSheet("color: #b71c1c; font-weight: bold;")
        endpoints = [str(e) for e in allowed_endpoints()]
        self.allowlist_label.setText("Allowed endpoints: " + (", ".join(endpoints) if endpoints else
                                                              "none (not even this computer's loopback)"))

    # -- what the judge settings will do on this machine --------------------------------------------------

    def refresh_judge_notes(self) -> None:
        """Say beside threads and GPU layers what llama.cpp will make of them here (see _judge_settings_notes)."""
        self._show_note(self.threads_note, threads_note(self.threads_box.value(), cpu_cores()))
        layers = self.gpu_layers_box.value()
        if layers == 0:  # no need to load llama.cpp or read the judge to say "CPU only"
            note = gpu_layers_note(0, gpu_offload=None, judge_layers=None)
        else:
            note = gpu_layers_note(layers, gpu_offload=gpu_offload_supported(), judge_layers=self._judge_layer_count())
        self._show_note(self.gpu_layers_note, note)

    def _judge_layer_count(self) -> int | None:
        judge = self._context.settings.default_judge
        if self._judge_layers is None or self._judge_layers[0] != judge:
            self._judge_layers = (judge, judge_layer_count(judge))
        return self._judge_layers[1]

    @staticmethod
    def _show_note(label: QLabel, note: SettingsNote) -> None:
        label.setText(note.text)
        label.setStyleSheet(_WARNING_STYLE if note.warning else _NOTE_STYLE)

    # -- judges ---------------------------------------------------------------------------------------------

    def refresh_judges(self) -> None:
        current = self._context.settings.default_judge
        self.judge_box.blockSignals(True)
        self.judge_box.clear()
        for entry in list_judges():
            self.judge_box.addItem(entry.label if entry.problem is None else f"{entry.label} (unusable: "
                                   f"{entry.problem})", entry.name)
        index = self.judge_box.findData(current)
        if index < 0:  # a default judge that is gone (deleted elsewhere): show it rather than silently change it
            self.judge_box.addItem(f"{current} (not in the library)", current)
            index = self.judge_box.count() - 1
        self.judge_box.setCurrentIndex(index)
        self.judge_box.blockSignals(False)

    def _judge_changed(self) -> None:
        name = self.judge_box.currentData()
        if name:
            self._save("default_judge", name)

    # -- saving ---------------------------------------------------------------------------------------------

    def _save(self, attribute: str, value: object) -> None:
        if getattr(self._context.settings, attribute) == value:
            return
        setattr(self._context.settings, attribute, value)
        self._context.settings_did_change.emit()

    def _threads_changed(self, value: int) -> None:
        self._save("threads", value or None)
        self.refresh_judge_notes()

    def _gpu_layers_changed(self, value: int) -> None:
        self._save("gpu_layers", value)
        self.refresh_judge_notes()

    def choose_runs_dir(self, folder: str | Path | None = None) -> None:
        """Set where runs are stored; asks with a folder dialog when `folder` is not given."""
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Where batch runs are stored", self.runs_edit.text())
            if not folder:
                return
        self.runs_edit.setText(str(folder))
        self._runs_edited()

    def _runs_edited(self) -> None:
        text = self.runs_edit.text().strip()
        if not text:
            self.runs_edit.setText(str(self._context.settings.runs_dir))
            return
        path = Path(text).expanduser()
        if path.exists() and not path.is_dir():
            self._context.messages.show_error(f"{path}: not a folder; runs are stored in a folder")
            self.runs_edit.setText(str(self._context.settings.runs_dir))
            return
        if path != self._context.settings.runs_dir:
            self._context.settings.runs_dir = path
            self._context.settings_did_change.emit()
