"""The Results view says once, beside the warning banner, that a run judged by the demo judge rests on a weak judge,
with the way to a real one; a run of another judge does not get the note (issue 17)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge, demo_data_path, load_judge
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, PairTask, load_dataset
from judgedesk.core.runs import BatchOptions, run_batch
from judgedesk.desktop._demo_judge_note import DemoJudgeNote
from judgedesk.desktop._results_view import ResultsView
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolButton

pytestmark = pytest.mark.real_model
WAIT = 60_000


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo judge on the first demo prompt (3 models, 3 pairs), one order: cheap."""
    base = tmp_path_factory.mktemp("results_demo_note")
    data = base / "demo"
    shutil.copytree(demo_data_path(), data)
    judge = load_judge(n_ctx=2048, n_threads=1)
    try:
        run_batch(base / "run", load_dataset(data, limit=1), judge, options=BatchOptions(both_orders=False))
    finally:
        judge.close()
    return base / "run"


def _mock_run(folder: Path) -> Path:
    pairs = tuple(PairTask(item=EvalItem(id=f"q{n}", instruction=f"question {n}", responses=(f"good {n}", f"bad {n}")),
                           model_a="model-x", model_b="model-y") for n in range(2))
    dataset = Dataset(source=Path("mem"), kind="pairs", models=("model-x", "model-y"), pairs=pairs, grades=())
    run_batch(folder, dataset, Judge(MockBackend(option_scores=lambda prompt, options: [0.0] * len(options)),
                                     format="pandalm", decoding=DecodingSettings()))
    return folder


def _view(context, qtbot) -> ResultsView:
    view = ResultsView(context)
    view.rounds = 20
    qtbot.addWidget(view)
    view.resize(1200, 900)
    view.show()
    return view


def _open(view: ResultsView, qtbot, folder: Path) -> None:
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):
        view.open_run(folder)


def test_a_demo_run_carries_the_note_once_beside_the_banner(app_context, qtbot, demo_run: Path,
                                                            tmp_path: Path) -> None:
    view = _view(app_context, qtbot)
    note = view.findChild(DemoJudgeNote, "demoJudgeNote")
    assert note is view.demo_note and not note.isVisible()
    _open(view, qtbot, demo_run)
    assert note.isVisible()
    text = view.findChild(QLabel, "demoJudgeNoteText").text()
    assert "demo judge" in text and "Import GGUF" in text and "Import HF folder" in text and "Judges view" in text
    layout = view.layout()
    assert layout.indexOf(note) == layout.indexOf(view.warning_banner) + 1  # right under the warnings
    assert "results" in app_context.settings.demo_notes_seen

    # Another judge's run: no note; back on the demo run in this session: still there until dismissed.
    _open(view, qtbot, _mock_run(tmp_path / "mock"))
    assert not note.isVisible()
    _open(view, qtbot, demo_run)
    assert note.isVisible()
    qtbot.mouseClick(view.findChild(QToolButton, "demoJudgeNoteDismiss"), Qt.MouseButton.LeftButton)
    assert not note.isVisible()
    view.close()

    # Once: a new Results view (the app restarted) does not show it again.
    again = _view(app_context, qtbot)
    _open(again, qtbot, demo_run)
    assert not again.demo_note.isVisible()
