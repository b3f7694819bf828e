"""A run's figures as the ecosystem computes them (issue 18), from a local judge's verdicts (mock backend here; the
imported and real-judge cases live beside the importers and formats): AlpacaEval's leaderboard with its
preferences taken from the judge's probabilities, and `judgedesk report --leaderboard` in AlpacaEval's CSV shape."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.cli import main
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.reports import build_summary, load_results, run_baseline
from judgedesk.core.runs import BatchOptions, run_batch
from judgedesk.core.stats import ALPACA_EVAL_CSV_COLUMNS

GAP = 3.0
"""The mock judge's logit gap between the response it prefers and each other option."""


def _judge(*, fast: bool = True) -> Judge:
    def scores(prompt: str, options: list[str]) -> list[float]:
        first_wins = prompt.find("good") < prompt.find("bad")
        return [0.0 if (o == "1") == first_wins and o in ("1", "2") else -GAP for o in options]

    def generated(prompt: str) -> str:
        return "1" if prompt.find("good") < prompt.find("bad") else "2"

    return Judge(MockBackend(generated, option_scores=scores), format="pandalm",
                 decoding=DecodingSettings(fast=fast))


def _dataset(wins: int = 6, total: int = 10, models: tuple[str, str] = ("alpha", "base")) -> Dataset:
    """`models[0]`'s response is the good one on the first `wins` items; it is three times as long everywhere."""
    tasks = []
    for n in range(total):
        good, bad = f"good answer {n}", f"bad {n}"
        responses = (good, bad) if n < wins else (bad + " padding padding", good)
        tasks.append(PairTask(item=EvalItem(id=f"q{n}", instruction=f"question {n}", responses=responses),
                              model_a=models[0], model_b=models[1]))
    return Dataset(source=Path("mem"), kind="pairs", models=models, pairs=tuple(tasks), grades=())


def test_the_leaderboard_takes_the_judges_probabilities_as_alpaca_evals_preferences(tmp_path: Path) -> None:
    run_batch(tmp_path / "run", _dataset(), _judge())
    results = load_results(tmp_path / "run")
    assert run_baseline(results) == "base"
    summary = build_summary(results, rounds=50)
    assert summary["leaderboard_preference"] == "the judge's probabilities"
    [row] = summary["leaderboard"]
    p_win = 1 / (1 + 2 * math.exp(-GAP))  # the preferred option among three
    p_tie = math.exp(-GAP) / (1 + 2 * math.exp(-GAP))
    expected = [p_win + 0.5 * p_tie] * 6 + [(1 - p_win - p_tie) + 0.5 * p_tie] * 4
    assert row["model"] == "alpha" and row["baseline"] == "base"
    assert row["win_rate"] == pytest.approx(100 * sum(expected) / 10)
    assert (row["n_wins"], row["n_wins_base"], row["n_draws"], row["n_total"]) == (6, 4, 0, 10)
    assert row["discrete_win_rate"] == pytest.approx(60.0)
    assert row["avg_length"] == int(sum(len(t.item.responses[0]) for t in _dataset().pairs) / 10)


def test_generated_verdicts_give_preferences_from_the_decisions(tmp_path: Path) -> None:
    run_batch(tmp_path / "run", _dataset(), _judge(fast=False))
    summary = build_summary(load_results(tmp_path / "run"), rounds=50)
    assert summary["leaderboard_preference"] == "the judge's decisions"
    assert summary["leaderboard"][0]["win_rate"] == pytest.approx(60.0)


def test_a_run_without_a_baseline_has_no_leaderboard(tmp_path: Path) -> None:
    pairs = _dataset(models=("alpha", "beta")).pairs[:3] + _dataset(models=("gamma", "delta")).pairs[3:6]
    dataset = Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta", "gamma", "delta"), pairs=pairs,
                      grades=())
    run_batch(tmp_path / "run", dataset, _judge())
    summary = build_summary(load_results(tmp_path / "run"), rounds=20)
    assert "leaderboard" not in summary and "arena_hard" not in summary and "mt_bench" not in summary


def test_report_prints_the_leaderboard_in_alpaca_evals_csv_shape(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run_batch(tmp_path / "run", _dataset(), _judge(), BatchOptions())
    assert main(["report", str(tmp_path / "run"), "--leaderboard"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["", *ALPACA_EVAL_CSV_COLUMNS]
    assert rows[1][0] == "alpha" and rows[1][ALPACA_EVAL_CSV_COLUMNS.index("n_total") + 1] == "10"
    assert len(rows) == 2


def test_report_says_why_there_is_no_leaderboard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = _dataset(models=("alpha", "beta")).pairs[:3] + _dataset(models=("gamma", "delta")).pairs[3:6]
    dataset = Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta", "gamma", "delta"), pairs=pairs,
                      grades=())
    run_batch(tmp_path / "run", dataset, _judge())
    assert main(["report", str(tmp_path / "run"), "--leaderboard"]) != 0
    assert "no AlpacaEval leaderboard" in capsys.readouterr().err
