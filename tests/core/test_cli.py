"""The `judgedesk` command line: models, parse, and compare/grade errors; a few real runs on the demo judge.

Errors must come out as one `judgedesk: error:` line naming the file, item or field, with a non-zero status
and no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGUFWriter
from judgedesk.core.cli import main
from judgedesk.core.cli._arguments import read_text_argument

from tests.llama_build import cpu_only_build


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("judgedesk: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def _jsonl(path: Path, *rows: Any) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n"
                            for row in rows), encoding="utf-8")
    return path


def _records(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def _write_tiny_judge(path: Path, judge_format: str) -> None:
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("Tiny")
    writer.add_file_type(1)
    writer.add_string("judgedesk.format", judge_format)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# -- models -------------------------------------------------------------------------------------------------


def test_models_table_lists_the_demo_judge(capsys: pytest.CaptureFixture[str], demo_path: Path) -> None:
    status, out, err = _run(capsys, "models")

    assert status == 0
    assert err == ""
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "QUANT", "ARCH", "SIZE", "FORMAT", "PATH"]
    [demo] = [row for row in rows if row.startswith("demo (weak)")]
    assert "Q4_1" in demo and "llama" in demo and "generic" in demo and "MB" in demo
    assert demo.endswith(str(demo_path))


def test_models_json(capsys: pytest.CaptureFixture[str], demo_path: Path) -> None:
    status, out, _ = _run(capsys, "models", "--json")

    assert status == 0
    [demo] = [row for row in json.loads(out) if row["name"] == "demo"]
    assert demo["label"] == "demo (weak)"
    assert demo["path"] == str(demo_path)
    assert demo["size_bytes"] == demo_path.stat().st_size
    assert demo["quantization"] == "Q4_1"
    assert demo["architecture"] == "llama"
    assert demo["default_format"] == "generic"
    assert demo["problem"] is None


def test_models_lists_the_library_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path))
    library = tmp_path / "data" / "judges"
    library.mkdir(parents=True)
    _write_tiny_judge(library / "tiny-judge.gguf", "prometheus")
    (library / "PandaLM-7B-broken.gguf").write_bytes(b"not a model at all, sorry" * 4)

    status, out, _ = _run(capsys, "models", "--json")

    assert status == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["tiny-judge"]["default_format"] == "prometheus"
    assert rows["tiny-judge"]["quantization"] == "F16"
    broken = rows["PandaLM-7B-broken"]
    assert broken["quantization"] is None
    assert "wrong magic" in broken["problem"]
    assert broken["default_format"] == "pandalm"  # recognised from the file name

    status, out, _ = _run(capsys, "models")
    assert status == 0
    assert "[unusable: not a GGUF model file" in out
    assert "tiny-judge" in out


# -- parse --------------------------------------------------------------------------------------------------

_PAIRWISE_CASES = {
    ("pandalm", "en"): [
        ("1\n\n### Reason: R1 is right.\n\n### Reference: Red.\n", "A"),
        ("2", "B"),
        ("Tie\n\n### Reason: same", "tie"),
        ("Both are fine.", None),
    ],
    ("autoj", "en"): [
        ("R1 is right. So, the final decision is Response 1", "A"),
        ("So, the final decision is Response 2.", "B"),
        ("Equal. So, the final decision is Tie", "tie"),
        ("No decision at all.", None),
    ],
    ("autoj", "zh"): [
        ("回应1更好。所以，最终决定是回应1", "A"),
        ("所以，最终决定是回应2", "B"),
        ("所以，最终决定是平局", "tie"),
        ("没有结论。", None),
    ],
    ("prometheus", "en"): [
        ("Feedback: A is accurate. [RESULT] A", "A"),
        ("Feedback: B wins. [RESULT] B", "B"),
        ("Feedback: both fine. [RESULT] Tie", None),
        ("Feedback: nothing", None),
    ],
    ("generic", "en"): [
        ('{"winner": "A", "reason": "correct"}', "A"),
        ('{"winner": "B", "reason": "x"}', "B"),
        ('{"winner": "tie", "reason": "x"}', "tie"),
        ('{"verdict": "A"}', None),
    ],
}


@pytest.mark.parametrize(("fmt", "lang"), list(_PAIRWISE_CASES))
def test_parse_pairwise(fmt: str, lang: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases = _PAIRWISE_CASES[(fmt, lang)]
    path = _jsonl(tmp_path / "outputs.jsonl", *({"id": f"item-{i}", "output": text} for i, (text, _) in
                                                enumerate(cases)))

    status, out, err = _run(capsys, "parse", str(path), "--format", fmt, "--task", "pairwise", "--lang", lang)

    assert status == 0, err
    assert err == ""
    records = _records(out)
    assert [r["line"] for r in records] == list(range(1, len(cases) + 1))
    assert [r["id"] for r in records] == [f"item-{i}" for i in range(len(cases))]
    assert [r["winner"] for r in records] == [winner for _, winner in cases]
    assert [r["status"] for r in records] == ["ok" if winner else "unparsed" for _, winner in cases]
    assert all(r["problem"] for r in records if r["status"] == "unparsed")


def test_parse_pandalm_keeps_reason_and_reference(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "p.jsonl", {"output": "1\n\n### Reason: R1 is right.\n\n### Reference: Red.\n"})

    _, out, _ = _run(capsys, "parse", str(path), "--format", "pandalm", "--task", "pairwise")

    [record] = _records(out)
    assert record["reason"] == "R1 is right."
    assert record["reference"] == "Red."
    assert "id" not in record


_SINGLE_CASES = {
    ("autoj", "en"): ([("Good. Rating: [[8]]", 8.0), ("Rating: [[11]]", None), ("no rating", None)], [1, 10]),
    ("autoj", "zh"): ([("不错。评分: [[6]]", 6.0), ("评级：[[7]]", 7.0), ("没有", None)], [1, 10]),
    ("prometheus", "en"): ([("Feedback: fine. [RESULT] 4", 4.0), ("[RESULT] 6", None), ("none", None)],
                           [1, 5]),
    ("generic", "en"): ([('{"score": 9, "critique": "great"}', 9.0), ('{"score": 0}', None), ("{}", None)],
                        [1, 10]),
}


@pytest.mark.parametrize(("fmt", "lang"), list(_SINGLE_CASES))
def test_parse_single(fmt: str, lang: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases, scale = _SINGLE_CASES[(fmt, lang)]
    path = _jsonl(tmp_path / "grades.jsonl", *({"output": text} for text, _ in cases))

    status, out, err = _run(capsys, "parse", str(path), "--format", fmt, "--task", "single", "--lang", lang)

    assert status == 0, err
    records = _records(out)
    assert [r["line"] for r in records] == list(range(1, len(cases) + 1))
    assert [r["score"] for r in records] == [score for _, score in cases]
    assert all(r["scale"] == scale for r in records)
    assert [r["status"] for r in records] == ["ok" if score is not None else "unparsed" for _, score in cases]


def test_parse_reports_malformed_lines_and_keeps_alignment(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "mixed.jsonl",
                  {"id": 1, "output": "1"},
                  "{not json",
                  ["a", "list"],
                  {"id": 4, "text": "no output field"},
                  {"id": 5, "output": 2},
                  {"id": 6, "output": "2"})

    status, out, err = _run(capsys, "parse", str(path), "--format", "pandalm", "--task", "pairwise")

    assert status == 1
    records = _records(out)
    assert [r["line"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r["status"] for r in records] == ["ok", "error", "error", "error", "error", "ok"]
    assert records[0]["winner"] == "A" and records[5]["winner"] == "B"
    assert "not valid JSON" in records[1]["error"]
    for number in (2, 3, 4, 5):
        assert f"{path}:{number}: " in err
    assert f"{path}:1:" not in err and f"{path}:6:" not in err
    assert "4 line(s)" in err
    assert "Traceback" not in err


def test_parse_skips_blank_lines_but_keeps_their_numbers(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    path = tmp_path / "gaps.jsonl"
    path.write_text('{"output": "1"}\n\n   \n{"output": "Tie"}\n', encoding="utf-8")

    status, out, _ = _run(capsys, "parse", str(path), "--format", "pandalm", "--task", "pairwise")

    assert status == 0
    assert [(r["line"], r["winner"]) for r in _records(out)] == [(1, "A"), (4, "tie")]


def test_parse_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"

    status, out, err = _run(capsys, "parse", str(missing), "--format", "autoj", "--task", "single")

    assert status == 1
    assert out == ""
    _assert_one_line_error(err, str(missing))


def test_parse_file_that_is_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"output": "caf\u00e9"}\n'.encode("latin-1"))

    status, _, err = _run(capsys, "parse", str(path), "--format", "autoj", "--task", "single")

    assert status == 1
    _assert_one_line_error(err, str(path), "not UTF-8")


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--format", "pandalm", "--task", "single"], "does not do single"),
    (["--format", "prometheus", "--task", "pairwise", "--lang", "zh"], "no 'zh' prompt"),
])
def test_parse_unsupported_task_or_language(argv: list[str], fragment: str,
                                            capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "x.jsonl", {"output": "1"})

    status, out, err = _run(capsys, "parse", str(path), *argv)

    assert status == 1
    assert out == ""
    _assert_one_line_error(err, fragment)


# -- compare and grade errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["instruction", "a", "b"])
def test_compare_missing_at_file_names_file_and_field(field: str, capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    missing = tmp_path / f"{field}.txt"
    values = {"instruction": "Say hi.", "a": "hi", "b": "hello"}
    values[field] = f"@{missing}"

    status, out, err = _run(capsys, "compare", "--instruction", values["instruction"], "--a", values["a"],
                            "--b", values["b"])

    assert status == 1
    assert out == ""
    _assert_one_line_error(err, str(missing), f"field '{field}'", "no such file")


def test_grade_at_file_that_is_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "response.txt"
    path.write_bytes(b"\xff\xfe\x00garbage")

    status, _, err = _run(capsys, "grade", "--instruction", "Say hi.", "--response", f"@{path}")

    assert status == 1
    _assert_one_line_error(err, str(path), "field 'response'", "not UTF-8")


def test_compare_at_file_that_is_a_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = _run(capsys, "compare", "--instruction", f"@{tmp_path}", "--a", "x", "--b", "y")

    assert status == 1
    _assert_one_line_error(err, str(tmp_path), "field 'instruction'")


def test_compare_empty_instruction(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "compare", "--instruction", "  ", "--a", "x", "--b", "y")

    assert status == 1
    _assert_one_line_error(err, "field 'instruction'", "empty")


@pytest.mark.parametrize(("name", "content"), [
    ("notes.txt", b"just some notes\n"),
    ("fake.gguf", b"PK\x03\x04" + bytes(200)),
    ("empty.gguf", b""),
])
def test_compare_with_a_judge_that_is_not_gguf(name: str, content: bytes, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    judge = tmp_path / name
    judge.write_bytes(content)

    status, out, err = _run(capsys, "compare", "--judge", str(judge), "--instruction", "Say hi.", "--a", "hi",
                            "--b", "hello")

    assert status == 1
    assert out == ""
    _assert_one_line_error(err, str(judge))


def test_grade_with_a_missing_judge_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    judge = tmp_path / "gone.gguf"

    status, _, err = _run(capsys, "grade", "--judge", str(judge), "--instruction", "q", "--response", "r")

    assert status == 1
    _assert_one_line_error(err, str(judge), "no such file")


def test_compare_with_an_unknown_judge_name(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "compare", "--judge", "no-such-judge", "--instruction", "q", "--a", "x",
                          "--b", "y")

    assert status == 1
    _assert_one_line_error(err, "unknown judge 'no-such-judge'", "demo", "field 'judge'")


def test_unknown_format_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["compare", "--format", "nonesuch", "--instruction", "q", "--a", "x", "--b", "y"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# -- TEXT|@FILE arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("@@", "@"),
    ("@@mention", "@mention"),
    ("@@@triple", "@@triple"),
    ("@", "@"),
    ("plain text", "plain text"),
    ("", ""),
    (None, None),
])
def test_read_text_argument_literals(value: str | None, expected: str | None) -> None:
    assert read_text_argument(value, "a") == expected


def test_read_text_argument_reads_utf8_files(tmp_path: Path) -> None:
    path = tmp_path / "answer.txt"
    path.write_text("Réponse: 42\n", encoding="utf-8")

    assert read_text_argument(f"@{path}", "a") == "Réponse: 42\n"


# -- the demo judge, end to end -----------------------------------------------------------------------------
# One thread: llama.cpp's worker threads spin, so on a small, busy CI machine more threads are far slower.


@cpu_only_build
@pytest.mark.real_model
def test_gpu_layers_without_gpu_support_are_a_note_not_a_silent_cpu_run(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "compare", "--threads", "1", "--gpu-layers", "-1", "--format", "pandalm",
                            "--json", "--instruction", "Name a primary colour.", "--a", "Red.", "--b", "Purple.")
    assert status == 0, err
    assert "note: -1 GPU layers were asked for, but this llama-cpp-python build has no GPU support" in err
    assert json.loads(out)["ab"]["manifest"]["decoding"]["n_gpu_layers"] == 0


@pytest.mark.real_model
def test_compare_on_the_demo_judge(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "compare", "--threads", "1", "--format", "pandalm", "--json",
                            "--instruction", "Name a primary colour.", "--a", "Red.", "--b", "Purple.")

    assert status == 0, err
    result = json.loads(out)
    assert result["decision"] in {"A", "B", "tie", "inconsistent"}
    for order in ("ab", "ba"):
        verdict = result[order]
        assert verdict["status"] == "ok"
        assert sum(verdict["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert verdict["manifest"]["decoding"]["mode"] == "logits"
        assert verdict["manifest"]["file_type"] == "Q4_1"
    assert result["ab"]["manifest"]["seed"] == 2023


@pytest.mark.real_model
def test_grade_on_the_demo_judge(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "grade", "--threads", "1", "--format", "generic", "--max-tokens", "6",
                            "--seed", "7", "--json", "--instruction", "Name a primary colour.",
                            "--response", "Red.")

    assert status == 0, err
    grade = json.loads(out)
    assert grade["status"] == "ok"  # the grammar makes the score certain, even cut at 6 tokens
    assert 1 <= grade["score"] <= 10
    assert grade["scale"] == [1, 10]
    assert grade["raw_output"].startswith('{"score": ')
    assert grade["manifest"]["seed"] == 7
    assert grade["manifest"]["decoding"]["max_tokens"] == 6


@pytest.mark.real_model
def test_context_overflow_on_the_demo_judge_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "compare", "--threads", "1", "--format", "pandalm", "--ctx", "64",
                            "--instruction",
                            "Summarise. " * 60, "--a", "x", "--b", "y")

    assert status == 1
    assert out == ""
    _assert_one_line_error(err, "item 'cli'", "context is 64")


@pytest.mark.real_model
def test_autoj_critique_budget_on_a_full_context(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "compare", "--threads", "1", "--format", "autoj", "--ctx", "256",
                            "--max-tokens", "2", "--one-order", "--json", "--instruction", "Summarise.",
                            "--a", "word " * 300, "--b", "other " * 300)

    assert status == 0, err
    result = json.loads(out)
    assert result["ba"] is None and result["consistent"] is None
    verdict = result["ab"]
    # The responses were cut to leave room for the critique and the verdict statement, so the verdict is there.
    assert verdict["status"] == "truncated" and verdict["cut_tokens"] > 0
    assert verdict["winner"] in {"A", "B", "tie"} and result["decision"] == verdict["winner"]
    written = {"A": "Response 1", "B": "Response 2", "tie": "Tie"}[verdict["winner"]]
    assert verdict["raw_output"].endswith(f"final decision is {written}"), verdict["raw_output"]
    assert verdict["manifest"]["decoding"]["n_ctx"] == 256 and verdict["manifest"]["decoding"]["max_tokens"] == 2


@pytest.mark.parametrize("out", ["/proc/judgedesk-run", "{file}/sub"])
def test_an_unusable_out_folder_is_one_line_before_the_judge_loads(out: str, tmp_path: Path, capsys,
                                                                  monkeypatch) -> None:
    from judgedesk.core.cli import _batch_commands

    def no_judge(*args: object, **options: object) -> None:
        raise AssertionError("the judge was loaded before --out was checked")

    monkeypatch.setattr(_batch_commands, "judge_from_args", no_judge)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    demo = Path(__file__).resolve().parents[2] / "assets" / "demo"
    target = out.format(file=a_file)
    assert main(["batch", str(demo), "--out", target]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"judgedesk: error: {target}: cannot create the folder"), error
