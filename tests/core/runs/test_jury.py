"""Juries on the mock backend: the majority and average rules (ties, abstentions, five-level probabilities), a jury
of three mock judges built from their runs in one folder, refreshed after a member grows or resumes, its figures
(Fleiss' kappa, agreement with the jury and with humans), and every report working on it unchanged."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, InputError, Judge, Sampling, Status
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.reports import jury_figures, load_peer_results, load_results, write_reports
from judgedesk.core.runs import (
    BatchProgress,
    JuryBallot,
    RunInfo,
    RunInterrupted,
    RunStore,
    build_jury,
    jury_run_key,
    jury_verdict,
    run_batch,
    task_rows,
)


def _ballot(member: str, winner: str | None, probabilities: dict[str, float] | None = None,
            status: Status = Status.OK) -> JuryBallot:
    record: dict[str, object] = {"winner": winner}
    if probabilities is not None:
        record["probabilities"] = probabilities
    return JuryBallot(member, status if winner is not None or status != Status.OK else Status.UNPARSED, record)


# -- the rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("winners", "expected"), [
    (["A", "A", "B"], "A"),
    (["B", "tie", "B"], "B"),
    (["A", "B", "tie"], "tie"),  # three candidates share the most votes
    (["A", "B"], "tie"),  # two members split
    (["A", "B", None], "tie"),  # the unparsed member abstains; the other two split
    (["A", None, None], "A"),  # one vote is a majority of the votes cast
    (["tie", "tie", "A"], "tie"),
])
def test_majority_of_the_members_winners(winners: list[str | None], expected: str) -> None:
    ballots = [_ballot(f"judge {n}", winner) for n, winner in enumerate(winners)]
    status, record = jury_verdict("q1", "AB", ballots, "majority")
    assert status == Status.OK and record["winner"] == expected
    assert record["members"] == {f"judge {n}": w for n, w in enumerate(winners)}
    assert record["method"] == "majority" and record["probabilities"] is None
    assert sum(record["votes"].values()) == sum(w is not None for w in winners)
    assert record["abstained"] == [f"judge {n}" for n, w in enumerate(winners) if w is None]


@pytest.mark.parametrize("method", ["majority", "average"])
def test_when_every_member_abstains_the_jury_is_unparsed_not_a_tie(method: str) -> None:
    ballots = [_ballot("one", None), JuryBallot("two", Status.ERROR, {"error": "too long for the context"})]
    status, record = jury_verdict("q1", "BA", ballots, method)  # type: ignore[arg-type]
    assert status == Status.UNPARSED and record["winner"] is None
    assert record["abstained"] == ["one", "two"] and "every member abstained" in record["reason"]


def test_average_of_option_probabilities_and_its_argmax() -> None:
    ballots = [_ballot("sure A", "A", {"A": 0.9, "B": 0.05, "tie": 0.05}),
               _ballot("leans B", "B", {"A": 0.3, "B": 0.6, "tie": 0.1}),
               _ballot("leans B too", "B", {"A": 0.35, "B": 0.55, "tie": 0.1})]
    status, record = jury_verdict("q1", "AB", ballots, "average")
    # Majority would say B (two votes); the mean says A: 0.517 against 0.4.
    assert jury_verdict("q1", "AB", ballots, "majority")[1]["winner"] == "B"
    assert status == Status.OK and record["winner"] == "A"
    assert record["probabilities"] == pytest.approx({"A": 1.55 / 3, "B": 1.2 / 3, "tie": 0.25 / 3})


def test_average_counts_a_member_without_probabilities_as_one_hot_and_sums_five_levels() -> None:
    five_level = {"A>>B": 0.1, "A>B": 0.2, "A=B": 0.1, "B>A": 0.3, "B>>A": 0.3}  # B 0.6, A 0.3, tie 0.1
    ballots = [_ballot("arena", "B", five_level), _ballot("imported", "A"), _ballot("unparsed", None)]
    _, record = jury_verdict("q1", "AB", ballots, "average")
    assert record["probabilities"] == pytest.approx({"A": 0.65, "B": 0.3, "tie": 0.05})
    assert record["winner"] == "A" and record["abstained"] == ["unparsed"]


def test_average_with_equal_means_is_a_tie_and_unnormalised_probabilities_are_normalised() -> None:
    ballots = [_ballot("x", "A", {"A": 2.0, "B": 0.0}), _ballot("y", "B", {"A": 0.0, "B": 1.0, "tie": 0.0})]
    _, record = jury_verdict("q1", "AB", ballots, "average")
    assert record["winner"] == "tie" and record["probabilities"] == pytest.approx({"A": 0.5, "B": 0.5, "tie": 0.0})


def test_a_truncated_member_makes_the_jury_verdict_truncated() -> None:
    ballots = [_ballot("a", "A", status=Status.TRUNCATED), _ballot("b", "A")]
    assert jury_verdict("q1", "AB", ballots, "majority")[0] == Status.TRUNCATED


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(InputError, match="majority or average, not 'vote'"):
        jury_verdict("q1", "AB", [_ballot("a", "A")], "vote")  # type: ignore[arg-type]


def test_the_key_depends_on_the_members_as_a_set_and_the_method() -> None:
    assert jury_run_key(["k1", "k2"], "majority") == jury_run_key(["k2", "k1"], "majority")
    assert jury_run_key(["k1", "k2"], "majority") != jury_run_key(["k1", "k2"], "average")
    assert jury_run_key(["k1", "k2"], "majority") != jury_run_key(["k1", "k3"], "majority")
    assert jury_run_key(["k1", "k2"], "majority").startswith("jury-")


# -- juries of mock judges in one run folder ------------------------------------------------------------------


def _judge(wrong_on: frozenset[int], seed: int) -> Judge:
    """Prefers the response that says 'good' (in both orders), except on the items numbered in `wrong_on`."""

    def scores(prompt: str, options: list[str]) -> list[float]:
        number = int(prompt.split("question ")[1].split()[0])
        good_first = prompt.find("good") < prompt.find("bad")
        first_wins = good_first != (number in wrong_on)
        return [0.0 if (o == "1") == first_wins and o in ("1", "2") else -9.0 for o in options]

    return Judge(MockBackend(option_scores=scores), format="pandalm",
                 decoding=DecodingSettings(sampling=Sampling(seed=seed)))


def _dataset(count: int = 10) -> Dataset:
    """Item n's good response is A when n is even, B when odd; the humans agree."""
    tasks = []
    for n in range(count):
        responses = (f"good {n}", f"bad {n}") if n % 2 == 0 else (f"bad {n}", f"good {n}")
        tasks.append(PairTask(item=EvalItem(id=f"q{n}", instruction=f"question {n} here", responses=responses),
                              model_a="alpha", model_b="beta", human="A" if n % 2 == 0 else "B"))
    return Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta"), pairs=tuple(tasks), grades=())


