"""MT-bench read turn by turn, on FastChat's real question.jsonl and reference_answer/gpt-4.jsonl: one item per turn,
turn 2 carrying turn 1 as its history, references per turn, and a model that stops short reported by file and line."""

from __future__ import annotations

from pathlib import Path

from judgedesk.core import PriorTurn
from judgedesk.core.datasets import load_dataset, turn_item_id
from judgedesk.core.runs import content_hash, task_rows

from tests.core.datasets._data_files import write_lines
from tests.core.datasets._ecosystem import SECOND_MODEL, brief_turns, mtbench_folder, read_jsonl


def _by_id(path: Path) -> dict[int, dict]:
    return {row["question_id"]: row for row in read_jsonl(path)}


def test_every_turn_is_an_item_with_the_earlier_turns_as_its_history(tmp_path: Path) -> None:
    mt_bench = mtbench_folder(tmp_path)
    questions = _by_id(mt_bench / "question.jsonl")
    references = _by_id(mt_bench / "reference_answer" / "gpt-4.jsonl")
    data = load_dataset(tmp_path)

    assert data.kind == "mtbench" and data.problems == ()
    assert data.files == ("mt_bench/question.jsonl", "mt_bench/reference_answer/gpt-4.jsonl",
                          "mt_bench/model_answer/brief-7b.jsonl", "mt_bench/model_answer/gpt-4.jsonl")
    assert data.models == (SECOND_MODEL, "gpt-4")
    assert len(data.pairs) == 60 and len(data.grades) == 120  # 30 questions x 2 turns; x 2 models to grade
    ids = [pair.item.metadata["item"] for pair in data.pairs]
    assert ids[:4] == ["101", "101:turn2", "102", "102:turn2"]

    for pair in data.pairs:
        qid, _, turn = pair.item.metadata["item"].partition(":turn")
        question, reference = questions[int(qid)], references[int(qid)]["choices"][0]["turns"]
        brief = brief_turns(question)
        assert pair.model_a == SECOND_MODEL and pair.model_b == "gpt-4"
        assert pair.item.category == question["category"]
        if not turn:  # turn 1: the question_id, no history, so runs stored before turns were read still match
            assert pair.item.turn == 1 and pair.item.history == ()
            assert pair.item.instruction == question["turns"][0]
            assert pair.item.responses == (brief[0], reference[0])
            assert pair.item.reference == reference[0]  # gpt-4.jsonl's, not question.jsonl's own "reference"
            continue
        assert turn == "2" and pair.item.turn == 2
        assert pair.item.instruction == question["turns"][1]
        assert pair.item.responses == (brief[1], reference[1])
        assert pair.item.reference == reference[1]
        assert pair.item.history == (PriorTurn(question["turns"][0], (brief[0], reference[0]), reference[0]),)

    grade = next(g for g in data.grades if g.item.id == f"{turn_item_id('101', 2)}|gpt-4")
    reference = references[101]["choices"][0]["turns"]
    assert grade.item.history == (PriorTurn(questions[101]["turns"][0], (reference[0],), reference[0]),)


def test_the_history_follows_the_pairs_response_order(tmp_path: Path) -> None:
    mt_bench = mtbench_folder(tmp_path)
    question = _by_id(mt_bench / "question.jsonl")[111]
    reference = _by_id(mt_bench / "reference_answer" / "gpt-4.jsonl")[111]["choices"][0]["turns"]
    data = load_dataset(tmp_path, baseline=SECOND_MODEL)  # the baseline is model_b
    pair = next(p for p in data.pairs if p.item.metadata["item"] == "111:turn2")
    assert (pair.model_a, pair.model_b) == ("gpt-4", SECOND_MODEL)
    brief = brief_turns(question)
    assert pair.item.responses == (reference[1], brief[1])
    assert pair.item.history == (PriorTurn(question["turns"][0], (reference[0], brief[0]), reference[0]),)


