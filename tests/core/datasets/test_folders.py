"""Golden tests for folders of per-model outputs: AlpacaEval, FastChat MT-bench, plain files, pairing, labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judgedesk.core import InputError
from judgedesk.core.datasets import DatasetError, load_dataset, raise_if_problems
from judgedesk.core.datasets._outputs_folder import text_item_id

from ._data_files import DEMO, write_lines


def _outputs(model: str, ids: list[str], *, text: bool = False, **extra: object) -> list[dict[str, object]]:
    rows = []
    for item in ids:
        row: dict[str, object] = {"instruction": f"Question {item}", "input": "", "output": f"{model} on {item}"}
        if not text:
            row["id"] = item
        row.update(extra)
        rows.append(row)
    return rows


# -- AlpacaEval --------------------------------------------------------------------------------------------------


def _alpaca(generator: str | None, instructions: list[str]) -> str:
    rows = [{"instruction": text, "output": f"{generator} says {n}", "dataset": "helpful_base",
             **({"generator": generator} if generator else {})} for n, text in enumerate(instructions)]
    return json.dumps(rows, indent=4)


def test_alpacaeval_folder_golden(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(_alpaca("gpt4", ["What is 2+2?", "Name a colour."]), encoding="utf-8")
    (tmp_path / "b.json").write_text(_alpaca("llama-2-70b", ["Name a colour.", "What is 2+2?"]), encoding="utf-8")
    data = load_dataset(tmp_path)
    assert data.kind == "alpacaeval"
    assert data.models == ("gpt4", "llama-2-70b")
    assert data.problems == ()
    item_id = text_item_id("What is 2+2?", "")
    assert [p.item.id for p in data.pairs] == [f"{item_id}|gpt4|llama-2-70b",
                                               f"{text_item_id('Name a colour.', '')}|gpt4|llama-2-70b"]
    pair = data.pairs[0]
    assert pair.item.responses == ("gpt4 says 0", "llama-2-70b says 1")
    assert pair.item.category == "helpful_base"
    assert pair.item.metadata["item"] == item_id
    assert [g.item.id for g in data.grades][:2] == [f"{item_id}|gpt4", f"{item_id}|llama-2-70b"]


def test_alpacaeval_without_generator_is_named_after_the_file(tmp_path: Path) -> None:
    (tmp_path / "mine.json").write_text(_alpaca(None, ["q"]), encoding="utf-8")
    (tmp_path / "theirs.json").write_text(_alpaca("theirs-v2", ["q"]), encoding="utf-8")
    data = load_dataset(tmp_path)
    assert data.models == ("mine", "theirs-v2")
    assert data.kind == "outputs"  # not every file names a generator


def test_alpacaeval_results_layout(tmp_path: Path) -> None:
    for name in ("zeta", "alpha"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model_outputs.json").write_text(_alpaca(f"{name}-gen", ["q1", "q2"]), encoding="utf-8")
    data = load_dataset(tmp_path)
    assert data.models == ("alpha-gen", "zeta-gen")
    assert data.files == ("alpha/model_outputs.json", "zeta/model_outputs.json")
    assert len(data.pairs) == 2


def test_two_files_with_the_same_generator_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "run1.json").write_text(_alpaca("same", ["q"]), encoding="utf-8")
    (tmp_path / "run2.json").write_text(_alpaca("same", ["q"]), encoding="utf-8")
    data = load_dataset(tmp_path)
    assert data.models == ("same", "run2")
    (problem,) = data.problems
    assert problem.path == "run2.json" and "already used by run1.json" in problem.reason


# -- MT-bench ----------------------------------------------------------------------------------------------------


def _mtbench(folder: Path) -> None:
    write_lines(folder / "question.jsonl", [
        {"question_id": 81, "category": "writing", "turns": ["Write a haiku.", "Now make it rhyme."]},
        {"question_id": 111, "category": "math", "turns": ["What is 3*7?", "And 3*8?"], "reference": ["21", "24"]},
    ])
    for model in ("vicuna-13b", "alpaca-13b"):
        write_lines(folder / "model_answer" / f"{model}.jsonl", [
            {"question_id": qid, "answer_id": "x", "model_id": f"{model}-id",
             "choices": [{"index": 0, "turns": [f"{model} turn 1 of {qid}", "turn 2"]}], "tstamp": 1.0}
            for qid in (81, 111)])


@pytest.mark.parametrize("where", ["folder", "data", "model_answer"])
def test_mtbench_golden(tmp_path: Path, where: str) -> None:
    mt_bench = tmp_path / "data" / "mt_bench"
    _mtbench(mt_bench)
    given = {"folder": mt_bench, "data": tmp_path / "data", "model_answer": mt_bench / "model_answer"}[where]
    data = load_dataset(given)
    assert data.kind == "mtbench"
    assert data.models == ("alpaca-13b", "vicuna-13b")  # FastChat names models after their files
    assert data.problems == ()
    # Every turn is an item; turn 1 keeps the question_id (tests/core/datasets/test_mtbench_turns.py: the rest).
    assert [p.item.id for p in data.pairs] == ["81|alpaca-13b|vicuna-13b", "81:turn2|alpaca-13b|vicuna-13b",
                                               "111|alpaca-13b|vicuna-13b", "111:turn2|alpaca-13b|vicuna-13b"]
    first, _, second, _ = data.pairs
    assert first.item.instruction == "Write a haiku."
    assert first.item.responses == ("alpaca-13b turn 1 of 81", "vicuna-13b turn 1 of 81")
    assert first.item.category == "writing" and first.item.reference is None
    assert second.item.reference == "21"
    assert len(data.grades) == 8


def test_mtbench_answer_problems(tmp_path: Path) -> None:
    _mtbench(tmp_path)
    write_lines(tmp_path / "model_answer" / "broken.jsonl", [
        {"question_id": 999, "choices": [{"turns": ["x"]}]},
        {"question_id": 81, "choices": []},
        {"question_id": 111, "choices": [{"turns": [""]}]},
    ])
    data = load_dataset(tmp_path)
    problems = [(p.path, p.line, p.item) for p in data.problems]
    assert problems == [("model_answer/broken.jsonl", 1, "999"), ("model_answer/broken.jsonl", 2, "81"),
                        ("model_answer/broken.jsonl", 3, "111")]
    assert "not in question.jsonl" in data.problems[0].reason
    assert "'choices' must be a list" in data.problems[1].reason
    assert "empty output" in data.problems[2].reason


# -- plain files, matching ---------------------------------------------------------------------------------------


def test_plain_folder_matched_by_id(tmp_path: Path) -> None:
    write_lines(tmp_path / "m1.jsonl", _outputs("m1", ["x", "y"], category="c"))
    write_lines(tmp_path / "m2.jsonl", list(reversed(_outputs("m2", ["x", "y"]))))
    data = load_dataset(tmp_path)
    assert data.kind == "outputs" and data.models == ("m1", "m2")
    assert [(p.item.id, p.item.responses) for p in data.pairs] == [
        ("x|m1|m2", ("m1 on x", "m2 on x")), ("y|m1|m2", ("m1 on y", "m2 on y"))]
    assert data.pairs[0].item.category == "c"
    assert data.problems == ()


def test_plain_folder_matched_by_instruction_text(tmp_path: Path) -> None:
    write_lines(tmp_path / "m1.jsonl", _outputs("m1", ["x", "y"], text=True))
    write_lines(tmp_path / "m2.jsonl", [*_outputs("m2", ["y"], text=True),
                                        {"instruction": "Question x", "input": "other", "output": "z"}])
    data = load_dataset(tmp_path)
    y = text_item_id("Question y", "")
    assert [p.item.id for p in data.pairs] == [f"{y}|m1|m2"]
    # "Question x" with another input is another item: each is answered by one model only.
    assert sorted((p.path, p.item) for p in data.problems) == sorted([
        ("m2.jsonl", text_item_id("Question x", "")), ("m1.jsonl", text_item_id("Question x", "other"))])


def test_ids_are_used_only_when_every_record_has_one(tmp_path: Path) -> None:
    write_lines(tmp_path / "m1.jsonl", _outputs("m1", ["x"]))
    write_lines(tmp_path / "m2.jsonl", _outputs("m2", ["x"], text=True))
    data = load_dataset(tmp_path)
    assert data.pairs[0].item.id == f"{text_item_id('Question x', '')}|m1|m2"


def test_differing_instruction_for_the_same_id_is_reported(tmp_path: Path) -> None:
    write_lines(tmp_path / "m1.jsonl", _outputs("m1", ["x"]))
    write_lines(tmp_path / "m2.jsonl", [{"id": "x", "instruction": "Something else", "output": "o"}])
    data = load_dataset(tmp_path)
    assert data.pairs[0].item.instruction == "Question x"
    (problem,) = data.problems
    assert (problem.path, problem.line, problem.item) == ("m2.jsonl", 1, "x")


def test_outputs_subfolder_and_csv_model_file(tmp_path: Path) -> None:
    write_lines(tmp_path / "outputs" / "m1.jsonl", _outputs("m1", ["x"]))
    (tmp_path / "outputs" / "m2.csv").write_text("id,instruction,output\nx,Question x,\"m2, on x\"\n",
                                                  encoding="utf-8")
    write_lines(tmp_path / "pairs.jsonl", [{"instruction": "q", "response_a": "a", "response_b": "b"}])
    data = load_dataset(tmp_path)
    assert data.files == ("outputs/m1.jsonl", "outputs/m2.csv")
    assert data.pairs[0].item.responses == ("m1 on x", "m2, on x")


def test_a_pairs_file_in_a_folder_of_outputs_is_skipped(tmp_path: Path) -> None:
    write_lines(tmp_path / "m1.jsonl", _outputs("m1", ["x"]))
    write_lines(tmp_path / "notes.jsonl", [{"instruction": "q", "response_a": "a", "response_b": "b"}])
    data = load_dataset(tmp_path)
    assert data.models == ("m1",)
    (problem,) = data.problems
    assert problem.path == "notes.jsonl" and "no record has an 'output' field" in problem.reason


# -- pairing -----------------------------------------------------------------------------------------------------


@pytest.fixture
def three_models(tmp_path: Path) -> Path:
    for model in ("c-model", "a-model", "b-model"):
        write_lines(tmp_path / f"{model}.jsonl", _outputs(model, ["1", "2"]))
    return tmp_path


def test_all_pairs(three_models: Path) -> None:
    data = load_dataset(three_models)
    assert data.models == ("a-model", "b-model", "c-model")
    assert [(p.item.metadata["item"], p.model_a, p.model_b) for p in data.pairs] == [
        ("1", "a-model", "b-model"), ("1", "a-model", "c-model"), ("1", "b-model", "c-model"),
        ("2", "a-model", "b-model"), ("2", "a-model", "c-model"), ("2", "b-model", "c-model")]
    assert [(g.item.metadata["item"], g.model) for g in data.grades] == [
        ("1", "a-model"), ("1", "b-model"), ("1", "c-model"), ("2", "a-model"), ("2", "b-model"), ("2", "c-model")]


def test_baseline_pairs(three_models: Path) -> None:
    data = load_dataset(three_models, baseline="b-model", pairing="baseline")
    assert [(p.item.id, p.item.responses[1]) for p in data.pairs] == [
        ("1|a-model|b-model", "b-model on 1"), ("1|c-model|b-model", "b-model on 1"),
        ("2|a-model|b-model", "b-model on 2"), ("2|c-model|b-model", "b-model on 2")]
    assert len(data.grades) == 6


def test_all_pairs_with_a_baseline_put_it_second(three_models: Path) -> None:
    data = load_dataset(three_models, baseline="a-model", limit=1)
    assert [(p.model_a, p.model_b) for p in data.pairs] == [
        ("b-model", "a-model"), ("c-model", "a-model"), ("b-model", "c-model")]


def test_unknown_baseline_lists_the_models(three_models: Path) -> None:
    with pytest.raises(InputError, match="unknown baseline model 'gpt'; models: a-model, b-model, c-model"):
        load_dataset(three_models, baseline="gpt", pairing="baseline")


def test_limit_keeps_the_first_items_with_all_their_pairs(three_models: Path) -> None:
    write_lines(three_models / "c-model.jsonl", [*_outputs("c-model", ["1", "2"]), "not json"])
    write_lines(three_models / "b-model.jsonl", _outputs("b-model", ["1"]))
    data = load_dataset(three_models, limit=1)
    assert {p.item.metadata["item"] for p in data.pairs} == {"1"} and len(data.pairs) == 3
    # the malformed line is reported; b-model's missing item 2 lies past the limit
    assert [(p.path, p.line) for p in data.problems] == [("c-model.jsonl", 3)]


# -- human labels, demo ------------------------------------------------------------------------------------------


def test_human_labels_attach_in_either_order(tmp_path: Path) -> None:
    for model in ("m1", "m2", "m3"):
        write_lines(tmp_path / "outs" / f"{model}.jsonl", _outputs(model, ["x", "y"]))
    write_lines(tmp_path / "human_labels.jsonl", [
        {"id": "x", "model_a": "m1", "model_b": "m2", "label": "A"},
        {"id": "x", "model_a": "m3", "model_b": "m1", "label": "a"},
        {"id": "y", "model_a": "m2", "model_b": "m3", "label": "tie"},
        {"id": "y", "model_a": "m3", "model_b": "m2", "label": "B"},
        {"id": "zz", "model_a": "m1", "model_b": "m2", "label": "A"},
        {"id": "x", "model_a": "m1", "model_b": "gpt", "label": "A"},
        {"id": "x", "model_a": "m1", "model_b": "m3", "label": "better"},
        {"id": "y", "model_a": "m1", "model_b": "m2"},
    ])
    data = load_dataset(tmp_path / "outs")
    labels = {(p.item.metadata["item"], p.model_a, p.model_b): p.human for p in data.pairs}
    assert labels == {("x", "m1", "m2"): "A", ("x", "m1", "m3"): "B", ("x", "m2", "m3"): None,
                      ("y", "m1", "m2"): None, ("y", "m1", "m3"): None, ("y", "m2", "m3"): "tie"}
    assert data.pairs[1].item.metadata["human"] == "B"
    assert [(p.path, p.line) for p in data.problems] == [("../human_labels.jsonl", n) for n in (4, 5, 6, 7, 8)]
    reasons = [p.reason for p in data.problems]
    assert "first at line 3" in reasons[0]
    assert "no item 'zz'" in reasons[1]
    assert "no model 'gpt' (models: m1, m2, m3)" in reasons[2]
    assert "expected A, B or tie" in reasons[3]
    assert "missing field 'label'" in reasons[4]


@pytest.mark.parametrize("folder", [DEMO, DEMO / "outputs"])
def test_demo_folder_loads_cleanly(folder: Path) -> None:
    data = load_dataset(folder)
    raise_if_problems(data)
    assert data.models == ("model-alpha", "model-beta", "model-gamma")
    assert data.kind == "outputs"
    assert len(data.pairs) == 60 and len(data.grades) == 60
    assert sum(p.human is not None for p in data.pairs) == 16
    assert {p.item.category for p in data.pairs} == {"writing", "reasoning", "coding", "factual-qa", "summarisation"}
    assert sum(bool(g.item.input) for g in data.grades if g.model == "model-alpha") >= 5


def test_demo_pairs_file_loads_cleanly() -> None:
    data = load_dataset(DEMO / "pairs.jsonl")
    raise_if_problems(data)
    assert data.kind == "pairs" and len(data.pairs) == 12
    assert all(p.human is not None for p in data.pairs)
    assert {p.human for p in data.pairs} == {"A", "B", "tie"}


# -- unusable folders --------------------------------------------------------------------------------------------


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="empty folder") as caught:
        load_dataset(tmp_path)
    assert "model_answer" in str(caught.value)


def test_folder_without_outputs(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("hello", encoding="utf-8")
    with pytest.raises(DatasetError, match="no model outputs found"):
        load_dataset(tmp_path)
    write_lines(tmp_path / "notes.jsonl", [{"a": 1}])
    with pytest.raises(DatasetError, match="no file holds model outputs") as caught:
        load_dataset(tmp_path)
    assert "notes.jsonl" in str(caught.value)


def test_mtbench_without_usable_questions(tmp_path: Path) -> None:
    write_lines(tmp_path / "question.jsonl", ["nope"])
    write_lines(tmp_path / "model_answer" / "m.jsonl", [{"question_id": 1, "choices": [{"turns": ["a"]}]}])
    with pytest.raises(DatasetError, match="MT-bench questions unusable"):
        load_dataset(tmp_path)
