"""The Batch view: a file or folder previewed before anything runs, then judged with progress, pause, resume
and cancel, its verdicts appearing in a live table; earlier runs of the same data are offered for resume.

Before Start the view says whether Start continues an earlier run of the data or starts a new one (it compares
core's run key for the chosen judge and settings with the earlier runs' keys). Every run it starts is recorded in
the app's run history (desktop/_run_history.py) as it progresses, so it is found again after a restart.
"""

from __future__ import annotations

import time
from pathlib import Path

from judgedesk.core.datasets import Dataset, load_dataset
from judgedesk.core.reports import write_reports
from judgedesk.core.runs import BatchOptions, BatchProgress, BatchResult, format_duration, run_batch, run_key_for
from PySide6.QtCore import QEvent, QEventLoop, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStyle,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ._batch_runs import EarlierRun, find_earlier_runs, run_folder_for, spec_for_run
from ._context import AppContext
from ._judge_picker import JudgePicker
from ._live_verdicts import LiveVerdictsModel
from ._messages import report_task_errors
from ._run_history import HISTORY_FILE, RunHistory, differing_settings, local_time
from ._tasks import Task, WorkContext

__all__ = ["BatchView"]

_UPDATE_EVERY_S = 1.0  # how often a running run tells the Results view to refresh


class _RunKeyed:
    """The first thing a run reports: its run key and the settings the key was computed from."""

    def __init__(self, run_key: str, settings: dict[str, object]) -> None:
        self.run_key, self.settings = run_key, settings