def test_turn_hashes_keep_stored_runs_and_tell_conversations_apart(tmp_path: Path) -> None:
    mtbench_folder(tmp_path)
    data = load_dataset(tmp_path)
    rows = {row.item_id: row for row in task_rows(data, "pairwise")}
    first = next(p for p in data.pairs if p.item.metadata["item"] == "101").item
    # Turn 1's content is hashed exactly as before conversations existed.
    assert rows[first.id].content == content_hash("pair", first.instruction, first.input, *first.responses,
                                                  first.reference)
    second = next(p for p in data.pairs if p.item.metadata["item"] == "101:turn2").item
    assert rows[second.id].content != content_hash("pair", second.instruction, second.input, *second.responses,
                                                   second.reference)
    assert rows[second.id].payload["history"] == [{"question": t.question, "answers": list(t.answers),
                                                   "reference": t.reference} for t in second.history]
    assert len({row.content for row in rows.values()}) == len(rows)


def test_a_model_missing_a_turn_is_a_problem_naming_file_and_line(tmp_path: Path) -> None:
    mtbench_folder(tmp_path, short_of_a_turn=(104, 120))
    data = load_dataset(tmp_path)
    problems = [(p.path, p.line, p.item) for p in data.problems]
    assert problems == [("mt_bench/model_answer/brief-7b.jsonl", 4, "104"),
                        ("mt_bench/model_answer/brief-7b.jsonl", 20, "120")]
    assert "choices[0].turns[1] is missing" in data.problems[0].reason
    assert "turn 2 not judged" in data.problems[0].reason
    ids = {pair.item.metadata["item"] for pair in data.pairs}
    assert "104" in ids and "104:turn2" not in ids and "120:turn2" not in ids and len(ids) == 58
    # gpt-4 still has its turn-2 grades; the short model has none for those two.
    graded = {grade.item.id for grade in data.grades}
    assert "104:turn2|gpt-4" in graded and f"104:turn2|{SECOND_MODEL}" not in graded


def test_a_question_without_a_reference_file_entry_keeps_its_own_reference(tmp_path: Path) -> None:
    mt_bench = mtbench_folder(tmp_path)
    question = _by_id(mt_bench / "question.jsonl")[95]  # roleplay: its own "reference", none in gpt-4.jsonl
    for model in ("gpt-4", SECOND_MODEL):
        path = mt_bench / "model_answer" / f"{model}.jsonl"
        rows = read_jsonl(path)
        rows.append({"question_id": 95, "choices": [{"index": 0, "turns": [f"{model}: one", f"{model}: two"]}]})
        write_lines(path, rows)
    data = load_dataset(tmp_path)
    first, second = (p.item for p in data.pairs if p.item.metadata["item"] in ("95", "95:turn2"))
    assert (first.reference, second.reference) == tuple(question["reference"])
    assert second.history[0].reference == question["reference"][0]


def test_a_later_turn_that_is_not_text_ends_the_conversation_there(tmp_path: Path) -> None:
    mt_bench = mtbench_folder(tmp_path)
    path = mt_bench / "model_answer" / f"{SECOND_MODEL}.jsonl"
    rows = read_jsonl(path)
    rows[0]["choices"][0]["turns"][1] = ["not", "text"]
    rows[1]["choices"][0]["turns"][0] = ""
    write_lines(path, rows)
    data = load_dataset(tmp_path)
    reasons = {(p.line, p.item): p.reason for p in data.problems}
    assert set(reasons) == {(1, "101"), (2, "102")}
    assert "choices[0].turns[1]" in reasons[(1, "101")] and "turn 2 not judged" in reasons[(1, "101")]
    assert reasons[(2, "102")].startswith("empty output (choices[0].turns[0])") and "skipped" in reasons[(2, "102")]
    ids = {pair.item.metadata["item"] for pair in data.pairs}
    assert "101" in ids and "101:turn2" not in ids and "102" not in ids and "102:turn2" not in ids
    # Nothing else is reported missing: the skipped turns were attempted.
    assert len(data.problems) == 2
