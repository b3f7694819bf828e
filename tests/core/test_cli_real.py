"""Command-line features on the real demo judge that the unit tests drive through the mock backend.

Each test checks what a broken feature would get wrong, on what llama.cpp really evaluated: the prompts the judge
was given are recorded (a spy around the llama.cpp backend), so a rubric, a reference or a language that never
reached the prompt fails, and so does a retry that judged the wrong orders.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from judgedesk.core.backends._llamacpp import LlamaCppBackend
from judgedesk.core.cli import main

pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parents[2]
DEMO_PAIRS = ROOT / "assets" / "demo" / "pairs.jsonl"
DEMO_OUTPUTS = ROOT / "assets" / "demo" / "outputs"
# One thread (the test machine's two cores are shared) and a small context: every prompt here is short.
RUNTIME = ("--threads", "1", "--ctx", "1024")


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every prompt the demo judge evaluates during the test, as text, in order."""
    seen: list[str] = []
    generate, score_options = LlamaCppBackend.generate, LlamaCppBackend.score_options

    def recorded_generate(self: LlamaCppBackend, prompt: Sequence[int], **options: Any) -> Any:
        seen.append(self.detokenize(prompt))
        return generate(self, prompt, **options)

    def recorded_score_options(self: LlamaCppBackend, prompt: Sequence[int], options: Any) -> Any:
        seen.append(self.detokenize(prompt))
        return score_options(self, prompt, options)

    monkeypatch.setattr(LlamaCppBackend, "generate", recorded_generate)
    monkeypatch.setattr(LlamaCppBackend, "score_options", recorded_score_options)
    return seen


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    status, out, err = _run(capsys, *argv, *RUNTIME, "--json")
    assert status == 0, err
    return json.loads(out)


