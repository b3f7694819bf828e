"""The Results view: a run's figures first (ranking, win-rate matrix, judge behaviour, agreement), then its verdicts.

Reading the run and computing its statistics (bootstraps included) happen in the job pool: the rows arrive first
(as progress) and fill the table, the summary follows and fills the charts. A run still being judged is watched:
`run_did_update` for the open folder reloads it, at most once every two seconds. Overrides are written straight to
the run database (one short transaction) and the statistics are recomputed so agreement with them shows at once.
"""

from __future__ import annotations

import html
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from judgedesk.core import JudgedeskError
from judgedesk.core.reports import ResultRow, build_summary, load_results, write_reports
from judgedesk.core.runs import RunInfo, RunStore
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ._charts import BarRow, HeatMapChart, IntervalChart, IntervalRow, PercentBarChart
from ._context import AppContext
from ._messages import report_task_errors
from ._results_model import IndexedResults, ResultsFilter, ResultsTableModel, describe_side, index_results
from ._tasks import Task, WorkContext

__all__ = ["ResultsView"]

_REFRESH_SECONDS = 2.0
_ANY = "__any__"
_PAIRWISE_DECISIONS = ("A", "B", "tie", "inconsistent", "unparsed", "pending")
_GRADE_DECISIONS = ("graded", "unparsed", "pending")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


