"""The Results view on a real run of the demo judge says what its figures rest on (issue 17), driven through its
widgets: the warning banner at the top, n and "too few games" in the overview, the models left out of the ranking
named with the reason, and the judge-behaviour panel unchanged when "Inconsistent as tie" is ticked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.runs import run_batch
from judgedesk.desktop._charts import BarRow
from judgedesk.desktop._results_view import ResultsView
from judgedesk.desktop._warning_banner import RunWarningBanner
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox

pytestmark = pytest.mark.real_model
WAIT = 60_000
INTERVAL_COLUMN, WIN_RATE_COLUMN = 9, 8


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, demo_two_prompt_run: Path) -> Path:
    """This module's copy of the session's two-prompt demo run (its tests store overrides in it)."""
    target = tmp_path_factory.mktemp("results_honesty") / "run"
    shutil.copytree(demo_two_prompt_run, target)
    return target


@pytest.fixture
def view(app_context: object, qtbot: object) -> ResultsView:
    results = ResultsView(app_context)  # type: ignore[arg-type]
    results.rounds = 50
    qtbot.addWidget(results)  # type: ignore[attr-defined]
    results.resize(1200, 900)
    results.show()
    return results


def _open(view: ResultsView, qtbot: object, folder: Path) -> None:
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        view.open_run(folder)


def _bar(rows: list[BarRow], label: str) -> BarRow:
    [row] = [row for row in rows if row.label == label]
    return row


def _table_column(view: ResultsView, column: int) -> list[str]:
    table = view.category_table
    return [table.item(r, column).text() for r in range(table.rowCount())]


def test_a_judge_that_contradicts_itself_is_said_and_ties_leave_its_behaviour_alone(
        view: ResultsView, qtbot: object, demo_run: Path) -> None:
    _open(view, qtbot, demo_run)
    summary = view.summary
    assert summary is not None
    behaviour = summary["judge_behaviour"]
    assert behaviour["inconsistent"] > (behaviour["n"] - behaviour["unparsed"]) / 2  # the demo judge, as documented

    # The banner, at the top, says what happened, what it means and what to do.
    banner = view.findChild(RunWarningBanner, "runWarningBanner")
    assert banner is view.warning_banner and banner.isVisible()
    layout = view.layout()
    assert layout.indexOf(banner) < layout.indexOf(view.summary_label) < layout.indexOf(view.tabs)
    text = banner.text()
    assert f"The judge contradicted itself on {behaviour['inconsistent']} of " in text
    assert "position bias" in text and "Judges view → Import GGUF…" in text and "Import HF folder…" in text

    # Every model is ranked with its n, or named with the reason it is not.
    models = {"model-alpha", "model-beta", "model-gamma"}
    ranked = {row.label for row in view.ranking_chart.rows}
    assert all(row.note.startswith("n = ") for row in view.ranking_chart.rows)
    noted = {model for model in models for note in view.ranking_chart.notes
             if note.startswith(f"Not ranked: {model}: no decisive games")}
    assert ranked | noted == models and not ranked & noted
    assert "Not ranked:" in view.ranking_chart.toolTip() or not noted
    inconsistent = _bar(view.behaviour_chart.rows, "Inconsistent")
    ties = _bar(view.behaviour_chart.rows, "Ties")
    assert inconsistent.detail == f"{behaviour['inconsistent']} of {behaviour['n']}"
    assert any("only the ranking" in note for note in view.behaviour_chart.notes)

    # Ticking "Inconsistent as tie" changes the ranking, never what the judge did.
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        qtbot.mouseClick(view.findChild(QCheckBox, "inconsistentAsTie"), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert view.summary["options"]["inconsistent_as_tie"] is True  # type: ignore[index]
    assert _bar(view.behaviour_chart.rows, "Inconsistent") == inconsistent
    assert _bar(view.behaviour_chart.rows, "Ties") == ties
    assert view.summary["judge_behaviour"] == behaviour  # type: ignore[index]
    assert any("(on)" in note for note in view.behaviour_chart.notes)
    assert banner.isVisible() and "'Inconsistent as tie' counts these pairs as ties" in banner.text()

    # Now every model has games, each too few for an interval: n and the reason, no point-wide interval.
    rows = view.ranking_chart.rows
    assert {row.label for row in rows} == models and view.ranking_chart.notes == []
    for row in rows:
        assert not row.has_interval
        assert row.note in ("n = 4 · too few games", "n = 4 · anchor")
    assert "[1000, 1000]" not in view.ranking_chart.toolTip()
    intervals = _table_column(view, INTERVAL_COLUMN)
    assert intervals and set(intervals) == {"too few games for an interval (n = 2)"}
    assert set(_table_column(view, WIN_RATE_COLUMN)) == {"50% (n = 2)"}  # every game a tie: half each
    assert view.heat_map.min_games == view.summary["options"]["min_games_for_interval"] == 10  # type: ignore[index]
    assert view.heat_map.games == [[0, 2, 2], [2, 0, 2], [2, 2, 0]]
    assert "of 2 games" in view.heat_map.toolTip()
    assert not view.heat_map.render_image(720).isNull()

    # Unticked again: the figures of the judge's own decisions come back.
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        qtbot.mouseClick(view.findChild(QCheckBox, "inconsistentAsTie"), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert _bar(view.behaviour_chart.rows, "Inconsistent") == inconsistent
    assert {row.label for row in view.ranking_chart.rows} == ranked


def _decisive_run(folder: Path) -> Path:
    """A mock judge that always prefers the 'good' response, in both orders: no warning to give."""

    def scores(prompt: str, options: list[str]) -> list[float]:
        first_wins = prompt.find("good") < prompt.find("bad")
        return [0.0 if (o == "1") == first_wins and o in ("1", "2") else -9.0 for o in options]

    pairs = tuple(PairTask(item=EvalItem(id=f"q{n}", instruction=f"question {n}", responses=(f"good {n}", f"bad {n}")),
                           model_a="model-x", model_b="model-y") for n in range(3))
    dataset = Dataset(source=Path("mem"), kind="pairs", models=("model-x", "model-y"), pairs=pairs, grades=())
    run_batch(folder, dataset, Judge(MockBackend(option_scores=scores), format="pandalm",
                                     decoding=DecodingSettings()))
    return folder


def test_the_banner_goes_with_the_run_it_belongs_to(view: ResultsView, qtbot: object, demo_run: Path,
                                                     tmp_path: Path) -> None:
    _open(view, qtbot, demo_run)
    assert view.warning_banner.isVisible()
    _open(view, qtbot, _decisive_run(tmp_path / "decisive"))
    assert view.summary is not None and view.summary["warnings"] == []
    assert view.warning_banner.isHidden() and view.warning_banner.text() == ""
    # Three games each way: the ranking says so rather than drawing an interval.
    assert [row.note for row in view.ranking_chart.rows] == ["n = 3 · anchor", "n = 3 · too few games"]
