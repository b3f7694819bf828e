"""`judgedesk jury` and `judgedesk batch --judge A --judge B ...`: judges run one after another (each closed before
the next loads), a stop resumes every member and rebuilds the jury; and on the real demo judge, two formats plus an
imported JSONL judge combined into a jury whose reports and Fleiss' kappa come out of the command line."""

from __future__ import annotations

import argparse
import json
import zlib
from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, Judge, Sampling
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.cli import _jury_command, main
from judgedesk.core.reports import jury_figures, load_peer_results, load_results
from judgedesk.core.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]
DEMO_PAIRS = ROOT / "assets" / "demo" / "pairs.jsonl"
RUNTIME = ("--threads", "1", "--ctx", "1024")  # the test machine's cores are shared; every prompt here is short


def _pairs(tmp_path: Path, count: int) -> Path:
    lines = DEMO_PAIRS.read_text(encoding="utf-8").splitlines()[:count]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _labels(data: Path) -> dict[str, str]:
    return {row["id"]: row["label"] for row in map(json.loads, data.read_text(encoding="utf-8").splitlines())}


# -- batch with several judges, on mock judges -----------------------------------------------------------------


class _Judges:
    """Stands in for loading a judge by name: a mock that follows the human label except on the items its name
    lists ('wrong:pair-01,pair-03'), logging every load and close; optionally stops after some judgements."""

    def __init__(self, labels: dict[str, str], *, stop_in: str | None = None, after: int = 0) -> None:
        self.labels, self.stop_in, self.after = labels, stop_in, after
        self.log: list[str] = []

    def __call__(self, args: argparse.Namespace, *, fast: bool) -> Judge:
        name = args.judge
        wrong = set(name.split(":", 1)[1].split(",")) if ":" in name else set()
        labels, log = self.labels, self.log
        stop = self.stop_in == name
        calls = [0]

        def scores(prompt: str, options: list[str]) -> list[float]:
            calls[0] += 1
            if stop and calls[0] > self.after:
                raise KeyboardInterrupt  # Ctrl-C in the middle of this judge's run
            item = next(i for i, text in _INSTRUCTIONS.items() if text in prompt)
            right = labels[item]
            said = {"A": "B", "B": "A"}.get(right, "A") if item in wrong else right
            first = prompt.find(_RESPONSES[item][0]) < prompt.find(_RESPONSES[item][1])
            position = "tie" if said == "tie" else "1" if (said == "A") == first else "2"
            return [0.0 if option.lower() == position else -9.0 for option in options]

        class Logged(MockBackend):
            def close(self) -> None:
                log.append(f"close {name}")
                super().close()

        log.append(f"load {name}")
        return Judge(Logged(option_scores=scores), format="pandalm",
                     decoding=DecodingSettings(sampling=Sampling(seed=zlib.crc32(name.encode()))))


_INSTRUCTIONS: dict[str, str] = {}
_RESPONSES: dict[str, tuple[str, str]] = {}


def _mock_data(tmp_path: Path) -> Path:
    data = _pairs(tmp_path, 6)
    for row in map(json.loads, data.read_text(encoding="utf-8").splitlines()):
        _INSTRUCTIONS[row["id"]] = row["instruction"]
        _RESPONSES[row["id"]] = (row["response_a"], row["response_b"])
    return data


