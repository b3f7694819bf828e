"""A jury run's summary carries its own figures (issue 19): Fleiss' kappa, each judge's agreement with the jury and
with the human labels, in summary.json and report.html (two mock judges over one data set)."""

from __future__ import annotations

from pathlib import Path

from judgedesk.core import DecodingSettings, EvalItem, Judge, Sampling
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.reports import load_results, write_reports
from judgedesk.core.runs import build_jury, run_batch


def _judge(wrong_on: frozenset[int], seed: int) -> Judge:
    def scores(prompt: str, options: list[str]) -> list[float]:
        number = int(prompt.split("question ")[1].split()[0])
        first_wins = (prompt.find("good") < prompt.find("bad")) != (number in wrong_on)
        return [0.0 if (o == "1") == first_wins and o in ("1", "2") else -9.0 for o in options]

    return Judge(MockBackend(option_scores=scores), format="pandalm",
                 decoding=DecodingSettings(sampling=Sampling(seed=seed)))


def _dataset() -> Dataset:
    def responses(n: int) -> tuple[str, str]:
        return (f"good {n}", f"bad {n}") if n % 2 == 0 else (f"bad {n}", f"good {n}")

    pairs = tuple(PairTask(item=EvalItem(id=f"q{n}", instruction=f"question {n} here", responses=responses(n)),
                           model_a="alpha", model_b="beta", human="A" if n % 2 == 0 else "B") for n in range(10))
    return Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta"), pairs=pairs, grades=())


def test_the_jury_runs_summary_and_report_carry_its_agreement_figures(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    keys = [run_batch(folder, _dataset(), _judge(wrong, seed)).run_key
            for wrong, seed in ((frozenset(), 1), (frozenset({0, 1}), 2), (frozenset({0}), 3))]
    jury = build_jury(folder, keys, method="majority")
    files, summary = write_reports(folder, run_key=jury.run_key, rounds=20)
    figures = summary["jury"]
    assert figures["method"] == "majority" and len(figures["members"]) == 3 and figures["items"] == 10
    assert figures["fleiss"]["n_items"] == 10 and -1 <= figures["fleiss"]["kappa"] <= 1
    # Majority: item 0 has two wrong judges (B wins), item 1 one wrong judge (B, the right one, wins).
    assert figures["jury_agreement_with_humans"]["correct"] == 9
    assert [m["agreement_with_humans"]["correct"] for m in figures["members"]] == [10, 8, 9]
    html = files.report.read_text(encoding="utf-8")
    assert "Jury (majority of 3 judges, 10 items)" in html and "Fleiss' κ" in html
    # A member's own summary has no jury entry (it is not a jury), only its agreement with the others.
    _, member = write_reports(folder, run_key=keys[0], rounds=20)
    assert "jury" not in member and len(member["peer_agreement"]) == 3
    assert load_results(folder, jury.run_key).info.settings["jury"]["method"] == "majority"
