"""A run's figures as the ecosystem's projects compute them: AlpacaEval's leaderboard, Arena-Hard's scores and
MT-bench's per-turn tables, from the verdicts stored in the run (imported judgements or a local judge's).

Which figures a run gets:
- `leaderboard` (AlpacaEval): a pairwise run with a baseline — given (`--baseline`), recorded by the import, or the
  one model every pair holds. Each pair's preference is, in this order: the annotator's published preference
  (imported AlpacaEval annotations); else the judge's own probabilities averaged over the judged orders
  (P(model wins) + ½ P(tie), the analogue of AlpacaEval's weighted annotator); else its decision (1, ½ for a tie or
  an inconsistent pair, 0). An unparsed pair has no preference and is dropped, as AlpacaEval drops one.
- `arena_hard`: a pairwise run with a baseline whose verdicts grade the margin (the `arenahard` format, imported
  Arena-Hard games): every judged order is one battle, a strong verdict counting 3 times, with and without style
  control (length and markdown).
- `mt_bench`: a run with conversations (or the `mtbench` format, or imported MT-bench judgements): mean score per
  model per turn for grading runs; win rates per turn for pairwise runs judged in both orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._records import winner_probabilities
from ..stats import (
    AlpacaEvalAnnotation,
    ArenaHardBattle,
    MtBenchGrade,
    MtBenchPair,
    alpaca_eval_leaderboard,
    answer_style,
    arena_hard_scores,
    mt_bench_scores,
    mt_bench_win_rates,
)
from ._results import ResultRow, RunResults

__all__ = ["protocol_figures", "run_baseline"]

_STYLE_CONTROL = ("length", "markdown")
_ARENA_HARD_ROUNDS = 100
"""Arena-Hard's own number of bootstrap rounds."""
_WINNER_VERDICT = {"A": "A>B", "B": "B>A", "tie": "A=B"}
_FASTCHAT_WINNER = {"A": "model_1", "B": "model_2", "tie": "tie"}


def run_baseline(results: RunResults, baseline: str | None = None, *, infer: bool = True) -> str | None:
    """The run's baseline: `baseline` when it is one of its models, else the one the import recorded, else (with
    `infer`) the model every pair holds (a run paired against a baseline); None when there is none."""
    pairs = [row.task for row in results.rows if row.task.model_b is not None]
    models = {m for task in pairs for m in (task.model_a, task.model_b)}
    for candidate in (baseline, results.info.settings.get("baseline")):
        if candidate in models:
            return candidate
    if not pairs or not infer:
        return None
    common = {pairs[0].model_a, pairs[0].model_b}
    for task in pairs[1:]:
        common &= {task.model_a, task.model_b}
    # Two models face each other in every pair: the second (model_b, where a baseline goes) is the baseline.
    return pairs[0].model_b if pairs[0].model_b in common else (next(iter(common)) if common else None)


def protocol_figures(results: RunResults, *, baseline: str | None = None, rounds: int = 1000,
                     seed: int = 0) -> dict[str, Any]:
    """The summary's `leaderboard`, `arena_hard` and `mt_bench` entries that apply to `results` (see the module
    docstring)."""
    figures: dict[str, Any] = {}
    anchor = run_baseline(results, baseline) if results.info.mode == "pairwise" else None
    if anchor is not None:
        rows, source = _leaderboard(results, anchor, rounds=rounds, seed=seed)
        if rows:
            figures["leaderboard"] = rows
            figures["leaderboard_preference"] = source
        if _grades_margin(results):
            figures["arena_hard"] = _arena_hard(results, anchor, seed=seed)
    if _is_mt_bench(results):
        # FastChat tables all pairs unless a baseline is named ("pairwise-baseline"): no guessing one here.
        figures["mt_bench"] = _mt_bench(results, run_baseline(results, baseline, infer=False))
    return figures


# -- AlpacaEval ------------------------------------------------------------------------------------------------

def _leaderboard(results: RunResults, baseline: str, *, rounds: int, seed: int) -> tuple[list[dict[str, Any]], str]:
    annotations = []
    sources = set()
    for row in results.rows:
        task = row.task
        if task.model_b is None or baseline not in (task.model_a, task.model_b) or task.model_a == task.model_b:
            continue
        model_side = "A" if task.model_b == baseline else "B"
        preference, source = _preference(row, results.info.orders, model_side)
        if preference is None:
            continue
        sources.add(source)
        responses = task.payload["responses"]
        model_text, baseline_text = (responses[0], responses[1]) if model_side == "A" else (responses[1], responses[0])
        model = task.model_a if model_side == "A" else task.model_b
        annotations.append(AlpacaEvalAnnotation(generator_1=baseline, generator_2=model, output_1=baseline_text,
                                                output_2=model_text, preference=preference))
    if not annotations:
        return [], ""
    rows = alpaca_eval_leaderboard(annotations, rounds=rounds, seed=seed)
    return [row.to_dict() for row in rows], " and ".join(sorted(sources))


