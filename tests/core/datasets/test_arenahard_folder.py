"""Arena-Hard's folder layout, on its real question.jsonl and two model_answer files (500 questions each)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from judgedesk.core.datasets import DatasetError, load_dataset

from tests.core.datasets._data_files import write_lines
from tests.core.datasets._ecosystem import arena_folder, mtbench_folder, read_jsonl

MODELS = ("gpt-3.5-turbo-0125", "gpt-4-0314")


@pytest.mark.parametrize("where", ["data", "bench", "model_answer"])
def test_the_arena_hard_layout_is_found_and_read(tmp_path: Path, where: str) -> None:
    data_folder = arena_folder(tmp_path)
    bench = data_folder / "arena-hard-v0.1"
    given = {"data": data_folder, "bench": bench, "model_answer": bench / "model_answer"}[where]
    data = load_dataset(given)

    assert data.kind == "arenahard" and data.problems == () and data.models == MODELS
    assert len(data.pairs) == 500 and len(data.grades) == 1000
    questions = {row["uid"]: row for row in read_jsonl(bench / "question.jsonl")}
    answers = {model: {row["uid"]: row for row in read_jsonl(bench / "model_answer" / f"{model}.jsonl")}
               for model in MODELS}
    assert {pair.item.metadata["item"] for pair in data.pairs} == set(questions)
    for pair in data.pairs:
        uid = pair.item.metadata["item"]
        assert pair.item.id == f"{uid}|{MODELS[0]}|{MODELS[1]}"
        assert pair.item.instruction == questions[uid]["prompt"]
        assert pair.item.responses == tuple(answers[model][uid]["messages"][-1]["content"]["answer"]
                                            for model in MODELS)
        assert pair.item.category == questions[uid]["category"] == "arena-hard-v0.1"
        assert pair.item.metadata["cluster"] == questions[uid]["cluster"]
        assert pair.item.history == ()


def test_the_model_is_the_records_model_else_the_file_name(tmp_path: Path) -> None:
    answers = arena_folder(tmp_path) / "arena-hard-v0.1" / "model_answer"
    (answers / "gpt-4-0314.jsonl").rename(answers / "baseline.jsonl")
    rows = read_jsonl(answers / "gpt-3.5-turbo-0125.jsonl")
    write_lines(answers / "gpt-3.5-turbo-0125.jsonl", [{k: v for k, v in row.items() if k != "model"} for row in rows])
    (answers / "gpt-3.5-turbo-0125.jsonl").rename(answers / "unnamed.jsonl")
    data = load_dataset(tmp_path / "arena-hard")
    assert data.models == ("gpt-4-0314", "unnamed")  # files in name order: baseline.jsonl, unnamed.jsonl


def test_bad_answer_records_are_problems_naming_file_and_line(tmp_path: Path) -> None:
    answers = arena_folder(tmp_path) / "arena-hard-v0.1" / "model_answer"
    path = answers / "gpt-3.5-turbo-0125.jsonl"
    rows = read_jsonl(path)
    uids = [row["uid"] for row in rows[:4]]
    rows[0]["uid"] = "no-such-question"
    rows[1]["messages"] = rows[1]["messages"][:1]  # the user's message only
    rows[2]["messages"][-1]["content"]["answer"] = "  "
    lines = [json.dumps(row) for row in rows]
    lines[3] = "{broken"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = load_dataset(tmp_path / "arena-hard")
    shown = "arena-hard-v0.1/model_answer/gpt-3.5-turbo-0125.jsonl"
    found = [(p.path, p.line) for p in data.problems if p.path == shown and p.line is not None]
    assert found == [(shown, 1), (shown, 2), (shown, 3), (shown, 4)]
    reasons = [p.reason for p in data.problems if p.path == shown]
    assert "uid no-such-question is not in question.jsonl" in reasons[0]
    assert "messages[0] is not the assistant's message" in reasons[1]
    assert "empty output (messages[1].content.answer)" in reasons[2]
    assert "not valid JSON" in reasons[3]
    # The skipped questions' pairs are gone; the line that is not JSON, and the one naming an unknown uid, leave
    # their questions without this model's answer, reported as such.
    kept = {pair.item.metadata["item"] for pair in data.pairs}
    assert len(data.pairs) == 496 and not kept & set(uids)
    missing = [p for p in data.problems if p.path == shown and p.line is None]
    assert sorted(p.item for p in missing) == sorted([uids[0], uids[3]])
    assert all("no output for this item" in p.reason for p in missing) and len(data.problems) == 6


def test_an_arena_hard_folder_without_answers_or_questions_says_so(tmp_path: Path) -> None:
    bench = arena_folder(tmp_path) / "arena-hard-v0.1"
    shutil.rmtree(bench / "model_answer")
    (bench / "model_answer").mkdir()
    with pytest.raises(DatasetError, match="Arena-Hard folder without model answers"):
        load_dataset(bench)
    write_lines(bench / "model_answer" / "m.jsonl", [{"uid": "x", "model": "m", "messages": []}])
    write_lines(bench / "question.jsonl", [{"uid": "x", "prompt": ""}])
    with pytest.raises(DatasetError, match="Arena-Hard questions unusable: .*empty 'prompt'"):
        load_dataset(bench)


def test_the_expected_layouts_name_arena_hard(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"Arena-Hard: question.jsonl \(uid, prompt\)"):
        load_dataset(tmp_path)


def test_with_two_benchmarks_side_by_side_the_first_is_read_and_the_other_named(tmp_path: Path) -> None:
    arena_folder(tmp_path)
    shutil.move(tmp_path / "arena-hard" / "arena-hard-v0.1", tmp_path / "arena-hard-v0.1")
    mtbench_folder(tmp_path)
    data = load_dataset(tmp_path)
    assert data.kind == "mtbench"
    other = [p for p in data.problems if p.path == "arena-hard-v0.1"]
    assert len(other) == 1 and "another benchmark's folder, not read" in other[0].reason
    assert load_dataset(tmp_path / "arena-hard-v0.1").kind == "arenahard"
