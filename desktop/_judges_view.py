"""The Judges view: the judge library (import a GGUF, convert a Hugging Face folder, delete), the memory plan for
this machine, and the fidelity check between two judges.

Every slow step (copying and hashing a model file, converting and quantizing, judging for the fidelity check) runs
in the job pool with a progress bar and a Cancel button; errors go to the message bar.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from judgedesk.core import (
    DEMO_JUDGE,
    ImportCancelled,
    JudgeEntry,
    delete_judge,
    import_judge,
    judge_sha256,
    library_file,
    list_judges,
)
from judgedesk.quantize import (
    BUDGET_PRESETS,
    QUANT_TYPES,
    FidelityReport,
    MemoryPlan,
    SystemMemory,
    detect_memory,
    plan_memory,
)
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QFont, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ._context import AppContext
from ._messages import report_task_errors
from ._tasks import Task, TaskCancelled, WorkContext

__all__ = ["JudgesView"]

_GIB = 1 << 30
_AUTO_HASH_LIMIT = 512 << 20  # files this small are hashed when shown; bigger ones on request (a 7B file takes a while)
_COLUMNS = ("Name", "Architecture", "Quantization", "Size", "SHA-256", "Default format", "Stored", "Source", "Status")
_PLAN_COLUMNS = ("Type", "Weights", "KV cache", "Compute", "Total", "Fits", "GPU layers")
_SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    if n >= _GIB:
        return f"{n / _GIB:.2f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n / 1024:.0f} KiB"


def _stored(entry: JudgeEntry) -> str:
    if entry.name == DEMO_JUDGE:
        return "built in"
    return "referenced" if entry.referenced else "copied"


def _machine_text(memory: SystemMemory) -> str:
    ram = ("RAM unknown" if memory.ram_total_bytes is None else
           f"{_size(memory.ram_total_bytes)} RAM" + (f" ({_size(memory.ram_available_bytes)} available)"
                                                     if memory.ram_available_bytes is not None else ""))
    if memory.gpus:
        gpus = "; ".join(f"GPU {g.index}: {g.name}, {_size(g.total_bytes)} ({_size(g.free_bytes)} free)"
                         for g in memory.gpus)
    else:
        gpus = "no NVIDIA GPU detected (NVML not available): pick the GPU memory budget to plan for"
    return f"This machine: {ram}; {gpus}"


class JudgesView(QWidget):
    """The judge library and the tools that work on judges."""

    title = "Judges"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._entries: list[JudgeEntry] = []
        self._hashes: dict[str, str] = {}
        """SHA-256 computed in this session for files the library has no record for (the demo judge)."""
        self._hashing: set[str] = set()
        self.library_task: Task | None = None
        """The latest import or conversion (one at a time)."""
        self.plan_task: Task | None = None
        self.fidelity_task: Task | None = None
        self.last_plan: MemoryPlan | None = None
        self.last_report: FidelityReport | None = None
        self.memory = detect_memory()

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._build_library())
        splitter.addWidget(self._build_tools())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        context.judges_did_change.connect(self.refresh)
        self.refresh()

    # -- building -------------------------------------------------------------------------------------------

    def _button(self, text: str, name: str, tip: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.clicked.connect(lambda: slot())  # type: ignore[operator]
        return button

    def _build_library(self) -> QWidget:
        box = QWidget()
        self.import_button = self._button("&Import GGUF…", "importGguf", "Add a .gguf judge: copied into the "
                                          "library, or referenced where it is (Ctrl+I)", self.import_gguf)
        self.import_button.setShortcut(QKeySequence("Ctrl+I"))
        self.convert_button = self._button("Import &HF folder…", "importHfFolder", "Convert a Hugging Face "
                                           "checkpoint folder to GGUF and quantize it", self.import_hf_folder)
        self.quant_box = QComboBox()
        self.quant_box.setObjectName("quantType")
        self.quant_box.setToolTip("Quantization type for an imported Hugging Face folder")
        for name in QUANT_TYPES:
            self.quant_box.addItem(name, name)
        self.quant_box.setCurrentIndex(self.quant_box.findData("Q4_K_M"))
        self.hash_button = self._button("Compute SHA-256", "computeHash", "Hash the selected judge's file "
                                        "(a few seconds per GB)", self.compute_hash)
        self.delete_button = self._button("&Delete…", "deleteJudge", "Delete a copied judge, or forget a referenced "
                                          "one (its file stays) (Del in the table)", self.delete_judge)
        actions = QHBoxLayout()
        actions.addWidget(self.import_button)
        actions.addWidget(self.convert_button)
        caption = QLabel("&as")
        caption.setBuddy(self.quant_box)
        actions.addWidget(caption)
        actions.addWidget(self.quant_box)
        actions.addStretch(1)
        actions.addWidget(self.hash_button)
        actions.addWidget(self.delete_button)

        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setObjectName("judgesTable")
        self.table.setHorizontalHeaderLabels(list(_COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(_COLUMNS.index("Source"), QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        # Delete acts on the table only (not a window shortcut): in the spin boxes below it must delete text.
        self.table.installEventFilter(self)

        self.details = QLabel()
        self.details.setObjectName("judgeDetails")
        self.details.setTextInteractionFlags(_SELECTABLE)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setWordWrap(True)

        self.job_status = QLabel()
        self.job_status.setObjectName("jobStatus")
        self.job_progress = QProgressBar()
        self.job_progress.setObjectName("jobProgress")
        self.job_progress.setRange(0, 1000)
        self.cancel_job_button = self._button("Cancel", "cancelJob", "Stop the import; nothing is added",
                                              self.cancel_library_task)
        job_row = QHBoxLayout()
        job_row.addWidget(self.job_status, 1)
        job_row.addWidget(self.job_progress, 1)
        job_row.addWidget(self.cancel_job_button)
        self._show_job(False)

        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(actions)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(job_row)
        return box

    def _build_tools(self) -> QWidget:
        tabs = QTabWidget()
        tabs.setObjectName("judgeTools")
        tabs.addTab(self._build_plan(), "Memory plan")
        tabs.addTab(self._build_fidelity(), "Fidelity check")
        return tabs

    def _build_plan(self) -> QWidget:
        page = QWidget()
        self.machine_label = QLabel(_machine_text(self.memory))
        self.machine_label.setObjectName("machineMemory")
        self.machine_label.setWordWrap(True)
        self.machine_label.setTextInteractionFlags(_SELECTABLE)
        self.budget_box = QComboBox()
        self.budget_box.setObjectName("planBudget")
        self.budget_box.setToolTip("The memory the judge may use")
        for gpu in self.memory.gpus:
            self.budget_box.addItem(f"GPU {gpu.index}: {gpu.name} ({_size(gpu.total_bytes)})",
                                    (gpu.total_bytes / _GIB, "gpu"))
        for gib, cards in BUDGET_PRESETS.items():
            self.budget_box.addItem(f"{gib:g} GB GPU ({cards})", (gib, "gpu"))
        if self.memory.ram_total_bytes:
            self.budget_box.addItem(f"CPU only: this machine's RAM ({_size(self.memory.ram_total_bytes)})",
                                    (self.memory.ram_total_bytes / _GIB, "cpu"))
        # Without a GPU to measure, plan for the commonest judge card: 24 GB.
        self.budget_box.setCurrentIndex(0 if self.memory.gpus else max(self._budget_index(24.0, "gpu"), 0))
        self.plan_ctx = QSpinBox()
        self.plan_ctx.setObjectName("planContext")
        self.plan_ctx.setRange(256, 1 << 20)
        self.plan_ctx.setSingleStep(1024)
        self.plan_ctx.setValue(self._context.settings.n_ctx)
        self.plan_ctx.setSuffix(" tokens")
        self.plan_button = self._button("&Plan selected judge", "planMemory", "How much memory the selected judge "
                                        "needs at each quantization", self.plan_memory)
        self.plan_folder_button = self._button("Plan HF folder…", "planFolder", "Plan a Hugging Face checkpoint "
                                               "before converting it (config.json is enough)", self.plan_hf_folder)
        controls = QHBoxLayout()
        for label, widget in (("Budget", self.budget_box), ("Context", self.plan_ctx)):
            caption = QLabel(label)
            caption.setBuddy(widget)
            controls.addWidget(caption)
            controls.addWidget(widget)
        controls.addStretch(1)
        controls.addWidget(self.plan_button)
        controls.addWidget(self.plan_folder_button)
        self.plan_title = QLabel("Select a judge and press Plan.")
        self.plan_title.setObjectName("planTitle")
        self.plan_title.setWordWrap(True)
        self.plan_title.setTextInteractionFlags(_SELECTABLE)
        self.plan_table = QTableWidget(0, len(_PLAN_COLUMNS))
        self.plan_table.setObjectName("planTable")
        self.plan_table.setHorizontalHeaderLabels(list(_PLAN_COLUMNS))
        self.plan_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.plan_table.verticalHeader().hide()
        self.plan_table.verticalHeader().setDefaultSectionSize(24)
        self.plan_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.plan_notes = QLabel()
        self.plan_notes.setObjectName("planNotes")
        self.plan_notes.setWordWrap(True)
        self.plan_notes.setStyleSheet("color: #555;")
        layout = QVBoxLayout(page)
        layout.addWidget(self.machine_label)
        layout.addLayout(controls)
        layout.addWidget(self.plan_title)
        layout.addWidget(self.plan_table, 1)
        layout.addWidget(self.plan_notes)
        return page

    def _build_fidelity(self) -> QWidget:
        page = QWidget()
        self.reference_box = QComboBox()
        self.reference_box.setObjectName("fidelityReference")
        self.candidate_box = QComboBox()
        self.candidate_box.setObjectName("fidelityCandidate")
        self.limit_box = QSpinBox()
        self.limit_box.setObjectName("fidelityLimit")
        self.limit_box.setRange(1, 10_000)
        self.limit_box.setValue(10)
        self.limit_box.setToolTip("Demo data items to judge (each gives one pair per two models, judged in both "
                                  "orders by both judges)")
        self.both_orders_box = QCheckBox("Both orders")
        self.both_orders_box.setObjectName("fidelityBothOrders")
        self.both_orders_box.setChecked(True)
        self.both_orders_box.setToolTip("Judge each pair with A first and with B first (twice the work; catches "
                                        "position bias that changes with quantization)")
        self.fidelity_button = self._button("&Run check", "runFidelity", "Judge the demo data with both judges and "
                                            "compare their verdicts", self.run_fidelity)
        self.cancel_fidelity_button = self._button("Cancel", "cancelFidelity", "Stop the check",
                                                   self.cancel_fidelity)
        self.cancel_fidelity_button.setEnabled(False)
        self.fidelity_progress = QProgressBar()
        self.fidelity_progress.setObjectName("fidelityProgress")
        self.fidelity_progress.setRange(0, 1000)
        self.fidelity_progress.setValue(0)
        self.fidelity_status = QLabel("Compare a quantized judge with its original on the demo data.")
        self.fidelity_status.setObjectName("fidelityStatus")
        self.fidelity_summary = QLabel()
        self.fidelity_summary.setObjectName("fidelitySummary")
        self.fidelity_summary.setTextInteractionFlags(_SELECTABLE)
        font = QFont(self.fidelity_summary.font())
        font.setBold(True)
        self.fidelity_summary.setFont(font)
        self.fidelity_text = QPlainTextEdit()
        self.fidelity_text.setObjectName("fidelityResult")
        self.fidelity_text.setReadOnly(True)
        grid = QGridLayout()
        for column, (label, widget) in enumerate((("Reference", self.reference_box),
                                                  ("Candidate", self.candidate_box), ("Items", self.limit_box))):
            caption = QLabel(label)
            caption.setBuddy(widget)
            grid.addWidget(caption, 0, 2 * column)
            grid.addWidget(widget, 0, 2 * column + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        grid.addWidget(self.both_orders_box, 0, 6)
        row = QHBoxLayout()
        row.addWidget(self.fidelity_button)
        row.addWidget(self.cancel_fidelity_button)
        row.addWidget(self.fidelity_progress, 1)
        layout = QVBoxLayout(page)
        layout.addLayout(grid)
        layout.addLayout(row)
        layout.addWidget(self.fidelity_status)
        layout.addWidget(self.fidelity_summary)
        layout.addWidget(self.fidelity_text, 1)
        return page

    # -- the library table ----------------------------------------------------------------------------------

    def entries(self) -> list[JudgeEntry]:
        return list(self._entries)

    def entry(self, name: str | None) -> JudgeEntry | None:
        return next((e for e in self._entries if e.name == name), None)

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def select_judge(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == name:
                self.table.selectRow(row)
                return

    def refresh(self) -> None:
        """Reread the library (after an import or delete, here or elsewhere)."""
        selected = self.selected_name()
        self._entries = list_judges()
        self.table.setRowCount(len(self._entries))
        for row, entry in enumerate(self._entries):
            header = entry.header
            sha = self._sha256(entry)
            cells = (entry.label, header.architecture if header else "—", header.file_type if header else "—",
                     _size(entry.size_bytes), sha[:12] + "…" if sha else "not computed", entry.default_format,
                     _stored(entry), entry.source, entry.problem or "ok")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 0:
                    item.setData(Qt.ItemDataRole.UserRole, entry.name)
                if column == _COLUMNS.index("SHA-256") and sha:
                    item.setToolTip(sha)
                if entry.problem:
                    item.setForeground(QColor("#b71c1c"))
                    item.setToolTip(entry.problem)
                self.table.setItem(row, column, item)
        self._fill_fidelity_boxes()
        self.select_judge(selected or DEMO_JUDGE)
        self._selection_changed()
        self._hash_small_files()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.table and event.type() == QEvent.Type.KeyPress and \
                isinstance(event, QKeyEvent) and event.matches(QKeySequence.StandardKey.Delete):
            self.delete_judge()
            return True
        return super().eventFilter(watched, event)

    def _sha256(self, entry: JudgeEntry) -> str | None:
        return entry.sha256 or self._hashes.get(str(entry.path))

    def _selection_changed(self) -> None:
        entry = self.entry(self.selected_name())
        self.delete_button.setEnabled(entry is not None and entry.name != DEMO_JUDGE)
        self.hash_button.setEnabled(entry is not None and entry.problem is None and not self._sha256(entry)
                                    and str(entry.path) not in self._hashing)
        self.plan_button.setEnabled(entry is not None and entry.problem is None)
        if entry is None:
            self.details.setText("")
            return
        lines = [f"{entry.label}: {entry.path}"]
        sha = self._sha256(entry)
        lines.append(f"SHA-256: {sha}" if sha else "SHA-256: not computed yet (Compute SHA-256)")
        where = {"built in": "built into judgedesk", "referenced": "referenced where it lies (deleting it here "
                 "leaves the file)", "copied": "copied into the library folder"}[_stored(entry)]
        lines.append(f"{where}; from {entry.source}" + (f"; imported {entry.imported_at}" if entry.imported_at
                                                          else ""))
        if entry.problem:
            lines.append(f"Problem: {entry.problem}")
        self.details.setText("\n".join(lines))

    # -- import ---------------------------------------------------------------------------------------------

    def import_gguf(self, path: str | Path | None = None, *, copy: bool | None = None) -> Task | None:
        """Import a GGUF judge; asks for the file and for copy-or-reference when not given."""
        if self._library_busy():
            return None
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Import a GGUF judge", str(Path.home()),
                                                    "GGUF models (*.gguf);;All files (*)")
            if not chosen:
                return None
            path = chosen
        if copy is None:
            copy = self._ask_copy(Path(path))
            if copy is None:
                return None
        source, copying = Path(path), copy

        def work(ctx: WorkContext) -> object:
            try:
                return import_judge(source, copy=copying, cancel=ctx.cancel,
                                    progress=lambda done, total: ctx.progress(("Copying", done, total, 0.0, 1.0)))
            except ImportCancelled:
                raise TaskCancelled from None

        verb = "Copying" if copy else "Checking and hashing"
        return self._start_library_task(work, f"{verb} {source.name}…", "importing a judge")

    def _ask_copy(self, path: Path) -> bool | None:
        box = QMessageBox(self)
        box.setWindowTitle("Import a GGUF judge")
        box.setText(f"Import {path.name}")
        box.setInformativeText("Copy it into the judge library (safe if the original moves; uses disk space), or "
                               "reference it where it is (no copy; it must stay there)?")
        copy_button = box.addButton("Copy into the library", QMessageBox.ButtonRole.AcceptRole)
        reference_button = box.addButton("Reference it", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(copy_button)
        box.exec()
        clicked = box.clickedButton()
        return True if clicked is copy_button else False if clicked is reference_button else None

    def import_hf_folder(self, folder: str | Path | None = None, *, qtype: str | None = None) -> Task | None:
        """Convert a Hugging Face checkpoint folder to GGUF, quantize it (the chosen K-quant type, Q4_K_M by
        default) and add the result to the library."""
        if self._library_busy():
            return None
        if folder is None:
            chosen = QFileDialog.getExistingDirectory(self, "Import a Hugging Face checkpoint folder",
                                                      str(Path.home()))
            if not chosen:
                return None
            folder = chosen
        key = (qtype or self.quant_box.currentData() or "Q4_K_M").upper()
        source = Path(folder).expanduser()
        threads = self._context.settings.threads

        def work(ctx: WorkContext) -> object:
            from judgedesk.quantize import convert_to_gguf, quantize_gguf

            workspace = library_file().parent / ".converting"
            workspace.mkdir(parents=True, exist_ok=True)
            stem = f"{source.name}.{key}"
            direct = key in ("F16", "BF16")
            converted = workspace / (f"{stem}.gguf" if direct else f"{source.name}.F16.gguf")
            out = workspace / f"{stem}.gguf"
            # Converting fills the bar alone for F16/BF16, else its first half; quantizing the second half.
            span = 1.0 if direct else 0.5
            try:
                convert_to_gguf(source, converted, outtype=key.lower() if direct else "f16", cancel=ctx.cancel,
                                progress=lambda done, total, _: ctx.progress(("Converting", done, total, 0.0, span)))
                if not direct:
                    ctx.check_cancelled()
                    quantize_gguf(converted, out, qtype=key, threads=threads, cancel=ctx.cancel,
                                  progress=lambda done, total, _: ctx.progress((f"Quantizing to {key}", done, total,
                                                                                0.5, 0.5)))
                ctx.check_cancelled()
                return import_judge(out, move=True, source=f"converted from HF folder {source} with {key}")
            finally:
                converted.unlink(missing_ok=True)
                out.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    workspace.rmdir()  # only when empty: another window may be converting too

        return self._start_library_task(work, f"Converting {source.name}…", "converting a checkpoint")

    def _library_busy(self) -> bool:
        if self.library_task is not None and self.library_task.is_running:
            self._context.messages.show_info("Another import is running; wait for it or cancel it.")
            return True
        return False

    def _start_library_task(self, work: object, status: str, name: str) -> Task:
        task = self._context.jobs.submit(work, name=name)  # type: ignore[arg-type]
        self.library_task = task
        report_task_errors(task, self._context.messages)
        self.job_status.setText(status)
        self.job_progress.setValue(0)
        self._show_job(True)
        task.task_did_progress.connect(self._library_progress)
        task.task_did_finish.connect(self._library_finished)
        task.task_was_cancelled.connect(lambda: self._context.messages.show_info("Import cancelled; nothing was "
                                                                                 "added to the library."))
        task.task_did_end.connect(lambda: self._show_job(False))
        return task

    def _library_progress(self, progress: object) -> None:
        """(stage, done, total, start, span): the stage fills the bar from `start` over `span` (fractions)."""
        stage, done, total, start, span = progress  # type: ignore[misc]
        self.job_status.setText(f"Copying: {_size(done)} of {_size(total)}" if stage == "Copying" else
                                f"{stage}: {done:,} of {total:,} tensors")
        share = done / total if total else 1.0
        self.job_progress.setValue(int(1000 * (start + span * share)))

    def _library_finished(self, record: object) -> None:
        self._context.judges_did_change.emit()  # this view refreshes on it too
        name = getattr(record, "name", None)
        if name:
            self.select_judge(name)
            self._context.messages.show_info(f"Added {name} to the judge library.")

    def _show_job(self, running: bool) -> None:
        for widget in (self.job_status, self.job_progress, self.cancel_job_button):
            widget.setVisible(running)

    def cancel_library_task(self) -> None:
        if self.library_task is not None:
            self.library_task.cancel()

    # -- hashes ---------------------------------------------------------------------------------------------

    def compute_hash(self, name: str | None = None) -> Task | None:
        """Hash a judge's file in the job pool (its SHA-256 then shows and is recorded)."""
        entry = self.entry(name or self.selected_name())
        if entry is None or entry.problem is not None:
            return None
        return self._hash([entry])

    def _hash_small_files(self) -> None:
        small = [e for e in self._entries if e.problem is None and not self._sha256(e)
                 and (e.size_bytes or 0) <= _AUTO_HASH_LIMIT and str(e.path) not in self._hashing]
        if small:
            self._hash(small)

    def _hash(self, entries: list[JudgeEntry]) -> Task:
        targets = [(e.name, str(e.path)) for e in entries]
        self._hashing.update(path for _, path in targets)

        def work(ctx: WorkContext) -> dict[str, str]:
            done = {}
            for name, path in targets:
                ctx.check_cancelled()
                done[path] = judge_sha256(name)
            return done

        task = self._context.jobs.submit(work, name="hashing judge files")
        report_task_errors(task, self._context.messages)
        task.task_did_finish.connect(lambda hashes: self._hashes.update(hashes))  # type: ignore[arg-type]

        def ended() -> None:
            self._hashing.difference_update(path for _, path in targets)
            if task.state == "finished":
                self.refresh()

        task.task_did_end.connect(ended)
        self._selection_changed()
        return task

    # -- delete ---------------------------------------------------------------------------------------------

    def delete_judge(self, name: str | None = None, *, confirm: bool = True) -> bool:
        """Delete (copied) or forget (referenced) a judge, after asking when `confirm`. The judge service frees
        the model first if it has this judge loaded. Returns whether the deletion went ahead."""
        entry = self.entry(name or self.selected_name())
        if entry is None:
            return False
        if entry.name == DEMO_JUDGE:
            self._context.messages.show_error("The demo judge is built into judgedesk and cannot be deleted.")
            return False
        if confirm and not self._confirm_delete(entry):
            return False
        service = self._context.service
        loaded = service.loaded
        if service.busy or (loaded is not None and loaded.path.resolve() == entry.path.resolve()):
            # Freed after the work queued before it, so a running comparison is not cut off.
            unload = report_task_errors(service.unload(), self._context.messages)
            unload.task_did_end.connect(lambda: self._delete_now(entry))
        else:
            self._delete_now(entry)
        return True

    def _confirm_delete(self, entry: JudgeEntry) -> bool:
        if entry.referenced:
            text = (f"Remove {entry.name} from the library?\n\nThe file stays where it is:\n{entry.path}")
        else:
            text = (f"Delete {entry.name}?\n\nIts file in the library folder ({_size(entry.size_bytes)}) is deleted:"
                    f"\n{entry.path}")
        answer = QMessageBox.question(self, "Delete judge", text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def _delete_now(self, entry: JudgeEntry) -> None:
        try:
            delete_judge(entry.name)
        except Exception as exc:  # JudgedeskError: its message names the file
            self._context.messages.show_error(str(exc))
            return
        settings = self._context.settings
        if settings.default_judge == entry.name:
            settings.default_judge = DEMO_JUDGE
            self._context.settings_did_change.emit()
        verb = "Removed" if entry.referenced else "Deleted"
        self._context.messages.show_info(f"{verb} {entry.name}" + (f"; its file stays at {entry.path}."
                                                                    if entry.referenced else "."))
        self._context.judges_did_change.emit()  # this view refreshes on it too

    # -- memory plan ----------------------------------------------------------------------------------------

    def _budget_index(self, gib: float, device: str) -> int:
        # QComboBox.findData cannot compare Python tuples, so the items are searched here.
        for index in range(self.budget_box.count()):
            value, kind = self.budget_box.itemData(index)
            if kind == device and (device == "cpu" or abs(value - gib) < 1e-6):
                return index
        return -1

    def set_budget(self, gib: float, device: str = "gpu") -> None:
        """Choose a budget: a BUDGET_PRESETS size or any other GiB figure, or the RAM with device='cpu'."""
        index = self._budget_index(gib, device)
        if index < 0:
            self.budget_box.addItem(f"{gib:g} GB {'GPU' if device == 'gpu' else 'RAM'}", (float(gib), device))
            index = self.budget_box.count() - 1
        self.budget_box.setCurrentIndex(index)

    def plan_memory(self, source: str | Path | None = None) -> Task | None:
        """Plan the memory the selected judge (or `source`: a GGUF file or HF folder) needs on this machine."""
        if source is None:
            entry = self.entry(self.selected_name())
            if entry is None or entry.problem is not None:
                return None
            source = entry.path
        budget, device = self.budget_box.currentData()
        n_ctx, path = self.plan_ctx.value(), Path(source)
        task = self._context.jobs.submit(lambda ctx: plan_memory(path, budget_gib=budget, n_ctx=n_ctx,
                                                                 device=device), name="planning memory")
        report_task_errors(task, self._context.messages)
        task.task_did_finish.connect(self._show_plan)  # type: ignore[arg-type]
        self.plan_title.setText(f"Planning {path.name}…")
        self.plan_task = task
        return task

    def plan_hf_folder(self, folder: str | Path | None = None) -> Task | None:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Plan a Hugging Face checkpoint folder", str(Path.home()))
            if not folder:
                return None
        return self.plan_memory(folder)

    def _show_plan(self, plan: MemoryPlan) -> None:
        self.last_plan = plan
        where = "GPU memory" if plan.device == "gpu" else "RAM"
        label = f" ({plan.budget_label})" if plan.budget_label else ""
        self.plan_title.setText(
            f"{plan.model_name}: {plan.architecture}, {plan.parameters / 1e6:,.0f} M weights, {plan.n_layers} layers; "
            f"context {plan.n_ctx} tokens; budget {plan.budget_bytes / _GIB:g} GiB {where}{label}")
        self.plan_table.setRowCount(len(plan.rows))
        for r, row in enumerate(plan.rows):
            if plan.device == "cpu":
                layers = "CPU only"
            elif row.fits:
                layers = f"all {plan.n_layers}"
            else:
                layers = f"{row.gpu_layers} of {plan.n_layers} ({_size(row.cpu_bytes)} in RAM)"
            cells = (row.qtype + (" (this file)" if row.this_file else ""), _size(row.weights_bytes),
                     _size(row.kv_cache_bytes), _size(row.compute_bytes), _size(row.total_bytes),
                     "fits" if row.fits else "does not fit", layers)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 5:
                    item.setForeground(QColor("#1b5e20" if row.fits else "#b71c1c"))
                if row.this_file:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.plan_table.setItem(r, column, item)
        self.plan_notes.setText("\n".join(f"Note: {note}" for note in plan.notes))

    # -- fidelity check -------------------------------------------------------------------------------------

    def _fill_fidelity_boxes(self) -> None:
        for box in (self.reference_box, self.candidate_box):
            current = box.currentData()
            box.clear()
            for entry in self._entries:
                if entry.problem is None:
                    box.addItem(entry.label, entry.name)
            box.setCurrentIndex(max(box.findData(current), 0))

    def run_fidelity(self, reference: str | None = None, candidate: str | None = None,
                     limit: int | None = None) -> Task | None:
        """Judge the demo data with both judges and compare: agreement, KL divergence, flipped verdicts."""
        if self.fidelity_task is not None and self.fidelity_task.is_running:
            return None
        if reference is not None:
            self.reference_box.setCurrentIndex(self.reference_box.findData(reference))
        if candidate is not None:
            self.candidate_box.setCurrentIndex(self.candidate_box.findData(candidate))
        if limit is not None:
            self.limit_box.setValue(limit)
        ref, cand = self.entry(self.reference_box.currentData()), self.entry(self.candidate_box.currentData())
        if ref is None or cand is None:
            self._context.messages.show_error("Choose a reference and a candidate judge for the fidelity check.")
            return None
        settings, fmt = self._context.settings, ref.default_format  # the reference's, as recorded at import
        items, both, n_ctx, threads = self.limit_box.value(), self.both_orders_box.isChecked(), settings.n_ctx, \
            settings.threads

        def work(ctx: WorkContext) -> FidelityReport:
            from judgedesk.quantize import verify_fidelity

            return verify_fidelity(ref.path, cand.path, fmt=fmt, limit=items, both_orders=both, n_ctx=n_ctx,
                                   n_threads=threads, cancel=ctx.cancel,
                                   progress=lambda done, total, stage: ctx.progress((stage, done, total)))

        task = self._context.jobs.submit(work, name="fidelity check")
        self.fidelity_task = task
        report_task_errors(task, self._context.messages)
        task.task_did_progress.connect(self._fidelity_progress)
        task.task_did_finish.connect(self._show_report)  # type: ignore[arg-type]
        task.task_was_cancelled.connect(lambda: self.fidelity_status.setText("Fidelity check cancelled."))
        task.task_did_fail.connect(lambda _: self.fidelity_status.setText("Fidelity check failed."))
        task.task_did_end.connect(self._fidelity_ended)
        self.fidelity_button.setEnabled(False)
        self.cancel_fidelity_button.setEnabled(True)
        self.fidelity_progress.setValue(0)
        self.fidelity_summary.clear()
        self.fidelity_text.clear()
        self.fidelity_status.setText(f"Loading {ref.label}…")
        return task

    def _fidelity_progress(self, progress: object) -> None:
        stage, done, total = progress  # type: ignore[misc]
        share = done / total if total else 1.0
        self.fidelity_progress.setValue(int(1000 * (share / 2 if stage == "reference" else 0.5 + share / 2)))
        self.fidelity_status.setText(f"Judging with the {stage}: {done} of {total} orders")

    def _show_report(self, report: FidelityReport) -> None:
        self.last_report = report
        kl = "n/a" if report.mean_kl is None else f"{report.mean_kl:.4f} nats (max {report.max_kl:.4f})"
        self.fidelity_summary.setText(f"Agreement {report.agreement:.1%} ({report.agreeing}/{report.orders} orders)"
                                      f" · mean KL {kl} · {len(report.flipped)} flipped")
        self.fidelity_text.setPlainText(report.format_text())
        self.fidelity_status.setText("Fidelity check finished.")
        self.fidelity_progress.setValue(1000)

    def _fidelity_ended(self) -> None:
        self.fidelity_button.setEnabled(True)
        self.cancel_fidelity_button.setEnabled(False)

    def cancel_fidelity(self) -> None:
        if self.fidelity_task is not None:
            self.fidelity_task.cancel()
