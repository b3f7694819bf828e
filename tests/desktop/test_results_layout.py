"""The Results view at the smallest supported window (1024×700) on a real demo-judge run (issue 17), driven through
its widgets: the Verdicts table keeps most of the height and every column in sight, the Item column names the item
(not the models again), the detail pane shows nothing stale without a selected row, override times read as local
time, and no overview text is cut without a way to read it whole."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from judgedesk.core.runs import RunStore
from judgedesk.desktop._charts import Chart
from judgedesk.desktop._result_detail import PLACEHOLDER
from judgedesk.desktop._results_model import COLUMNS, item_text, local_time_text
from judgedesk.desktop._results_view import ResultsView
from PySide6.QtCore import QDateTime, QLocale, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

pytestmark = pytest.mark.real_model
WAIT = 60_000


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, demo_two_prompt_run: Path) -> Path:
    """This module's copy of the session's two-prompt demo run (its tests store overrides in it)."""
    target = tmp_path_factory.mktemp("results_layout") / "run"
    shutil.copytree(demo_two_prompt_run, target)
    return target


@pytest.fixture
def view(app_context: object, qtbot: object) -> Iterator[ResultsView]:
    """The Results view in a 1024×700 window laid out as the app's (130-px navigation, margins, status bar)."""
    window = QMainWindow()
    qtbot.addWidget(window)  # type: ignore[attr-defined]
    results = ResultsView(app_context)  # type: ignore[arg-type]
    results.rounds = 50
    nav = QListWidget()
    nav.setFixedWidth(130)
    content = QWidget()
    column = QVBoxLayout(content)
    column.setContentsMargins(8, 8, 8, 4)
    column.addWidget(results, 1)
    central = QWidget()
    row = QHBoxLayout(central)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(0)
    row.addWidget(nav)
    row.addWidget(content, 1)
    window.setCentralWidget(central)
    window.statusBar().showMessage("Judge: demo")
    window.resize(1024, 700)
    window.show()
    qtbot.waitExposed(window)  # type: ignore[attr-defined]
    yield results  # the window stays referenced while the test runs
    window.close()


def _open(view: ResultsView, qtbot: object, folder: Path) -> None:
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        view.open_run(folder)
    qtbot.wait(50)  # type: ignore[attr-defined]  # the layout settles


def _verdicts(view: ResultsView, qtbot: object) -> None:
    view.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: view.table.isVisible() and view.table.viewport().height() > 0)  # type: ignore[attr-defined]


def _rows_in_sight(view: ResultsView) -> int:
    return view.table.viewport().height() // view.table.verticalHeader().defaultSectionSize()


def test_the_verdicts_table_keeps_the_height_and_every_column_at_1024x700(
        view: ResultsView, qtbot: object, demo_run: Path) -> None:
    _open(view, qtbot, demo_run)
    _verdicts(view, qtbot)
    table, model = view.table, view.model
    assert view.window().size().width() == 1024 and model.rowCount() == 6

    # Every column, Human and Override included, lies inside the viewport: nothing to scroll sideways to.
    viewport = table.viewport().width()
    for column, title in enumerate(COLUMNS):
        right = table.columnViewportPosition(column) + table.columnWidth(column)
        assert not table.isColumnHidden(column) and right <= viewport, (title, right, viewport)
    assert table.horizontalScrollBar().maximum() == 0
    assert table.columnWidth(COLUMNS.index("Item")) >= 120
    for title in ("AB", "BA", "Conf."):  # the short headers say what they mean
        assert model.headerData(COLUMNS.index(title), Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)

    # The table has more of the height than the detail below it, and every demo row is in sight.
    sizes = view.verdicts_split.sizes()
    assert sizes[0] > sizes[1] and _rows_in_sight(view) >= 6
    with_details = _rows_in_sight(view)

    # "Details" folds the detail away: the table gets all of it; a second click brings it back.
    toggle = view.findChild(QToolButton, "toggleDetails")
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: _rows_in_sight(view) > with_details)  # type: ignore[attr-defined]
    assert view.detail_scroll.isHidden() and _rows_in_sight(view) >= 12
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert not view.detail_scroll.isHidden()

    # A column the user widens by hand stays as set when the window changes size.
    table.setColumnWidth(COLUMNS.index("Category"), 140)
    view.window().resize(1100, 700)
    qtbot.wait(50)  # type: ignore[attr-defined]
    assert table.columnWidth(COLUMNS.index("Category")) == 140


