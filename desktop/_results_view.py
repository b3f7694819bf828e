"""The Results view: a run's figures first (ranking, win-rate matrix, judge behaviour, agreement), then its verdicts.

Reading the run and computing its statistics (bootstraps included) happen in the job pool: the rows arrive first
(as progress) and fill the table, the summary follows and fills the charts. A run still being judged is watched:
`run_did_update` for the open folder reloads it, at most once every two seconds. Overrides are written straight to
the run database (one short transaction) and the statistics are recomputed so agreement with them shows at once.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from judgedesk.core import JudgedeskError, copy_owner_only
from judgedesk.core.reports import ResultRow, build_summary, load_peer_results, load_results
from judgedesk.core.runs import RunInfo, RunStore
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ._context import AppContext
from ._demo_judge_note import DemoJudgeNote
from ._labelling_dialog import LabellingDialog
from ._messages import report_task_errors
from ._protocol_tables import ProtocolTables, has_protocol_figures
from ._result_detail import ResultDetailPane
from ._results_export import EXPORT_KINDS, listed, write_exports
from ._results_model import IndexedResults, ResultsFilter, ResultsTableModel, index_results
from ._results_overview import ResultsOverview
from ._run_history import HISTORY_FILE, RunHistory, local_time
from ._tasks import Task, WorkContext
from ._verdicts_table import VerdictsTable
from ._warning_banner import RunWarningBanner

__all__ = ["ResultsView"]

_REFRESH_SECONDS = 2.0
_RECENT_RUNS = 15  # runs of other data sets offered in the run list, most recently judged first
_ANY = "__any__"
_PAIRWISE_DECISIONS = ("A", "B", "tie", "inconsistent", "unparsed", "pending")
_GRADE_DECISIONS = ("graded", "unparsed", "pending")


class ResultsView(QWidget):
    """Figures and verdicts of one run key of a run folder."""

    title = "Results"

    results_did_load = Signal(object)
    """The rows of the open run were (re)loaded: a RunResults."""
    summary_did_update = Signal(object)
    """The statistics of the open run were (re)computed: the summary dictionary."""
    override_did_change = Signal(str)
    """An override was set or cleared: the task's content hash."""
    export_did_finish = Signal(object)
    """Report files were written: a list of Paths."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsView")
        self.context = context
        self.folder: Path | None = None
        self.run_key: str | None = None
        self.info: RunInfo | None = None
        self.summary: dict[str, Any] | None = None
        self.rounds = 1000
        """Bootstrap rounds of the statistics (tests use fewer)."""
        self._generation = 0
        self._load_task: Task | None = None
        self._reload_pending = False
        self._closed = False
        """The window is closing: the job pool shuts down, so nothing more is scheduled."""
        self._last_load = -_REFRESH_SECONDS
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.timeout.connect(self._scheduled_reload)
        self.model = ResultsTableModel(self)
        self._build()
        context.run_did_update.connect(self._run_did_update)

    # -- layout ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.open_button = QPushButton("Open run folder…")
        self.open_button.setObjectName("openRunFolder")
        self.open_button.clicked.connect(self._ask_folder)
        self.run_picker = QComboBox()
        self.run_picker.setObjectName("runPicker")
        self.run_picker.setToolTip("The run keys (judge and settings) stored in this folder")
        self.run_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.run_picker.currentIndexChanged.connect(self._run_picked)
        self.inconsistent_as_tie = QCheckBox("Inconsistent as tie")
        self.inconsistent_as_tie.setObjectName("inconsistentAsTie")
        self.inconsistent_as_tie.setToolTip("Count pairs whose two orders disagree as ties (PandaLM's protocol) in "
                                            "the ranking, heat map and win rates only; judge behaviour, agreement "
                                            "and warnings always show them as inconsistent")
        self.apply_overrides = QCheckBox("Apply overrides")
        self.apply_overrides.setObjectName("applyOverrides")
        self.apply_overrides.setToolTip("Rank and count with the analyst's overrides in place of the judge's "
                                        "decisions (judge behaviour and agreement stay the judge's)")
        for box in (self.inconsistent_as_tie, self.apply_overrides):
            box.toggled.connect(lambda _checked: self.reload())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("refreshResults")
        self.refresh_button.setToolTip("Reload the run (F5)")
        self.refresh_button.clicked.connect(lambda: self.reload())
        self.export_report = QPushButton("HTML report")
        self.export_report.setObjectName("exportReport")
        self.export_tables = QPushButton("Tables")
        self.export_tables.setObjectName("exportTables")
        self.export_battles = QPushButton("Battles")
        self.export_battles.setObjectName("exportBattles")
        self.export_elsewhere = QPushButton("Export to…")
        self.export_elsewhere.setObjectName("exportTo")
        self.open_export_folder = QPushButton("Open folder")
        self.open_export_folder.setObjectName("openExportFolder")
        self.export_report.setToolTip("Write report.html into the run folder (Ctrl+E)")
        self.export_tables.setToolTip("Write pairs.xlsx and pairs.csv (one row per pair, as the Verdicts tab) and "
                                      "verdicts.csv (one row per judged order) into the run folder")
        self.export_battles.setToolTip("Write battles.jsonl (Chatbot Arena's shape) into the run folder")
        self.export_elsewhere.setToolTip("Write every report file and copy them to a folder of your choice")
        self.export_report.clicked.connect(lambda: self.export_to(None, ("report",)))
        self.export_tables.clicked.connect(lambda: self.export_to(None, ("tables",)))
        self.export_battles.clicked.connect(lambda: self.export_to(None, ("battles",)))
        self.export_elsewhere.clicked.connect(self._ask_export_folder)
        self.open_export_folder.clicked.connect(self.open_exported_folder)
        self._export_folder: Path | None = None
        self.label_sample = QPushButton("Label a sample…")
        self.label_sample.setObjectName("labelSample")
        self.label_sample.setToolTip("Label a uniform random sample of this run's pairs yourself, one at a time "
                                     "(saved as overrides): the human labels calibrated figures need")
        self.label_sample.setEnabled(False)
        self.label_sample.clicked.connect(self.open_labelling)
        self.labelling_dialog: LabellingDialog | None = None

        # Two rows, so the view still fits a 1024-pixel-wide screen beside the navigation.
        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(QLabel("Run:"))
        top.addWidget(self.run_picker, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.label_sample)  # the export row is full at 1024 pixels
        exports = QHBoxLayout()
        exports.addWidget(self.inconsistent_as_tie)
        exports.addWidget(self.apply_overrides)
        exports.addStretch(1)
        exports.addWidget(QLabel("Export:"))
        for button in (self.export_report, self.export_tables, self.export_battles, self.export_elsewhere,
                       self.open_export_folder):
            exports.addWidget(button)

        self.summary_label = QLabel("No run open. Open a run folder, or finish a batch in the Batch view.")
        self.summary_label.setObjectName("resultsSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # The run's warnings (a judge inconsistent on most pairs...), above everything the figures say.
        self.warning_banner = RunWarningBanner()
        # Once, on the first run judged by the demo judge: it is too weak for real verdicts, and how to get one.
        self.demo_note = DemoJudgeNote(self.context.settings, "results", compact=True)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("resultsTabs")
        self.overview = ResultsOverview()
        # The charts, reached from tests and the screenshot script through the view.
        self.ranking_chart, self.grades_chart = self.overview.ranking_chart, self.overview.grades_chart
        self.heat_map, self.behaviour_chart = self.overview.heat_map, self.overview.behaviour_chart
        self.agreement_chart, self.category_table = self.overview.agreement_chart, self.overview.category_table
        self.tabs.addTab(self.overview, "Overview")
        self.tabs.addTab(self._build_verdicts(), "Verdicts")
        # AlpacaEval, Arena-Hard and MT-bench figures, and agreement with other judges: only for runs that have them.
        self.protocol_tables = ProtocolTables()
        self._protocol_tab = self.tabs.addTab(self.protocol_tables, "Leaderboards and calibration")
        self.tabs.setTabVisible(self._protocol_tab, False)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(exports)
        layout.addWidget(self.warning_banner)
        layout.addWidget(self.demo_note)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.tabs, 1)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self, lambda: self.reload())
        QShortcut(QKeySequence("Ctrl+E"), self, lambda: self.export_to(None, ("report",)))
        self._set_enabled(False)

    def _build_verdicts(self) -> QWidget:
        self.filter_model = QComboBox()
        self.filter_model.setObjectName("filterModel")
        self.filter_category = QComboBox()
        self.filter_category.setObjectName("filterCategory")
        self.filter_decision = QComboBox()
        self.filter_decision.setObjectName("filterDecision")
        self.filter_inconsistent = QCheckBox("Inconsistent only")
        self.filter_inconsistent.setObjectName("filterInconsistent")
        self.filter_unparsed = QCheckBox("Unparsed only")
        self.filter_unparsed.setObjectName("filterUnparsed")
        self.filter_text = QLineEdit()
        self.filter_text.setObjectName("filterText")
        self.filter_text.setPlaceholderText("Item id contains…")
        self.filter_text.setClearButtonEnabled(True)
        self.filter_count = QLabel("")
        self.filter_count.setObjectName("filterCount")
        for combo in (self.filter_model, self.filter_category, self.filter_decision):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.currentIndexChanged.connect(self._filters_did_change)
        for box in (self.filter_inconsistent, self.filter_unparsed):
            box.toggled.connect(self._filters_did_change)
        self.filter_text.textChanged.connect(self._filters_did_change)
        filters = QHBoxLayout()
        for widget in (self.filter_model, self.filter_category, self.filter_decision, self.filter_inconsistent,
                       self.filter_unparsed):
            filters.addWidget(widget)
        filters.addWidget(self.filter_text, 1)
        filters.addWidget(self.filter_count)

        self.table = VerdictsTable(self.model)
        self.table.selectionModel().currentRowChanged.connect(self._row_did_change)
        # A reload or a new filter resets the model and drops the selection without a signal: the detail follows.
        self.model.modelReset.connect(self._row_did_change)
        self.detail = ResultDetailPane()
        self.detail.override_a.clicked.connect(lambda: self.set_override("A", self.detail.override_note.text()))
        self.detail.override_b.clicked.connect(lambda: self.set_override("B", self.detail.override_note.text()))
        self.detail.override_tie.clicked.connect(lambda: self.set_override("tie", self.detail.override_note.text()))
        self.detail.override_set_score.clicked.connect(
            lambda: self.set_override(self.detail.override_score.value(), self.detail.override_note.text()))
        self.detail.override_clear.clicked.connect(lambda: self.set_override(None))

        detail_scroll = self.detail_scroll = QScrollArea()
        detail_scroll.setObjectName("detailScroll")
        detail_scroll.setWidgetResizable(True)
        detail_scroll.setFrameShape(QFrame.Shape.NoFrame)
        detail_scroll.setWidget(self.detail)
        # The table first: at 1024×700 it keeps most of the height; the detail below scrolls, and folds away
        # (the Details button, or dragging the handle down) to give the table all of it.
        split = self.verdicts_split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("verdictsSplit")
        split.addWidget(self.table)
        split.addWidget(detail_scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setCollapsible(0, False)
        split.setSizes([600, 400])
        self.details_toggle = QToolButton()
        self.details_toggle.setObjectName("toggleDetails")
        self.details_toggle.setText("Details")
        self.details_toggle.setCheckable(True)
        self.details_toggle.setChecked(True)
        self.details_toggle.setToolTip("Show or fold away the selected row's details below the table")
        self.details_toggle.toggled.connect(detail_scroll.setVisible)
        split.splitterMoved.connect(lambda *_: self.details_toggle.setChecked(split.sizes()[1] > 0))
        filters.addWidget(self.details_toggle)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(filters)
        layout.addWidget(split, 1)
        return page

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.run_picker, self.inconsistent_as_tie, self.apply_overrides, self.refresh_button,
                       self.export_report, self.export_tables, self.export_battles, self.export_elsewhere,
                       self.open_export_folder):
            widget.setEnabled(enabled)

    # -- opening and loading --------------------------------------------------------------------------------

    def open_run(self, folder: str | Path, run_key: str | None = None) -> None:
        """Show a run folder's results; `run_key` (or a prefix) picks one of its runs, default the latest."""
        folder = Path(folder)
        if not (folder / "run.sqlite").is_file():
            self.context.messages.show_error(f"{folder}: not a judgedesk run folder (no run.sqlite)")
            return
        try:
            with RunStore(folder) as store:
                runs = store.runs()
        except (JudgedeskError, sqlite3.Error) as exc:
            self.context.messages.show_error(f"{folder}: {exc}")
            return
        if not runs:
            self.context.messages.show_error(f"{folder}: the run folder holds no run yet")
            return
        chosen = runs[-1]
        if run_key is not None:
            matches = [r for r in runs if r.run_key.startswith(run_key)]
            if len(matches) != 1:
                self.context.messages.show_error(f"{folder}: run {run_key!r} matches {len(matches)} runs")
                return
            chosen = matches[0]
        self.folder = folder
        self.run_picker.blockSignals(True)
        self.run_picker.clear()
        history = RunHistory(self.context.settings.path.parent / HISTORY_FILE)
        for info in runs:
            orders = "" if info.mode == "single" else f" {'+'.join(info.orders)}"
            entry = history.find(folder, info.run_key)
            when = f" · {local_time(entry.updated)}" if entry is not None else ""
            self.run_picker.addItem(f"{info.label} · {info.mode}{orders} · {info.run_key[:8]}{when}", info.run_key)
        # The runs of other data sets from the app's run history, so a finished run is one pick away.
        recent = [e for e in history.entries()
                  if Path(e.folder) != folder and (Path(e.folder) / "run.sqlite").is_file()][:_RECENT_RUNS]
        if recent:
            self.run_picker.insertSeparator(self.run_picker.count())
            for e in recent:
                self.run_picker.addItem(f"{e.data_name} · {e.label} · {local_time(e.updated)} · "
                                        f"{e.done} / {e.total}", (e.folder, e.run_key))
        self.run_picker.setCurrentIndex(runs.index(chosen))
        self.run_picker.setEnabled(self.run_picker.count() > 1)
        self.run_picker.blockSignals(False)
        self._show_run(chosen)

    def _show_run(self, info: RunInfo) -> None:
        self.run_key, self.info, self.summary = info.run_key, info, None
        self._set_enabled(True)
        self._set_export_folder(self.folder)
        self.run_picker.setEnabled(self.run_picker.count() > 1)
        self.export_battles.setEnabled(info.mode == "pairwise")
        self.label_sample.setEnabled(info.mode == "pairwise")  # grading runs: `judgedesk label-plan --export`
        single = info.mode == "single"
        for column in (2, 4, 5, 7):  # model B, both orders' winners, confidence: pairwise only
            self.table.setColumnHidden(column, single)
        self.overview.set_mode(single)
        self.model.set_results(None)
        self.detail.show_row(None, single=info.mode == "single", orders=info.orders)
        self._reset_filters()
        self.overview.show_summary({}, single=single, inconsistent_as_tie=self.inconsistent_as_tie.isChecked())
        self.warning_banner.show_warnings([])  # another run's warnings are not this one's
        self.demo_note.offer(info.settings)
        self.summary_label.setText(f"Loading {self.folder} …")
        self.reload()

    def _run_picked(self, index: int) -> None:
        key = self.run_picker.itemData(index)
        if isinstance(key, tuple | list) and len(key) == 2:  # a run of another data set, from the history
            self.open_run(Path(key[0]), str(key[1]))
            return
        if self.folder is not None and key and key != self.run_key:
            self.open_run(self.folder, key)

    def _ask_folder(self) -> None:
        start = str(self.folder or self.context.settings.runs_dir)
        chosen = QFileDialog.getExistingDirectory(self, "Open a run folder", start)
        if chosen:
            self.open_run(Path(chosen))

    @property
    def is_loading(self) -> bool:
        return self._load_task is not None

    def reload(self, *, restart: bool = True) -> None:
        """Read the run again and recompute its statistics (in the job pool). A load in flight is dropped
        (`restart`, after anything the user changed) or followed by one more when it ends (a watched run)."""
        if self.folder is None or self.run_key is None or self._closed:
            return
        if self._load_task is not None:
            if not restart:
                self._reload_pending = True
                return
            self._load_task.cancel()  # its outcome is ignored: the generation moves on
            self._load_task = None
        self._generation += 1
        generation = self._generation
        folder, key, rounds = self.folder, self.run_key, self.rounds
        as_tie, apply = self.inconsistent_as_tie.isChecked(), self.apply_overrides.isChecked()

        def work(ctx: WorkContext) -> dict[str, Any]:
            results = load_results(folder, key)
            ctx.progress(index_results(results))
            ctx.check_cancelled()
            return build_summary(results, inconsistent_as_tie=as_tie, rounds=rounds, apply_overrides=apply,
                                 peers=load_peer_results(results))

        self._last_load = time.monotonic()
        task = report_task_errors(self.context.jobs.submit(work, name="results"), self.context.messages)
        self._load_task = task
        task.task_did_progress.connect(lambda results: self._did_load_rows(generation, results))
        task.task_did_finish.connect(lambda summary: self._did_summarise(generation, summary))
        task.task_did_end.connect(lambda: self._load_did_end(task))

    def expect_run(self, folder: str | Path) -> None:
        """A batch has started into `folder`: until its first verdict is stored (the judge may still be loading),
        say so here instead of "No run open"; a run already open stays until the new one replaces it."""
        if self.folder is None:
            self.summary_label.setText(f"A batch is starting in the Batch view (the judge is loading): its run in "
                                       f"{folder} opens here with its first verdict.")

    def view_will_close(self) -> None:
        """The window closes: a watched run's pending reload is dropped (the job pool is shutting down)."""
        self._closed = True
        self._refresh_timer.stop()

    def _load_did_end(self, task: Task) -> None:
        if self._load_task is not task:
            return
        self._load_task = None
        if self._reload_pending:
            self._reload_pending = False
            self._schedule_reload()

    def _run_did_update(self, folder: object) -> None:
        if self.folder is None or not isinstance(folder, str | Path):
            return
        if Path(folder).resolve() == self.folder.resolve():
            self._schedule_reload()

    def _schedule_reload(self) -> None:
        """Reload now, or when two seconds have passed since the last load."""
        wait = _REFRESH_SECONDS - (time.monotonic() - self._last_load)
        if wait <= 0 and self._load_task is None:
            self.reload(restart=False)
        elif self._load_task is not None:
            self._reload_pending = True
        elif not self._refresh_timer.isActive():
            self._refresh_timer.start(int(wait * 1000) + 1)

    def _scheduled_reload(self) -> None:
        self.reload(restart=False)

    def _did_load_rows(self, generation: int, loaded: object) -> None:
        if generation != self._generation or not isinstance(loaded, IndexedResults):
            return
        results = loaded.results
        selected = self.selected_row()
        scrolled = self.table.verticalScrollBar().value()  # a watched run reloads every few seconds: stay put
        self.info = results.info
        self.model.set_results(loaded)
        self._refill_filters()
        self._update_count()
        if selected is not None:
            row = self.model.row_of(selected.task.content)
            if row is not None:
                self.table.selectRow(row)
        self.table.verticalScrollBar().setValue(scrolled)
        self.summary_label.setText(self._summary_text(loaded))
        self.table.measure_columns()
        self.results_did_load.emit(results)

    def _did_summarise(self, generation: int, summary: object) -> None:
        if generation != self._generation or not isinstance(summary, dict):
            return
        self.summary = summary
        self.overview.show_summary(summary, single=self.info is not None and self.info.mode == "single",
                                   inconsistent_as_tie=self.inconsistent_as_tie.isChecked())
        self.warning_banner.show_warnings(summary.get("warnings") or [])
        self.protocol_tables.show_summary(summary)
        self.tabs.setTabVisible(self._protocol_tab, has_protocol_figures(summary))
        self.summary_did_update.emit(summary)

    def _summary_text(self, loaded: IndexedResults) -> str:
        results = loaded.results
        info = results.info
        shown = ", ".join(f"{name} {count}" for name, count in sorted(loaded.statuses.items())) or "none yet"
        mode = "single grading" if info.mode == "single" else f"pairwise, orders {'+'.join(info.orders)}"
        text = (f"{info.label} · {mode} · {results.complete} of {len(results.rows)} tasks complete · "
                f"judgements: {shown}")
        if results.overridden:
            text += f" · {results.overridden} overridden"
        if results.problems:
            text += f" · {len(results.problems)} input problems skipped"
        return text + f"\n{results.folder}"

    # -- table, filters, detail -----------------------------------------------------------------------------

    def _reset_filters(self) -> None:
        for widget in (self.filter_model, self.filter_category, self.filter_decision, self.filter_inconsistent,
                       self.filter_unparsed, self.filter_text):
            widget.blockSignals(True)
        self.filter_model.clear()
        self.filter_category.clear()
        self.filter_decision.clear()
        self.filter_inconsistent.setChecked(False)
        self.filter_unparsed.setChecked(False)
        self.filter_text.clear()
        single = self.info is not None and self.info.mode == "single"
        self.filter_inconsistent.setVisible(not single)
        self.filter_decision.addItem("Any grade" if single else "Any decision", _ANY)
        for decision in _GRADE_DECISIONS if single else _PAIRWISE_DECISIONS:
            self.filter_decision.addItem(decision, decision)
        for widget in (self.filter_model, self.filter_category, self.filter_decision, self.filter_inconsistent,
                       self.filter_unparsed, self.filter_text):
            widget.blockSignals(False)
        self.model.set_filter(ResultsFilter())
        self._refill_filters()

    def _refill_filters(self) -> None:
        """Model and category choices from the loaded rows, keeping what is chosen."""
        for combo, everything, values in ((self.filter_model, "All models", self.model.models()),
                                          (self.filter_category, "All categories", self.model.categories())):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(everything, _ANY)
            for value in values:
                combo.addItem(value, value)
            found = combo.findData(current) if current is not None else 0
            combo.setCurrentIndex(max(found, 0))
            combo.blockSignals(False)
        self.filter_category.setVisible(self.filter_category.count() > 1)

    def _filters_did_change(self, *_args: object) -> None:
        def chosen(combo: QComboBox) -> str | None:
            data = combo.currentData()
            return None if data in (None, _ANY) else str(data)

        self.model.set_filter(ResultsFilter(
            model=chosen(self.filter_model), category=chosen(self.filter_category),
            decision=chosen(self.filter_decision), inconsistent_only=self.filter_inconsistent.isChecked(),
            unparsed_only=self.filter_unparsed.isChecked(), text=self.filter_text.text()))
        self._update_count()
        self._row_did_change()

    def _update_count(self) -> None:
        self.filter_count.setText(f"{self.model.rowCount():,} of {self.model.total_rows():,} rows")

    def selected_row(self) -> ResultRow | None:
        """The task selected in the table, if any."""
        index = self.table.selectionModel().currentIndex()
        if not index.isValid() or index.row() >= self.model.rowCount():
            return None
        return self.model.row_at(index.row())

    def _row_did_change(self, *_args: object) -> None:
        info = self.info
        scale = None
        if info is not None and info.mode == "single" and self.summary:
            grades_scale = (self.summary.get("grades") or {}).get("scale")
            scale = tuple(grades_scale) if grades_scale else None
        self.detail.show_row(self.selected_row(), single=info is not None and info.mode == "single",
                             orders=info.orders if info else (), scale=scale or (0.0, 10.0))

    # -- overrides ------------------------------------------------------------------------------------------

    def set_override(self, value: str | float | None, note: str | None = None) -> None:
        """Override the selected task's verdict (A, B, tie) or grade (a score); None clears it."""
        row = self.selected_row()
        if row is None or self.folder is None or self.run_key is None:
            return
        content = row.task.content
        try:
            with RunStore(self.folder) as store:
                if value is None:
                    store.clear_override(self.run_key, content)
                    override = None
                else:
                    override = store.set_override(self.run_key, content, value, (note or "").strip() or None)
        except JudgedeskError as exc:
            self.context.messages.show_error(str(exc))
            return
        except sqlite3.Error as exc:
            self.context.messages.show_error(f"{self.folder}: could not store the override ({exc})")
            return
        self.model.set_override(content, override)
        self.detail.override_note.clear()
        self._row_did_change()
        self.override_did_change.emit(content)
        self.reload()  # agreement with the overrides, and the figures when they are applied

    # -- labelling a sample ---------------------------------------------------------------------------------

    def open_labelling(self) -> LabellingDialog | None:
        """Open the "Label a sample" dialog on the open run; its labels are overrides, so the view reloads."""
        if self.folder is None or self.run_key is None:
            return None
        dialog = self.labelling_dialog = LabellingDialog(self.folder, self.run_key, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.label_did_change.connect(self.override_did_change)
        dialog.finished.connect(lambda _result: self.reload())
        dialog.open()
        return dialog

    # -- export ---------------------------------------------------------------------------------------------

    def export_to(self, target: str | Path | None = None, kinds: tuple[str, ...] = EXPORT_KINDS) -> Task | None:
        """Write the run's report files (in the job pool) and copy them into `target` when given. `kinds` names
        what to write: report (report.html), tables (pairs.csv, pairs.xlsx, verdicts.csv), summary, battles. A
        single kind writes that file alone; the message bar says where the files went, "Open folder" opens it,
        and the paths come with `export_did_finish`."""
        if self.folder is None or self.run_key is None:
            return None
        folder, key, rounds = self.folder, self.run_key, self.rounds
        as_tie, apply = self.inconsistent_as_tie.isChecked(), self.apply_overrides.isChecked()
        destination = Path(target) if target is not None else None

        def work(ctx: WorkContext) -> list[Path]:
            paths = write_exports(folder, key, kinds, rounds=rounds, inconsistent_as_tie=as_tie,
                                  apply_overrides=apply)
            if destination is not None and destination.resolve() != folder.resolve():
                try:
                    destination.mkdir(parents=True, exist_ok=True)
                    paths = [copy_owner_only(path, destination / path.name) for path in paths]
                except OSError as exc:
                    raise JudgedeskError(f"{destination}: could not copy the reports ({exc.strerror})") from None
            return paths

        task = report_task_errors(self.context.jobs.submit(work, name="export"), self.context.messages)
        task.task_did_finish.connect(self._did_export)
        return task

    def _did_export(self, paths: object) -> None:
        written = [Path(p) for p in paths] if isinstance(paths, list) else []
        if written:
            where = written[0].parent
            self._set_export_folder(where)
            self.context.messages.show_info(f"Wrote {listed(p.name for p in written)} to {where}. "
                                            "“Open folder” beside Export shows them.")
        else:
            self.context.messages.show_info("Nothing to export for this run (battles need a pairwise run).")
        self.export_did_finish.emit(written)

    def _set_export_folder(self, folder: Path | None) -> None:
        self._export_folder = folder
        self.open_export_folder.setToolTip(f"Open {folder} in the file manager" if folder else "")

    @property
    def export_folder(self) -> Path | None:
        """Where "Open folder" leads: the folder of the last export, else the run folder."""
        return self._export_folder

    def open_exported_folder(self) -> None:
        """Show the folder of the last export (else the run folder) in the system's file manager."""
        folder = self._export_folder
        if folder is None:
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.context.messages.show_error(f"{folder}: no file manager could open the folder")

    def _ask_export_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Export the reports to", str(self.folder or Path.home()))
        if chosen:
            self.export_to(Path(chosen))

