"""`judgedesk import-verdicts` with the evaluation projects' files: AlpacaEval's two real annotation files into one
run, broken copies reported by file and line, Arena-Hard's two orders, and pairwise judgements refused beside
grades."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from judgedesk.core.cli import main
from judgedesk.core.datasets import load_dataset, text_item_id

from tests.core.datasets._data_files import write_lines
from tests.core.datasets._ecosystem import (
    ALPACA_BASELINE,
    ALPACA_MODELS,
    ANNOTATOR,
    ECOSYSTEM,
    SECOND_MODEL,
    alpaca_results,
    annotations,
    arena_folder,
    arena_judgment,
    fastchat_pair,
    fastchat_single,
    mtbench_folder,
    read_jsonl,
)


@pytest.fixture(scope="module")
def alpaca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return alpaca_results(tmp_path_factory.mktemp("alpaca"))


def _stored(out: Path) -> tuple[list[dict], list[tuple[str, str, str]], list[dict]]:
    """The runs' settings, the tasks (item, model_a, model_b) and the verdict records of a run folder."""
    with sqlite3.connect(f"file:{out / 'run.sqlite'}?mode=ro", uri=True) as db:
        settings = [json.loads(row[0]) for row in db.execute("SELECT settings FROM runs")]
        tasks = db.execute("SELECT item_id, model_a, model_b FROM tasks ORDER BY position").fetchall()
        records = [json.loads(row[0]) for row in db.execute("SELECT record FROM verdicts")]
    return settings, tasks, records