def test_the_item_column_names_the_item_not_the_models(view: ResultsView, qtbot: object, demo_run: Path) -> None:
    _open(view, qtbot, demo_run)
    _verdicts(view, qtbot)
    model = view.model
    item = COLUMNS.index("Item")
    for r in range(model.rowCount()):
        task = model.row_at(r).task
        shown = model.data(model.index(r, item))
        assert task.model_a not in shown and task.model_b not in shown, shown
        base = task.item_id.split("|")[0]  # 'demo-01|model-alpha|model-beta'
        assert shown.startswith(f"{base} · {task.payload['instruction'][:20]}")
        tip = model.data(model.index(r, item), Qt.ItemDataRole.ToolTipRole)
        assert task.item_id in tip and task.payload["instruction"][:100] in tip
        for column in (COLUMNS.index("Model A"), COLUMNS.index("Model B")):  # an elided name reads whole
            assert model.data(model.index(r, column), Qt.ItemDataRole.ToolTipRole) == model.data(model.index(r, column))
    # A grade's id carries one model name, which goes too; an id that is only a model name stays.
    grade = SimpleNamespace(item_id="q7|model-alpha", model_a="model-alpha", model_b=None, payload={"instruction": ""})
    assert item_text(grade) == "q7"
    assert item_text(SimpleNamespace(item_id="|x", model_a="x", model_b=None, payload={})) == "|x"


def test_the_detail_shows_a_placeholder_and_nothing_stale_without_a_row(
        view: ResultsView, qtbot: object, demo_run: Path) -> None:
    _open(view, qtbot, demo_run)
    _verdicts(view, qtbot)
    detail = view.detail

    def empty() -> bool:
        return (detail.placeholder.isVisible() and not detail.content.isVisible() and detail.header.text() == ""
                and detail.label_a.text() == "Response A" and detail.label_b.text() == "Response B"
                and detail.instruction.toPlainText() == "" and detail.order_ab.toPlainText() == "")

    assert detail.placeholder.text() == PLACEHOLDER and empty()
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton,  # type: ignore[attr-defined]
                     pos=view.table.visualRect(view.model.index(0, 0)).center())
    row = view.selected_row()
    assert row is not None and detail.content.isVisible() and not detail.placeholder.isVisible()
    assert detail.header.text().startswith("#1 · ") and row.task.model_a in detail.label_a.text()

    # Filtering the selected row away leaves no header, model names or texts of it behind.
    qtbot.keyClicks(view.findChild(QLineEdit, "filterText"), "no such item")  # type: ignore[attr-defined]
    assert view.selected_row() is None and empty()
    view.findChild(QLineEdit, "filterText").clear()
    assert view.model.rowCount() == 6 and view.selected_row() is None and empty()

    # A reload keeps a row that is still there selected, and its detail with it.
    view.table.selectRow(2)
    header = detail.header.text()
    with qtbot.waitSignal(view.results_did_load, timeout=WAIT):  # type: ignore[attr-defined]
        view.reload()
    assert view.selected_row() is not None and detail.header.text() == header and detail.content.isVisible()


def test_override_times_read_as_local_time_with_the_stored_time_in_the_tooltip(
        view: ResultsView, qtbot: object, demo_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(demo_run, folder)
    _open(view, qtbot, folder)
    _verdicts(view, qtbot)
    view.table.selectRow(0)
    button = view.findChild(QPushButton, "overrideA")
    qtbot.waitUntil(lambda: button.height() > 0)  # type: ignore[attr-defined]  # the detail is laid out
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    with RunStore(folder) as store:
        [stored] = store.overrides(view.run_key).values()  # type: ignore[arg-type]
    created = stored.created  # UTC, ISO 8601, as the run stores it
    moment = QDateTime.fromString(created, Qt.DateFormat.ISODate)
    assert moment.isValid() and moment.offsetFromUtc() == 0
    local = QLocale().toString(moment.toLocalTime(), QLocale.FormatType.ShortFormat)
    assert local_time_text(created) == local and local != created

    current = view.findChild(QLabel, "overrideCurrent")
    assert current.text().endswith(f"set {local}") and created not in current.text()
    assert created in current.toolTip()
    tip = view.model.data(view.model.index(0, COLUMNS.index("Override")), Qt.ItemDataRole.ToolTipRole)
    assert f"set {local}" in tip and created in tip
    assert local_time_text("not a time") == "not a time"


def test_no_overview_text_is_cut_at_1024x700(view: ResultsView, qtbot: object, demo_run: Path) -> None:
    _open(view, qtbot, demo_run)
    overview = view.overview
    charts = [chart for chart in overview.widget().findChildren(Chart) if not chart.isHidden()]
    assert len(charts) == 4 and all(chart.has_data() or chart.notes for chart in charts)
    for chart in charts:
        assert chart.width() <= overview.viewport().width()
        chart.grab()  # paints it at the size it has on screen
        assert chart.cut_texts == [], (chart.objectName(), chart.cut_texts)
        assert chart.height() == chart.sizeHint().height()  # wrapped notes and stacked labels have their room
    for label in overview.widget().findChildren(QLabel):
        if label.isVisible() and label.text():
            if label.wordWrap():
                assert label.heightForWidth(label.width()) <= label.height(), label.text()
            else:
                assert label.sizeHint().width() <= label.width(), label.text()

    # Narrower than any window: what must be elided is elided with the whole text in the tooltip.
    for chart in charts:
        chart.render_image(220)
        assert all(text in chart.toolTip() for text in chart.cut_texts), chart.objectName()
    assert any(chart.cut_texts for chart in charts)
