"""The main window: navigation on the left, the five views, the message bar, and a status bar that says the
process is offline (and, with an inference server, the one endpoint judging goes through) and what the judge is
doing. At start the Results view opens the latest run of the run history and the Batch view the last data; while
a batch runs the Results view follows it; closing during a batch asks first and stops the run cleanly."""

from __future__ import annotations

from pathlib import Path

from judgedesk.core import ServerEndpoint, guard_installed
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ._batch_view import BatchView
from ._compare_view import CompareView
from ._context import AppContext
from ._judge_service import LoadedJudge
from ._judges_view import JudgesView
from ._results_view import ResultsView
from ._settings_view import SettingsView
from ._synthetic_mark import SYNTHETIC_MARK

__all__ = ["MainWindow", "offline_indicator_text"]

_OFFLINE_ON = "● Offline: network access is blocked in this process"
_OFFLINE_OFF = "● Network guard NOT installed: this process could reach the network"


def offline_indicator_text(guarded: bool, endpoint: ServerEndpoint | None) -> str:
    """The status bar's network statement: offline, offline but for the one server judging, or not guarded."""
    if not guarded:
        return _OFFLINE_OFF
    if endpoint is None:
        return _OFFLINE_ON
    return f"● Offline · judging through {endpoint.address} only"


class MainWindow(QMainWindow):
    """The app window; owns the AppContext and shuts it down when closed."""

    def __init__(self, context: AppContext | None = None) -> None:
        super().__init__()
        self.setWindowTitle("judgedesk")
        self.context = context or AppContext()
        self.context.setParent(self)
        self.compare = CompareView(self.context)
        self.batch = BatchView(self.context)
        self.results = ResultsView(self.context)
        self.judges = JudgesView(self.context)
        self.settings_view = SettingsView(self.context)
        self.views: list[QWidget] = [self.compare, self.batch, self.results, self.judges, self.settings_view]

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setIconSize(QSize(20, 20))
        self.stack = QStackedWidget()
        for number, view in enumerate(self.views, start=1):
            item = QListWidgetItem(view.title)  # type: ignore[attr-defined]
            item.setToolTip(f"{view.title} (Ctrl+{number})")  # type: ignore[attr-defined]
            item.setSizeHint(QSize(120, 34))
            self.nav.addItem(item)
            self.stack.addWidget(view)
            QShortcut(QKeySequence(f"Ctrl+{number}"), self, activated=lambda n=number - 1: self.show_view(n))
        self.nav.setFixedWidth(130)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(8, 8, 8, 4)
        self.context.messages.attach_to(self.stack)  # floats over the views: a message never moves a widget
        layout.addWidget(self.stack, 1)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(content, 1)
        self.setCentralWidget(central)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.context.messages.clear)

        self.offline_label = QLabel()
        self.offline_label.setObjectName("offlineIndicator")
        self.offline_label.setStyleSheet("color: #1b5e20;" if guard_installed() else "color: #b71c1c;")
        self._judge_text = ""
        self.judge_label = QLabel()
        self.judge_label.setObjectName("judgeState")
        self.statusBar().addWidget(self.judge_label, 1)
        self.statusBar().addPermanentWidget(self.offline_label)
        self.context.service.judge_did_load.connect(self._judge_loaded)
        self.context.service.judge_did_unload.connect(self._judge_unloaded)
        self.context.service.service_did_change_busy.connect(self._busy_changed)
        self.context.settings_did_change.connect(self._settings_changed)
        self._settings_changed()
        self._judge_unloaded()
        self.context.set_results_opener(self._open_results)
        # The Results view follows a running batch: it opens the run as soon as its first verdict is stored.
        self.batch.batch_will_start_run.connect(lambda folder: self.results.expect_run(folder))
        self.batch.batch_did_start_run.connect(lambda folder: self.results.open_run(folder))
        self._open_latest_run()
        QTimer.singleShot(0, self.batch.restore_last_data)  # unless start_window opened other data meanwhile

        geometry = self.context.settings.window_geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 820)
        self.show_view(int(self.context.settings.value("window/view", 0) or 0))

    def show_view(self, index: int) -> None:
        index = min(max(index, 0), len(self.views) - 1)
        self.nav.setCurrentRow(index)

    def view_index(self, view: QWidget) -> int:
        return self.views.index(view)

    def _open_latest_run(self) -> None:
        """The run judged most recently (any data set) opens in Results, so a restart finds it again."""
        latest = self.batch.history.latest()
        if latest is not None:
            self.results.open_run(Path(latest.folder), latest.run_key)

    def _open_results(self, folder: Path, run_key: str | None) -> None:
        self.results.open_run(folder, run_key)
        self.show_view(self.view_index(self.results))

    def _settings_changed(self) -> None:
        self.offline_label.setText(offline_indicator_text(guard_installed(), self.context.settings.server_endpoint()))
        if self.context.service.loaded is None:
            self._judge_unloaded()  # the label names the server the next judge will come from

    def _judge_loaded(self, loaded: LoadedJudge) -> None:
        info = loaded.info
        through = f" · through {loaded.endpoint}" if loaded.endpoint else ""
        on_cpu = " · on the CPU: this llama.cpp build has no GPU support" if loaded.offload_note else ""
        synthetic = f" {SYNTHETIC_MARK}" if info.synthetic else ""
        self._judge_text = (f"Judge: {info.file_name}{synthetic} ({info.file_type}), format {loaded.format}{through}"
                            f"{on_cpu}")
        self.judge_label.setToolTip(loaded.offload_note or "")
        self._busy_changed(self.context.service.busy)

    def _judge_unloaded(self) -> None:
        endpoint = self.context.settings.server_endpoint()
        self._judge_text = "no judge loaded" + (f" · server {endpoint.address}" if endpoint else "")
        self.judge_label.setToolTip("")
        self._busy_changed(self.context.service.busy)

    def _busy_changed(self, busy: bool) -> None:
        self.judge_label.setText(self._judge_text + (" · working…" if busy else ""))

    def confirm_close_during_batch(self) -> bool:
        """While a batch runs: ask whether to stop it and quit; stop it cleanly when so. False
        keeps the window open (and the run going)."""
        batch = self.batch
        running = batch.run_task is not None and batch.run_task.is_running
        if not running:
            return True
        done = f"{batch.progress_bar.value()} of {batch.progress_bar.maximum()}"
        box = QMessageBox(QMessageBox.Icon.Question, "A batch is running",
                          f"A batch is running ({done} judged).", parent=self)
        box.setObjectName("closeDuringBatch")
        box.setInformativeText("Stop it and quit? Everything judged so far is saved: open the same data again in "
                               "the Batch view and press Start to continue where it stopped.")
        stop = box.addButton("Stop and quit", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        box.exec()
        if box.clickedButton() is not stop:
            return False
        batch.stop_for_close()  # the judgement under way is committed before the model is freed
        return True

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.confirm_close_during_batch():
            event.ignore()
            return
        settings = self.context.settings
        settings.set_window_geometry(self.saveGeometry())
        settings.set_value("window/view", self.stack.currentIndex())
        for view in self.views:
            closing = getattr(view, "view_will_close", None)
            if closing is not None:
                closing()
        self.context.shutdown()
        super().closeEvent(event)
