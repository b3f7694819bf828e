"""Starting the app: the QApplication, the main window, the judge loaded at start, the data opened."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from ._context import AppContext
from ._main_window import MainWindow
from ._messages import install_unexpected_error_hook, report_task_errors

__all__ = ["run_app", "start_window"]

_VIEW_NAMES = ["compare", "batch", "results", "judges", "settings"]


def start_window(*, data: str | None = None, judge: str | None = None, view: str | None = None) -> MainWindow:
    """The main window, shown, with the judge loading in the background and `data` previewed in Batch."""
    window = MainWindow(AppContext())
    context = window.context
    report_task_errors(context.service.preload(context.settings.judge_spec(judge=judge)), context.messages)
    if data:
        window.batch.open_path(Path(data))
        window.show_view(window.view_index(window.batch))
    if view:
        window.show_view(_VIEW_NAMES.index(view))
    window.show()
    return window


def run_app(*, data: str | None = None, judge: str | None = None, view: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("judgedesk")
    app.setOrganizationName("judgedesk")
    window = start_window(data=data, judge=judge, view=view)
    install_unexpected_error_hook(window.context.messages)
    status = app.exec()
    window.close()
    return status
