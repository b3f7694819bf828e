"""The "Label a sample" dialog on a run of the real demo judge, driven from the Results view and the keyboard: draw a
plan with a seed, label with 1/B/S/3/2 and move with the arrows, the judge's decision hidden until asked, and
every label stored at once as an override of a planned task."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from judgedesk.core.runs import LABEL_PLAN_NOTE, RunStore, label_population, load_label_plan
from judgedesk.desktop._labelling_dialog import REVEAL_TIP, LabellingDialog
from judgedesk.desktop._results_view import ResultsView
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSpinBox

pytestmark = pytest.mark.real_model
WAIT = 60_000


def _find(parent: object, kind: type, name: str):  # the widget's own type
    widget = parent.findChild(kind, name)  # type: ignore[attr-defined]
    assert widget is not None, name
    return widget


def _activate(dialog: LabellingDialog) -> None:
    """Make the dialog the active window, as a user's click would, and wait until Qt says it is (the window
    system's activation arrives a few events after the request)."""
    for _ in range(200):
        if dialog.isActiveWindow():
            return
        dialog.activateWindow()
        QTest.qWait(10)
    raise AssertionError("the dialog never became the active window")


def _key(dialog: LabellingDialog, key: Qt.Key) -> None:
    """Press a key in the dialog, with the dialog the active window (the offscreen platform may hand activation
    back to the main window after a page change)."""
    _activate(dialog)
    QTest.keyClick(dialog, key)


@pytest.fixture
def view(app_context: object, qtbot: object, demo_two_prompt_run: Path, tmp_path: Path) -> ResultsView:
    folder = tmp_path / "run"
    shutil.copytree(demo_two_prompt_run, folder)
    results = ResultsView(app_context)  # type: ignore[arg-type]
    results.rounds = 50
    qtbot.addWidget(results)  # type: ignore[attr-defined]
    results.resize(1200, 900)
    results.show()
    with qtbot.waitSignal(results.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        results.open_run(folder)
    return results


def _open_dialog(view: ResultsView, qtbot: object) -> LabellingDialog:
    button = _find(view, QPushButton, "labelSample")
    assert button.isEnabled() and button.text() == "Label a sample…"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    dialog = view.labelling_dialog
    assert isinstance(dialog, LabellingDialog) and dialog.isVisible()
    _activate(dialog)
    return dialog


def test_draw_and_label_from_the_keyboard(view: ResultsView, qtbot: object) -> None:
    folder, key = view.folder, view.run_key
    assert folder is not None and key is not None
    dialog = _open_dialog(view, qtbot)
    size = _find(dialog, QSpinBox, "sampleSize")
    assert size.value() == 6 and size.maximum() == 6  # default 50, at most the run's 6 pairs
    _key(dialog, Qt.Key.Key_1)  # shortcuts sleep on the draw page: nothing is labelled, nothing drawn
    assert load_label_plan(folder, key) is None
    size.setValue(4)
    _find(dialog, QLineEdit, "sampleSeed").setText("7")
    qtbot.mouseClick(_find(dialog, QPushButton, "drawSample"), Qt.MouseButton.LeftButton)  # type: ignore

    sample = load_label_plan(folder, key)
    assert sample is not None and sample.plan.seed == 7 and sample.plan.n == 4
    with RunStore(folder) as store:
        population = [t.content for t in label_population(store.tasks(key))]
    assert list(sample.plan.contents) == [population[int(i)] for i in
                                          np.random.default_rng(7).choice(6, size=4, replace=False)]
    assert "seed 7" in _find(dialog, QLabel, "planSummary").text()
    position = _find(dialog, QLabel, "labelPosition")
    progress = _find(dialog, QLabel, "labelProgress")
    assert position.text() == "1 of 4" and progress.text().startswith("0 labelled, 0 skipped")
    first = sample.items[0].task
    assert _find(dialog, QPlainTextEdit, "labelResponseA").toPlainText() == first.payload["responses"][0]
    assert _find(dialog, QPlainTextEdit, "labelResponseB").toPlainText() == first.payload["responses"][1]
    assert first.payload["instruction"] in _find(dialog, QPlainTextEdit, "labelInstruction").toPlainText()

    # The judge's decision is hidden until asked for, and the tooltip says why.
    reveal = _find(dialog, QCheckBox, "revealJudge")
    judge = _find(dialog, QLabel, "judgeDecision")
    assert not reveal.isChecked() and not judge.isVisible() and reveal.toolTip() == REVEAL_TIP
    reveal.setChecked(True)
    assert judge.isVisible() and judge.text().startswith("Judge: ")
    reveal.setChecked(False)
    assert not judge.isVisible()

    stored: list[str] = []
    dialog.label_did_change.connect(stored.append)
    for pressed in (Qt.Key.Key_1, Qt.Key.Key_B, Qt.Key.Key_S, Qt.Key.Key_3):  # A, B, skip, tie
        _key(dialog, pressed)
    assert stored == [sample.plan.contents[0], sample.plan.contents[1], sample.plan.contents[3]]
    assert position.text() == "4 of 4"
    assert progress.text() == "3 labelled, 1 skipped · 1 to go"
    _key(dialog, Qt.Key.Key_Left)
    _key(dialog, Qt.Key.Key_Left)
    assert position.text() == "2 of 4"
    assert _find(dialog, QLabel, "labelCurrent").text() == f"Your label: B ({LABEL_PLAN_NOTE})"
    _key(dialog, Qt.Key.Key_Right)
    assert position.text() == "3 of 4" and _find(dialog, QLabel, "labelCurrent").text().startswith("Skipped")
    _key(dialog, Qt.Key.Key_2)  # B for the skipped one
    assert progress.text() == "4 labelled, 0 skipped · all labelled"

    with RunStore(folder) as store:  # every label is already an override of its planned task
        overrides = store.overrides(key)
    assert {c: o.label for c, o in overrides.items()} == dict(zip(sample.plan.contents, ["A", "B", "B", "tie"],
                                                                  strict=True))
    assert {o.note for o in overrides.values()} == {LABEL_PLAN_NOTE}
    assert load_label_plan(folder, key).labels == {c: o.label for c, o in overrides.items()}

    # Closing reloads the view: the overrides show there like any other.
    with qtbot.waitSignal(view.results_did_load, timeout=WAIT) as loaded:  # type: ignore[attr-defined]
        dialog.close()
    assert loaded.args[0].overridden == 4


def test_reopening_keeps_the_plan_and_starts_at_the_first_unlabelled(view: ResultsView, qtbot: object) -> None:
    folder, key = view.folder, view.run_key
    assert folder is not None and key is not None
    dialog = _open_dialog(view, qtbot)
    _find(dialog, QSpinBox, "sampleSize").setValue(3)
    dialog.draw()
    drawn = load_label_plan(folder, key)
    _key(dialog, Qt.Key.Key_A)
    dialog.close()

    again = _open_dialog(view, qtbot)
    assert again.pages.currentIndex() == 1  # a plan exists: no second draw is offered
    assert _find(again, QLabel, "labelPosition").text() == "2 of 3"
    assert _find(again, QLabel, "labelProgress").text().startswith("1 labelled, 0 skipped")
    assert load_label_plan(folder, key).plan.contents == drawn.plan.contents
    again.close()
