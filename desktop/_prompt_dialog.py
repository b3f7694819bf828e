"""The "Show prompt" dialog: exactly what the judge is given for the Compare view's pair, in either order.

The prompt is rendered by core's `Judge.prompt_preview` on the judge service's worker (the model's tokenizer lives
there, and one llama.cpp context serves one thread), never in the GUI thread: the dialog submits the work, shows
that it waits, and fills in the text when the preview arrives. Changing the order asks again; an answer for an
order no longer chosen is dropped. The text is shown read-only in a monospace font, special tokens spelled out.
"""

from __future__ import annotations

from judgedesk.core import EvalItem, PromptPreview
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ._judge_service import JudgeService, JudgeSpec
from ._tasks import Task, WorkContext
from ._widgets import SELECTABLE, named_button

__all__ = ["ORDERS", "PromptDialog"]

ORDERS = {"AB": "A shown first (AB)", "BA": "B shown first (BA)"}
"""The orders the dialog offers, with their labels."""


class PromptDialog(QDialog):
    """Shows the prompt the judge evaluates for one pair, with its token count and cut; the order is selectable."""

    def __init__(self, service: JudgeService, spec: JudgeSpec, item: EvalItem, *, order: str = "AB",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("promptDialog")
        self.setWindowTitle("The prompt the judge is given")
        self._service, self._spec, self._item = service, spec, item
        self.task: Task | None = None
        """The rendering under way (None when idle)."""
        self.preview: PromptPreview | None = None
        """The prompt shown (None until the first one arrives, or after a failure)."""
        self._build(order)
        self.resize(860, 640)
        self.render_prompt()

    # -- layout ---------------------------------------------------------------------------------------------

    def _build(self, order: str) -> None:
        self.order_box = QComboBox()
        self.order_box.setObjectName("promptOrderBox")
        for key, label in ORDERS.items():
            self.order_box.addItem(label, key)
        self.order_box.setCurrentIndex(list(ORDERS).index(order))
        self.order_box.setToolTip("Which response the judge reads first; judging both orders exposes position bias")
        self.order_box.currentIndexChanged.connect(lambda _: self.render_prompt())
        order_caption = QLabel("&Order")
        order_caption.setBuddy(self.order_box)
        self.summary = QLabel()
        self.summary.setObjectName("promptSummary")
        self.summary.setTextInteractionFlags(SELECTABLE)
        self.text = QPlainTextEdit()
        self.text.setObjectName("promptText")
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText("Rendering the prompt with the judge's tokenizer…")
        self.details = QLabel()
        self.details.setObjectName("promptDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(SELECTABLE)
        self.copy_button = named_button("Copy", "promptCopy", "Copy the prompt, exactly as shown, to the clipboard",
                                        self.copy_prompt)
        self.copy_button.setEnabled(False)
        close = QPushButton("Close")
        close.setObjectName("promptClose")
        close.clicked.connect(self.close)
        head = QHBoxLayout()
        head.addWidget(order_caption)
        head.addWidget(self.order_box)
        head.addSpacing(12)
        head.addWidget(self.summary, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.details)
        layout.addLayout(buttons)

    # -- public ---------------------------------------------------------------------------------------------

    def order(self) -> str:
        """The order chosen: 'AB' or 'BA'."""
        return str(self.order_box.currentData())

    def render_prompt(self) -> Task:
        """Ask the judge service for the prompt in the chosen order; the answer fills the dialog."""
        if self.task is not None:
            self.task.cancel()  # a rendering for the order no longer chosen is not wanted
        order, item = self.order(), self._item

        def preview(ctx: WorkContext) -> PromptPreview:
            assert ctx.judge is not None
            return ctx.judge.prompt_preview(item, order=order)

        task = self._service.submit(self._spec, preview, name="the prompt")
        self.task = task
        task.task_did_finish.connect(lambda result: self._did_render(task, result))
        task.task_did_fail.connect(lambda message: self._did_fail(task, message))
        task.task_did_end.connect(lambda: self._did_end(task))
        self.preview = None
        self.copy_button.setEnabled(False)
        self.text.clear()
        self.details.clear()
        self.summary.setText("Waiting for the judge to load…" if self._service.loaded is None
                             else "Rendering the prompt…")
        return task

    def copy_prompt(self) -> None:
        if self.preview is not None:
            QApplication.clipboard().setText(self.preview.text)
            self.summary.setText(_summary(self.preview) + " · copied")

    # -- task outcome (GUI thread) --------------------------------------------------------------------------

    def _did_render(self, task: Task, preview: PromptPreview) -> None:
        if task is not self.task:
            return
        self.preview = preview
        self.text.setPlainText(preview.text)
        self.summary.setText(_summary(preview))
        self.details.setText(preview.describe())
        self.copy_button.setEnabled(True)

    def _did_fail(self, task: Task, message: str) -> None:
        if task is self.task:
            self.summary.setText("The prompt could not be rendered:")
            self.details.setText(message)

    def _did_end(self, task: Task) -> None:
        if task is self.task:
            self.task = None

    def done(self, result: int) -> None:
        """Closing the dialog drops a rendering still queued."""
        if self.task is not None:
            self.task.cancel()
            self.task = None
        super().done(result)


def _summary(preview: PromptPreview) -> str:
    cut = f"{preview.cut_tokens:,} tokens cut from the responses" if preview.cut_tokens else "nothing cut"
    return f"{preview.token_count:,} tokens of {preview.n_ctx:,} · {cut}"