def _preference(row: ResultRow, orders: tuple[str, ...], model_side: str) -> tuple[float | None, str]:
    """AlpacaEval's preference in [1, 2] that the model (not the baseline) wins, and where it came from."""
    records = [row.sides[side] for side in orders if side in row.sides]
    if len(records) < len(orders) or any(r.get("winner") is None for r in records):
        return None, ""
    published = [r["preference"] for r in records if r.get("preference") is not None]
    if published:
        return float(published[0]), "the annotator's published preferences"
    probabilities = [r.get("probabilities") for r in records]
    if all(probabilities):
        shares = []
        for p in probabilities:
            assert p is not None
            by_winner = winner_probabilities(p)
            shares.append(by_winner.get(model_side, 0.0) + 0.5 * by_winner.get("tie", 0.0))
        return 1.0 + sum(shares) / len(shares), "the judge's probabilities"
    decision = row.decision(orders)
    share = 1.0 if decision == model_side else 0.5 if decision in ("tie", "inconsistent") else 0.0
    return 1.0 + share, "the judge's decisions"


# -- Arena-Hard ------------------------------------------------------------------------------------------------

def _grades_margin(results: RunResults) -> bool:
    settings = results.info.settings
    if settings.get("format") == "arenahard" or settings.get("protocol") == "arenahard":
        return True
    return any(record.get("strength") for row in results.rows for record in row.sides.values())


def _arena_hard(results: RunResults, baseline: str, *, seed: int) -> dict[str, Any]:
    battles = []
    for row in results.rows:
        task = row.task
        if task.model_b is None:
            continue
        responses = task.payload["responses"]
        style_a, style_b = answer_style(responses[0]), answer_style(responses[1])
        for side in results.info.orders:
            record = row.sides.get(side)
            verdict = _verdict(record) if record is not None else None
            if verdict is not None:
                battles.append(ArenaHardBattle(model_a=task.model_a, model_b=task.model_b, verdict=verdict,
                                               item_id=task.item_id, style_a=style_a, style_b=style_b))
    if not battles or not any(baseline in (b.model_a, b.model_b) for b in battles):
        return {"baseline": baseline, "battles": len(battles), "no_scores": "no judged battle against the baseline"}
    plain = arena_hard_scores(battles, baseline=baseline, rounds=_ARENA_HARD_ROUNDS, seed=seed)
    styled = arena_hard_scores(battles, baseline=baseline, style_control=_STYLE_CONTROL, rounds=_ARENA_HARD_ROUNDS,
                               seed=seed)
    return {"baseline": baseline, "battles": len(battles), "scores": plain.to_dict(),
            "style_controlled": styled.to_dict()}


def _verdict(record: Mapping[str, Any]) -> str | None:
    strength = record.get("strength")
    if strength:
        return str(strength)
    winner = record.get("winner")
    return _WINNER_VERDICT.get(winner) if winner else None


# -- MT-bench --------------------------------------------------------------------------------------------------

def _turn(row: ResultRow) -> int:
    return len(row.task.payload.get("history") or ()) + 1


def _is_mt_bench(results: RunResults) -> bool:
    settings = results.info.settings
    if settings.get("format") == "mtbench" or settings.get("protocol") == "mtbench":
        return True
    return any(_turn(row) > 1 for row in results.rows)


def _mt_bench(results: RunResults, baseline: str | None) -> dict[str, Any]:
    if results.info.mode == "single":
        grades = [MtBenchGrade(model=row.task.model_a, turn=_turn(row), score=row.score, question_id=row.task.item_id)
                  for row in results.rows if "single" in row.sides]
        return {"scores": [score.to_dict() for score in mt_bench_scores(grades)]}
    if "BA" not in results.info.orders:
        return {"no_win_rates": "MT-bench's win rates need both orders; this run judged one"}
    pairs = []
    for row in results.rows:
        if row.task.model_b is None or not all(side in row.sides for side in ("AB", "BA")):
            continue
        pairs.append(MtBenchPair(model_1=row.task.model_a, model_2=row.task.model_b, turn=_turn(row),
                                 g1_winner=_FASTCHAT_WINNER.get(row.winner("AB") or "", "error"),
                                 g2_winner=_FASTCHAT_WINNER.get(row.winner("BA") or "", "error"),
                                 question_id=row.task.item_id))
    return {"win_rates": mt_bench_win_rates(pairs, baseline=baseline).to_dict()}

