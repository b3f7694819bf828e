"""The summary of a run says what its figures rest on (issue 17), on the mock backend: a judge that contradicts
itself on most pairs gets a warning (with the threshold's edge), "inconsistent as tie" changes the ranking and win
rates only, never judge behaviour or agreement, and the figures of few games carry their n and no interval; the
command line's summary and the HTML report say the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.cli import main
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.reports import build_summary, load_results, render_report
from judgedesk.core.runs import run_batch

MODELS = ("model-alpha", "model-beta", "model-gamma")


def _judge() -> Judge:
    """A PandaLM-format judge that prefers the 'good' response, except on items marked 'biased', where it picks
    whichever response it sees first (so the two orders disagree: inconsistent)."""

    def scores(prompt: str, options: list[str]) -> list[float]:
        first_wins = "biased" in prompt or prompt.find("good") < prompt.find("bad")
        return [0.0 if (o == "1") == first_wins and o in ("1", "2") else -9.0 for o in options]

    return Judge(MockBackend(option_scores=scores), format="pandalm", decoding=DecodingSettings())


def _dataset(pairs: list[tuple[str, str, bool]]) -> Dataset:
    """(model_a, model_b, biased) per pair; model_a's response is the good one; every pair has a human label A."""
    tasks = tuple(PairTask(item=EvalItem(id=f"q{n}", instruction=f"{'biased ' if biased else ''}question {n}",
                                         responses=(f"good {n}", f"bad {n}"), category="cat"),
                           model_a=model_a, model_b=model_b, human="A")
                  for n, (model_a, model_b, biased) in enumerate(pairs))
    return Dataset(source=Path("mem"), kind="pairs", models=MODELS, pairs=tasks, grades=())


def _summary(tmp_path: Path, pairs: list[tuple[str, str, bool]], **options: object) -> dict[str, object]:
    folder = tmp_path / "run"
    if not folder.exists():
        run_batch(folder, _dataset(pairs), _judge())
    return build_summary(load_results(folder), rounds=50, **options)  # type: ignore[arg-type]


def _mostly_biased() -> list[tuple[str, str, bool]]:
    """The demo judge's run in miniature: alpha's pairs all inconsistent, one decisive pair between beta and gamma."""
    return [("model-alpha", "model-beta", True)] * 3 + [("model-alpha", "model-gamma", True)] * 3 \
        + [("model-beta", "model-gamma", False)] + [("model-beta", "model-gamma", True)] * 2


def test_a_judge_inconsistent_on_most_pairs_is_warned_about(tmp_path: Path) -> None:
    summary = _summary(tmp_path, _mostly_biased())
    [warning] = summary["warnings"]  # type: ignore[misc]
    assert warning["code"] == "judge_inconsistent"
    assert (warning["count"], warning["of"]) == (8, 9)
    assert warning["title"] == "The judge contradicted itself on 8 of 9 pairs (89%)"
    assert "position bias" in warning["meaning"] and "the one pair where both orders agreed" in warning["meaning"]
    assert "Judges view → Import GGUF…" in warning["advice"] and "Import HF folder…" in warning["advice"]
    assert "format" in warning["advice"]


@pytest.mark.parametrize(("biased", "warned"), [(2, False), (3, True)])
def test_the_warning_starts_above_half_of_the_decided_pairs(tmp_path: Path, biased: int, warned: bool) -> None:
    pairs = [("model-beta", "model-gamma", n < biased) for n in range(4)]
    summary = _summary(tmp_path, pairs)
    assert summary["judge_behaviour"]["inconsistent"] == biased  # type: ignore[index]
    assert bool(summary["warnings"]) is warned


def test_inconsistent_as_tie_changes_the_ranking_never_the_judge_behaviour(tmp_path: Path) -> None:
    plain = _summary(tmp_path, _mostly_biased())
    as_tie = _summary(tmp_path, _mostly_biased(), inconsistent_as_tie=True)
    assert as_tie["judge_behaviour"] == plain["judge_behaviour"]
    assert plain["judge_behaviour"]["inconsistent"] == 8 and plain["judge_behaviour"]["ties"] == 0  # type: ignore[index]
    assert as_tie["agreement"] == plain["agreement"]
    assert as_tie["agreement"]["final_decision"]["n_inconsistent"] == 8  # type: ignore[index]
    assert as_tie["decisions"] == plain["decisions"] == {"A": 1, "inconsistent": 8}
    # The pair tables still say what the judge did; only the win rate counts the inconsistent pairs as ties.
    pairs = {(p["model_a"], p["model_b"]): p for p in as_tie["pairs"]}  # type: ignore[union-attr]
    assert pairs["model-beta", "model-gamma"]["inconsistent"] == 2 and pairs["model-beta", "model-gamma"]["ties"] == 0
    assert pairs["model-beta", "model-gamma"]["games"] == 3
    assert [w["code"] for w in as_tie["warnings"]] == ["judge_inconsistent"]  # type: ignore[union-attr]
    assert "'Inconsistent as tie' counts these pairs as ties" in as_tie["warnings"][0]["meaning"]  # type: ignore[index]
    assert as_tie["options"]["inconsistent_as_tie_changes"] == ["ratings", "win_rate_matrix", "pairs", "categories"]  # type: ignore[index]
    assert as_tie["ratings"] != plain["ratings"] and as_tie["win_rate_matrix"] != plain["win_rate_matrix"]


