"""Statistics over judged pairs: head-to-head win rates, Bradley–Terry ratings, the judge's own behaviour, and
agreement with human labels; and the figures as AlpacaEval, Arena-Hard and MT-bench compute them.

Everything takes plain data (a list of `Outcome` records, or label sequences) and returns frozen result records
with a JSON-safe `to_dict()`. Functions are pure, do no I/O, and every bootstrap is seeded and resamples items,
so the same input gives the same numbers. An estimate from fewer than `MIN_GAMES_FOR_INTERVAL` games, or whose
redraws do not vary, carries its n and the reason it has no interval instead of a point-wide one.
"""

from __future__ import annotations

from ._agreement import Agreement, OrderAgreement, agreement, order_agreement
from ._alpaca_eval import (
    ALPACA_EVAL_CSV_COLUMNS,
    AlpacaEvalAnnotation,
    AlpacaEvalRow,
    alpaca_eval_csv,
    alpaca_eval_leaderboard,
    alpaca_eval_row,
)
from ._arena_hard import ARENA_HARD_VERDICTS, ArenaHardBattle, ArenaHardScore, ArenaHardScores, arena_hard_scores
from ._arena_hard_style import AnswerStyle, answer_style
from ._behaviour import JudgeBehaviour, judge_behaviour
from ._bootstrap import MIN_GAMES_FOR_INTERVAL, BootstrapInterval, bootstrap_interval, too_few_games
from ._bradley_terry import ModelRating, Ratings, UnratedModel, bradley_terry
from ._calibrated_bradley_terry import CalibratedRating, CalibratedRatings, calibrated_bradley_terry
from ._calibration import (
    POPULATIONS,
    CalibratedWinRate,
    Population,
    WinRateEstimate,
    calibrated_pair_win_rate,
    calibrated_win_rate,
    judge_score,
)
from ._fleiss import FleissKappa, fleiss_kappa
from ._mt_bench import (
    MtBenchGrade,
    MtBenchModelScore,
    MtBenchPair,
    MtBenchPairwise,
    MtBenchWinRate,
    mt_bench_scores,
    mt_bench_win_rates,
)
from ._outcome import Outcome
from ._winrates import PairSummary, WinRateMatrix, by_category, pair_summary, win_rate_matrix

__all__ = [
    "ALPACA_EVAL_CSV_COLUMNS",
    "ARENA_HARD_VERDICTS",
    "MIN_GAMES_FOR_INTERVAL",
    "POPULATIONS",
    "Agreement",
    "AlpacaEvalAnnotation",
    "AlpacaEvalRow",
    "AnswerStyle",
    "ArenaHardBattle",
    "ArenaHardScore",
    "ArenaHardScores",
    "BootstrapInterval",
    "CalibratedRating",
    "CalibratedRatings",
    "CalibratedWinRate",
    "FleissKappa",
    "JudgeBehaviour",
    "ModelRating",
    "MtBenchGrade",
    "MtBenchModelScore",
    "MtBenchPair",
    "MtBenchPairwise",
    "MtBenchWinRate",
    "OrderAgreement",
    "Outcome",
    "PairSummary",
    "Population",
    "Ratings",
    "UnratedModel",
    "WinRateEstimate",
    "WinRateMatrix",
    "agreement",
    "alpaca_eval_csv",
    "alpaca_eval_leaderboard",
    "alpaca_eval_row",
    "answer_style",
    "arena_hard_scores",
    "bootstrap_interval",
    "bradley_terry",
    "by_category",
    "calibrated_bradley_terry",
    "calibrated_pair_win_rate",
    "calibrated_win_rate",
    "fleiss_kappa",
    "judge_behaviour",
    "judge_score",
    "mt_bench_scores",
    "mt_bench_win_rates",
    "order_agreement",
    "pair_summary",
    "too_few_games",
    "win_rate_matrix",
]