def test_both_alpaca_eval_annotation_files_become_one_run(alpaca: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    files = [str(annotations(alpaca, model)) for model in ALPACA_MODELS]
    status = main(["import-verdicts", *files, "--data", str(alpaca), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "imported 1610 judgement(s) of 1610 task(s)" in captured.err
    assert f"{ANNOTATOR} (imported): 1610/1610 complete" in captured.out

    (settings,), tasks, records = _stored(out)
    assert settings["protocol"] == "alpaca_eval" and settings["judges"] == [ANNOTATOR]
    assert settings["baseline"] == ALPACA_BASELINE and settings["shown_order"] == "unknown"
    assert [(f["path"], f["judgements"]) for f in settings["files"]] == [(path, 805) for path in files]
    assert Counter(model_a for _, model_a, _ in tasks) == {model: 805 for model in ALPACA_MODELS}  # n_total
    assert {model_b for _, _, model_b in tasks} == {ALPACA_BASELINE}
    assert len(records) == 1610 and {record["order"] for record in records} == {"AB"}
    assert all(record["probabilities"]["A"] == pytest.approx(record["preference"] - 1) for record in records)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["run"]["label"] == f"{ANNOTATOR} (imported)"


def test_broken_copies_are_reported_by_file_and_line_and_the_rest_imported(alpaca: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    published = json.loads(annotations(alpaca, ALPACA_MODELS[0]).read_text(encoding="utf-8"))
    published[0]["preference"] = "much better"
    published[1]["instruction"] = "Nobody asked this."
    broken = tmp_path / "annotations.json"
    text = json.dumps(published, indent=2)
    broken.write_text(text, encoding="utf-8")
    starts = [number for number, line in enumerate(text.split("\n"), start=1) if line == "  {"]
    # judgedesk's JSONL naming a pair no annotation judged (the two models against each other), then a line that
    # is not JSON.
    pair_id = f"{text_item_id(published[5]['instruction'], '')}|{ALPACA_MODELS[0]}|{ALPACA_MODELS[1]}"
    assert any(p.item.id == pair_id for p in load_dataset(alpaca, baseline=ALPACA_BASELINE).pairs)
    jsonl = write_lines(tmp_path / "published.jsonl", [{"id": pair_id, "winner": "A"}, "{not json"])

    out = tmp_path / "run"
    status = main(["import-verdicts", str(broken), str(annotations(alpaca, ALPACA_MODELS[1])), str(jsonl),
                   "--data", str(alpaca), "--out", str(out), "--name", "AlpacaEval (published)"])
    err = capsys.readouterr().err
    assert status == 1
    assert f"judgedesk: {broken}:{starts[0]}: record 1: preference 'much better' is not a number" in err
    assert f"judgedesk: {broken}:{starts[1]}: record 2: instruction 'Nobody asked this.' is not in" in err
    assert f"judgedesk: {jsonl}:2: not valid JSON" in err
    assert "3 problem(s), see above" in err

    (settings,), tasks, records = _stored(out)
    assert settings["protocol"] == "mixed"
    assert [f["protocol"] for f in settings["files"]] == ["alpaca_eval", "alpaca_eval", "jsonl"]
    # The unparsed preference is kept, the unknown instruction is not; the run's tasks are the pairs judged.
    assert Counter((model_a, model_b) for _, model_a, model_b in tasks) == {
        (ALPACA_MODELS[0], ALPACA_BASELINE): 804, (ALPACA_MODELS[1], ALPACA_BASELINE): 805,
        (ALPACA_MODELS[0], ALPACA_MODELS[1]): 1}
    assert Counter(record["status"] for record in records) == {"ok": 1609, "unparsed": 1}
    with sqlite3.connect(f"file:{out / 'run.sqlite'}?mode=ro", uri=True) as db:
        stored = db.execute("SELECT path, line FROM problems ORDER BY position").fetchall()
    assert stored == [(str(broken), starts[0]), (str(jsonl), 2), (str(broken), starts[1])]  # shown in its report


def test_arena_hard_judgments_keep_both_orders_and_their_strength(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = arena_folder(tmp_path)
    uids = [row["uid"] for row in read_jsonl(data / "arena-hard-v0.1" / "question.jsonl")][:40]
    model = "gpt-3.5-turbo-0125"
    path = write_lines(tmp_path / "model_judgment" / "gpt-4-1106-preview" / f"{model}.jsonl",
                       [arena_judgment(uid, model, ("A>>B", "B>A")) for uid in uids])
    out = tmp_path / "run"
    status = main(["import-verdicts", str(path), "--data", str(data), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    (settings,), tasks, records = _stored(out)
    assert settings["protocol"] == "arenahard" and settings["orders"] == ["AB", "BA"]
    assert settings["judges"] == ["gpt-4-1106-preview"] and settings["baseline"] == "gpt-4-0314"
    assert len(tasks) == 40 and {(a, b) for _, a, b in tasks} == {(model, "gpt-4-0314")}
    # Both games: the baseline much better when shown first, better when shown second.
    assert Counter((r["order"], r["strength"], r["winner"]) for r in records) == {("BA", "B>>A", "B"): 40,
                                                                                   ("AB", "B>A", "B"): 40}


def test_pairwise_judgements_beside_grades_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mt_bench = mtbench_folder(tmp_path)
    pairs = write_lines(tmp_path / "gpt-4_pair.jsonl", [fastchat_pair(101, "gpt-4", SECOND_MODEL, "tie", "tie")])
    single = write_lines(tmp_path / "gpt-4_single.jsonl", [fastchat_single(101, "gpt-4", 8)])
    status = main(["import-verdicts", str(pairs), str(single), "--data", str(mt_bench), "--out",
                   str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 1
    assert f"both pairwise judgements and single grades (pairwise: {pairs}; single: {single})" in err
    assert not (tmp_path / "run").exists()

    status = main(["import-verdicts", str(single), "--data", str(mt_bench), "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    (settings,), tasks, records = _stored(tmp_path / "run")
    assert settings["mode"] == "single" and settings["protocol"] == "mtbench"
    assert tasks == [("101|gpt-4", "gpt-4", None)] and records[0]["score"] == 8


def test_the_imported_annotations_reproduce_the_published_leaderboard_rows(alpaca: Path, tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 18's acceptance: AlpacaEval's columns as its leaderboard CSV has them, from its own annotations. The
    annotations store each preference to ten digits, the leaderboard was computed before they were rounded: the
    means agree to 1e-12 relative; counts, the discrete win rate and the mean length are exact."""
    out = tmp_path / "run"
    files = [str(annotations(alpaca, model)) for model in ALPACA_MODELS]
    assert main(["import-verdicts", *files, "--data", str(alpaca), "--out", str(out)]) == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    leaderboard_csv = ECOSYSTEM / "alpaca_eval" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
    with leaderboard_csv.open(encoding="utf-8", newline="") as handle:
        published = {row[""]: row for row in csv.DictReader(handle)}
    rows = {row["model"]: row for row in summary["leaderboard"]}
    assert set(rows) == set(ALPACA_MODELS)
    for model, row in rows.items():
        expected = published[model]
        assert row["baseline"] == ALPACA_BASELINE
        for column in ("win_rate", "standard_error"):
            assert row[column] == pytest.approx(float(expected[column]), rel=1e-12), (model, column)
        for column in ("n_wins", "n_wins_base", "n_draws", "n_total", "avg_length"):
            assert row[column] == int(expected[column]), (model, column)
        assert row["discrete_win_rate"] == float(expected["discrete_win_rate"])
    assert main(["report", str(out), "--leaderboard"]) == 0
    printed = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert {row[""]: int(row["n_total"]) for row in printed} == {model: 805 for model in ALPACA_MODELS}
    assert float(printed[0]["win_rate"]) == rows[printed[0][""]]["win_rate"]
