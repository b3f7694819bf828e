"""The Results view shows the judge's agreement with another judge's run of the same items (imported judgements)
beside its agreement with human labels (issue 18), driven through the widgets."""

from __future__ import annotations

from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge, Sampling
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.runs import run_batch
from judgedesk.desktop._results_view import ResultsView

WAIT = 60_000


def _run(folder: Path, wrong_on: frozenset[int], seed: int) -> None:
    def scores(prompt: str, options: list[str]) -> list[float]:
        number = int(prompt.split("question ")[1].split()[0])
        first_wins = (prompt.find("good") < prompt.find("bad")) != (number in wrong_on)
        return [0.0 if (o == "1") == first_wins and o in ("1", "2") else -9.0 for o in options]

    def responses(n: int) -> tuple[str, str]:
        return (f"good {n}", f"bad {n}") if n % 2 == 0 else (f"bad {n}", f"good {n}")

    pairs = tuple(PairTask(item=EvalItem(id=f"q{n}", instruction=f"question {n} here", responses=responses(n)),
                           model_a="alpha", model_b="beta", human="A" if n % 2 == 0 else "B") for n in range(10))
    dataset = Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta"), pairs=pairs, grades=())
    judge = Judge(MockBackend(option_scores=scores), format="pandalm",
                  decoding=DecodingSettings(sampling=Sampling(seed=seed)))
    run_batch(folder, dataset, judge)


@pytest.fixture
def view(app_context: object, qtbot: object) -> ResultsView:
    results = ResultsView(app_context)  # type: ignore[arg-type]
    results.rounds = 20
    qtbot.addWidget(results)  # type: ignore[attr-defined]
    results.resize(1200, 900)
    results.show()
    return results


def test_agreement_with_the_other_judge_sits_beside_the_human_labels(view: ResultsView, qtbot: object,
                                                                      tmp_path: Path) -> None:
    folder = tmp_path / "run"
    _run(folder, frozenset(), seed=1)
    _run(folder, frozenset({0, 1}), seed=2)
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        view.open_run(folder)
    labels = {row.label: row for row in view.agreement_chart.rows}
    assert labels["Human labels · final decision"].value == pytest.approx(0.8)
    [peer] = [row for label, row in labels.items() if label.endswith("· final decision") and "Human" not in label]
    assert peer.value == pytest.approx(0.8) and "κ 0.60" in peer.detail


def test_the_leaderboards_tab_shows_only_for_runs_with_such_figures(view: ResultsView, qtbot: object,
                                                                      tmp_path: Path) -> None:
    folder = tmp_path / "run"
    _run(folder, frozenset(), seed=1)
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        view.open_run(folder)
    tab = view.tabs.indexOf(view.protocol_tables)
    # Two models in every pair: the second is the baseline, so the run has an AlpacaEval leaderboard.
    assert view.tabs.isTabVisible(tab)
    [row] = view.protocol_tables.leaderboard.cells()
    assert row[0] == "alpha" and row[6] == "10"
    assert not view.protocol_tables.peer_agreement.isVisibleTo(view.protocol_tables)
    _run(folder, frozenset({0, 1}), seed=2)
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        view.open_run(folder)
    rows = view.protocol_tables.peer_agreement.cells()
    assert [r[1] for r in rows] == ["first order", "second order", "final decision"]
    assert rows[-1][2:] == ["10", "80.0%", rows[-1][4], "0.600"]


def test_a_jury_run_shows_its_judges_agreement(view: ResultsView, qtbot: object, tmp_path: Path) -> None:
    from judgedesk.core.reports import load_results
    from judgedesk.core.runs import build_jury

    folder = tmp_path / "run"
    keys = []
    for wrong, seed in ((frozenset(), 1), (frozenset({0, 1}), 2), (frozenset({0}), 3)):
        _run(folder, wrong, seed)
        keys.append(load_results(folder).info.run_key)
    jury = build_jury(folder, keys, method="majority")
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        view.open_run(folder, jury.run_key)
    assert view.tabs.isTabVisible(view.tabs.indexOf(view.protocol_tables))
    rows = view.protocol_tables.jury.cells()
    assert len(rows) == 4 and rows[-1][0] == "the jury" and rows[-1][3] == "90.0%"
    assert "Fleiss' κ" in view.protocol_tables.jury.note.text()


def test_the_calibrated_win_rate_sits_beside_the_judges_own_interval(view: ResultsView, qtbot: object,
                                                                      tmp_path: Path) -> None:
    folder = tmp_path / "run"
    _run(folder, frozenset({0, 1}), seed=1)  # every pair carries a human label
    with qtbot.waitSignal(view.summary_did_update, timeout=WAIT):  # type: ignore[attr-defined]
        view.open_run(folder)
    table = view.category_table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers[-2:] == ["95% interval", "calibrated by labels (n)"]
    # Every pair labelled: the calibrated estimate is the humans' own win rate (5 of 10 A), exactly.
    assert table.item(0, len(headers) - 1).text().startswith("50.0%") and "(n = 10)" in table.item(0, 10).text()
    [row] = view.protocol_tables.calibration.cells()
    assert row[:2] == ["alpha", "beta"] and row[2].endswith("(N = 10)") and row[3].endswith("(n = 10)")
    assert "random sample" in view.protocol_tables.calibration.note.text()
    ratings = view.protocol_tables.calibrated_ratings.cells()
    assert [r[0] for r in ratings] == ["alpha", "beta"] or [r[0] for r in ratings] == ["beta", "alpha"]