class _DetailPane(QWidget):
    """The selected task: its texts, both judged orders side by side, and the override control."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultDetail")
        self.header = QLabel("Select a row to see the item and both orders.")
        self.header.setObjectName("detailHeader")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.instruction = self._text("detailInstruction", 48)
        self.response_a = self._text("detailResponseA", 90)
        self.response_b = self._text("detailResponseB", 90)
        self.order_ab = QTextBrowser()
        self.order_ab.setObjectName("detailOrderAB")
        self.order_ba = QTextBrowser()
        self.order_ba.setObjectName("detailOrderBA")
        for browser in (self.order_ab, self.order_ba):
            browser.setOpenLinks(False)
            browser.setMinimumHeight(220)  # winner, probabilities, reason and the start of the raw output
        self.label_a = QLabel("Response A")
        self.label_b = QLabel("Response B")

        responses = QSplitter(Qt.Orientation.Horizontal)
        responses.addWidget(self._titled(self.label_a, self.response_a))
        responses.addWidget(self._titled(self.label_b, self.response_b))
        orders = QSplitter(Qt.Orientation.Horizontal)
        orders.setObjectName("detailOrders")
        orders.addWidget(self.order_ab)
        orders.addWidget(self.order_ba)

        self.override_box = QGroupBox("Analyst's override")
        self.override_box.setObjectName("overrideBox")
        self.override_a = self._button("overrideA", "&A is right", "The right verdict is A (Alt+A)")
        self.override_b = self._button("overrideB", "&B is right", "The right verdict is B (Alt+B)")
        self.override_tie = self._button("overrideTie", "&Tie", "The right verdict is a tie (Alt+T)")
        self.override_score = QDoubleSpinBox()
        self.override_score.setObjectName("overrideScore")
        self.override_score.setDecimals(1)
        self.override_set_score = self._button("overrideSetScore", "&Set score", "The right score (Alt+S)")
        self.override_clear = self._button("overrideClear", "&Clear", "Remove the override (Alt+C)")
        self.override_note = QLineEdit()
        self.override_note.setObjectName("overrideNote")
        self.override_note.setPlaceholderText("Note (why the judge is wrong), optional")
        self.override_current = QLabel("No override.")
        self.override_current.setObjectName("overrideCurrent")
        self.override_current.setWordWrap(True)
        self.override_current.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        for widget in (self.override_a, self.override_b, self.override_tie, self.override_score,
                       self.override_set_score, self.override_clear):
            buttons.addWidget(widget)
        buttons.addWidget(self.override_note, 1)
        box = QVBoxLayout(self.override_box)
        box.addLayout(buttons)
        box.addWidget(self.override_current)

        self.instruction.setMaximumHeight(80)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.override_box)  # first: the analyst's action stays in sight
        layout.addWidget(self.instruction)
        layout.addWidget(responses, 1)
        layout.addWidget(orders, 2)
        self.show_row(None, single=False)

    @staticmethod
    def _text(name: str, height: int) -> QPlainTextEdit:
        edit = QPlainTextEdit()
        edit.setObjectName(name)
        edit.setReadOnly(True)
        edit.setMinimumHeight(height)
        return edit

    @staticmethod
    def _button(name: str, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        return button

    @staticmethod
    def _titled(label: QLabel, widget: QWidget) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        label.setStyleSheet("font-weight: bold")
        layout.addWidget(label)
        layout.addWidget(widget)
        return box

    def show_row(self, row: ResultRow | None, *, single: bool, orders: tuple[str, ...] = (),
                 scale: tuple[float, float] | None = None) -> None:
        for widget in (self.override_a, self.override_b, self.override_tie):
            widget.setVisible(not single)
        for widget in (self.override_score, self.override_set_score):
            widget.setVisible(single)
        self.order_ba.setVisible(not single and "BA" in orders)
        self.response_b.parentWidget().setVisible(not single)
        self.override_box.setEnabled(row is not None)
        if row is None:
            self.header.setText("Select a row to see the item and both orders.")
            for widget in (self.instruction, self.response_a, self.response_b):
                widget.clear()
            self.order_ab.clear()
            self.order_ba.clear()
            self.override_current.setText("No override.")
            return
        task = row.task
        models = task.model_a if task.model_b is None else f"{task.model_a} vs {task.model_b}"
        extra = [f"category {task.category}"] if task.category else []
        if task.human:
            extra.append(f"human label {task.human}")
        self.header.setText(f"#{task.position + 1} · {task.item_id} · {models}" +
                            (" · " + " · ".join(extra) if extra else ""))
        payload = task.payload
        text = payload.get("instruction", "")
        if payload.get("input"):
            text += f"\n\nInput:\n{payload['input']}"
        if payload.get("reference"):
            text += f"\n\nReference answer:\n{payload['reference']}"
        self.instruction.setPlainText(text)
        responses = list(payload.get("responses") or [])
        self.label_a.setText("Response" if single else f"Response A · {task.model_a}")
        self.label_b.setText(f"Response B · {task.model_b or ''}")
        self.response_a.setPlainText(responses[0] if responses else "")
        self.response_b.setPlainText(responses[1] if len(responses) > 1 else "")
        if single:
            self.order_ab.setHtml(self._side_html("Grade", row.sides.get("single"), row.statuses.get("single")))
            if scale:
                self.override_score.setRange(float(scale[0]), float(scale[1]))
        else:
            self.order_ab.setHtml(self._side_html("A shown first (AB)", row.sides.get("AB"), row.statuses.get("AB")))
            self.order_ba.setHtml(self._side_html("B shown first (BA)", row.sides.get("BA"), row.statuses.get("BA")))
        if row.override is None:
            self.override_current.setText("No override: the judge's verdict stands.")
            if single and row.score is not None:
                self.override_score.setValue(float(row.score))
        else:
            value = row.override.value
            shown = f"{value:g}" if isinstance(value, float) else value
            note = f" · “{row.override.note}”" if row.override.note else ""
            self.override_current.setText(f"✎ Override: {shown}{note} · set {row.override.created}")
            if isinstance(value, float):
                self.override_score.setValue(value)

    @staticmethod
    def _side_html(title: str, record: Any, status: str | None) -> str:
        side = describe_side(record, status)
        parts = [f"<p><b>{html.escape(title)}</b> · {html.escape(str(side['status']))}</p>"]
        if record is None:
            return "".join(parts)
        if side["winner"] is not None:
            parts.append(f"<p>Winner: <b>{html.escape(str(side['winner']))}</b></p>")
        if side["score"] is not None:
            parts.append(f"<p>Score: <b>{side['score']:g}</b></p>")
        if side["probabilities"]:
            shown = " · ".join(f"{html.escape(str(k))} {_pct(v)}" for k, v in side["probabilities"].items())
            parts.append(f"<p>Probabilities: {shown}</p>")
        if side["cut_tokens"]:
            parts.append(f"<p>{side['cut_tokens']} tokens cut to fit the context</p>")
        if side["reason"]:
            parts.append(f"<p>Reason: {html.escape(side['reason'])}</p>")
        if title.endswith("(BA)"):
            parts.append("<p style='color:#5b6577'>The raw output names positions as the judge saw them: "
                         "its first response (A) was B here.</p>")
        parts.append("<p>Raw output:</p><pre style='white-space: pre-wrap'>"
                     f"{html.escape(str(side['raw_output']))}</pre>")
        return "".join(parts)


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
        self.inconsistent_as_tie.setToolTip("Count pairs whose two orders disagree as ties (PandaLM's protocol)")
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
        self.export_csv = QPushButton("CSV")
        self.export_csv.setObjectName("exportCsv")
        self.export_battles = QPushButton("Battles")
        self.export_battles.setObjectName("exportBattles")
        self.export_elsewhere = QPushButton("Export to…")
        self.export_elsewhere.setObjectName("exportTo")
        self.export_report.setToolTip("Write report.html into the run folder (Ctrl+E)")
        self.export_csv.setToolTip("Write verdicts.csv into the run folder")
        self.export_battles.setToolTip("Write battles.jsonl (Chatbot Arena's shape) into the run folder")
        self.export_elsewhere.setToolTip("Write every report file and copy them to a folder of your choice")
        self.export_report.clicked.connect(lambda: self.export_to(None, ("report",)))
        self.export_csv.clicked.connect(lambda: self.export_to(None, ("verdicts",)))
        self.export_battles.clicked.connect(lambda: self.export_to(None, ("battles",)))
        self.export_elsewhere.clicked.connect(self._ask_export_folder)

        # Two rows, so the view still fits a 1024-pixel-wide screen beside the navigation.
        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(QLabel("Run:"))
        top.addWidget(self.run_picker, 1)
        top.addWidget(self.refresh_button)
        exports = QHBoxLayout()
        exports.addWidget(self.inconsistent_as_tie)
        exports.addWidget(self.apply_overrides)
        exports.addStretch(1)
        exports.addWidget(QLabel("Export:"))
        for button in (self.export_report, self.export_csv, self.export_battles, self.export_elsewhere):
            exports.addWidget(button)

        self.summary_label = QLabel("No run open. Open a run folder, or finish a batch in the Batch view.")
        self.summary_label.setObjectName("resultsSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("resultsTabs")
        self.tabs.addTab(self._build_overview(), "Overview")
        self.tabs.addTab(self._build_verdicts(), "Verdicts")

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(exports)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.tabs, 1)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self, lambda: self.reload())
        QShortcut(QKeySequence("Ctrl+E"), self, lambda: self.export_to(None, ("report",)))
        self._set_enabled(False)

    def _build_overview(self) -> QWidget:
        self.ranking_chart = IntervalChart("Ranking · Bradley–Terry rating (Elo scale)", axis_label="rating")
        self.ranking_chart.setObjectName("rankingChart")
        self.ranking_chart.empty_text = "No decisive verdicts to rank yet"
        self.grades_chart = IntervalChart("Mean score per model", value_format="{:.2f}", axis_label="score")
        self.grades_chart.setObjectName("gradesChart")
        self.heat_map = HeatMapChart()
        self.heat_map.setObjectName("winRateMatrix")
        self.behaviour_chart = PercentBarChart("Judge behaviour", reference_label="dashed: no bias (50%)")
        self.behaviour_chart.setObjectName("behaviourChart")
        self.agreement_chart = PercentBarChart("Agreement")
        self.agreement_chart.setObjectName("agreementChart")
        self.agreement_chart.empty_text = "No human labels or overrides in this run"
        self.category_table = QTableWidget(0, 0)
        self.category_table.setObjectName("categoryTable")
        self.category_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.category_table.verticalHeader().setVisible(False)
        self.category_table.horizontalHeader().setStretchLastSection(False)
        self.category_table.setMinimumHeight(160)
        self.category_title = QLabel("Per category")
        self.category_title.setStyleSheet("font-weight: bold")

        body = QWidget()
        grid = self._grid = QGridLayout(body)
        top = Qt.AlignmentFlag.AlignTop
        grid.addWidget(self.ranking_chart, 0, 0, top)
        grid.addWidget(self.grades_chart, 0, 0, top)
        grid.addWidget(self.heat_map, 0, 1, top)
        grid.addWidget(self.behaviour_chart, 1, 0, top)
        grid.addWidget(self.agreement_chart, 1, 1, top)
        grid.addWidget(self.category_title, 2, 0, 1, 2)
        grid.addWidget(self.category_table, 3, 0, 1, 2)
        grid.setRowStretch(4, 1)
        for column in (0, 1):
            grid.setColumnStretch(column, 1)
        grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setObjectName("chartsArea")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self.grades_chart.hide()
        return scroll

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

        self.table = QTableView()
        self.table.setObjectName("resultsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setResizeContentsPrecision(200)  # fitting the item column looks at 200 rows, not 10,000
        for column, width in enumerate((120, 130, 130, 100, 80, 80, 100, 90, 80, 70, 80)):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().currentRowChanged.connect(self._row_did_change)
        self.detail = _DetailPane()
        self.detail.override_a.clicked.connect(lambda: self.set_override("A", self.detail.override_note.text()))
        self.detail.override_b.clicked.connect(lambda: self.set_override("B", self.detail.override_note.text()))
        self.detail.override_tie.clicked.connect(lambda: self.set_override("tie", self.detail.override_note.text()))
        self.detail.override_set_score.clicked.connect(
            lambda: self.set_override(self.detail.override_score.value(), self.detail.override_note.text()))
        self.detail.override_clear.clicked.connect(lambda: self.set_override(None))

        detail_scroll = QScrollArea()
        detail_scroll.setWidgetResizable(True)
        detail_scroll.setFrameShape(QFrame.Shape.NoFrame)
        detail_scroll.setWidget(self.detail)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("verdictsSplit")
        split.addWidget(self.table)
        split.addWidget(detail_scroll)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(filters)
        layout.addWidget(split, 1)
        return page

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.run_picker, self.inconsistent_as_tie, self.apply_overrides, self.refresh_button,
                       self.export_report, self.export_csv, self.export_battles, self.export_elsewhere):
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
        for info in runs:
            orders = "" if info.mode == "single" else f" {'+'.join(info.orders)}"
            self.run_picker.addItem(f"{info.label} · {info.mode}{orders} · {info.run_key[:8]}", info.run_key)
        self.run_picker.setCurrentIndex(runs.index(chosen))
        self.run_picker.setEnabled(len(runs) > 1)
        self.run_picker.blockSignals(False)
        self._show_run(chosen)

    def _show_run(self, info: RunInfo) -> None:
        self.run_key, self.info, self.summary = info.run_key, info, None
        self._set_enabled(True)
        self.run_picker.setEnabled(self.run_picker.count() > 1)
        self.export_battles.setEnabled(info.mode == "pairwise")
        single = info.mode == "single"
        for column in (2, 4, 5, 7):  # model B, both orders' winners, confidence: pairwise only
            self.table.setColumnHidden(column, single)
        # The agreement chart takes the free place next to the first chart.
        self._grid.removeWidget(self.agreement_chart)
        self._grid.addWidget(self.agreement_chart, *((0, 1) if single else (1, 1)), Qt.AlignmentFlag.AlignTop)
        self.model.set_results(None)
        self.detail.show_row(None, single=info.mode == "single", orders=info.orders)
        self._reset_filters()
        self._paint_summary({})
        self.summary_label.setText(f"Loading {self.folder} …")
        self.reload()

    def _run_picked(self, index: int) -> None:
        key = self.run_picker.itemData(index)
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
        if self.folder is None or self.run_key is None:
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
            return build_summary(results, inconsistent_as_tie=as_tie, rounds=rounds, apply_overrides=apply)

        self._last_load = time.monotonic()
        task = report_task_errors(self.context.jobs.submit(work, name="results"), self.context.messages)
        self._load_task = task
        task.task_did_progress.connect(lambda results: self._did_load_rows(generation, results))
        task.task_did_finish.connect(lambda summary: self._did_summarise(generation, summary))
        task.task_did_end.connect(lambda: self._load_did_end(task))

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
        if self.table.columnWidth(0) <= 120:  # once per run: item ids are often long ('q1|model-a|model-b')
            self.table.resizeColumnToContents(0)
            self.table.setColumnWidth(0, min(max(self.table.columnWidth(0), 120), 280))
        self.results_did_load.emit(results)

    def _did_summarise(self, generation: int, summary: object) -> None:
        if generation != self._generation or not isinstance(summary, dict):
            return
        self.summary = summary
        self._paint_summary(summary)
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

    # -- figures --------------------------------------------------------------------------------------------

    def _paint_summary(self, summary: dict[str, Any]) -> None:
        single = self.info is not None and self.info.mode == "single"
        self.ranking_chart.setVisible(not single)
        self.heat_map.setVisible(not single)
        self.behaviour_chart.setVisible(not single)
        self.grades_chart.setVisible(single)
        if single:
            grades = summary.get("grades") or {}
            scale = grades.get("scale")
            self.grades_chart.set_rows(
                [IntervalRow(m["model"], m["mean"], m["ci_low"], m["ci_high"], f"n={m['n']}")
                 for m in grades.get("models") or []], bounds=tuple(scale) if scale else None)
            categories = grades.get("categories") or {}
            self._fill_table(["category", "model", "mean score"],
                             [[cat, model, f"{mean:.2f}"] for cat, per in categories.items()
                              for model, mean in per.items()])
        else:
            ratings = summary.get("ratings") or {}
            self.ranking_chart.title = (f"Ranking · Bradley–Terry rating, anchored at {ratings['anchor']} = 1000"
                                        if ratings.get("anchor") else "Ranking · Bradley–Terry rating")
            self.ranking_chart.empty_text = ("No decisive verdicts to rank yet" if self.inconsistent_as_tie.isChecked()
                                             else "No decisive verdicts to rank yet; try 'Inconsistent as tie'")
            self.ranking_chart.set_rows(
                [IntervalRow(m["model"], m["rating"], m["ci_low"], m["ci_high"], f"{m['games']} games")
                 for m in ratings.get("models") or []], reference=1000.0 if ratings.get("models") else None)
            matrix = summary.get("win_rate_matrix") or {}
            self.heat_map.set_matrix(matrix.get("models") or [], matrix.get("rates") or [], matrix.get("games"))
            self.behaviour_chart.set_rows(self._behaviour_rows(summary.get("judge_behaviour")))
            rows = [["(all)", p] for p in summary.get("pairs") or []]
            rows += [[name, p] for name, pairs in (summary.get("categories") or {}).items() for p in pairs]
            self._fill_table(["category", "model A", "model B", "n", "A wins", "B wins", "ties", "inconsistent",
                              "A's win rate", "95% interval"],
                             [[name, p["model_a"], p["model_b"], str(p["n"]), str(p.get("wins", "")),
                               str(p.get("losses", "")), str(p.get("ties", "")), str(p.get("inconsistent", "")),
                               _pct(p.get("win_rate")), f"{_pct(p.get('ci_low'))} – {_pct(p.get('ci_high'))}"]
                              for name, p in rows])
        self.agreement_chart.set_rows(self._agreement_rows(summary.get("agreement") or {}, single))

    @staticmethod
    def _behaviour_rows(b: dict[str, Any] | None) -> list[BarRow]:
        if not b or not b.get("n"):
            return []
        return [
            BarRow("Position consistency", b["position_consistency"], f"{b['consistent']} of {b['both_orders']}"),
            BarRow("First-position preference", b["first_position_preference"],
                   f"first shown won {b['first_shown_won']} of {b['order_verdicts']}", reference=0.5),
            BarRow("Length preference", b["length_preference"],
                   f"longer won {b['longer_won']} of {b['length_decided']}", reference=0.5),
            BarRow("Ties", b["tie_rate"], f"{b['ties']} of {b['n']}"),
            BarRow("Inconsistent", b["inconsistent_rate"], f"{b['inconsistent']} of {b['n']}"),
            BarRow("Unparsed", b["unparsed_rate"], f"{b['unparsed']} of {b['n']}"),
        ]

    @staticmethod
    def _agreement_rows(agreement: dict[str, Any], single: bool) -> list[BarRow]:
        rows = []

        def kappa(a: dict[str, Any]) -> str:
            return "" if a.get("kappa") is None else f" · κ {a['kappa']:.2f}"

        if "final_decision" in agreement:
            final = agreement["final_decision"]
            rows.append(BarRow("Human labels · final decision", final["accuracy"],
                               f"{final['correct']} of {final['n']}{kappa(final)}"))
            first = agreement["first_order"]
            rows.append(BarRow("Human labels · first order", first["accuracy"],
                               f"{first['correct']} of {first['n']}{kappa(first)}"))
        if "both_orders" in agreement:
            both = agreement["both_orders"]
            rows.append(BarRow("Human labels · right in both orders", both["agreement"],
                               f"{both['correct_both']} of {both['n']}"))
        overrides = agreement.get("overrides")
        if overrides and single:
            mad = overrides["mean_absolute_difference"]
            rows.append(BarRow("Overrides · same score", overrides["exact"],
                               f"{overrides['n']} compared" + ("" if mad is None else f" · mean |Δ| {mad:.2f}")))
        elif overrides:
            rows.append(BarRow("Overrides · final decision", overrides["accuracy"],
                               f"{overrides['correct']} of {overrides['n']} · {overrides['count']} overridden"
                               f"{kappa(overrides)}"))
        return rows

    def _fill_table(self, headers: list[str], rows: list[list[str]]) -> None:
        table = self.category_table
        table.clear()
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c >= 3 or (len(headers) == 3 and c == 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, c, item)
        table.resizeColumnsToContents()
        height = table.horizontalHeader().height() + sum(table.rowHeight(r) for r in range(len(rows))) + 6
        table.setFixedHeight(min(max(height, 60), 420))
        self.category_title.setText("Model pairs and categories" if len(headers) > 3 else "Per category")

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

    # -- export ---------------------------------------------------------------------------------------------

    def export_to(self, target: str | Path | None = None,
                  kinds: tuple[str, ...] = ("report", "verdicts", "summary", "battles")) -> Task | None:
        """Write the run's report files (in the job pool); copy them into `target` when given. The paths
        appear in the message bar and come with `export_did_finish`."""
        if self.folder is None or self.run_key is None:
            return None
        folder, key, rounds = self.folder, self.run_key, self.rounds
        as_tie, apply = self.inconsistent_as_tie.isChecked(), self.apply_overrides.isChecked()
        destination = Path(target) if target is not None else None

        def work(ctx: WorkContext) -> list[Path]:
            files, _ = write_reports(folder, run_key=key, inconsistent_as_tie=as_tie, rounds=rounds,
                                     apply_overrides=apply)
            written = {"report": files.report, "verdicts": files.verdicts, "summary": files.summary,
                       "battles": files.battles}
            paths = [written[kind] for kind in kinds if written.get(kind) is not None]
            if destination is not None and destination.resolve() != folder.resolve():
                try:
                    destination.mkdir(parents=True, exist_ok=True)
                    paths = [Path(shutil.copy2(path, destination / path.name)) for path in paths]  # type: ignore[arg-type]
                except OSError as exc:
                    raise JudgedeskError(f"{destination}: could not copy the reports ({exc.strerror})") from None
            return paths  # type: ignore[return-value]

        task = report_task_errors(self.context.jobs.submit(work, name="export"), self.context.messages)
        task.task_did_finish.connect(self._did_export)
        return task

    def _did_export(self, paths: object) -> None:
        listed = [str(p) for p in paths] if isinstance(paths, list) else []
        if listed:
            self.context.messages.show_info("Written: " + ", ".join(listed))
        else:
            self.context.messages.show_info("Nothing to export for this run (battles need a pairwise run).")
        self.export_did_finish.emit([Path(p) for p in listed])

    def _ask_export_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Export the reports to", str(self.folder or Path.home()))
        if chosen:
            self.export_to(Path(chosen))
