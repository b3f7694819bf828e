"""The ecosystem's protocols end to end on the real embedded demo judge (issue 18), through the command line: an
MT-bench folder judged turn by turn with the `mtbench` format and tabled per turn as FastChat does, Arena-Hard's
folder judged with the `arenahard` format and scored as Arena-Hard does, and a local judge's AlpacaEval run measured
against GPT-4-turbo's imported annotations of the same pairs, with AlpacaEval's leaderboard columns.

The demo judge is weak and the budgets are small, so these tests check what must hold for any judge: every turn
judged with its conversation, every verdict parsed, each project's figures computed from the stored verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from judgedesk.core.cli import main
from judgedesk.core.reports import load_results, write_reports

from tests.core.datasets._ecosystem import (
    ALPACA_BASELINE,
    ALPACA_MODELS,
    SECOND_MODEL,
    alpaca_results,
    annotations,
    arena_folder,
    mtbench_folder,
)

pytestmark = pytest.mark.real_model
RUNTIME = ("--threads", "2", "--ctx", "2048", "--max-tokens", "12")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def test_mt_bench_is_judged_turn_by_turn_and_tabled_per_turn(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = mtbench_folder(tmp_path)
    pairs = tmp_path / "pairs"
    status, _, err = _run(capsys, "batch", str(folder), "--out", str(pairs), *RUNTIME, "--format", "mtbench",
                          "--limit", "2")
    assert status == 0, err
    results = load_results(pairs)
    turns = sorted({len(row.task.payload.get("history") or ()) + 1 for row in results.rows})
    assert turns == [1, 2]
    assert all(record["status"] in ("ok", "truncated") for row in results.rows for record in row.sides.values())
    tables = _summary(pairs)["mt_bench"]["win_rates"]
    assert sorted(tables["by_turn"]) == ["1", "2"]
    assert {row["model"] for row in tables["overall"]} == {"gpt-4", SECOND_MODEL}
    assert sum(r["wins"] + r["losses"] + r["ties"] for r in tables["overall"]) == 2 * len(results.rows)

    grades = tmp_path / "grades"
    status, out, err = _run(capsys, "batch", str(folder), "--out", str(grades), *RUNTIME, "--format", "mtbench",
                            "--mode", "single", "--limit", "2")
    assert status == 0, err
    scores = _summary(grades)["mt_bench"]["scores"]
    assert {row["model"] for row in scores} == {"gpt-4", SECOND_MODEL}
    for row in scores:
        assert sorted(row["turns"]) == ["1", "2"] and row["n"] == 2  # --limit 2: one question, both turns
        assert all(1 <= value <= 10 for value in row["turns"].values())
    assert "MT-bench: gpt-4 turn 1" in out
    assert "<h2>MT-bench</h2>" in (grades / "report.html").read_text(encoding="utf-8")


def test_arena_hard_is_judged_with_its_five_levels_and_scored_its_way(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = arena_folder(tmp_path)
    out = tmp_path / "run"
    # Arena-Hard's answers are long: a 1024-token context cuts them (the same cut in both orders), as above.
    status, printed, err = _run(capsys, "batch", str(folder), "--out", str(out), *RUNTIME, "--ctx", "1024",
                                "--format", "arenahard", "--baseline", "gpt-4-0314", "--limit", "2")
    assert status == 0, err
    results = load_results(out)
    records = [record for row in results.rows for record in row.sides.values()]
    assert len(records) == 4 and all(record.get("strength") for record in records)
    arena = _summary(out)["arena_hard"]
    assert arena["baseline"] == "gpt-4-0314" and arena["battles"] == 4
    scores = {row["model"]: row for row in arena["scores"]["scores"]}
    assert scores["gpt-4-0314"]["score"] == 50.0 and "gpt-3.5-turbo-0125" in scores
    assert arena["style_controlled"]["style_control"] == ["length", "markdown"]
    assert "Arena-Hard vs gpt-4-0314: gpt-3.5-turbo-0125" in printed


def test_a_local_judge_is_measured_against_gpt4_turbos_annotations(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    results_folder = alpaca_results(tmp_path)
    out = tmp_path / "run"
    # AlpacaEval's outputs are long: a 640-token context cuts them, so the test stays short on two cores.
    status, _, err = _run(capsys, "batch", str(results_folder), "--out", str(out), *RUNTIME, "--ctx", "640",
                          "--format", "pandalm", "--baseline", ALPACA_BASELINE, "--limit", "2")
    assert status == 0, err
    local_key = load_results(out).info.run_key
    files = [str(annotations(results_folder, model)) for model in ALPACA_MODELS]
    status, _, err = _run(capsys, "import-verdicts", *files, "--data", str(results_folder), "--out", str(out))
    assert status == 0, err

    _, summary = write_reports(out, run_key=local_key, rounds=50)
    [peer] = summary["peer_agreement"]
    assert peer["label"].startswith("weighted_alpaca_eval_gpt4_turbo") and peer["matched"] == 4
    assert peer["first_order"]["n"] + peer["first_order"]["unlabelled"] == 4
    assert "kappa" in peer["final_decision"]
    board = {row["model"]: row for row in summary["leaderboard"]}
    assert set(board) == set(ALPACA_MODELS)
    assert all(row["n_total"] == 2 and row["baseline"] == ALPACA_BASELINE for row in board.values())
    assert summary["leaderboard_preference"] == "the judge's probabilities"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Agreement with other judges on the same items" in html and "AlpacaEval leaderboard" in html