def _right(n: int) -> str:
    return "A" if n % 2 == 0 else "B"


def _three_judges(folder: Path, count: int = 10) -> list[str]:
    """Judges wrong on {0, 1}, on {1, 2} and on {5}: the majority is right everywhere but item 1 (A, not B)."""
    return [run_batch(folder, _dataset(count), _judge(frozenset(wrong), seed=seed)).run_key
            for seed, wrong in ((1, {0, 1}), (2, {1, 2}), (3, {5}))]


def test_a_jury_of_three_mock_judges_decides_by_majority(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    keys = _three_judges(folder)
    result = build_jury(folder, [key[:10] for key in keys], method="majority")
    assert result.members == tuple(keys) and result.run_key == jury_run_key(keys, "majority")
    assert (result.tasks, result.verdicts, result.abstained, result.pending) == (10, 20, 0, 0)
    jury = load_results(folder)  # the jury is now the folder's latest run
    assert jury.info.run_key == result.run_key and jury.info.orders == ("AB", "BA")
    assert jury.info.settings["jury"]["method"] == "majority"
    assert [m["run_key"] for m in jury.info.settings["jury"]["members"]] == keys
    decisions = [row.decision(jury.info.orders) for row in jury.rows]
    assert decisions == [("A" if n == 1 else _right(n)) for n in range(10)]
    record = jury.rows[0].sides["AB"]
    assert list(record["members"].values()) == ["B", "A", "A"] and record["votes"] == {"A": 2, "B": 1, "tie": 0}
    assert [row.task.human for row in jury.rows] == [_right(n) for n in range(10)]


def test_the_jury_figures(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    _three_judges(folder)
    build_jury(folder, _three_judges(folder))
    jury = load_results(folder)
    figures = jury_figures(jury, load_peer_results(jury))
    assert figures["method"] == "majority" and figures["items"] == 10
    fleiss = figures["fleiss"]
    # Hand count: items 0, 1, 2 and 5 split 2-1 (P_i = 1/3), the other six 3-0: P = (6 + 4/3) / 10 = 22/30;
    # ratings A 16, B 14 of 30 -> Pe = 452/900; kappa = (660 - 452) / (900 - 452) = 13/28. No inconsistent decision.
    assert fleiss["n_items"] == 10 and fleiss["raters"] == 3 and fleiss["left_out"] == 0
    assert fleiss["observed"] == pytest.approx(22 / 30) and fleiss["kappa"] == pytest.approx(13 / 28)
    assert fleiss["categories"] == ["A", "B", "tie", "inconsistent"]
    with_jury = [m["agreement_with_jury"]["correct"] for m in figures["members"]]
    assert with_jury == [9, 9, 8]  # the jury is wrong on item 1 with the first two; the third differs there too
    with_humans = [m["agreement_with_humans"]["correct"] for m in figures["members"]]
    assert with_humans == [8, 8, 9]
    assert figures["jury_agreement_with_humans"]["correct"] == 9
    assert jury_figures(load_peer_results(jury)[0], [jury]) == {}  # a member is no jury


def test_every_report_works_on_the_jury_unchanged(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    keys = _three_judges(folder)
    result = build_jury(folder, keys, method="average", name="three mocks")
    files, summary = write_reports(folder, run_key=result.run_key, rounds=20)
    assert summary["run"]["label"] == "three mocks" and summary["progress"]["complete"] == 10
    assert summary["agreement"]["final_decision"]["correct"] == 9  # with the human labels
    peers = {entry["run_key"]: entry for entry in summary["peer_agreement"]}
    assert set(peers) == set(keys)  # the agreement with each member, as with any other judge
    assert [peers[key]["final_decision"]["correct"] for key in keys] == [9, 9, 8]
    written = json.loads(files.summary.read_text(encoding="utf-8"))
    assert written["run"]["settings"]["jury"]["method"] == "average"
    html = files.report.read_text(encoding="utf-8")
    assert "three mocks" in html and "Agreement with other judges on the same items" in html
    with files.verdicts.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20 and rows[0]["winner"] == "A" and float(rows[0]["p_A"]) > 0.6
    assert "average of 3" in rows[0]["reason"]
    with files.pairs.open(encoding="utf-8") as handle:  # one row per task, as the app's Verdicts tab shows them
        assert len(list(csv.DictReader(handle))) == 10
    # A member's own report sees the jury as one more judge of the same items.
    _, member = write_reports(folder, run_key=keys[0], rounds=20)
    assert result.run_key in {entry["run_key"] for entry in member["peer_agreement"]}


def _interrupt_after(count: int) -> tuple[threading.Event, object]:
    cancel = threading.Event()

    def progress(event: BatchProgress) -> None:
        if event.judged_now >= count:
            cancel.set()

    return cancel, progress


def test_the_jury_is_refreshed_after_a_member_grows_or_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    first = run_batch(folder, _dataset(10), _judge(frozenset({0, 1}), seed=1)).run_key
    second = run_batch(folder, _dataset(6), _judge(frozenset({1, 2}), seed=2)).run_key
    cancel, progress = _interrupt_after(5)
    with pytest.raises(RunInterrupted):
        run_batch(folder, _dataset(10), _judge(frozenset({5}), seed=3), progress=progress,  # type: ignore[arg-type]
                  cancel=cancel)
    third = load_results(folder).info.run_key
    early = build_jury(folder, [first, second, third])
    assert early.tasks == 6  # the second judge has only six items so far
    assert early.pending == 12 - 5 and early.verdicts == 5  # the third stopped after five judgements
    assert load_results(folder, early.run_key).complete < 6

    run_batch(folder, _dataset(10), _judge(frozenset({1, 2}), seed=2))  # the second grows to ten items
    run_batch(folder, _dataset(10), _judge(frozenset({5}), seed=3))  # the third resumes and finishes
    again = build_jury(folder, [third, first, second])  # the same members in another order: the same jury
    assert again.run_key == early.run_key
    assert (again.tasks, again.verdicts, again.pending) == (10, 20, 0)
    jury = load_results(folder, again.run_key)
    assert [row.decision(jury.info.orders) for row in jury.rows] == [("A" if n == 1 else _right(n))
                                                                     for n in range(10)]


def _stored_member(folder: Path, key: str, winners: dict[int, tuple[str | None, str | None]],
                   orders: tuple[str, ...] = ("AB", "BA"), count: int = 4) -> str:
    """A run stored as an import would be: the given winners per item and order (None: unparsed)."""
    rows = task_rows(_dataset(count), "pairwise")
    with RunStore(folder) as store:
        store.ensure_run(RunInfo(key, f"member {key}", "pairwise", orders, {"judge_name": key}, "mem"))
        store.replace_tasks(key, rows)
        store.put_verdicts(key, [
            (rows[n].content, side, Status.OK if winner else Status.UNPARSED,
             {"item_id": rows[n].item_id, "order": side, "winner": winner, "raw_output": ""})
            for n, sides in winners.items() for side, winner in zip(orders, sides, strict=False)])
    return key


def test_abstentions_one_order_members_and_inconsistent_decisions(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    one = _stored_member(folder, "one", {0: ("A", "A"), 1: (None, None), 2: ("A", "B"), 3: ("B", "B")})
    two = _stored_member(folder, "two", {0: ("A", "A"), 1: (None, "B"), 2: ("A", "B"), 3: ("B", "B")})
    imported = _stored_member(folder, "imported", {0: ("B",), 1: (None,), 2: ("A",), 3: ("tie",)}, orders=("AB",))
    result = build_jury(folder, [one, two, imported])
    assert (result.verdicts, result.abstained, result.pending) == (8, 1, 0)
    jury = load_results(folder, result.run_key)
    sides = [(row.winner("AB"), row.winner("BA")) for row in jury.rows]
    # Item 1, order AB: every member unparsed -> the jury's verdict is unparsed; on BA the imported run (order AB
    # only) abstains and the one member that parsed decides.
    assert sides == [("A", "A"), (None, "B"), ("A", "B"), ("B", "B")]
    assert jury.rows[1].statuses["AB"] == Status.UNPARSED
    assert jury.rows[1].sides["BA"]["members"] == {"member one": None, "member two": "B", "member imported": None}
    figures = jury_figures(jury, load_peer_results(jury))
    # Item 1 is left out of Fleiss' kappa (member one's decision is unparsed); item 2 is inconsistent for the two
    # members and A for the imported one: inconsistent is a category of its own.
    assert figures["fleiss"]["n_items"] == 3 and figures["fleiss"]["left_out"] == 1
    as_tie = jury_figures(jury, load_peer_results(jury), inconsistent_as_tie=True)
    assert as_tie["fleiss"]["categories"] == ["A", "B", "tie"] and as_tie["fleiss"]["n_items"] == 3
    assert as_tie["fleiss"]["kappa"] != figures["fleiss"]["kappa"]


def test_bad_members_are_refused_with_the_folder_named(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    keys = _three_judges(folder, count=4)
    with pytest.raises(InputError, match="at least two member runs"):
        build_jury(folder, keys[:1])
    with pytest.raises(InputError, match="named twice"):
        build_jury(folder, [keys[0], keys[0][:12]])
    with pytest.raises(InputError, match=r"'nope' matches 0 runs \(known: "):
        build_jury(folder, [keys[0], "nope"])
    with pytest.raises(InputError, match="no run.sqlite"):
        build_jury(tmp_path / "empty", keys)
    other = _stored_member(folder, "elsewhere", {}, count=0)
    with pytest.raises(InputError, match="no task in common"):
        build_jury(folder, [keys[0], other])
