"""Judgements made elsewhere, read and matched to a data set: AlpacaEval's real annotations (checked against its
published leaderboard counts), FastChat MT-bench and Arena-Hard judgments written in their projects' shapes on their
real questions and answers, and every bad record reported with its file and line."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from judgedesk.core import InputError, Status
from judgedesk.core.datasets import (
    JUDGEMENT_LAYOUTS,
    load_dataset,
    match_judgements,
    read_judgement_file,
)

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

LEADERBOARD = ECOSYSTEM / "alpaca_eval" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"


@pytest.fixture(scope="module")
def alpaca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return alpaca_results(tmp_path_factory.mktemp("alpaca"))


def _leaderboard() -> dict[str, dict[str, str]]:
    with LEADERBOARD.open(encoding="utf-8", newline="") as rows:
        return {row[""]: row for row in csv.DictReader(rows)}


# -- AlpacaEval -------------------------------------------------------------------------------------------------


def test_alpaca_eval_annotations_match_every_pair_and_give_the_published_counts(alpaca: Path) -> None:
    files = [read_judgement_file(annotations(alpaca, model)) for model in ALPACA_MODELS]
    for file in files:
        assert (file.protocol, file.mode, file.count, file.problems) == ("alpaca_eval", "pairwise", 805, ())
        assert file.judges == (ANNOTATOR,) and file.baselines == (ALPACA_BASELINE,)
    dataset = load_dataset(alpaca, baseline=ALPACA_BASELINE)
    matched = match_judgements(dataset, files)
    assert matched.mode == "pairwise" and matched.problems == ()
    assert len(matched.judgements) == 1610 and {j.side for j in matched.judgements} == {"AB"}

    board = _leaderboard()
    for model in ALPACA_MODELS:
        records = [j.record for j in matched.judgements if dataset.pairs[j.position].model_a == model]
        assert len(records) == 805  # n_total
        assert all(dataset.pairs[j.position].model_b == ALPACA_BASELINE for j in matched.judgements)
        winners = Counter(record["winner"] for record in records)
        row = board[model]
        assert (winners["A"], winners["B"], winners["tie"]) == \
            (int(row["n_wins"]), int(row["n_wins_base"]), int(row["n_draws"]))
        # AlpacaEval's win rate is the mean probability that the model's output (output_2) wins.
        win_rate = sum(record["probabilities"]["A"] for record in records) / len(records) * 100
        assert win_rate == pytest.approx(float(row["win_rate"]), abs=1e-9)
        published = json.loads(annotations(alpaca, model).read_text(encoding="utf-8"))
        assert [record["preference"] for record in records] == [row["preference"] for row in published]
        assert all(record["probabilities"]["A"] + record["probabilities"]["B"] == pytest.approx(1)
                   for record in records)


def test_preferences_written_as_text_read_the_same(alpaca: Path, tmp_path: Path) -> None:
    published = json.loads(annotations(alpaca, ALPACA_MODELS[1]).read_text(encoding="utf-8"))
    as_text = tmp_path / "annotations.json"
    as_text.write_text(json.dumps([{**row, "preference": str(row["preference"])} for row in published], indent=2),
                       encoding="utf-8")
    dataset = load_dataset(alpaca, baseline=ALPACA_BASELINE)
    original = match_judgements(dataset, [read_judgement_file(annotations(alpaca, ALPACA_MODELS[1]))])
    texts = match_judgements(dataset, [read_judgement_file(as_text)])
    assert texts.problems == ()
    assert [j.record["probabilities"] for j in texts.judgements] == \
        [j.record["probabilities"] for j in original.judgements]
    assert [j.record["preference"] for j in texts.judgements] == [row["preference"] for row in published]


def test_a_broken_alpaca_eval_copy_names_each_bad_record_by_file_and_line(alpaca: Path, tmp_path: Path) -> None:
    published = json.loads(annotations(alpaca, ALPACA_MODELS[0]).read_text(encoding="utf-8"))
    published[2]["preference"] = "abc"
    published[4]["preference"] = 3.5
    published[6]["preference"] = None
    published[8]["instruction"] = "An instruction nobody was asked."
    del published[10]["generator_2"]
    broken = tmp_path / "annotations.json"
    text = json.dumps(published, indent=2)
    broken.write_text(text, encoding="utf-8")
    starts = [number for number, line in enumerate(text.split("\n"), start=1) if line == "  {"]
    assert len(starts) == 805

    file = read_judgement_file(broken)
    matched = match_judgements(load_dataset(alpaca, baseline=ALPACA_BASELINE), [file])
    found = {(p.path, p.line): p.reason for p in matched.problems}
    assert set(found) == {(str(broken), starts[index]) for index in (2, 4, 6, 8, 10)}
    assert found[(str(broken), starts[2])].startswith("record 3: preference 'abc' is not a number in [1, 2]")
    assert "preference 3.5" in found[(str(broken), starts[4])]
    assert "preference None" in found[(str(broken), starts[6])]
    assert "record 9: instruction 'An instruction nobody was asked.' is not in" in found[(str(broken), starts[8])]
    assert found[(str(broken), starts[10])] == "record 11: missing field 'generator_2'; skipped"
    # Bad preferences are kept as unparsed judgements (left out of the figures); the other two are not imported.
    assert len(matched.judgements) == 803
    assert sum(j.status == Status.UNPARSED for j in matched.judgements) == 3


def test_a_json_array_that_does_not_parse_is_one_problem_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "annotations.json"
    broken.write_text('[\n  {"instruction": "x", "preference": 1.2},\n  {"instruction": \n]\n', encoding="utf-8")
    file = read_judgement_file(broken)
    assert file.protocol is None and len(file.problems) == 1
    assert "not a valid JSON array" in file.problems[0].reason and "line 4" in file.problems[0].reason


# -- FastChat MT-bench ------------------------------------------------------------------------------------------


def test_fastchat_pair_judgments_give_both_orders_on_every_turn(tmp_path: Path) -> None:
    mtbench_folder(tmp_path)
    dataset = load_dataset(tmp_path)  # pairs are (brief-7b, gpt-4); FastChat lists gpt-4 first here
    rows = [fastchat_pair(qid, "gpt-4", SECOND_MODEL, "model_1", "model_1", turn=turn)
            for qid in range(102, 131) for turn in (1, 2)]
    rows.insert(0, fastchat_pair(101, "gpt-4", SECOND_MODEL, "tie", "error"))
    rows.insert(1, fastchat_pair(101, SECOND_MODEL, "gpt-4", "model_2", "bogus", turn=2))
    path = write_lines(tmp_path / "model_judgment" / "gpt-4_pair.jsonl",
                       [*rows, fastchat_pair(999, "gpt-4", SECOND_MODEL, "tie", "tie"), "{not json"])
    file = read_judgement_file(path)
    assert (file.protocol, file.mode, file.count) == ("mtbench", "pairwise", 2 * 61)  # both games of each line
    assert file.judges == ("gpt-4/pair-math-v1", "gpt-4/pair-math-v1-multi-turn")
    matched = match_judgements(dataset, [file])

    problems = [(p.path, p.line) for p in matched.problems]
    assert problems == [(str(path), 2), (str(path), 62), (str(path), 61)]
    reasons = [p.reason for p in matched.problems]
    assert "g2_winner is 'bogus'" in reasons[0] and "not valid JSON" in reasons[1]
    assert "item '999' is not in" in reasons[2]
    assert len(matched.judgements) == 120

    verdicts = {(dataset.pairs[j.position].item.metadata["item"], j.side): j.record for j in matched.judgements}
    # Game 1 showed model_1 (gpt-4, the pair's B) first: order BA; gpt-4's win is B's.
    assert verdicts[("102", "BA")]["winner"] == "B" and verdicts[("102", "AB")]["winner"] == "B"
    assert verdicts[("102:turn2", "BA")]["raw_output"] == "Game 1 says [[A]]"
    assert verdicts[("101", "BA")]["winner"] == "tie"
    assert verdicts[("101", "AB")]["winner"] is None and verdicts[("101", "AB")]["status"] == Status.UNPARSED
    # Listed the pair's way round, game 1 (brief-7b first) is AB, and model_2 (gpt-4) winning is B.
    assert verdicts[("101:turn2", "AB")]["winner"] == "B" and verdicts[("101:turn2", "BA")]["status"] == "unparsed"


def test_fastchat_single_grades_match_each_response_and_turn(tmp_path: Path) -> None:
    mtbench_folder(tmp_path)
    dataset = load_dataset(tmp_path)
    rows = [fastchat_single(qid, model, 7.5 if model == "gpt-4" else 3, turn=turn)
            for qid in range(101, 131) for model in ("gpt-4", SECOND_MODEL) for turn in (1, 2)]
    rows[0] = fastchat_single(101, "gpt-4", -1)
    rows.append(fastchat_single(101, "unknown-model", 5))
    rows.append({**fastchat_single(102, "gpt-4", 5), "score": "high"})
    path = write_lines(tmp_path / "gpt-4_single.jsonl", rows)
    file = read_judgement_file(path)
    assert (file.protocol, file.mode) == ("mtbench", "single")
    matched = match_judgements(dataset, [file])
    assert [(p.line, p.item) for p in matched.problems] == [(122, "102"), (121, "101"), (122, "102|gpt-4")]
    assert "score 'high' is not a number" in matched.problems[0].reason
    assert "no response of 'unknown-model' to item '101'" in matched.problems[1].reason
    assert "a second judgement of this response" in matched.problems[2].reason
    grades = {dataset.grades[j.position].item.id: j.record for j in matched.judgements}
    assert len(grades) == 120
    assert grades["101|gpt-4"]["score"] is None and grades["101|gpt-4"]["status"] == "unparsed"
    assert grades["101:turn2|gpt-4"]["score"] == 7.5 and grades[f"130:turn2|{SECOND_MODEL}"]["score"] == 3
    assert grades["101:turn2|gpt-4"]["scale"] == [1, 10]


# -- Arena-Hard -------------------------------------------------------------------------------------------------


def test_arena_hard_games_give_both_orders_with_their_strength(tmp_path: Path) -> None:
    data = arena_folder(tmp_path)
    dataset = load_dataset(data, baseline="gpt-4-0314")  # pairs (gpt-3.5-turbo-0125, gpt-4-0314)
    uids = [row["uid"] for row in read_jsonl(data / "arena-hard-v0.1" / "question.jsonl")]
    model = "gpt-3.5-turbo-0125"
    rows = [arena_judgment(uid, model, ("A>B", "B>A")) for uid in uids[5:]]
    rows[:0] = [arena_judgment(uids[0], model, ("B>A", "A>>B")), arena_judgment(uids[1], model, ("A<<B", "A=B")),
                arena_judgment(uids[2], model, (None, "B>>A")), arena_judgment(uids[3], model, ("A>>>B", "A>B")),
                {**arena_judgment(uids[4], model, ("A>B", "A>B")), "games": [None, None]}]
    v01 = {"question_id": uids[5], "model": model, "judge": "gpt-4-1106-preview",
           "games": [{"user_prompt": "...", "judgment": "[[A>B]]", "score": "A>B"},
                     {"user_prompt": "...", "judgment": "[[A>B]]", "score": "A>B"}]}
    rows[5] = v01  # arena-hard v0.1's own shape: question_id, no baseline (gpt-4-0314)
    rows.append(arena_judgment("no-such-uid", model, ("A>B", "A>B")))
    path = write_lines(tmp_path / "model_judgment" / "gpt-4-1106-preview" / f"{model}.jsonl", rows)
    file = read_judgement_file(path)
    assert (file.protocol, file.mode, file.judges, file.baselines) == \
        ("arenahard", "pairwise", ("gpt-4-1106-preview",), ("gpt-4-0314",))
    matched = match_judgements(dataset, [file])
    assert [(p.line, p.item) for p in matched.problems] == [(4, uids[3]), (501, "no-such-uid")]
    assert "games[0].score is 'A>>>B'" in matched.problems[0].reason
    assert len(matched.judgements) == 1000

    verdicts = {(dataset.pairs[j.position].item.metadata["item"], j.side): j.record for j in matched.judgements}
    # Game 1 showed the baseline (the pair's B) first: "B>A" there is the model (A) better.
    assert (verdicts[(uids[0], "BA")]["strength"], verdicts[(uids[0], "BA")]["winner"]) == ("A>B", "A")
    assert (verdicts[(uids[0], "AB")]["strength"], verdicts[(uids[0], "AB")]["winner"]) == ("A>>B", "A")
    assert verdicts[(uids[1], "BA")]["strength"] == "A>>B"  # "A<<B" is "B>>A", B being the model shown second
    assert verdicts[(uids[1], "AB")]["winner"] == "tie"
    assert verdicts[(uids[2], "BA")]["status"] == "unparsed" and "strength" not in verdicts[(uids[2], "BA")]
    assert verdicts[(uids[2], "AB")]["strength"] == "B>>A"
    assert verdicts[(uids[3], "BA")]["status"] == "unparsed" and verdicts[(uids[3], "AB")]["winner"] == "A"
    assert verdicts[(uids[4], "BA")]["status"] == verdicts[(uids[4], "AB")]["status"] == "unparsed"
    assert verdicts[(uids[5], "BA")]["strength"] == "B>A" and verdicts[(uids[5], "AB")]["strength"] == "A>B"
    assert verdicts[(uids[6], "BA")]["raw_output"] == "My final verdict is [[A>B]]"


# -- judgedesk's JSONL, layouts, modes -------------------------------------------------------------------------


def test_judgedesk_jsonl_names_the_pair_and_its_order(tmp_path: Path) -> None:
    data = write_lines(tmp_path / "pairs.jsonl", [
        {"id": "p1", "instruction": "Say hi", "response_a": "hi", "response_b": "hello", "model_a": "x",
         "model_b": "y"}])
    path = write_lines(tmp_path / "published.jsonl", [{"id": "p1", "order": "BA", "winner": "a"},
                                                      {"id": "p2", "winner": "B"}, {"id": "p1", "winner": "maybe"}])
    file = read_judgement_file(path)
    assert file.protocol == "jsonl"
    matched = match_judgements(load_dataset(data), [file])
    assert [(j.side, j.record["winner"]) for j in matched.judgements] == [("BA", "A")]
    assert [(p.line, p.reason) for p in matched.problems] == [
        (3, "winner 'maybe' is not A, B or tie; skipped"),
        (2, f"item 'p2' is not in {data}; not imported")]


def test_files_in_no_known_layout_and_mixed_modes(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "notes.jsonl", [{"note": "hello"}])
    file = read_judgement_file(path)
    assert file.protocol is None and JUDGEMENT_LAYOUTS in file.problems[0].reason
    assert "the first record has 'note'" in file.problems[0].reason
    mtbench_folder(tmp_path)
    dataset = load_dataset(tmp_path / "mt_bench")
    pairs = read_judgement_file(write_lines(tmp_path / "pair.jsonl", [fastchat_pair(101, "gpt-4", SECOND_MODEL,
                                                                                     "tie", "tie")]))
    single = read_judgement_file(write_lines(tmp_path / "single.jsonl", [fastchat_single(101, "gpt-4", 8)]))
    with pytest.raises(InputError, match="both pairwise judgements and single grades"):
        match_judgements(dataset, [pairs, single])
    with pytest.raises(InputError, match="no file holds judgements"):
        match_judgements(dataset, [file])
    missing = read_judgement_file(tmp_path / "missing.json")
    assert missing.protocol is None and "cannot read the file" in missing.problems[0].reason