def _jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def _demo_pairs(tmp_path: Path, count: int) -> Path:
    lines = DEMO_PAIRS.read_text(encoding="utf-8").splitlines()[:count]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _csv_rows(out: Path) -> list[dict[str, str]]:
    with (out / "verdicts.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


# -- decoding and prompts -----------------------------------------------------------------------------------------

CAPITAL = ("--instruction", "What is the capital of France?", "--a", "Paris.", "--b", "Berlin.")


def test_no_grammar_lets_the_judge_write_what_it_likes(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("compare", "--format", "generic", "--generate", "--one-order", "--max-tokens", "8", *CAPITAL)
    constrained = _json(capsys, *args)["ab"]
    free = _json(capsys, *args, "--no-grammar")["ab"]
    assert constrained["manifest"]["decoding"]["constrained"] is True
    assert constrained["status"] == "ok" and re.match(r'\{"winner": "(A|B|tie)"', constrained["raw_output"])
    # Unconstrained, the demo judge puts an answer where the verdict belongs: kept raw, reported as unparsed.
    assert free["manifest"]["decoding"]["constrained"] is False
    assert free["raw_output"] and free["raw_output"] != constrained["raw_output"]
    assert (free["status"], free["winner"]) == ("unparsed", None), free["raw_output"]


def test_a_custom_rubric_reaches_the_prompt(capsys: pytest.CaptureFixture[str], prompts: list[str],
                                            tmp_path: Path) -> None:
    rubric = "Prefer the answer written entirely in capital letters, whatever it says."
    (tmp_path / "rubric.txt").write_text(rubric, encoding="utf-8")
    default = _json(capsys, "compare", "--format", "generic", "--one-order", *CAPITAL)["ab"]
    assert len(prompts) == 1 and rubric not in prompts[0]
    custom = _json(capsys, "compare", "--format", "generic", "--one-order", "--rubric", f"@{tmp_path / 'rubric.txt'}",
                   *CAPITAL)["ab"]
    assert len(prompts) == 2 and f"Evaluation criteria:\n{rubric}\n" in prompts[1]
    assert "Paris." in prompts[1] and "Berlin." in prompts[1]
    assert custom["manifest"]["template_sha256"] != default["manifest"]["template_sha256"]
    assert custom["status"] == "ok" and custom["manifest"]["decoding"]["mode"] == "logits"


def test_prometheus_reads_the_reference_and_the_rubric(capsys: pytest.CaptureFixture[str],
                                                       prompts: list[str]) -> None:
    rubric = "[Is the city named in upper case?]\nScore 1: no.\nScore 5: yes, every letter."
    reference = "The capital of France is PARIS (reference)."
    grade = _json(capsys, "grade", "--format", "prometheus", "--max-tokens", "8", "--rubric", rubric,
                  "--reference", reference, "--instruction", "What is the capital of France?",
                  "--response", "Paris.")
    prompt = prompts[0]  # the critique's prompt; the verdict continues it
    assert f"###Reference Answer (Score 5):\n{reference}\n\n###Score Rubrics:\n{rubric}\n" in prompt
    assert "[Does the response fulfil the instruction" not in prompt  # the default rubric is replaced
    assert grade["status"] == "ok" and grade["scale"] == [1, 5] and 1 <= grade["score"] <= 5
    assert "[RESULT]" in grade["raw_output"]
    # Relative grading with a reference: the reference reaches that template too.
    graded = len(prompts)
    verdict = _json(capsys, "compare", "--format", "prometheus", "--one-order", "--max-tokens", "8",
                    "--reference", reference, *CAPITAL)["ab"]
    assert f"###Reference Answer:\n{reference}\n" in prompts[graded]
    assert verdict["status"] == "ok" and verdict["winner"] in {"A", "B"}


def test_autoj_grades_in_chinese(capsys: pytest.CaptureFixture[str], prompts: list[str]) -> None:
    grade = _json(capsys, "grade", "--format", "autoj", "--lang", "zh", "--max-tokens", "12",
                  "--instruction", "法国的首都是哪里？", "--response", "巴黎。")
    prompt = prompts[0]
    assert "[用户问询]: 法国的首都是哪里？" in prompt and "[回应]: 巴黎。" in prompt and "评分" in prompt
    assert grade["manifest"]["decoding"]["lang"] == "zh"
    assert grade["status"] == "ok" and grade["scale"] == [1, 10] and 1 <= grade["score"] <= 10
    assert re.search(r"评分: \[\[(10|[1-9])(\.\d)?\]\]$", grade["raw_output"]), grade["raw_output"]


# -- batch runs ---------------------------------------------------------------------------------------------------


def test_retry_unparsed_judges_again_only_what_did_not_parse(capsys: pytest.CaptureFixture[str],
                                                             prompts: list[str], tmp_path: Path) -> None:
    data, out = _demo_pairs(tmp_path, 3), tmp_path / "run"
    # Unconstrained and cut short, the demo judge leaves some of these verdicts unparsed and not others.
    args = ("batch", str(data), "--out", str(out), *RUNTIME, "--format", "generic", "--generate", "--no-grammar",
            "--max-tokens", "6", "--one-order")
    status, _, err = _run(capsys, *args)
    assert status == 0, err
    before = _csv_rows(out)
    statuses = {row["item_id"]: row["status"] for row in before}
    unparsed = sorted(item for item, value in statuses.items() if value == "unparsed")
    parsed = sorted(item for item, value in statuses.items() if value == "ok")
    assert unparsed and parsed, statuses  # the test needs both
    instructions = {row["id"]: row["instruction"] for row in map(json.loads, data.read_text().splitlines())}
    assert len(prompts) == 3

    status, _, err = _run(capsys, *args)  # the same command: nothing to do
    assert status == 0 and "resumed: 3 judgement(s) were already in" in err
    assert len(prompts) == 3

    status, _, err = _run(capsys, *args, "--retry-unparsed")
    assert status == 0 and f"resumed: {len(parsed)} judgement(s) were already in" in err
    retried = prompts[3:]
    assert len(retried) == len(unparsed)
    for prompt, item in zip(retried, unparsed, strict=True):  # the run keeps the file's order
        assert instructions[item] in prompt
    assert _csv_rows(out) == before  # one row per order still; greedy decoding writes the same again


def test_imported_raw_outputs_in_ba_order_give_the_judges_own_winners(capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    data, judged = _demo_pairs(tmp_path, 2), tmp_path / "judged"
    status, _, err = _run(capsys, "batch", str(data), "--out", str(judged), *RUNTIME, "--format", "autoj",
                          "--max-tokens", "8")
    assert status == 0, err
    rows = _csv_rows(judged)
    assert {row["side"] for row in rows} == {"AB", "BA"} and all(row["status"] != "error" for row in rows)
    # In BA order "Response 1" is model B: only a swap maps the raw text back to the judge's winner.
    assert any(row["side"] == "BA" and row["winner"] in {"A", "B"} for row in rows), rows
    published = _jsonl(tmp_path / "published.jsonl",
                       [{"id": row["item_id"], "order": row["side"], "output": row["raw_output"]} for row in rows])
    imported = tmp_path / "imported"
    status, _, err = _run(capsys, "import-verdicts", str(published), "--data", str(data), "--out", str(imported),
                          "--name", "Demo elsewhere", "--format", "autoj")
    assert status == 0, err
    expected = {(row["item_id"], row["side"]): (row["winner"], row["raw_output"]) for row in rows}
    assert {(row["item_id"], row["side"]): (row["winner"], row["raw_output"]) for row in _csv_rows(imported)} \
        == expected
    assert _summary(imported)["run"]["label"] == "Demo elsewhere (imported)"


def _outputs_folder(tmp_path: Path, models: Sequence[str], *, items: int = 1) -> Path:
    """A folder of per-model outputs: the demo models' first `items` answers, under new model names."""
    folder = tmp_path / "outputs"
    folder.mkdir()
    demo = sorted(DEMO_OUTPUTS.glob("*.jsonl"))
    for model, source in zip(models, demo, strict=False):
        rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()[:items]]
        _jsonl(folder / f"{model}.jsonl", rows)
    return folder


def test_single_grading_with_a_rubric(capsys: pytest.CaptureFixture[str], prompts: list[str],
                                      tmp_path: Path) -> None:
    folder, out = _outputs_folder(tmp_path, ["alpha", "gamma"]), tmp_path / "run"
    rubric = "Give 10 to a response that names a bottle colour, 1 otherwise."
    status, _, err = _run(capsys, "batch", str(folder), "--out", str(out), *RUNTIME, "--mode", "single",
                          "--format", "generic", "--rubric", rubric, "--max-tokens", "8")
    assert status == 0, err
    assert len(prompts) == 2 and all(rubric in prompt for prompt in prompts)
    answers = {model: json.loads((folder / f"{model}.jsonl").read_text(encoding="utf-8"))["output"]
               for model in ("alpha", "gamma")}
    assert sorted(answer in prompt for prompt in prompts for answer in answers.values()) == [False, False, True, True]
    summary = _summary(out)
    assert summary["run"]["mode"] == "single" and "pairs" not in summary
    grades = summary["grades"]
    assert grades["scale"] == [1, 10] and {m["model"]: m["n"] for m in grades["models"]} == {"alpha": 1, "gamma": 1}
    rows = _csv_rows(out)
    assert sorted(row["model_a"] for row in rows) == ["alpha", "gamma"]
    assert all(row["status"] == "ok" and 1 <= float(row["score"]) <= 10 for row in rows)
    assert 'aria-label="mean score per model"' in (out / "report.html").read_text(encoding="utf-8")


def test_a_baseline_pairs_every_model_with_it_only(capsys: pytest.CaptureFixture[str], prompts: list[str],
                                                  tmp_path: Path) -> None:
    folder, out = _outputs_folder(tmp_path, ["alpha", "beta", "gamma"]), tmp_path / "run"
    status, _, err = _run(capsys, "batch", str(folder), "--out", str(out), *RUNTIME, "--baseline", "beta",
                          "--one-order")
    assert status == 0, err
    pairs = {frozenset((p["model_a"], p["model_b"])) for p in _summary(out)["pairs"]}
    assert pairs == {frozenset(("alpha", "beta")), frozenset(("beta", "gamma"))}
    assert len(prompts) == 2  # alpha against gamma was never judged
    assert {(row["model_a"], row["model_b"]) for row in _csv_rows(out)} <= {("alpha", "beta"), ("beta", "alpha"),
                                                                        ("beta", "gamma"), ("gamma", "beta")}


def test_strict_stops_before_the_judge_on_a_bad_line(capsys: pytest.CaptureFixture[str], prompts: list[str],
                                                     tmp_path: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    good = DEMO_PAIRS.read_text(encoding="utf-8").splitlines()[0]
    data.write_text(good + "\n{not json\n", encoding="utf-8")
    strict, lenient = tmp_path / "strict", tmp_path / "lenient"
    status, _, err = _run(capsys, "batch", str(data), "--out", str(strict), *RUNTIME, "--one-order", "--strict")
    assert status == 1 and "Traceback" not in err
    error = err[err.index("judgedesk: error: "):]
    assert f"{data}: 1 problem(s) in the input" in error and f"{data}:2: not valid JSON" in error, err
    assert prompts == [] and not (strict / "run.sqlite").exists()
    # Without --strict the same file is judged, and the bad line is reported with the run.
    status, _, err = _run(capsys, "batch", str(data), "--out", str(lenient), *RUNTIME, "--one-order")
    assert status == 0, err
    assert len(prompts) == 1
    [problem] = _summary(lenient)["input_problems"]
    assert (problem["path"], problem["line"]) == (str(data), 2)


# -- the HTML report ----------------------------------------------------------------------------------------------

HOSTILE_MODELS = ['<script>alert("model")</script>', "</svg><img src=x onerror=alert(1)>",
                  "\" onmouseover=\"alert('q')"]
HOSTILE_OUTPUT = ("<script>alert(1)</script></svg><img src=x onerror=alert(2)> \"quoted\" 'single' & "
                  "So, the final decision is Response 1")
HOSTILE_JUDGE = "Judge</title><script>alert(3)</script>"


class _Page(HTMLParser):
    """Every element of a page, and the text that sits inside its SVG figures."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.svg_depth = 0
        self.svg_count = 0
        self.svg_text: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "svg":
            self.svg_depth += 1
            self.svg_count += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg_depth -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.svg_depth:
            self.svg_text.append(data)


def _page(path: Path) -> tuple[str, _Page]:
    html = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    page.close()
    return html, page


def _assert_nothing_injected(html: str, page: _Page) -> None:
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed", "link", "foreignobject", "a"}, tags
    handlers = [(tag, name) for tag, attrs in page.tags for name, _ in attrs if name.startswith("on")]
    assert handlers == []
    assert page.svg_depth == 0 and html.count("<svg") == html.count("</svg>") == page.svg_count
    assert "<script" not in html and "<img" not in html


def test_report_escapes_hostile_model_names_and_judge_output(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    a, b, c = HOSTILE_MODELS
    rows = [{"id": f"h{k}", "instruction": "Say hi.", "response_a": f"hi {k} {x}", "response_b": f"hello {k}",
             "model_a": x, "model_b": y, "category": c}
            for k, (x, y) in enumerate([(a, b), (b, c), (a, c)])]
    data = _jsonl(tmp_path / "pairs.jsonl", rows)
    judged = tmp_path / "judged"
    status, _, err = _run(capsys, "batch", str(data), "--out", str(judged), *RUNTIME, "--one-order",
                          "--inconsistent-as-tie")
    assert status == 0, err
    html, page = _page(judged / "report.html")
    _assert_nothing_injected(html, page)
    assert page.svg_count >= 2  # the ranking and the win-rate matrix, which label every model
    for name in HOSTILE_MODELS:
        assert any(name in text for text in page.svg_text), name  # shown as text inside the figures

    published = _jsonl(tmp_path / "published.jsonl", [{"id": "h0", "order": "AB", "output": HOSTILE_OUTPUT},
                                                       {"id": "h1", "order": "BA", "output": HOSTILE_OUTPUT}])
    imported = tmp_path / "imported"
    status, _, err = _run(capsys, "import-verdicts", str(published), "--data", str(data), "--out", str(imported),
                          "--name", HOSTILE_JUDGE, "--format", "autoj")
    assert status == 0, err
    html, page = _page(imported / "report.html")
    _assert_nothing_injected(html, page)
    text = "".join(page.text)
    assert HOSTILE_OUTPUT in text and HOSTILE_JUDGE in text  # the judge's output and name, as text
    assert {(row["item_id"], row["side"], row["winner"]) for row in _csv_rows(imported)} \
        == {("h0", "AB", "A"), ("h1", "BA", "B")}
    with sqlite3.connect(f"file:{imported / 'run.sqlite'}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 2
