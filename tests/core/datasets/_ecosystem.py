"""The evaluation projects' real files (tests/data/ecosystem/), laid out in a test's folder the way each project
keeps them, and judgement files written in each project's shape.

Large copies are stored gzip-compressed; they are unpacked here, since judgedesk reads the projects' files as
they are published (plain JSON and JSON Lines).
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.core.datasets._data_files import ROOT, write_lines

ECOSYSTEM = ROOT / "tests" / "data" / "ecosystem"
FASTCHAT = ECOSYSTEM / "fastchat" / "mt_bench"
ARENA = ECOSYSTEM / "arena-hard" / "arena-hard-v0.1"
ALPACA = ECOSYSTEM / "alpaca_eval" / "results"
ALPACA_BASELINE = "gpt4_1106_preview"
ALPACA_MODELS = ("FuseChat-Llama-3.2-1B-Instruct", "Mixtral-8x7B-Instruct-v0.1_concise")
ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"
SECOND_MODEL = "brief-7b"
"""The synthetic second MT-bench model (no real model_answer file is kept)."""


def unpack(source: Path, target: Path) -> Path:
    """Copy `source` to `target`, unpacking a .gz copy; returns `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix == ".gz":
        with gzip.open(source, "rb") as packed, target.open("wb") as out:
            shutil.copyfileobj(packed, out)
    else:
        shutil.copyfile(source, target)
    return target


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def alpaca_results(folder: Path) -> Path:
    """AlpacaEval's results folder: <model>/model_outputs.json for the baseline and the two models, and each
    model's weighted_alpaca_eval_gpt4_turbo/annotations.json."""
    results = folder / "results"
    for packed in sorted(ALPACA.rglob("*.json.gz")):
        unpack(packed, results / packed.relative_to(ALPACA).with_suffix(""))
    return results


def annotations(results: Path, model: str) -> Path:
    return results / model / ANNOTATOR / "annotations.json"


def arena_folder(folder: Path) -> Path:
    """Arena-Hard's data folder: arena-hard-v0.1/question.jsonl and model_answer/<model>.jsonl."""
    data = folder / "arena-hard"
    for packed in sorted(ARENA.rglob("*.jsonl.gz")):
        unpack(packed, data / "arena-hard-v0.1" / packed.relative_to(ARENA).with_suffix(""))
    return data


def brief_turns(question: dict[str, Any]) -> list[str]:
    """The synthetic model's answer at each turn of a question."""
    return [f"Brief answer to turn {turn} of question {question['question_id']}: {text[:40]}"
            for turn, text in enumerate(question["turns"], start=1)]


def mtbench_folder(folder: Path, *, short_of_a_turn: Sequence[int] = ()) -> Path:
    """FastChat's mt_bench folder: the real question.jsonl and reference_answer/gpt-4.jsonl, with model answers
    for the 30 questions that have a reference: gpt-4's are its reference answers, brief-7b's are synthetic (one
    turn only for the questions in `short_of_a_turn`)."""
    mt_bench = folder / "mt_bench"
    unpack(FASTCHAT / "question.jsonl", mt_bench / "question.jsonl")
    reference = unpack(FASTCHAT / "reference_answer" / "gpt-4.jsonl", mt_bench / "reference_answer" / "gpt-4.jsonl")
    unpack(reference, mt_bench / "model_answer" / "gpt-4.jsonl")
    questions = {row["question_id"]: row for row in read_jsonl(mt_bench / "question.jsonl")}
    rows = []
    for answer in read_jsonl(reference):
        turns = brief_turns(questions[answer["question_id"]])
        if answer["question_id"] in short_of_a_turn:
            turns = turns[:1]
        rows.append({"question_id": answer["question_id"], "answer_id": f"brief-{answer['question_id']}",
                     "model_id": SECOND_MODEL, "choices": [{"index": 0, "turns": turns}], "tstamp": 0.0})
    write_lines(mt_bench / "model_answer" / f"{SECOND_MODEL}.jsonl", rows)
    return mt_bench


def fastchat_pair(qid: int, model_1: str, model_2: str, g1: str, g2: str, *, turn: int = 1) -> dict[str, Any]:
    """A FastChat pairwise judgment as common.py's play_a_match_pair writes it (g1: model_1 shown as A)."""
    judge = ["gpt-4", "pair-math-v1" + ("-multi-turn" if turn > 1 else "")]
    verdict = {"model_1": "[[A]]", "model_2": "[[B]]", "tie": "[[C]]"}
    return {"question_id": qid, "model_1": model_1, "model_2": model_2, "g1_winner": g1, "g2_winner": g2,
            "judge": judge, "g1_user_prompt": "...", "g1_judgment": f"Game 1 says {verdict.get(g1, 'nothing')}",
            "g2_user_prompt": "...", "g2_judgment": f"Game 2 says {verdict.get(g2, 'nothing')}", "turn": turn,
            "tstamp": 1.0}


def fastchat_single(qid: int, model: str, score: float, *, turn: int = 1) -> dict[str, Any]:
    """A FastChat single-answer grade as common.py's play_a_match_single writes it (-1: no rating found)."""
    return {"question_id": qid, "model": model, "judge": ["gpt-4", "single-math-v1"], "user_prompt": "...",
            "judgment": f"Rating: [[{score}]]", "score": score, "turn": turn, "tstamp": 1.0}


def arena_judgment(uid: str, model: str, scores: tuple[str | None, str | None], *,
                   baseline: str = "gpt-4-0314") -> dict[str, Any]:
    """An Arena-Hard judgment as gen_judgment.py writes it: game 1 has the baseline as A, game 2 the model."""
    games = [{"score": score, "judgment": {"answer": f"My final verdict is [[{score}]]"}, "prompt": []}
             for score in scores]
    return {"uid": uid, "category": "arena-hard-v0.1", "judge": "gpt-4-1106-preview", "model": model,
            "baseline": baseline, "games": games}
