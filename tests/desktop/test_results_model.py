"""The results table model over a run database: fast with 10,000 rows, filters, lazy cells, override marks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from judgedesk.core.reports import load_results, pairs_table
from judgedesk.core.runs import RunInfo, RunStore, content_hash
from judgedesk.core.runs._store import StoredTask
from judgedesk.desktop._results_model import COLUMNS, ResultsFilter, ResultsTableModel
from PySide6.QtCore import Qt

MODELS = ("alpha", "beta", "gamma")


def _record(winner: str | None, p: float) -> dict[str, object]:
    return {"winner": winner, "probabilities": {"A": p, "B": 1 - p, "tie": 0.0}, "raw_output": "1",
            "status": "ok" if winner else "unparsed"}


def make_run(folder: Path, n: int) -> str:
    """A pairwise run database of n tasks: every 7th inconsistent, every 11th unparsed, every 13th unjudged."""
    key = "k" * 64
    folder.mkdir(parents=True)
    with RunStore(folder) as store:
        store.ensure_run(RunInfo(key, "Test judge (Q4) / pandalm", "pairwise", ("AB", "BA"), {"seed": 0}, "mem"))
        tasks = []
        for i in range(n):
            a, b = MODELS[i % 3], MODELS[(i + 1) % 3]
            payload = {"instruction": f"Question {i}", "input": None, "responses": [f"answer {i} by {a}", f"by {b}"],
                       "reference": None}
            tasks.append(StoredTask(i, f"q{i}", content_hash("pair", str(i)), a, b, ("qa", "code")[i % 2],
                                    "A" if i % 5 == 0 else None, payload))
        store.replace_tasks(key, tasks)
        verdicts = []
        for i, task in enumerate(tasks):
            if i % 13 == 12:
                continue
            ab = None if i % 11 == 10 else "A"
            ba = "B" if i % 7 == 6 else "A"
            verdicts.append((task.content, "AB", "ok" if ab else "unparsed", _record(ab, 0.8)))
            verdicts.append((task.content, "BA", "ok", _record(ba, 0.6)))
        store.put_verdicts(key, verdicts)
    return key


def _texts(model: ResultsTableModel, row: int) -> list[str]:
    return [model.data(model.index(row, c)) for c in range(len(COLUMNS))]


def test_ten_thousand_rows_load_and_filter_fast(tmp_path: Path, qapp: object) -> None:
    make_run(tmp_path / "run", 10_000)
    started = time.monotonic()
    results = load_results(tmp_path / "run")
    model = ResultsTableModel()
    model.set_results(results)
    assert model.rowCount() == 10_000
    for row in range(0, 10_000, 97):  # what a scrolled view asks for
        _texts(model, row)
    model.set_filter(ResultsFilter(model="gamma"))
    gamma = model.rowCount()
    model.set_filter(ResultsFilter(inconsistent_only=True))
    inconsistent = model.rowCount()
    model.set_filter(ResultsFilter(unparsed_only=True, category="code"))
    model.set_filter(ResultsFilter())
    elapsed = time.monotonic() - started
    # About a second here; the bound only catches a model that does per-row work per row (minutes at 10,000), and
    # leaves room for a machine slowed by other work.
    assert elapsed < 60.0, f"10,000 rows took {elapsed:.1f} s"
    assert gamma == sum(1 for i in range(10_000) if "gamma" in (MODELS[i % 3], MODELS[(i + 1) % 3]))
    assert 0 < inconsistent < 10_000 // 7 + 1


def test_cells_filters_and_marks(tmp_path: Path, qapp: object) -> None:
    key = make_run(tmp_path / "run", 30)
    model = ResultsTableModel()
    model.set_results(load_results(tmp_path / "run"))
    assert _texts(model, 0) == ["q0 · Question 0", "alpha", "beta", "qa", "A", "A", "A", "70%", "ok", "A", ""]
    assert _texts(model, 6)[4:9] == ["A", "B", "inconsistent", "60%", "ok"]  # (0.8 + 0.4) / 2
    assert _texts(model, 10)[6] == "unparsed" and _texts(model, 10)[8] == "unparsed"
    assert _texts(model, 12)[4:9] == ["…", "…", "pending", "", "pending"]
    assert model.headerData(6, Qt.Orientation.Horizontal) == "Decision"
    assert model.headerData(0, Qt.Orientation.Vertical) == "1"

    model.set_filter(ResultsFilter(decision="inconsistent"))
    assert [model.row_at(r).task.item_id for r in range(model.rowCount())] == ["q6", "q13", "q20", "q27"]
    model.set_filter(ResultsFilter(unparsed_only=True))
    assert [model.row_at(r).task.item_id for r in range(model.rowCount())] == ["q10", "q21"]
    model.set_filter(ResultsFilter(text="Q2", category="qa"))
    assert [model.row_at(r).task.item_id for r in range(model.rowCount())] == ["q2", "q20", "q22", "q24", "q26", "q28"]
    assert model.models() == list(MODELS) and model.categories() == ["code", "qa"]

    model.set_filter(ResultsFilter())
    content = model.row_at(3).task.content
    with RunStore(tmp_path / "run") as store:
        override = store.set_override(key, content, "B", "wrong")
    changed: list[int] = []
    model.dataChanged.connect(lambda top, bottom: changed.append(top.row()))
    model.set_override(content, override)
    assert changed == [3]
    assert model.data(model.index(3, COLUMNS.index("Override"))) == "✎ B"
    assert "wrong" in model.data(model.index(3, COLUMNS.index("Override")), Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(3, COLUMNS.index("Override")), Qt.ItemDataRole.BackgroundRole) is not None
    assert model.row_of(content) == 3


@pytest.mark.parametrize("empty", [None])
def test_an_empty_model(empty: None, qapp: object) -> None:
    model = ResultsTableModel()
    model.set_results(empty)
    assert model.rowCount() == 0 and model.columnCount() == len(COLUMNS)
    model.set_filter(ResultsFilter(model="x"))
    assert model.rowCount() == 0


def test_the_exported_pairs_table_says_what_the_verdicts_tab_shows(tmp_path: Path, qapp: object) -> None:
    key = make_run(tmp_path / "run", 30)  # consistent, inconsistent, unparsed and unjudged pairs
    with RunStore(tmp_path / "run") as store:
        override = store.set_override(key, content_hash("pair", "4"), "tie", "close call")
    results = load_results(tmp_path / "run")
    model = ResultsTableModel()
    model.set_results(results)
    table = pairs_table(results)
    assert model.rowCount() == len(table.rows) == 30
    shown = {name: COLUMNS.index(name) for name in COLUMNS}
    for index, cells in enumerate(table.rows):
        row = dict(zip(table.columns, cells, strict=True))
        texts = _texts(model, index)
        assert model.headerData(index, Qt.Orientation.Vertical) == str(row["position"])  # 1-based, both
        assert (f"{row['item_id']} · {row['instruction']}", row["model_a"], row["model_b"], row["category"]) == (
            texts[shown["Item"]], texts[shown["Model A"]], texts[shown["Model B"]], texts[shown["Category"]])
        assert row["decision"] == texts[shown["Decision"]]
        assert row["status"] == texts[shown["Status"]]
        confidence = row["confidence"]
        assert ("" if confidence is None else f"{confidence:.0%}") == texts[shown["Conf."]]
        for column, title in (("ab_winner", "AB"), ("ba_winner", "BA")):
            assert row[column] == ("pending" if texts[shown[title]] == "…" else texts[shown[title]])
        assert (row["human"] or "") == texts[shown["Human"]]
        assert ("" if row["override"] is None else f"✎ {row['override']}") == texts[shown["Override"]]
    assert dict(zip(table.columns, table.rows[4], strict=True))["override_note"] == override.note
    assert {dict(zip(table.columns, cells, strict=True))["decision"] for cells in table.rows} == {
        "A", "inconsistent", "unparsed", "pending"}
