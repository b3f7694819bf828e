"""Readers of three projects' published judgements, into `PairJudgement`s and `GradeJudgement`s.

    alpaca_eval  AlpacaEval's annotations.json: a JSON list of instruction, output_1, generator_1 (the baseline),
                 output_2, generator_2, annotator, preference in [1, 2] (a number, or its text): the probability
                 that output_2 wins is preference - 1. Its discrete winner follows AlpacaEval: above 1.5 output_2,
                 below output_1, exactly 1.5 or 0 a draw. The order the annotator saw is not recorded (it
                 shuffles), so the judgement is stored as one order, AB.
    mtbench      FastChat's model_judgment/*_pair.jsonl: question_id, model_1, model_2, g1_winner and g2_winner
                 (model_1, model_2, tie, or error when the judge's output held no verdict), g1_judgment,
                 g2_judgment, turn, judge [model, prompt]. Game 1 showed model_1 first, game 2 model_2 first.
                 *_single.jsonl: question_id, model, score (-1 when it held none), judgment, turn, judge.
    arenahard    Arena-Hard's model_judgment/<judge>/<model>.jsonl: uid (question_id in v0.1), model, baseline,
                 judge, games [game 1, game 2], each with score "A>>B" .. "B>>A" and the judgment. Game 1 showed
                 the baseline as A, game 2 the model (gen_judgment.py). A record without `baseline` takes the
                 one Arena-Hard's judge_utils.py sets for its category, else arena-hard-v0.1's gpt-4-0314.

A value a project's own code would drop or choke on (a preference outside [1, 2], an unknown winner or score) is
kept as an unparsed judgement and reported; a record that cannot be placed (no model, no id) is reported and
skipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .._records import Label, Status, Strength, strength_winner, swap_strength
from ._fields import FieldReader
from ._mtbench import turn_item_id
from ._peer_records import Game, GradeJudgement, PairJudgement, Reading

__all__ = ["read_alpaca_eval", "read_arenahard", "read_mtbench_pairs", "read_mtbench_single"]

_FASTCHAT_WINNERS: dict[str, Label] = {"model_1": "A", "model_2": "B", "tie": "tie"}
_FASTCHAT_SCALE = (1, 10)
_ARENA_SCORES: dict[str, Strength] = {
    "A>>B": "A>>B", "A>B": "A>B", "A=B": "A=B", "B>A": "B>A", "B>>A": "B>>A",
    # The other spellings show_result.py accepts for the same five verdicts.
    "A<<B": "B>>A", "A<B": "B>A", "B=A": "A=B", "B<A": "A>B", "B<<A": "A>>B",
}
_ARENA_BASELINES = {"hard_prompt": "o3-mini-2025-01-31", "coding": "o3-mini-2025-01-31",
                    "math": "o3-mini-2025-01-31", "creative_writing": "gemini-2.0-flash-001",
                    "arena-hard-v0.1": "gpt-4-0314"}
"""Each category's baseline, as Arena-Hard's utils/judge_utils.py sets it."""
_ARENA_DEFAULT_BASELINE = "gpt-4-0314"


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _preference(value: Any) -> float | None:
    """A preference as AlpacaEval reads it: a number or its text, 0 (a draw) or within [1, 2]; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    number = float(value)
    return number if number == 0 or 1 <= number <= 2 else None