def test_few_games_carry_their_n_and_no_interval(tmp_path: Path) -> None:
    summary = _summary(tmp_path, _mostly_biased())
    assert summary["options"]["min_games_for_interval"] == 10  # type: ignore[index]
    ratings = summary["ratings"]
    assert [(m["model"], m["games"], m["ci_low"], m["no_interval"]) for m in ratings["models"]] == [  # type: ignore[index]
        ("model-beta", 1, None, "the anchor: 1000 by definition"),
        ("model-gamma", 1, None, "too few games for an interval (n = 1)")]
    assert ratings["unrated"] == [{"model": "model-alpha", "n": 6, "inconsistent": 6, "unparsed": 0,  # type: ignore[index]
                                   "reason": "no decisive games — all 6 inconsistent"}]
    [[*_, beta_gamma]] = summary["categories"].values()  # type: ignore[union-attr]
    assert (beta_gamma["n"], beta_gamma["games"], beta_gamma["win_rate"]) == (3, 1, 1.0)
    assert beta_gamma["no_interval"] == "too few games for an interval (n = 1)"
    assert summary["win_rate_matrix"]["games"] == [[0, 0, 0], [0, 0, 1], [0, 1, 0]]  # type: ignore[index]


def test_a_judge_that_decides_gets_no_warning(tmp_path: Path) -> None:
    summary = _summary(tmp_path, [("model-beta", "model-gamma", False)] * 12)
    assert summary["warnings"] == []
    [beta, gamma] = summary["ratings"]["models"]  # type: ignore[index]
    assert beta["games"] == gamma["games"] == 12
    # Twelve wins out of twelve: every redraw is the same, so no interval either.
    assert gamma["no_interval"] == "no interval: the redraws do not vary (n = 12)"



def test_the_command_line_summary_carries_the_warning_and_the_unrated(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _summary(tmp_path, _mostly_biased())
    assert main(["report", str(tmp_path / "run")]) == 0
    plain = capsys.readouterr().out
    assert main(["report", str(tmp_path / "run"), "--inconsistent-as-tie"]) == 0
    as_tie = capsys.readouterr().out
    for out in (plain, as_tie):
        assert "warning: The judge contradicted itself on 8 of 9 pairs (89%)." in out
        assert "Judges view → Import GGUF…" in " ".join(out.split())
    assert "not rated: no decisive games — all 6 inconsistent" in plain
    assert "too few games for an interval (n = 1)" in plain and "[1000, 1000]" not in plain


def test_the_html_report_warns_first_and_shows_every_n(tmp_path: Path) -> None:
    _summary(tmp_path, _mostly_biased())
    results = load_results(tmp_path / "run")
    html = render_report(results, build_summary(results, rounds=50))
    warning = html.index('<div class="alert" role="alert"><b>Warning: The judge contradicted itself on 8 of 9 pairs')
    assert warning < html.index("<h2>Summary</h2>")
    assert "What to do:</b> Judge with a stronger model: in the app, Judges view → Import GGUF…" in html
    # Ratings: n and the reason, never a point-wide interval.
    assert "1000 · n = 1" in html and '<td class="n why">the anchor: 1000 by definition</td>' in html
    assert '<td class="n why">too few games for an interval (n = 1)</td>' in html
    assert "[1000, 1000]" not in html and "1000 – 1000" not in html and "100.0% – 100.0%" not in html
    assert 'class="dot open"' in html
    assert "Not ranked: <b>model-alpha</b>: no decisive games — all 6 inconsistent." in html
    # Matrix cells: the games behind each, faded below the minimum.
    assert 'class="few"><title>model-beta vs model-gamma: 100.0% of 1 game</title>' in html
    assert html.count('class="games">n = 1</text>') == 2


def test_the_html_report_keeps_the_judge_behaviour_under_inconsistent_as_tie(tmp_path: Path) -> None:
    _summary(tmp_path, _mostly_biased())
    results = load_results(tmp_path / "run")
    pages = [render_report(results, build_summary(results, rounds=50, inconsistent_as_tie=tie))
             for tie in (False, True)]
    for html in pages:
        assert '<div class="figure">inconsistent<b>88.9%</b>8 of 9 pairs</div>' in html
        assert '<div class="figure">tie rate<b>0.0%</b>0 of 9 pairs</div>' in html
        assert "Warning: The judge contradicted itself on 8 of 9 pairs (89%)" in html
    assert '"inconsistent as tie" (on in this report) changes only the ranking' in pages[1]
    assert "(on in this report)" not in pages[0]
