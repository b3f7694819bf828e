"""`judgedesk prompt` on the real demo judge: stdout is exactly the prompt `judgedesk compare` evaluates.

The ids llama.cpp evaluates during a `compare` are recorded (a spy around the llama.cpp backend), and the text
`prompt` printed must tokenize, special tokens parsed, to those very ids.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from judgedesk.core import create_backend, demo_judge_path
from judgedesk.core.backends._llamacpp import LlamaCppBackend
from judgedesk.core.cli import main

pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parents[2]
DEMO_PAIRS = ROOT / "assets" / "demo" / "pairs.jsonl"
RUNTIME = ("--threads", "1", "--ctx", "1024")
MTBENCH_QUESTIONS = ROOT / "tests" / "data" / "ecosystem" / "fastchat" / "mt_bench" / "question.jsonl"
MTBENCH_ANSWERS = {"alpha-7b": ("Aloha! My week on Oahu began at a luau.", "A week on Oahu began at a luau."),
                   "beta-7b": ("Hawaii is nice.", "Always nice, Hawaii.")}
CAPITAL = ("--instruction", "What is the capital of France?", "--a", "Paris.", "--b", "Berlin.")


@pytest.fixture
def evaluated(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The ids of every prompt the demo judge evaluates during the test, in order."""
    seen: list[list[int]] = []
    generate, score_options = LlamaCppBackend.generate, LlamaCppBackend.score_options

    def recorded_generate(self: LlamaCppBackend, prompt: Sequence[int], **options: Any) -> Any:
        seen.append(list(prompt))
        return generate(self, prompt, **options)

    def recorded_score_options(self: LlamaCppBackend, prompt: Sequence[int], options: Any) -> Any:
        seen.append(list(prompt))
        return score_options(self, prompt, options)

    monkeypatch.setattr(LlamaCppBackend, "generate", recorded_generate)
    monkeypatch.setattr(LlamaCppBackend, "score_options", recorded_score_options)
    return seen


@pytest.fixture(scope="module")
def tokenizer():
    with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=1024, n_threads=1) as loaded:
        yield loaded


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(("fmt", "order"), [("generic", "AB"), ("pandalm", "BA"), ("prometheus", "BA")])
def test_stdout_is_exactly_the_prompt_compare_evaluates(capsys, evaluated, tokenizer, fmt: str, order: str) -> None:
    # The output budget decides the room kept for the output: prompt takes it as compare does.
    status, out, err = _run(capsys, "prompt", "--format", fmt, "--order", order, "--max-tokens", "8", *CAPITAL,
                            *RUNTIME)
    assert status == 0, err
    compare = ("compare", "--format", fmt, "--one-order", "--max-tokens", "8", *CAPITAL, *RUNTIME)
    if order == "BA":  # compare judges BA as the second order
        compare = tuple(a for a in compare if a != "--one-order")
    assert main(list(compare)) == 0
    capsys.readouterr()

    # Order AB is the first prompt evaluated; BA is one of the later ones (a verdict-last judge's AB order also
    # evaluates its prompt followed by the critique).
    judged = tokenizer.tokenize(out, special=True)
    assert judged == evaluated[0] if order == "AB" else judged in evaluated[1:] and judged != evaluated[0]
    first, second = ("Paris.", "Berlin.") if order == "AB" else ("Berlin.", "Paris.")
    assert out.index(first) < out.index(second)
    if fmt in {"generic", "prometheus"}:
        assert out.startswith("<|im_start|>system\n")
    assert f"{len(judged):,} prompt tokens of a 1,024-token context" in err and "nothing cut" in err


def test_json_has_the_text_the_count_the_cut_the_template_and_the_options(capsys, tokenizer) -> None:
    status, out, err = _run(capsys, "prompt", "--format", "autoj", "--max-tokens", "16", "--order", "BA",
                            *CAPITAL, *RUNTIME, "--json")
    assert status == 0, err
    data = json.loads(out)

    assert tokenizer.tokenize(data["text"], special=True) == data["tokens"]
    assert data["token_count"] == len(data["tokens"]) and data["cut_tokens"] == 0
    assert data["chat_template"] is False and data["text"].startswith("[INST]") and data["round_trips"] is True
    assert data["options"] == {"B": " Response 1", "A": " Response 2", "tie": " Tie"}
    assert data["verdict_phrase"] == "final decision is" and data["order"] == "BA"