def read_alpaca_eval(reading: Reading) -> None:
    """AlpacaEval annotations: one judgement per record, generator_2 (A) against generator_1 (B, the baseline)."""
    lines = reading.lines
    for record in reading.records:
        f = FieldReader(record.fields)
        instruction = f.text("instruction", required=True)
        models = (f.name("generator_2"), f.name("generator_1"))
        for name, model in zip(("generator_2", "generator_1"), models, strict=True):
            if model is None and not f.present(name):
                f.errors.append(f"missing field {name!r}")
        annotator = f.name("annotator")
        if f.errors or instruction is None or models[0] is None or models[1] is None:
            reading.problems.append(lines.problem(record.line, "; ".join(f.errors) + "; skipped"))
            continue
        raw = record.fields.get("preference")
        preference = _preference(raw)
        raw_output = raw if isinstance(raw, str) else json.dumps(raw)
        if preference is None:
            reading.problems.append(lines.problem(
                record.line, f"preference {_shown(raw)} is not a number in [1, 2] (nor 0, a draw): kept as an "
                             "unparsed judgement, left out of the figures as AlpacaEval drops it"))
            game = Game(None, None, Status.UNPARSED, raw_output)
        else:
            p = 0.5 if preference == 0 else preference - 1
            winner: Label = "tie" if p == 0.5 else "A" if p > 0.5 else "B"
            game = Game(None, winner, Status.OK, raw_output, probabilities={"A": p, "B": 1 - p},
                        preference=preference)
        if annotator is not None:
            reading.judges.setdefault(annotator)
        reading.baselines.setdefault(models[1])
        reading.pairs.append(PairJudgement(record.line, (game,), (models[0], models[1]),
                                           instruction=instruction))


def _turn(f: FieldReader) -> int | None:
    """FastChat's `turn`: 1 when absent; a bad value is an error."""
    value = f.fields.get("turn", 1)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    f.errors.append(f"field 'turn' is {_shown(value)}, expected a whole number from 1")
    return None


def _fastchat_judge(f: FieldReader) -> str | None:
    """FastChat's `judge`, ["gpt-4", "pair-v2"], as "gpt-4/pair-v2"."""
    value = f.fields.get("judge")
    if isinstance(value, list) and value and all(isinstance(part, str) for part in value):
        return "/".join(value)
    return f.name("judge")


def _fastchat_game(f: FieldReader, key: str, first_shown: int, reading: Reading, line: int) -> Game:
    value = f.fields.get(f"{key}_winner")
    text = f.fields.get(f"{key}_judgment")
    raw_output = text if isinstance(text, str) else ""
    winner = _FASTCHAT_WINNERS.get(value) if isinstance(value, str) else None
    if winner is not None:
        return Game(first_shown, winner, Status.OK, raw_output)
    if value != "error":  # "error": FastChat's judge wrote no [[A]], [[B]] or [[C]], an unparsed verdict
        reading.problems.append(reading.lines.problem(
            line, f"{key}_winner is {_shown(value)}, expected model_1, model_2, tie or error: kept as unparsed"))
    return Game(first_shown, None, Status.UNPARSED, raw_output)


def read_mtbench_pairs(reading: Reading) -> None:
    """FastChat pairwise judgments: both games of each pair (model_1 against model_2) on each turn."""
    for record in reading.records:
        f = FieldReader(record.fields)
        qid = f.ident("question_id")
        models = (f.name("model_1"), f.name("model_2"))
        turn = _turn(f)
        for name, value in (("question_id", qid), ("model_1", models[0]), ("model_2", models[1])):
            if value is None and not f.present(name):
                f.errors.append(f"missing field {name!r}")
        missing = [key for key in ("g1_winner", "g2_winner") if key not in record.fields]
        if missing:
            f.errors.append(f"missing field {missing[0]!r}")
        if f.errors or qid is None or models[0] is None or models[1] is None or turn is None:
            reading.problems.append(reading.lines.problem(record.line, "; ".join(f.errors) + "; skipped", qid))
            continue
        games = (_fastchat_game(f, "g1", 0, reading, record.line), _fastchat_game(f, "g2", 1, reading, record.line))
        judge = _fastchat_judge(f)
        if judge is not None:
            reading.judges.setdefault(judge)
        reading.pairs.append(PairJudgement(record.line, games, (models[0], models[1]),
                                           item=turn_item_id(qid, turn)))


