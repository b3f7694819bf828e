"""The fidelity-check panel of the Judges view: pick a reference and a candidate judge from the library, judge
the demo data with both in the job pool (with progress and Cancel), and show their agreement, KL divergence and
flipped verdicts. Errors go to the message bar.
"""

from __future__ import annotations

from judgedesk.core import JudgeEntry
from judgedesk.quantize import FidelityReport
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ._context import AppContext
from ._messages import report_task_errors
from ._tasks import Task, WorkContext
from ._widgets import SELECTABLE, named_button

__all__ = ["FidelityPanel"]




class FidelityPanel(QWidget):
    """Compares two judges' verdicts on the demo data (a quantized judge against its original)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._entries: list[JudgeEntry] = []
        self.fidelity_task: Task | None = None
        self.last_report: FidelityReport | None = None

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
        self.fidelity_button = named_button("&Run check", "runFidelity", "Judge the demo data with both judges and "
                                       "compare their verdicts", self.run_fidelity)
        self.cancel_fidelity_button = named_button("Cancel", "cancelFidelity", "Stop the check", self.cancel_fidelity)
        self.cancel_fidelity_button.setEnabled(False)
        self.fidelity_progress = QProgressBar()
        self.fidelity_progress.setObjectName("fidelityProgress")
        self.fidelity_progress.setRange(0, 1000)
        self.fidelity_progress.setValue(0)
        self.fidelity_status = QLabel("Compare a quantized judge with its original on the demo data.")
        self.fidelity_status.setObjectName("fidelityStatus")
        self.fidelity_summary = QLabel()
        self.fidelity_summary.setObjectName("fidelitySummary")
        self.fidelity_summary.setTextInteractionFlags(SELECTABLE)
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
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addLayout(row)
        layout.addWidget(self.fidelity_status)
        layout.addWidget(self.fidelity_summary)
        layout.addWidget(self.fidelity_text, 1)

    def show_judges(self, entries: list[JudgeEntry]) -> None:
        """Offer the library's judges (those without a problem) as reference and candidate, keeping the choices
        that are still there."""
        self._entries = list(entries)
        for box in (self.reference_box, self.candidate_box):
            current = box.currentData()
            box.clear()
            for entry in self._entries:
                if entry.problem is None:
                    box.addItem(entry.label, entry.name)
            box.setCurrentIndex(max(box.findData(current), 0))

    def _entry(self, name: str | None) -> JudgeEntry | None:
        return next((e for e in self._entries if e.name == name), None)

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
        ref, cand = self._entry(self.reference_box.currentData()), self._entry(self.candidate_box.currentData())
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
