"""The memory-plan panel of the Judges view: this machine's memory, the budget and context to plan for, and the
table of what a judge (the library's selection, or a Hugging Face folder) needs at each quantization.

Planning runs in the job pool; its errors go to the message bar. It also owns `format_size`, the byte sizes
the Judges view shows.
"""

from __future__ import annotations

from pathlib import Path

from judgedesk.core import JudgeEntry
from judgedesk.quantize import BUDGET_PRESETS, MemoryPlan, SystemMemory, detect_memory, plan_memory
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ._context import AppContext
from ._messages import report_task_errors
from ._tasks import Task
from ._widgets import SELECTABLE, format_size, named_button

__all__ = ["MemoryPlanPanel", "format_size"]

_GIB = 1 << 30
_PLAN_COLUMNS = ("Type", "Weights", "KV cache", "Compute", "Total", "Fits", "GPU layers")


def _machine_text(memory: SystemMemory) -> str:
    ram = ("RAM unknown" if memory.ram_total_bytes is None else
           f"{format_size(memory.ram_total_bytes)} RAM" + (f" ({format_size(memory.ram_available_bytes)} available)"
                                                           if memory.ram_available_bytes is not None else ""))
    if memory.gpus:
        gpus = "; ".join(f"GPU {g.index}: {g.name}, {format_size(g.total_bytes)} ({format_size(g.free_bytes)} free)"
                         for g in memory.gpus)
    else:
        gpus = ("no NVIDIA GPU detected (NVML not available): planning for the CPU; pick a GPU budget to plan for "
                "a card")
    return f"This machine: {ram}; {gpus}"



class MemoryPlanPanel(QWidget):
    """How much memory a judge needs at each quantization, against a budget on this machine."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._judge: JudgeEntry | None = None
        """The judge Plan works on: the library's selection, when it has no problem."""
        self.plan_task: Task | None = None
        self.last_plan: MemoryPlan | None = None
        self.memory = detect_memory()

        self.machine_label = QLabel(_machine_text(self.memory))
        self.machine_label.setObjectName("machineMemory")
        self.machine_label.setWordWrap(True)
        self.machine_label.setTextInteractionFlags(SELECTABLE)
        self.budget_box = QComboBox()
        self.budget_box.setObjectName("planBudget")
        self.budget_box.setToolTip("The memory the judge may use")
        for gpu in self.memory.gpus:
            self.budget_box.addItem(f"GPU {gpu.index}: {gpu.name} ({format_size(gpu.total_bytes)})",
                                    (gpu.total_bytes / _GIB, "gpu"))
        for gib, cards in BUDGET_PRESETS.items():
            self.budget_box.addItem(f"{gib:g} GB GPU ({cards})", (gib, "gpu"))
        if self.memory.ram_total_bytes:
            self.budget_box.addItem(f"CPU only: this machine's RAM ({format_size(self.memory.ram_total_bytes)})",
                                    (self.memory.ram_total_bytes / _GIB, "cpu"))
        # Plan for the machine the app runs on: its first GPU, else its RAM (a judge on a machine without a GPU runs
        # on the CPU; a 24 GB card it does not have would make every plan look roomier than it is). Only when
        # neither can be measured is the commonest judge card, 24 GB, the guess.
        if self.memory.gpus:
            self.budget_box.setCurrentIndex(0)
        elif self.memory.ram_total_bytes:
            self.budget_box.setCurrentIndex(self._budget_index(0.0, "cpu"))
        else:
            self.budget_box.setCurrentIndex(max(self._budget_index(24.0, "gpu"), 0))
        self.plan_ctx = QSpinBox()
        self.plan_ctx.setObjectName("planContext")
        self.plan_ctx.setRange(256, 1 << 20)
        self.plan_ctx.setSingleStep(1024)
        self.plan_ctx.setValue(context.settings.n_ctx)
        self.plan_ctx.setSuffix(" tokens")
        self.plan_button = named_button("&Plan selected judge", "planMemory", "How much memory the selected judge "
                                   "needs at each quantization", self.plan_memory)
        self.plan_button.setEnabled(False)
        self.plan_folder_button = named_button("Plan HF folder…", "planFolder", "Plan a Hugging Face checkpoint "
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
        self.plan_title.setTextInteractionFlags(SELECTABLE)
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
        layout = QVBoxLayout(self)
        layout.addWidget(self.machine_label)
        layout.addLayout(controls)
        layout.addWidget(self.plan_title)
        layout.addWidget(self.plan_table, 1)
        layout.addWidget(self.plan_notes)

    def show_judge(self, entry: JudgeEntry | None) -> None:
        """Make `entry` (the library's selection) the judge Plan works on; none, or one with a problem, disables
        Plan."""
        self._judge = entry if entry is not None and entry.problem is None else None
        self.plan_button.setEnabled(self._judge is not None)

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
            if self._judge is None:
                return None
            source = self._judge.path
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
                layers = f"{row.gpu_layers} of {plan.n_layers} ({format_size(row.cpu_bytes)} in RAM)"
            cells = (row.qtype + (" (this file)" if row.this_file else ""), format_size(row.weights_bytes),
                     format_size(row.kv_cache_bytes), format_size(row.compute_bytes), format_size(row.total_bytes),
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
