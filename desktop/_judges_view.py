"""The Judges view: the judge library (import a GGUF, convert a Hugging Face folder, hash, delete), with the
memory-plan panel (`_memory_plan_panel`) and the fidelity-check panel (`_fidelity_panel`) as tabs below it.

Every slow step (copying and hashing a model file, converting and quantizing) runs in the job pool with a progress
bar and a Cancel button; errors go to the message bar. The view tells the panels what the library holds and which
judge is selected.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from judgedesk.core import (
    DEMO_JUDGE,
    JudgeEntry,
    ModelFileError,
    delete_judge,
    import_judge,
    judge_sha256,
    library_file,
    list_judges,
)
from judgedesk.quantize import QUANT_TYPES
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ._context import AppContext
from ._fidelity_panel import FidelityPanel
from ._memory_plan_panel import MemoryPlanPanel
from ._messages import report_task_errors
from ._synthetic_mark import SYNTHETIC_MARK
from ._tasks import Task, TaskState, WorkContext
from ._widgets import SELECTABLE, format_size, named_button

__all__ = ["JudgesView"]

_AUTO_HASH_LIMIT = 512 << 20  # files this small are hashed when shown; bigger ones on request (a 7B file takes a while)
_COLUMNS = ("Name", "Architecture", "Quantization", "Size", "SHA-256", "Default format", "Stored", "Source", "Status")


def _stored(entry: JudgeEntry) -> str:
    if entry.name == DEMO_JUDGE:
        return "built in"
    return "referenced" if entry.referenced else "copied"


def _in_app_words(error: ModelFileError) -> ModelFileError:
    """core's "not a GGUF file" points to the command line; in the app the way is the Import HF folder button."""
    if "wrong magic bytes" not in error.reason:
        return error
    return ModelFileError(error.path, "not a GGUF model file (wrong magic bytes). judgedesk runs .gguf files: to add a "
                                      "Hugging Face checkpoint, choose its folder with “Import HF folder…” (converted "
                                      "and quantized here)")


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
        self.plan_panel = MemoryPlanPanel(context)
        self.fidelity_panel = FidelityPanel(context)

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

    def _build_library(self) -> QWidget:
        box = QWidget()
        self.import_button = named_button("&Import GGUF…", "importGguf", "Add a .gguf judge: copied into the "
                                          "library, or referenced where it is (Ctrl+I)", self.import_gguf)
        self.import_button.setShortcut(QKeySequence("Ctrl+I"))
        self.convert_button = named_button("Import &HF folder…", "importHfFolder", "Convert a Hugging Face "
                                           "checkpoint folder to GGUF and quantize it", self.import_hf_folder)
        self.quant_box = QComboBox()
        self.quant_box.setObjectName("quantType")
        self.quant_box.setToolTip("Quantization type for an imported Hugging Face folder")
        for name in QUANT_TYPES:
            self.quant_box.addItem(name, name)
        self.quant_box.setCurrentIndex(self.quant_box.findData("Q4_K_M"))
        self.hash_button = named_button("Compute SHA-256", "computeHash", "Hash the selected judge's file "
                                        "(a few seconds per GB)", self.compute_hash)
        self.delete_button = named_button("&Delete…", "deleteJudge", "Delete a copied judge, or forget a referenced "
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
        self.details.setTextInteractionFlags(SELECTABLE)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setWordWrap(True)

        self.job_status = QLabel()
        self.job_status.setObjectName("jobStatus")
        self.job_progress = QProgressBar()
        self.job_progress.setObjectName("jobProgress")
        self.job_progress.setRange(0, 1000)
        self.cancel_job_button = named_button("Cancel", "cancelJob", "Stop the import; nothing is added",
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
        tabs.addTab(self.plan_panel, "Memory plan")
        tabs.addTab(self.fidelity_panel, "Fidelity check")
        return tabs

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
            name = entry.label + (f" {SYNTHETIC_MARK}" if header and header.synthetic else "")
            cells = (name, header.architecture if header else "—", header.file_type if header else "—",
                     format_size(entry.size_bytes), sha[:12] + "…" if sha else "not computed", entry.default_format,
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
        self.fidelity_panel.show_judges(self._entries)
        self.select_judge(selected or DEMO_JUDGE)
        self._selection_changed()
        self._hash_small_files()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
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
        self.plan_panel.show_judge(entry)
        if entry is None:
            self.details.setText("")
            return
        lines = [f"{entry.label}: {entry.path}"]
        if entry.header and entry.header.synthetic:
            lines.append("A SYNTHETIC judge: random weights with a real judge's shape (judgedesk quantize synthetic). "
                         "Its verdicts mean nothing; use it to measure speed and memory only.")
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
                                    progress=lambda done, total, _: ctx.progress(("Copying", done, total, 0.0, 1.0)))
            except ModelFileError as exc:
                raise _in_app_words(exc) from None

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
        self.job_status.setText(f"Copying: {format_size(done)} of {format_size(total)}" if stage == "Copying" else
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
            if task.state is TaskState.FINISHED:
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
        if service.busy or (loaded is not None and loaded.path is not None
                            and loaded.path.resolve() == entry.path.resolve()):
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
            text = (f"Delete {entry.name}?\n\nIts file in the library folder ({format_size(entry.size_bytes)}) is "
                    f"deleted:\n{entry.path}")
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

    # -- the tools ------------------------------------------------------------------------------------------

    def set_budget(self, gib: float, device: str = "gpu") -> None:
        """The memory plan's budget (see MemoryPlanPanel.set_budget)."""
        self.plan_panel.set_budget(gib, device)

    def plan_memory(self, source: str | Path | None = None) -> Task | None:
        """Plan the memory the selected judge (or `source`) needs (see MemoryPlanPanel.plan_memory)."""
        return self.plan_panel.plan_memory(source)
