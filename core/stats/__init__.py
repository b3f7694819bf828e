"""Statistics over judged pairs: head-to-head win rates, Bradley–Terry ratings, the judge's own behaviour, and
agreement with human labels.

Everything takes plain data (a list of `Outcome` records, or label sequences) and returns frozen result records
with a JSON-safe `to_dict()`. Functions are pure, do no I/O, and every bootstrap is seeded and resamples items,
so the same input gives the same numbers.
"""

from __future__ import annotations

from ._agreement import Agreement, OrderAgreement, agreement, order_agreement
from ._behaviour import JudgeBehaviour, judge_behaviour
from ._bradley_terry import ModelRating, Ratings, bradley_terry
from ._outcome import Outcome
from ._winrates import PairSummary, WinRateMatrix, by_category, pair_summary, win_rate_matrix

__all__ = [
    "Agreement",
    "JudgeBehaviour",
    "ModelRating",
    "OrderAgreement",
    "Outcome",
    "PairSummary",
    "Ratings",
    "WinRateMatrix",
    "agreement",
    "bradley_terry",
    "by_category",
    "judge_behaviour",
    "order_agreement",
    "pair_summary",
    "win_rate_matrix",
]
