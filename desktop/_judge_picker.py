"""Judge, format and language pickers, shared by the Compare and Batch views."""

from __future__ import annotations

from judgedesk.core import get_format, list_judges
from judgedesk.core.formats import format_names
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from ._context import AppContext
from ._synthetic_mark import SYNTHETIC_MARK

__all__ = ["JudgePicker"]

_AUTO = ""  # the format combobox's "the judge's own format" entry
_LANGUAGES = {"en": "English", "zh": "中文"}


class JudgePicker(QWidget):
    """A judge from the library, a format (default: the judge's own) and a prompt language."""

    picker_did_change = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.judge_box = QComboBox()
        self.judge_box.setObjectName("judgePicker")
        self.judge_box.setToolTip("The judge model (manage them in the Judges view)")
        self.judge_box.setMinimumContentsLength(18)
        self.format_box = QComboBox()
        self.format_box.setObjectName("formatPicker")
        self.format_box.setToolTip("The prompt format the judge was trained on")
        self.lang_box = QComboBox()
        self.lang_box.setObjectName("langPicker")
        for code, label in _LANGUAGES.items():
            self.lang_box.addItem(label, code)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label, box in (("&Judge", self.judge_box), ("&Format", self.format_box), ("Language", self.lang_box)):
            caption = QLabel(label)
            caption.setBuddy(box)
            layout.addWidget(caption)
            layout.addWidget(box, 1 if box is self.judge_box else 0)
        self.refresh_judges()
        self._fill_formats()
        self.judge_box.currentIndexChanged.connect(self._judge_changed)
        self.format_box.currentIndexChanged.connect(self._format_changed)
        self.lang_box.currentIndexChanged.connect(lambda _: self.picker_did_change.emit())
        context.judges_did_change.connect(self.refresh_judges)
        context.settings_did_change.connect(self._settings_changed)

    # -- reading --------------------------------------------------------------------------------------------

    def judge(self) -> str:
        return self.judge_box.currentData() or self._context.settings.default_judge

    def format(self) -> str | None:
        """The chosen format; None = the judge's own."""
        return self.format_box.currentData() or None

    def lang(self) -> str:
        return self.lang_box.currentData() or "en"

    def effective_format(self) -> str:
        """The format that will be used: the chosen one, or the selected judge's own."""
        chosen = self.format()
        if chosen:
            return chosen
        entry = self._entries.get(self.judge())
        return entry.default_format if entry is not None else "generic"

    def spec_parts(self) -> dict[str, str | None]:
        return {"judge": self.judge(), "format": self.format(), "lang": self.lang()}

    # -- writing --------------------------------------------------------------------------------------------

    def set_judge(self, name: str) -> None:
        index = self.judge_box.findData(name)
        if index >= 0:
            self.judge_box.setCurrentIndex(index)

    def set_format(self, name: str | None) -> None:
        index = self.format_box.findData(name or _AUTO)
        if index >= 0:
            self.format_box.setCurrentIndex(index)

    def refresh_judges(self) -> None:
        current = self.judge_box.currentData() or self._context.settings.default_judge
        self._entries = {e.name: e for e in list_judges()}
        self.judge_box.blockSignals(True)
        self.judge_box.clear()
        for entry in self._entries.values():
            label = entry.label + (f" {SYNTHETIC_MARK}" if entry.header and entry.header.synthetic else "")
            label = label if entry.problem is None else f"{label} (unusable: {entry.problem})"
            self.judge_box.addItem(label, entry.name)
        index = self.judge_box.findData(current)
        self.judge_box.setCurrentIndex(max(index, 0))
        self.judge_box.blockSignals(False)
        self._fill_formats()

    def _fill_formats(self) -> None:
        current = self.format_box.currentData() if self.format_box.count() else self._context.settings.default_format
        entry = self._entries.get(self.judge())
        own = entry.default_format if entry is not None else "generic"
        self.format_box.blockSignals(True)
        self.format_box.clear()
        self.format_box.addItem(f"judge's own ({own})", _AUTO)
        for name in format_names():
            self.format_box.addItem(name, name)
        index = self.format_box.findData(current or _AUTO)
        self.format_box.setCurrentIndex(max(index, 0))
        self.format_box.blockSignals(False)
        self._fill_languages()

    def _fill_languages(self) -> None:
        languages = get_format(self.effective_format()).languages
        for row in range(self.lang_box.count()):
            item = self.lang_box.model().item(row)  # type: ignore[attr-defined]
            item.setEnabled(self.lang_box.itemData(row) in languages)
        if self.lang() not in languages:
            self.lang_box.setCurrentIndex(self.lang_box.findData("en"))

    def _judge_changed(self) -> None:
        self._fill_formats()
        self.picker_did_change.emit()

    def _format_changed(self) -> None:
        self._fill_languages()
        self.picker_did_change.emit()

    def _settings_changed(self) -> None:
        if not self.format_box.currentData():
            self.set_format(self._context.settings.default_format)