def read_mtbench_single(reading: Reading) -> None:
    """FastChat single-answer grading: one 1-10 score per model, question and turn (-1: no score found)."""
    for record in reading.records:
        f = FieldReader(record.fields)
        qid = f.ident("question_id")
        model = f.name("model")
        turn = _turn(f)
        for name, value in (("question_id", qid), ("model", model)):
            if value is None and not f.present(name):
                f.errors.append(f"missing field {name!r}")
        if f.errors or qid is None or model is None or turn is None:
            reading.problems.append(reading.lines.problem(record.line, "; ".join(f.errors) + "; skipped", qid))
            continue
        value = record.fields.get("score")
        text = record.fields.get("judgment")
        raw_output = text if isinstance(text, str) else ""
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or not math.isfinite(number):
            reading.problems.append(reading.lines.problem(
                record.line, f"score {_shown(value)} is not a number: kept as unparsed", qid))
        scored = number is not None and math.isfinite(number) and number != -1
        judge = _fastchat_judge(f)
        if judge is not None:
            reading.judges.setdefault(judge)
        reading.grades.append(GradeJudgement(record.line, turn_item_id(qid, turn), model,
                                             float(number) if scored and number is not None else None,
                                             _FASTCHAT_SCALE, Status.OK if scored else Status.UNPARSED, raw_output))


def _judgment_text(value: Any) -> str:
    """A game's judgment: the completion's `answer` (current Arena-Hard) or the text itself (v0.1)."""
    if isinstance(value, Mapping):
        value = value.get("answer")
    return value if isinstance(value, str) else ""


def _arena_game(game: Any, index: int, reading: Reading, line: int, uid: str) -> Game:
    """Game 1 (index 0) showed the baseline (listed second) as A, game 2 the model (listed first)."""
    first_shown = 1 if index == 0 else 0
    if not isinstance(game, Mapping):  # null: the judge's API call failed, and Arena-Hard drops the record
        if game is not None:
            reading.problems.append(reading.lines.problem(line, f"games[{index}] is not an object: kept as "
                                                                "unparsed", uid))
        return Game(first_shown, None, Status.UNPARSED, "")
    text = _judgment_text(game.get("judgment"))
    score = game.get("score")
    if score is None:  # the judge's output held no [[A>B]]-style verdict
        return Game(first_shown, None, Status.UNPARSED, text)
    shown_strength = _ARENA_SCORES.get(score.strip().upper()) if isinstance(score, str) else None
    if shown_strength is None:
        reading.problems.append(reading.lines.problem(
            line, f"games[{index}].score is {_shown(score)}, expected A>>B, A>B, A=B, B>A or B>>A: kept as unparsed",
            uid))
        return Game(first_shown, None, Status.UNPARSED, text)
    # The score is in the shown positions (A = shown first); the game's labels are the listed models'.
    strength = shown_strength if first_shown == 0 else swap_strength(shown_strength)
    return Game(first_shown, strength_winner(strength), Status.OK, text, strength=strength)


def read_arenahard(reading: Reading) -> None:
    """Arena-Hard judgments: both games of each model (listed first) against the baseline (listed second)."""
    for record in reading.records:
        f = FieldReader(record.fields)
        uid = f.ident("uid") if f.present("uid") else f.ident("question_id")
        model = f.name("model")
        baseline = f.name("baseline") or _ARENA_BASELINES.get(f.name("category") or "", _ARENA_DEFAULT_BASELINE)
        games = record.fields.get("games")
        if uid is None and not f.errors:
            f.errors.append("missing field 'uid'")
        if model is None and not f.present("model"):
            f.errors.append("missing field 'model'")
        if not isinstance(games, list) or len(games) != 2:
            f.errors.append(f"field 'games' must be a list of two games (found {_shown(games)})")
        if f.errors or uid is None or model is None or not isinstance(games, list):
            reading.problems.append(reading.lines.problem(record.line, "; ".join(f.errors) + "; skipped", uid))
            continue
        judge = f.name("judge")
        if judge is not None:
            reading.judges.setdefault(judge)
        reading.baselines.setdefault(baseline)
        played = tuple(_arena_game(game, index, reading, record.line, uid) for index, game in enumerate(games))
        reading.pairs.append(PairJudgement(record.line, played, (model, baseline), item=uid))