class BatchView(QWidget):
    """Evaluate a whole file or folder of model outputs."""

    title = "Batch"

    batch_will_start_run = Signal(object)
    """Start was pressed: the run folder (a Path) that will hold the run once the judge is loaded."""
    batch_did_start_run = Signal(object)
    """A run's first verdict is stored: its run folder (a Path), which now holds the run as its latest."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.dataset: Dataset | None = None
        self.folder: Path | None = None
        self.run_task: Task | None = None
        self.preview_task: Task | None = None
        self.last_result: BatchResult | None = None
        self.state = "idle"
        """idle, previewing, running, pausing, paused, finished."""
        self._last_update = 0.0
        self._earlier: list[EarlierRun] = []
        self.history = RunHistory(context.settings.path.parent / HISTORY_FILE)
        self._running: _RunKeyed | None = None
        """The run key of the run under way (or last run), once the run has reported it."""
        self._announced = False
        self._closed = False
        """The window is closing: no more background work is scheduled."""
        self._key_generation = 0
        self._earlier_task: Task | None = None

        source = self._build_source()
        options = self._build_options()
        controls = self._build_controls()
        body = self._build_body()
        layout = QVBoxLayout(self)
        layout.addLayout(source)
        layout.addWidget(options)
        layout.addLayout(controls)
        layout.addWidget(self.run_notice)
        layout.addWidget(body, 1)
        self._update_buttons()
        self.picker.picker_did_change.connect(self._check_run_key)
        self.both_orders.toggled.connect(self._check_run_key)
        self.mode_box.currentIndexChanged.connect(self._check_run_key)
        context.settings_did_change.connect(self._check_run_key)

    # -- layout ---------------------------------------------------------------------------------------------

    def _build_source(self) -> QHBoxLayout:
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("dataPath")
        self.path_edit.setPlaceholderText("a pairs file (JSONL/JSON/CSV) or a folder of per-model outputs")
        self.path_edit.returnPressed.connect(lambda: self.open_path(Path(self.path_edit.text().strip())))
        open_file = QPushButton("Open &file…")
        open_file.setObjectName("openDataFile")
        open_file.clicked.connect(self._choose_file)
        open_folder = QPushButton("Open f&older…")
        open_folder.setObjectName("openDataFolder")
        open_folder.clicked.connect(self._choose_folder)
        source = QHBoxLayout()
        source.addWidget(QLabel("Data"))
        source.addWidget(self.path_edit, 1)
        source.addWidget(open_file)
        source.addWidget(open_folder)
        return source

    def _build_options(self) -> QGroupBox:
        self.picker = JudgePicker(self.context)
        self.pairing_box = QComboBox()
        self.pairing_box.setObjectName("pairingBox")
        self.pairing_box.addItem("all pairs", "all")
        self.pairing_box.addItem("each model against a baseline", "baseline")
        self.baseline_box = QComboBox()
        self.baseline_box.setObjectName("baselineBox")
        self.baseline_box.setEnabled(False)
        self.mode_box = QComboBox()
        self.mode_box.setObjectName("modeBox")
        self.mode_box.addItem("pairwise comparison", "pairwise")
        self.mode_box.addItem("single grading", "single")
        self.both_orders = QCheckBox("both orders (A,B and B,A)")
        self.both_orders.setObjectName("bothOrders")
        self.both_orders.setChecked(True)
        self.limit_box = QSpinBox()
        self.limit_box.setObjectName("limitBox")
        self.limit_box.setRange(0, 1_000_000)
        self.limit_box.setSpecialValueText("all items")
        self.limit_box.setToolTip("Judge only the first N items (0 = all)")
        options = QFormLayout()
        options.addRow(self.picker)
        pairing_row = QHBoxLayout()
        pairing_row.addWidget(self.pairing_box)
        pairing_row.addWidget(QLabel("baseline"))
        pairing_row.addWidget(self.baseline_box, 1)
        options.addRow("Pairs", pairing_row)
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.mode_box)
        mode_row.addWidget(self.both_orders)
        mode_row.addStretch(1)
        mode_row.addWidget(QLabel("Items"))
        mode_row.addWidget(self.limit_box)
        options.addRow("Mode", mode_row)
        options_box = QGroupBox("How to judge")
        options_box.setLayout(options)
        self.pairing_box.currentIndexChanged.connect(self._pairing_changed)
        self.baseline_box.currentIndexChanged.connect(self._reload)
        self.limit_box.editingFinished.connect(self._reload)
        self.mode_box.currentIndexChanged.connect(self._mode_changed)
        return options_box

    def _build_controls(self) -> QHBoxLayout:
        style = self.style()
        self.start_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Start")
        self.start_button.setObjectName("startButton")
        self.start_button.setToolTip("Start or resume (Ctrl+Return)")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause), "Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.clicked.connect(self.pause)
        self.cancel_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop the run (Esc); everything judged is saved")
        self.cancel_button.clicked.connect(self.cancel)
        self.results_button = QPushButton("Open results")
        self.results_button.setObjectName("openResults")
        self.results_button.clicked.connect(self._open_results)
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("batchProgress")
        self.progress_bar.setFormat("%v / %m")
        self.rate_label = QLabel("")
        self.rate_label.setObjectName("batchRate")
        self.rate_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_notice = QLabel("")
        self.run_notice.setObjectName("runNotice")
        self.run_notice.setWordWrap(True)
        # One line is always kept for it, so a notice appearing never moves the controls below.
        self.run_notice.setMinimumHeight(self.run_notice.fontMetrics().lineSpacing() * 2)
        self.run_notice.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        controls = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.cancel_button):
            controls.addWidget(button)
        controls.addWidget(self.progress_bar, 1)
        controls.addWidget(self.rate_label)
        controls.addWidget(self.results_button)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.start)
        return controls

    def _build_body(self) -> QSplitter:
        """The preview and earlier runs side by side above the live verdicts."""
        preview = self._build_preview()
        earlier = self._build_earlier_runs()
        live = self._build_live_verdicts()
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(preview)
        top.addWidget(earlier)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(live)
        body.setStretchFactor(0, 2)
        body.setStretchFactor(1, 3)
        return body

    def _build_preview(self) -> QSplitter:
        self.preview_text = QPlainTextEdit()
        self.preview_text.setObjectName("previewText")
        self.preview_text.setReadOnly(True)
        self.preview_text.setPlaceholderText("Open a file or folder: what was detected appears here before "
                                             "anything runs.")
        self.problems_table = QTableWidget(0, 4)
        self.problems_table.setObjectName("problemsTable")
        self.problems_table.setHorizontalHeaderLabels(["File", "Line", "Problem", "Item"])
        self.problems_table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.problems_table.verticalHeader().setVisible(False)
        self.problems_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        preview = QSplitter(Qt.Orientation.Vertical)
        preview.addWidget(self.preview_text)
        preview.addWidget(self.problems_table)
        return preview

    def _build_earlier_runs(self) -> QWidget:
        self.earlier_table = QTableWidget(0, 5)
        self.earlier_table.setObjectName("earlierRuns")
        self.earlier_table.setHorizontalHeaderLabels(["Earlier run", "Settings", "Mode", "Judged", "Last judged"])
        self.earlier_table.horizontalHeaderItem(0).setToolTip("Earlier runs of this data: the judge and its format")
        self.earlier_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.earlier_table.verticalHeader().setVisible(False)
        self.earlier_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.earlier_table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.earlier_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.resume_earlier = QPushButton("Resume selected run")
        self.resume_earlier.setObjectName("resumeEarlier")
        self.resume_earlier.setEnabled(False)
        self.resume_earlier.clicked.connect(self.resume_selected_run)
        self.earlier_table.itemSelectionChanged.connect(
            lambda: self.resume_earlier.setEnabled(bool(self.earlier_table.selectedItems()) and not self._busy()))
        earlier_box = QWidget()
        earlier_layout = QVBoxLayout(earlier_box)
        earlier_layout.setContentsMargins(0, 0, 0, 0)
        earlier_layout.addWidget(self.earlier_table, 1)
        earlier_layout.addWidget(self.resume_earlier, 0, Qt.AlignmentFlag.AlignRight)
        return earlier_box

    def _build_live_verdicts(self) -> QTableView:
        self.live_model = LiveVerdictsModel(self)
        self.live_table = QTableView()
        self.live_table.setObjectName("liveVerdicts")
        self.live_table.setModel(self.live_model)
        self.live_table.verticalHeader().setVisible(False)
        self.live_table.setWordWrap(False)
        self.live_table.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate((44, 260, 120, 120, 56, 70, 86)):  # the item id is the long one
            self.live_table.setColumnWidth(column, width)
        self.live_table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.live_table.setAlternatingRowColors(True)
        return self.live_table

    # -- opening data ---------------------------------------------------------------------------------------

    def open_path(self, path: Path) -> Task | None:
        """Preview `path` (a pairs file or a folder of outputs); nothing is judged until Start."""
        if not str(path) or self._busy():
            return None
        if self.path_edit.text().strip() != str(path):
            self._clear_run_display()  # the previous data's progress and rows are not this data's
        self.path_edit.setText(str(path))
        self.context.settings.last_data_path = path
        return self._reload()

    def restore_last_data(self) -> Task | None:
        """Open the data opened last time (at start, when nothing else was asked for)."""
        last = self.context.settings.last_data_path
        if self.path_edit.text().strip() or last is None or not last.exists():
            return None
        return self.open_path(last)

    def _clear_run_display(self) -> None:
        self.live_model.clear()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.reset()
        self.rate_label.setText("")
        self.run_notice.setText("")
        self.last_result, self._running, self.dataset, self.folder = None, None, None, None
        self._earlier = []
        self.earlier_table.setRowCount(0)
        self.state = "idle"
        self._update_buttons()

    def _choose_file(self) -> None:
        start = str(self.context.settings.last_data_path or Path.home())
        name, _ = QFileDialog.getOpenFileName(self, "Open a pairs file", start,
                                              "Pairs files (*.jsonl *.json *.csv *.tsv);;All files (*)")
        if name:
            self.open_path(Path(name))

    def _choose_folder(self) -> None:
        start = str(self.context.settings.last_data_path or Path.home())
        name = QFileDialog.getExistingDirectory(self, "Open a folder of model outputs", start)
        if name:
            self.open_path(Path(name))

    def _pairing_changed(self) -> None:
        self.baseline_box.setEnabled(self.pairing_box.currentData() == "baseline")
        self._reload()

    def _mode_changed(self) -> None:
        self.both_orders.setEnabled(self.mode_box.currentData() == "pairwise")
        self._update_buttons()

    def _reload(self) -> Task | None:
        text = self.path_edit.text().strip()
        if not text or self._busy() or self._closed:
            return None
        path = Path(text).expanduser()
        pairing = self.pairing_box.currentData()
        baseline = self.baseline_box.currentData() if pairing == "baseline" else None
        if pairing == "baseline" and not baseline:
            pairing = "all"  # the models are known only after a first read
        limit = self.limit_box.value() or None
        runs_dir = self.context.settings.runs_dir

        def read(ctx: WorkContext) -> tuple[Dataset, Path, list[EarlierRun]]:
            dataset = load_dataset(path, baseline=baseline, pairing=pairing, limit=limit)
            folder = run_folder_for(runs_dir, path)
            return dataset, folder, find_earlier_runs(folder)

        if self.preview_task is not None:
            self.preview_task.cancel()
        self.state = "previewing"
        self.preview_text.setPlainText(f"Reading {path} …")
        task = report_task_errors(self.context.jobs.submit(read, "reading the data"), self.context.messages)
        # A preview replaced by a newer one (another file opened meanwhile) is dropped when it arrives.
        task.task_did_finish.connect(lambda outcome: task is self.preview_task and self._previewed(outcome))
        task.task_did_fail.connect(lambda message: task is self.preview_task and self._preview_failed(message))
        task.task_did_end.connect(self._update_buttons)
        self.preview_task = task
        self._update_buttons()
        return task

    def _previewed(self, outcome: tuple[Dataset, Path, list[EarlierRun]]) -> None:
        dataset, folder, earlier = outcome
        self.state = "idle"
        self.dataset, self.folder, self._earlier = dataset, folder, earlier
        self.preview_text.setPlainText(dataset.summary() + f"\n\nRun folder: {folder}")
        self.problems_table.setRowCount(len(dataset.problems))
        for row, problem in enumerate(dataset.problems):
            for column, value in enumerate((problem.path, "" if problem.line is None else str(problem.line),
                                            problem.reason, problem.item or "")):
                self.problems_table.setItem(row, column, QTableWidgetItem(value))
        self.problems_table.resizeColumnToContents(0)
        current = self.baseline_box.currentData()
        self.baseline_box.blockSignals(True)
        self.baseline_box.clear()
        for model in dataset.models:
            self.baseline_box.addItem(model, model)
        index = self.baseline_box.findData(current)
        self.baseline_box.setCurrentIndex(max(index, 0))
        self.baseline_box.blockSignals(False)
        if self.pairing_box.currentData() == "baseline" and current is None and dataset.models:
            self._reload()  # read again now that there is a baseline to pair against
        self._show_earlier(earlier)
        self._check_run_key()

    def _preview_failed(self, message: str) -> None:
        self.state = "idle"
        self.dataset = None
        self.preview_text.setPlainText(message)
        self.problems_table.setRowCount(0)

    def _show_earlier(self, earlier: list[EarlierRun]) -> None:
        selected = self.earlier_table.selectionModel().selectedRows()
        selected_key = self._earlier_key(selected[0].row()) if selected else None
        self.earlier_table.setRowCount(len(earlier))
        settings = differing_settings([run.info.settings for run in earlier])
        folder = self.folder
        for row, run in enumerate(earlier):
            entry = self.history.find(folder, run.info.run_key) if folder is not None else None
            when = local_time(entry.updated) if entry is not None else ""
            cells = (run.info.label, settings[row], f"{run.info.mode} {'/'.join(run.info.orders)}",
                     f"{run.done} / {run.total}", when or "—")
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setToolTip(f"run {run.info.run_key[:16]} — {run.info.source}"
                                + (f"\nstarted {local_time(entry.started)}" if entry is not None else ""))
                self.earlier_table.setItem(row, column, item)
            if run.info.run_key == selected_key:
                self.earlier_table.selectRow(row)
        self.earlier_table.resizeColumnToContents(1)
        self.resume_earlier.setEnabled(bool(self.earlier_table.selectedItems()) and not self._busy())

    def _earlier_key(self, row: int) -> str | None:
        return self._earlier[row].info.run_key if 0 <= row < len(self._earlier) else None

    def _show_live_progress(self, progress: BatchProgress) -> None:
        """The running run's row of the earlier-runs list follows the run."""
        if self._running is None:
            return
        for row, run in enumerate(self._earlier):
            if run.info.run_key == self._running.run_key:
                item = self.earlier_table.item(row, 3)
                if item is not None:
                    item.setText(f"{progress.done} / {progress.total}")
                return

    # -- the run key: continue or start anew ------------------------------------------------------------------

    def _check_run_key(self) -> None:
        """Say, before Start, whether Start continues an earlier run of this data or starts a new one."""
        if self.dataset is None or self._busy() or self._closed or self.state == "paused":
            return
        self._key_generation += 1
        generation = self._key_generation
        options = self.options()
        spec = self.context.settings.judge_spec(**self.picker.spec_parts())  # type: ignore[arg-type]
        task = self.context.service.submit(spec, lambda ctx: run_key_for(ctx.judge, options),  # type: ignore[arg-type]
                                           "working out the run key")
        task.task_did_finish.connect(lambda keyed: self._show_run_key(generation, keyed))

    def _show_run_key(self, generation: int, keyed: tuple[str, dict[str, object]]) -> None:
        if generation != self._key_generation or self._busy():
            return
        run_key, settings = keyed
        if not self._earlier:
            self.run_notice.setText("")
            return
        same = next((run for run in self._earlier if run.info.run_key == run_key), None)
        if same is not None:
            left = same.total - same.done
            self.run_notice.setText(f"Start continues the earlier run ({same.done} / {same.total} judged"
                                    + (f", {left} to go)." if left else ", complete: nothing left to judge)."))
            return
        latest = self._earlier[0]
        changed = differing_settings([latest.info.settings, settings])
        what = (f" ({changed[1]}; the earlier run: {changed[0]})" if changed[1] != changed[0] else
                "" if latest.info.label == _label(settings) else f" (judge {_label(settings)})")
        self.run_notice.setText(f"These settings start a new run{what}: Start judges everything from the "
                                "beginning. To continue an earlier run instead, select it and press "
                                "\u201cResume selected run\u201d.")

    # -- running --------------------------------------------------------------------------------------------

    def options(self) -> BatchOptions:
        return BatchOptions(mode=self.mode_box.currentData(), both_orders=self.both_orders.isChecked())

    def start(self, spec_override: object = None) -> Task | None:
        """Start (or, after a pause, resume) judging the previewed data; everything done is skipped."""
        if self._busy() or self._closed:
            return None
        dataset, folder = self.dataset, self.folder
        if dataset is None or folder is None:
            self.context.messages.show_error("Open a data file or folder first (Batch → Open file / Open folder).")
            return None
        options = self.options()
        tasks = dataset.pairs if options.mode == "pairwise" else dataset.grades
        if not tasks:
            self.context.messages.show_error(f"{dataset.source}: nothing to judge in {options.mode} mode")
            return None
        spec = spec_override or self.context.settings.judge_spec(**self.picker.spec_parts())  # type: ignore[arg-type]

        def judge_all(ctx: WorkContext) -> BatchResult:
            assert ctx.judge is not None
            ctx.progress(_RunKeyed(*run_key_for(ctx.judge, options)))  # the same key run_batch stores under
            return run_batch(folder, dataset, ctx.judge, options, progress=ctx.progress, cancel=ctx.cancel)

        self.context.messages.clear()
        self.live_model.clear()
        self.run_notice.setText("")
        self._announced = False
        self.progress_bar.setRange(0, len(tasks))
        unit = "pairs" if options.mode == "pairwise" else "responses"
        self.rate_label.setText(f"starting… ({len(tasks)} {unit})")
        task = report_task_errors(self.context.service.submit(spec, judge_all, "the batch run"),  # type: ignore[arg-type]
                                  self.context.messages)
        task.task_did_progress.connect(self._progressed)
        task.task_did_finish.connect(self._finished)
        task.task_was_cancelled.connect(self._stopped)
        task.task_did_fail.connect(self._failed)
        task.task_did_end.connect(self._update_buttons)
        self.run_task = task
        self.state = "running"
        self._update_buttons()
        self.batch_will_start_run.emit(folder)
        return task

    def pause(self) -> None:
        """Stop after the judgement in progress; Start resumes where it stopped."""
        if self.run_task is not None and self.run_task.is_running and self.state == "running":
            self.state = "pausing"
            self.run_task.cancel()
            self.rate_label.setText("pausing… (the judgement under way is finished and saved)")
            self._update_buttons()

    def cancel(self) -> None:
        """Stop the run (or end a paused one); what is judged stays saved, and opening the same data again (or
        Earlier runs) continues it."""
        if self.run_task is not None and self.run_task.is_running:
            if self.state == "cancelling":
                return
            self.state = "cancelling"
            self.run_task.cancel()
            self.rate_label.setText("cancelling… (the judgement under way is finished and saved)")
            self._update_buttons()
        elif self.state == "paused":
            self.state = "idle"
            self.rate_label.setText(f"cancelled after {self._done_text()}; saved: open the same data again "
                                    "(or resume it from Earlier runs) to continue")
            self._update_buttons()
            self._check_run_key()

    def _done_text(self) -> str:
        return f"{self.progress_bar.value()} of {self.progress_bar.maximum()}"

    def stop_for_close(self, timeout_ms: int = 120000) -> bool:
        """Cancel the run and wait (the GUI alive) until the judgement under way is committed; True once stopped."""
        task = self.run_task
        if task is None or not task.is_running:
            return True
        self.cancel()
        loop = QEventLoop()
        task.task_did_end.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        if task.is_running:
            loop.exec()
        return not task.is_running

    def resume_selected_run(self) -> Task | None:
        """Resume the earlier run selected in the table, with the judge and settings it was started with."""
        rows = self.earlier_table.selectionModel().selectedRows()
        if not rows or self._busy():
            return None
        earlier = self._earlier[rows[0].row()]
        try:
            spec = spec_for_run(earlier.info, self.context.settings.server_options())
        except LookupError as exc:
            self.context.messages.show_error(str(exc))
            return None
        self.mode_box.setCurrentIndex(self.mode_box.findData(earlier.info.mode))
        self.both_orders.setChecked(len(earlier.info.orders) == 2 or earlier.info.mode == "single")
        if spec.judge is not None:  # None: a server's judge known by its model id, not in the picker
            self.picker.set_judge(spec.judge)
        self.picker.set_format(spec.format)
        return self.start(spec)

    def _progressed(self, progress: object) -> None:
        if isinstance(progress, _RunKeyed):
            self._running = progress
            return
        if not isinstance(progress, BatchProgress):
            return
        self.progress_bar.setRange(0, progress.total)
        self.progress_bar.setValue(progress.done)
        unit = "pairs" if self.mode_box.currentData() == "pairwise" else "responses"
        rate = f"{progress.per_minute:.1f} {unit}/min" if progress.per_minute else "measuring…"
        eta = f" · ETA {format_duration(progress.eta_seconds)}" if progress.eta_seconds is not None else ""
        self.rate_label.setText(f"{rate}{eta}")
        if self.state in ("pausing", "cancelling"):
            self.rate_label.setText(f"{self.state}… (the judgement under way is finished and saved)")
        if progress.last is not None:
            self.live_model.append(progress.last)
            self.live_table.scrollToBottom()
        self._show_live_progress(progress)
        if not self._announced and self.folder is not None:
            # The run is in the database now (as its folder's latest): record it, let Results follow it, and
            # list it under Earlier runs if it is new.
            self._announced = True
            self._record_history(progress.done, progress.total)
            self.batch_did_start_run.emit(self.folder)
            if self._running is not None and all(r.info.run_key != self._running.run_key for r in self._earlier):
                self._refresh_earlier()
        now = time.monotonic()
        if self.folder is not None and now - self._last_update >= _UPDATE_EVERY_S:
            self._last_update = now
            self._record_history(progress.done, progress.total)
            self.context.run_did_update.emit(self.folder)

    def _record_history(self, done: int, total: int) -> None:
        running, folder, dataset = self._running, self.folder, self.dataset
        if running is None or folder is None or dataset is None:
            return
        settings = running.settings
        orders = settings.get("orders") or ()
        try:
            self.history.record(folder=folder, run_key=running.run_key, source=str(dataset.source),
                                label=_label(settings), mode=str(settings.get("mode", "pairwise")),
                                orders=[str(o) for o in orders] if isinstance(orders, list | tuple) else (),
                                settings=settings, done=done, total=total)
        except OSError as exc:  # the history is a convenience: a full disk must not stop the run
            self.context.messages.show_error(f"{self.history.path}: cannot record the run ({exc})")

    def _finished(self, result: BatchResult) -> None:
        self.state = "finished"
        self.last_result = result
        folder = self.folder
        self.progress_bar.setValue(self.progress_bar.maximum())
        parts = [f"{result.total} done"]
        if result.already_done:
            parts.append(f"{result.already_done} judgement(s) resumed from before")
        if result.unparsed:
            parts.append(f"{result.unparsed} unparsed")
        if result.errors:
            parts.append(f"{result.errors} failed (see the results table)")
        self.rate_label.setText(", ".join(parts))
        self._record_history(result.total, result.total)
        if folder is None or self._closed:
            return
        self.context.run_did_update.emit(folder)
        self._refresh_earlier()
        run_key = result.run_key
        reports = report_task_errors(self.context.jobs.submit(
            lambda ctx: write_reports(folder, run_key=run_key)[0], "writing the reports"), self.context.messages)
        reports.task_did_finish.connect(
            lambda files: self.context.messages.show_info(f"Run finished: report {files.report}"))

    def _stopped(self) -> None:
        paused = self.state == "pausing"
        self.state = "paused" if paused else "idle"
        done = self._done_text()
        self.rate_label.setText(f"paused after {done}: Resume continues, Cancel ends" if paused else
                                f"cancelled after {done}; saved: open the same data again (or resume it from "
                                "Earlier runs) to continue")
        self._record_history(self.progress_bar.value(), self.progress_bar.maximum())
        if self.folder is not None and not self._closed:
            self.context.run_did_update.emit(self.folder)
            self._refresh_earlier()

    def _failed(self, message: str) -> None:
        self.state = "idle"
        self.rate_label.setText("stopped by an error (see above)")

    def _refresh_earlier(self) -> None:
        folder = self.folder
        if folder is None or self._closed:  # the job pool is shut down once the window closes
            return
        task = self.context.jobs.submit(lambda ctx: find_earlier_runs(folder), "listing earlier runs")
        task.task_did_finish.connect(lambda earlier: folder == self.folder and self._show_earlier_now(earlier))
        self._earlier_task = task

    def _show_earlier_now(self, earlier: list[EarlierRun]) -> None:
        self._earlier = earlier
        self._show_earlier(earlier)
        self._check_run_key()

    def _open_results(self) -> None:
        if self.folder is not None and (self.folder / "run.sqlite").exists():
            self.context.open_results(self.folder, self.last_result.run_key if self.last_result else None)
        else:
            self.context.messages.show_error("No run yet for this data: press Start first.")

    def _busy(self) -> bool:
        return self.run_task is not None and self.run_task.is_running

    def _update_buttons(self) -> None:
        running = self._busy()
        stopping = self.state in ("pausing", "cancelling")
        self.start_button.setEnabled(not running and self.dataset is not None and self.state != "previewing")
        self.start_button.setText("Resume" if self.state == "paused" else "Start")
        self.pause_button.setEnabled(running and not stopping)
        self.cancel_button.setEnabled((running and not stopping) or self.state == "paused")
        self.cancel_button.setText("Cancelling…" if self.state == "cancelling" and running else "Cancel")
        self.pause_button.setText("Pausing…" if self.state == "pausing" and running else "Pause")
        for widget in (self.path_edit, self.picker, self.pairing_box, self.mode_box, self.limit_box):
            widget.setEnabled(not running)
        self.baseline_box.setEnabled(not running and self.pairing_box.currentData() == "baseline")
        self.both_orders.setEnabled(not running and self.mode_box.currentData() == "pairwise")
        self.results_button.setEnabled(self.folder is not None)
        if running:
            self.resume_earlier.setEnabled(False)

    def view_will_close(self) -> None:
        """The window closes: stop the run (everything judged is already saved) and schedule nothing more."""
        self._closed = True
        if self.run_task is not None:
            self.run_task.cancel()

    # Esc cancels a running or paused batch. The main window binds Esc (dismiss the message) as a shortcut, so
    # while a run is under way the view claims the key before the shortcut map sees it.
    def _cancellable(self) -> bool:
        return self._busy() or self.state == "paused"

    def event(self, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.ShortcutOverride and self._cancellable()
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._cancellable():
            self.cancel()
            event.accept()
            return
        super().keyPressEvent(event)


def _label(settings: dict[str, object]) -> str:
    """A run's judge and format as the runner labels it."""
    return f"{settings.get('judge_name')} ({settings.get('file_type')}) / {settings.get('format')}"