def test_batch_with_several_judges_runs_them_in_turn_then_their_jury(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    data, out = _mock_data(tmp_path), tmp_path / "run"
    judges = _Judges(_labels(data))
    monkeypatch.setattr(_jury_command, "judge_from_args", judges)
    names = ["wrong:pair-01", "wrong:pair-01,pair-02", "wrong:pair-03"]
    argv = ["batch", str(data), "--out", str(out), *[a for n in names for a in ("--judge", n)]]
    assert main(argv) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    # One judge in memory at a time: each is closed before the next is loaded.
    assert judges.log == [entry for n in names for entry in (f"load {n}", f"close {n}")]
    assert "Fleiss' kappa between the 3 judges" in captured.out
    jury = load_results(out)
    assert jury.info.settings["jury"]["method"] == "majority" and len(jury.info.settings["jury"]["members"]) == 3
    labels = _labels(data)
    decisions = {row.task.item_id: row.decision(jury.info.orders) for row in jury.rows}
    # Two judges are wrong on pair-01: so is the jury; everywhere else it follows the labels.
    assert decisions == {item: ({"A": "B", "B": "A"}[label] if item == "pair-01" else label)
                         for item, label in labels.items()}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["run"]["run_key"] == jury.info.run_key and len(summary["peer_agreement"]) == 3


def test_a_stopped_jury_batch_resumes_every_member_and_rebuilds_the_jury(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    data, out = _mock_data(tmp_path), tmp_path / "run"
    names = ["wrong:pair-02", "wrong:pair-04"]
    argv = ["batch", str(data), "--out", str(out), "--jury", "average",
            *[a for n in names for a in ("--judge", n)]]
    stopping = _Judges(_labels(data), stop_in=names[1], after=5)
    monkeypatch.setattr(_jury_command, "judge_from_args", stopping)
    assert main(argv) == 130
    assert "judge 2 of 2" in capsys.readouterr().err
    assert stopping.log[-1] == f"close {names[1]}"  # closed on the way out
    with RunStore(out) as store:
        assert len(store.runs()) == 2 and all(not info.run_key.startswith("jury-") for info in store.runs())
        done_before = {info.run_key: store.count_verdicts(info.run_key) for info in store.runs()}

    resuming = _Judges(_labels(data))
    monkeypatch.setattr(_jury_command, "judge_from_args", resuming)
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "resumed: 12 judgement(s)" in err and "resumed: 5 judgement(s)" in err
    jury = load_results(out)
    assert jury.info.run_key.startswith("jury-") and jury.complete == 6
    assert jury.info.settings["jury"]["method"] == "average"
    assert jury.rows[0].sides["AB"]["probabilities"] is not None
    assert sorted(done_before.values()) == [5, 12]


def test_a_jury_needs_two_different_judges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data, out = _mock_data(tmp_path), tmp_path / "run"
    monkeypatch.setattr(_jury_command, "judge_from_args", _Judges(_labels(data)))
    assert main(["batch", str(data), "--out", str(out), "--judge", "x", "--jury", "majority"]) == 1
    assert "a jury needs at least two judges" in capsys.readouterr().err
    assert main(["batch", str(data), "--out", str(out), "--judge", "same", "--judge", "same"]) == 1
    assert "is the same judge, format and settings as an earlier one" in capsys.readouterr().err
    assert main(["jury", str(out), "--runs", "zzz", "--method", "majority"]) == 1
    assert "'zzz' matches 0 runs" in capsys.readouterr().err


# -- the real demo judge ----------------------------------------------------------------------------------------


@pytest.mark.real_model
def test_two_demo_formats_and_an_imported_judge_make_a_jury(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    data, out = _pairs(tmp_path, 6), tmp_path / "run"
    for judge_format in ("pandalm", "generic"):
        assert main(["batch", str(data), "--out", str(out), "--format", judge_format, *RUNTIME]) == 0
    labels = _labels(data)
    published = tmp_path / "published.jsonl"  # an API judge that agrees with the humans except on one item
    published.write_text("".join(json.dumps({"id": item, "winner": "tie" if item == "pair-02" else label}) + "\n"
                                 for item, label in labels.items()), encoding="utf-8")
    assert main(["import-verdicts", str(published), "--data", str(data), "--out", str(out),
                 "--name", "API judge"]) == 0
    capsys.readouterr()
    with RunStore(out) as store:
        keys = [info.run_key for info in store.runs()]
    assert len(keys) == 3

    assert main(["jury", str(out), "--runs", *[key[:12] for key in keys], "--name", "demo jury"]) == 0
    captured = capsys.readouterr()
    assert "Fleiss' kappa between the 3 judges" in captured.out and "demo jury: 6/6 complete" in captured.out
    assert "agreement with API judge (imported)" in captured.out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["run"]["label"] == "demo jury" and summary["progress"]["complete"] == 6
    assert {entry["run_key"] for entry in summary["peer_agreement"]} == set(keys)
    assert summary["agreement"]["final_decision"]["n"] == 6  # the demo pairs carry human labels
    assert "demo jury" in (out / "report.html").read_text(encoding="utf-8")

    jury = load_results(out)
    records = [row.sides[side] for row in jury.rows for side in jury.info.orders if side in row.sides]
    # The imported judge judged order AB only: it votes there and abstains on BA.
    assert all(len(record["members"]) == 3 for record in records)
    assert all(record["members"]["API judge (imported)"] is None for record in records if record["order"] == "BA")
    figures = jury_figures(jury, load_peer_results(jury))
    fleiss = figures["fleiss"]
    assert fleiss["raters"] == 3 and fleiss["n_items"] + fleiss["left_out"] == 6
    assert fleiss["kappa"] is None or -1.0 <= fleiss["kappa"] <= 1.0
    assert f"{fleiss['kappa']:.3f}" in captured.out if fleiss["kappa"] is not None else "–" in captured.out
    api = next(m for m in figures["members"] if m["label"] == "API judge (imported)")
    assert api["agreement_with_humans"]["correct"] == 5 and api["agreement_with_humans"]["n"] == 6

    # Judged again with --method average: another jury run beside the first, over the same members.
    assert main(["jury", str(out), "--runs", *keys, "--method", "average"]) == 0
    with RunStore(out) as store:
        assert sum(info.run_key.startswith("jury-") for info in store.runs()) == 2
