"""Files of judgements made elsewhere (peers): which layout each has, read with every problem it holds.

Each file's layout is told from its first records:

    alpaca_eval   preference with generator_2 / output_2        AlpacaEval's annotations.json
    arenahard     games                                         Arena-Hard's model_judgment/<judge>/<model>.jsonl
    mtbench       g1_winner / g2_winner                         FastChat's model_judgment/*_pair.jsonl
                  question_id, model and score                  FastChat's model_judgment/*_single.jsonl
    jsonl         id, and winner (A, B, tie) or output          judgedesk's own form: `id` is the data set's pair
                  (the judge's raw text, parsed with a format)  id, `order` AB (default) or BA

(`_peer_formats` reads the first three.) Nothing here raises for bad content: an unreadable file, a line that is not
JSON, a record that cannot be read is a `Problem` naming the file and line (a JSON array's records are numbered, and
the line each starts on is named too), and the rest is read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from .._records import Label, Status, swap_strength
from ..formats import JudgeFormat
from ._fields import FieldReader, parse_ab_label
from ._peer_formats import read_alpaca_eval, read_arenahard, read_mtbench_pairs, read_mtbench_single
from ._peer_records import FileLines, Game, JudgementFile, PairJudgement, PeerProtocol, Reading
from ._reading import Record, read_records

__all__ = ["JUDGEMENT_LAYOUTS", "read_judgement_file"]

JUDGEMENT_LAYOUTS = (
    "Expected one of:\n"
    "  AlpacaEval annotations.json: instruction, generator_1, generator_2, preference;\n"
    "  FastChat model_judgment/*_pair.jsonl: question_id, model_1, model_2, g1_winner, g2_winner, turn, judge;\n"
    "  FastChat model_judgment/*_single.jsonl: question_id, model, score, turn, judge;\n"
    "  Arena-Hard model_judgment/<judge>/<model>.jsonl: uid, model, baseline, judge, games;\n"
    "  judgedesk JSONL: id (a pair id of --data), order (AB or BA), and winner (A, B, tie) or output (with --format)."
)

Mode = Literal["pairwise", "single"]
_SHOWN_TO_LISTED: dict[str, dict[str, Label]] = {"AB": {"1": "A", "2": "B", "tie": "tie"},
                                                 "BA": {"1": "B", "2": "A", "tie": "tie"}}


def _detect(records: Sequence[Record]) -> tuple[PeerProtocol, Mode] | None:
    for record in records[:20]:
        keys = record.fields
        if "preference" in keys and ("generator_2" in keys or "output_2" in keys):
            return "alpaca_eval", "pairwise"
        if "games" in keys:
            return "arenahard", "pairwise"
        if "g1_winner" in keys or "g2_winner" in keys:
            return "mtbench", "pairwise"
        if "question_id" in keys and "model" in keys and "score" in keys:
            return "mtbench", "single"
        if "id" in keys and ("winner" in keys or "output" in keys):
            return "jsonl", "pairwise"
    return None


def _array_starts(data: bytes) -> tuple[int, ...] | None:
    """The line each record of a JSON array starts on; None when the text is not one (it was read already, so this
    only fails for text `read_records` reported)."""
    try:
        text = data.decode("utf-8-sig")
        decoder = json.JSONDecoder()
        position = text.index("[") + 1
        starts: list[int] = []
        line, counted = 1, 0
        while True:
            while position < len(text) and text[position] in " \t\r\n,":
                position += 1
            if position >= len(text) or text[position] == "]":
                return tuple(starts)
            line += text.count("\n", counted, position)
            counted = position
            starts.append(line)
            _, position = decoder.raw_decode(text, position)
    except (ValueError, RecursionError):
        return None


def _jsonl_form(judge_format: JudgeFormat | None, lang: str) -> Callable[[Reading], None]:
    def read(reading: Reading) -> None:
        for record in reading.records:
            game, task, errors = _jsonl_game(record, judge_format, lang)
            if game is None or task is None:
                reading.problems.append(reading.lines.problem(record.line, "; ".join(errors) + "; skipped", task))
                continue
            reading.pairs.append(PairJudgement(record.line, (game,), None, task=task))
    return read


def _jsonl_game(record: Record, judge_format: JudgeFormat | None, lang: str,
                ) -> tuple[Game | None, str | None, list[str]]:
    """One line of judgedesk's JSONL: its game in the pair's own labels, its pair id, and what is wrong."""
    row = record.fields
    f = FieldReader(row)
    task = f.ident("id")
    if task is None and not f.errors:
        f.errors.append("missing field 'id'")
    order = str(row.get("order", "AB"))
    if order not in ("AB", "BA"):
        f.errors.append(f"order {order!r} is not AB or BA")
    reason = row.get("reason") if isinstance(row.get("reason"), str) else None
    if f.errors:
        return None, task, f.errors
    first_shown = 0 if order == "AB" else 1
    if "winner" in row:
        value = str(row["winner"]).strip()
        winner = parse_ab_label(value)
        if winner is None:
            return None, task, [f"winner {value!r} is not A, B or tie"]
        return Game(first_shown, winner, Status.OK, str(row.get("output", "")), reason), task, []
    if "output" not in row or judge_format is None:
        return None, task, ["needs 'winner', or 'output' together with --format"]
    output = str(row["output"])
    parsed = judge_format.parse_pairwise(output, lang)
    listed = _SHOWN_TO_LISTED[order]
    winner = listed[parsed.winner] if parsed.winner else None
    strength = parsed.strength
    if strength is not None and order == "BA":
        strength = swap_strength(strength)
    return Game(first_shown, winner, Status.OK if winner else Status.UNPARSED, output, parsed.reason,
                strength=strength if winner else None), task, []


def read_judgement_file(path: str | os.PathLike[str], *, judge_format: JudgeFormat | None = None,
                        lang: str = "en") -> JudgementFile:
    """One file of judgements, in whichever layout it has; never raises for bad content.

    judge_format, lang: parse the raw `output` of judgedesk's JSONL form with this format (the others carry their
        verdicts already).
    """
    source = Path(path)
    lines = FileLines(str(source))
    try:
        data = source.read_bytes()
    except OSError as exc:
        reason = "a folder: give the judgement files in it" if source.is_dir() else \
            f"cannot read the file ({exc.strerror or exc})"
        return JudgementFile(source, lines, "", None, None, (), (), (lines.problem(None, f"{reason}; file skipped"),))
    sha256 = hashlib.sha256(data).hexdigest()
    read = read_records(source, lines.shown)
    if read.unit == "record":
        lines = FileLines(lines.shown, _array_starts(data))
    problems = [lines.problem(problem.line, problem.reason, problem.item) for problem in read.problems]
    detected = _detect(read.records) if read.skipped is None else None
    if detected is None:
        if read.skipped is None:
            names = ", ".join(repr(name) for name in list(read.records[0].fields)[:12]) if read.records else "none"
            problems.append(lines.problem(None, f"not a file of judgements (the first record has {names}); file "
                                                f"skipped. {JUDGEMENT_LAYOUTS}"))
        return JudgementFile(source, lines, sha256, None, None, (), (), tuple(problems))
    protocol, mode = detected
    reading = Reading(lines, read.records, problems=problems)
    readers: dict[tuple[str, str], Callable[[Reading], None]] = {
        ("alpaca_eval", "pairwise"): read_alpaca_eval, ("arenahard", "pairwise"): read_arenahard,
        ("mtbench", "pairwise"): read_mtbench_pairs, ("mtbench", "single"): read_mtbench_single,
        ("jsonl", "pairwise"): _jsonl_form(judge_format, lang)}
    readers[detected](reading)
    reading.problems.sort(key=lambda problem: problem.line or 0)
    return JudgementFile(source, lines, sha256, protocol, mode, tuple(reading.pairs), tuple(reading.grades),
                         tuple(reading.problems), tuple(reading.judges), tuple(reading.baselines))