def test_a_long_response_is_cut_as_compare_cuts_it(capsys, evaluated, tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text("The river rises in the hills. " * 150 + "It ends in the sea.",
                                       encoding="utf-8")
    item = ("--instruction", "Summarise the text.", "--a", f"@{tmp_path / 'long.txt'}", "--b", "A river.")
    status, out, err = _run(capsys, "prompt", "--format", "pandalm", *item, *RUNTIME, "--json")
    assert status == 0, err
    shown = json.loads(out)
    status, out, err = _run(capsys, "compare", "--format", "pandalm", "--one-order", *item, *RUNTIME, "--json")
    assert status == 0, err

    assert shown["cut_tokens"] == json.loads(out)["ab"]["cut_tokens"] > 0
    assert shown["tokens"] == evaluated[0] and "\n[...]\n" in shown["text"]


def test_an_item_of_a_data_set_by_id_is_the_typed_item(capsys) -> None:
    row = json.loads(DEMO_PAIRS.read_text(encoding="utf-8").splitlines()[1])
    status, from_data, err = _run(capsys, "prompt", "--format", "generic", "--data", str(DEMO_PAIRS), "--id",
                                  row["id"], *RUNTIME)
    assert status == 0, err
    status, typed, err = _run(capsys, "prompt", "--format", "generic", "--instruction", row["instruction"],
                              "--a", row["response_a"], "--b", row["response_b"], *RUNTIME)
    assert status == 0, err
    assert from_data == typed and row["response_b"] in from_data


def _question_81() -> dict[str, Any]:
    lines = MTBENCH_QUESTIONS.read_text(encoding="utf-8").splitlines()
    return next(row for row in map(json.loads, lines) if row["question_id"] == 81)


def _mtbench_folder(tmp_path: Path) -> Path:
    """An MT-bench folder: FastChat's question 81 (two turns) and two models' answers to both turns."""
    folder = tmp_path / "mt_bench"
    (folder / "model_answer").mkdir(parents=True)
    (folder / "question.jsonl").write_text(json.dumps(_question_81()) + "\n", encoding="utf-8")
    for model, turns in MTBENCH_ANSWERS.items():
        row = {"question_id": 81, "model_id": model, "choices": [{"index": 0, "turns": list(turns)}]}
        (folder / "model_answer" / f"{model}.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    return tmp_path


def test_an_item_of_an_outputs_folder_by_the_data_sets_own_id(capsys, tmp_path: Path) -> None:
    data = str(_mtbench_folder(tmp_path))
    status, out, err = _run(capsys, "prompt", "--format", "generic", "--data", data, "--id", "81", *RUNTIME)
    assert status == 0, err
    first, second = (turns[0] for turns in MTBENCH_ANSWERS.values())
    assert "Compose an engaging travel blog post" in out and out.index(first) < out.index(second)

    status, out, err = _run(capsys, "prompt", "--format", "generic", "--data", data, "--id", "81:turn2", *RUNTIME)
    assert status == 1 and out == "" and "turn 2 of a conversation" in err
    status, out, err = _run(capsys, "prompt", "--data", data, "--id", "82", *RUNTIME)
    assert status == 1 and "no such item (2 item id(s): '81', '81:turn2')" in err


def test_an_mtbench_turn_2_shows_the_whole_conversation_in_the_order_asked(capsys, tmp_path: Path,
                                                                           tokenizer) -> None:
    data = str(_mtbench_folder(tmp_path))
    status, out, err = _run(capsys, "prompt", "--format", "mtbench", "--max-tokens", "8", "--data", data, "--id",
                            "81:turn2", "--order", "BA", *RUNTIME, "--json")
    assert status == 0, err
    shown = json.loads(out)
    text = shown["text"]

    assert tokenizer.tokenize(text, special=True) == shown["tokens"] and shown["round_trips"] is True
    questions = _question_81()["turns"]
    assert text.count(questions[0]) == 2 and text.count(questions[1]) == 2  # each assistant's conversation
    (alpha_1, alpha_2), (beta_1, beta_2) = MTBENCH_ANSWERS.values()
    # Order BA: beta's conversation is shown first, both of its turns as Assistant A's.
    a_part, b_part = text.split("<|The End of Assistant A's Conversation with User|>")
    assert beta_1 in a_part and beta_2 in a_part and alpha_1 in b_part and alpha_2 in b_part
    assert shown["options"] == {"B": "A]]", "A": "B]]", "tie": "C]]"} and shown["verdict_phrase"] == "[["


def test_grading_prompt(capsys, evaluated, tokenizer) -> None:
    item = ("--instruction", "What is the capital of France?", "--response", "Paris.")
    status, out, err = _run(capsys, "prompt", "--format", "prometheus", "--task", "single", "--max-tokens", "8",
                            *item, *RUNTIME)
    assert status == 0, err
    assert main(["grade", "--format", "prometheus", "--max-tokens", "8", *item, *RUNTIME]) == 0
    capsys.readouterr()

    assert tokenizer.tokenize(out, special=True) == evaluated[0]
    assert "single, response 1" in err and "scale: 1 to 5" in err


@pytest.mark.parametrize(("argv", "message"), [
    (("--data", str(DEMO_PAIRS), "--id", "pair-99"), f"{DEMO_PAIRS}, item 'pair-99': the data set has no such "
                                                      "item (12 item id(s): 'pair-01', 'pair-02'"),
    (("--data", str(DEMO_PAIRS)), "needs both --data PATH and --id ID"),
    (("--data", str(DEMO_PAIRS), "--id", "pair-01", "--a", "x"), "leave out --a"),
    (("--data", str(DEMO_PAIRS), "--id", "pair-01", "--model", "nobody"), "no pair of model(s) nobody has this id"),
    (("--instruction", "Hi"), "response A is empty"),
    (("--task", "single", *CAPITAL), "give it with --response"),
    (("--task", "single", "--order", "BA", "--instruction", "Hi", "--response", "x"), "--order is for a pairwise"),
    ((), "give the item"),
])
def test_bad_input_is_one_line_naming_what_is_wrong(capsys, argv: tuple[str, ...], message: str) -> None:
    status, out, err = _run(capsys, "prompt", *argv, *RUNTIME)

    assert status == 1 and out == ""
    assert err.startswith("judgedesk: error: ") and message in err, err


def test_help_lists_the_command(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "show exactly what the judge is given" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["prompt", "--help"])
    text = capsys.readouterr().out
    assert "--order {AB,BA}" in text and "--task {pairwise,single}" in text and "--data PATH" in text
