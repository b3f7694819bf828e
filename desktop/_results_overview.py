"""The Results view's overview: a run's figures painted from its summary (ranking with intervals, the win-rate heat
map, judge behaviour, agreement, the per-pair and per-category table).

Every figure shows its n; where core gave no interval the reason stands in its place ("too few games for an
interval"), the models left out of the ranking are named with theirs, and the judge-behaviour panel says that
"Inconsistent as tie" never changes it (core computes it from the judge's own decisions).
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QLabel,
    QScrollArea,
    QTableWidget,
    QWidget,
)

from ._charts import BarRow, HeatMapChart, IntervalChart, IntervalRow, PercentBarChart
from ._widgets import fill_table, format_percent

__all__ = ["ResultsOverview"]

BEHAVIOUR_NOTES = ["What the judge did, whatever 'Inconsistent as tie' says: that option changes",
                   "only the ranking, the win-rate heat map and the pairs' win rates."]
"""Under the judge-behaviour panel: which figures the option changes (core's options.inconsistent_as_tie_changes)."""
BEHAVIOUR_NOTES_AS_TIE = ["What the judge did: 'Inconsistent as tie' (on) changes only the ranking,",
                          "the win-rate heat map and the pairs' win rates; inconsistent stays inconsistent here."]


def _short_reason(reason: str) -> str:
    """Core's reason for a missing interval, short enough for a chart's value column beside its n: 'too few games
    for an interval (n = 4)' -> 'too few games', 'the anchor: 1000 by definition' -> 'anchor' (the tooltip and the
    table keep the whole reason)."""
    reason = re.sub(r" \(n = \d+\)$", "", reason).removeprefix("no interval: ").replace(" for an interval", "")
    return "anchor" if reason.startswith("the anchor") else reason


def _win_rate_text(pair: dict[str, Any]) -> str:
    if pair.get("win_rate") is None:
        return "–"
    return f"{format_percent(pair['win_rate'])} (n = {pair.get('games', '?')})"


def _interval_text(entry: dict[str, Any]) -> str:
    """The interval, else the reason there is none, else a dash (no estimate at all)."""
    if entry.get("ci_low") is not None and entry.get("ci_high") is not None:
        return f"{format_percent(entry['ci_low'])} – {format_percent(entry['ci_high'])}"
    return str(entry.get("no_interval") or "–")


def _rating_note(entry: dict[str, Any], games_key: str) -> str:
    """'n = 40', with the reason when there is no interval: 'n = 1 · too few games'."""
    note = f"n = {entry[games_key]}"
    if entry.get("ci_low") is None and entry.get("no_interval"):
        note += f" · {_short_reason(entry['no_interval'])}"
    return note


def _calibrated_text(pair: dict[str, Any]) -> str:
    """'62.0% [55.1%, 68.9%] (n = 50)', or the estimate with the reason it has no interval."""
    estimate = pair["calibrated"]
    if estimate.get("estimate") is None:
        return estimate.get("no_interval") or "–"
    if estimate.get("ci_low") is None:
        return f"{estimate['estimate']:.1%} · {_short_reason(estimate.get('no_interval') or '')} (n = {pair['n']})"
    return f"{estimate['estimate']:.1%} [{estimate['ci_low']:.1%}, {estimate['ci_high']:.1%}] (n = {pair['n']})"


class ResultsOverview(QScrollArea):
    """The charts and tables of one run's summary, in a scroll area."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ranking_chart = IntervalChart("Ranking · Bradley–Terry rating (Elo scale)", axis_label="rating")
        self.ranking_chart.setObjectName("rankingChart")
        self.ranking_chart.empty_text = "No decisive verdicts to rank yet"
        self.grades_chart = IntervalChart("Mean score per model", value_format="{:.2f}", axis_label="score")
        self.grades_chart.setObjectName("gradesChart")
        self.heat_map = HeatMapChart()
        self.heat_map.setObjectName("winRateMatrix")
        self.behaviour_chart = PercentBarChart("Judge behaviour", reference_label="dashed: no bias (50%)")
        self.behaviour_chart.setObjectName("behaviourChart")
        self.behaviour_chart.set_notes(BEHAVIOUR_NOTES)
        self.agreement_chart = PercentBarChart("Agreement")
        self.agreement_chart.setObjectName("agreementChart")
        self.agreement_chart.empty_text = "No human labels, overrides or other judges' runs of these items"
        self.category_table = QTableWidget(0, 0)
        self.category_table.setObjectName("categoryTable")
        self.category_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.category_table.verticalHeader().setVisible(False)
        self.category_table.horizontalHeader().setStretchLastSection(False)
        self.category_table.setMinimumHeight(160)
        self.category_title = QLabel("Per category")
        self.category_title.setStyleSheet("font-weight: bold")

        body = QWidget()
        grid = self._grid = QGridLayout(body)
        top = Qt.AlignmentFlag.AlignTop
        grid.addWidget(self.ranking_chart, 0, 0, top)
        grid.addWidget(self.grades_chart, 0, 0, top)
        grid.addWidget(self.heat_map, 0, 1, top)
        grid.addWidget(self.behaviour_chart, 1, 0, top)
        grid.addWidget(self.agreement_chart, 1, 1, top)
        grid.addWidget(self.category_title, 2, 0, 1, 2)
        grid.addWidget(self.category_table, 3, 0, 1, 2)
        grid.setRowStretch(4, 1)
        for column in (0, 1):
            grid.setColumnStretch(column, 1)
        grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.setObjectName("chartsArea")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(body)
        self.grades_chart.hide()

    def set_mode(self, single: bool) -> None:
        """Arrange the charts for a pairwise run or a single-grading run."""
        # The agreement chart takes the free place next to the first chart.
        self._grid.removeWidget(self.agreement_chart)
        self._grid.addWidget(self.agreement_chart, *((0, 1) if single else (1, 1)), Qt.AlignmentFlag.AlignTop)

    def show_summary(self, summary: dict[str, Any], *, single: bool, inconsistent_as_tie: bool) -> None:
        """Paint `summary` (build_summary's dictionary; empty = no figures yet)."""
        self.ranking_chart.setVisible(not single)
        self.heat_map.setVisible(not single)
        self.behaviour_chart.setVisible(not single)
        self.grades_chart.setVisible(single)
        if single:
            grades = summary.get("grades") or {}
            scale = grades.get("scale")
            self.grades_chart.set_rows(
                [IntervalRow(m["model"], m["mean"], m["ci_low"], m["ci_high"], _rating_note(m, "n"))
                 for m in grades.get("models") or []], bounds=tuple(scale) if scale else None)
            categories = grades.get("categories") or {}
            counts = grades.get("category_n") or {}
            self._fill_table(["category", "model", "mean score (n)"],
                             [[cat, model, f"{mean:.2f} (n = {counts.get(cat, {}).get(model, '?')})"]
                              for cat, per in categories.items() for model, mean in per.items()])
        else:
            ratings = summary.get("ratings") or {}
            self.ranking_chart.title = (f"Ranking · Bradley–Terry rating, anchored at {ratings['anchor']} = 1000"
                                        if ratings.get("anchor") else "Ranking · Bradley–Terry rating")
            self.ranking_chart.empty_text = "No decisive verdicts to rank yet"
            self.ranking_chart.set_notes([f"Not ranked: {m['model']}: {m['reason']}"
                                          for m in ratings.get("unrated") or []])
            self.ranking_chart.set_rows(
                [IntervalRow(m["model"], m["rating"], m["ci_low"], m["ci_high"], _rating_note(m, "games"))
                 for m in ratings.get("models") or []], reference=1000.0 if ratings.get("models") else None)
            matrix = summary.get("win_rate_matrix") or {}
            min_games = (summary.get("options") or {}).get("min_games_for_interval", 0)
            self.heat_map.set_matrix(matrix.get("models") or [], matrix.get("rates") or [], matrix.get("games"),
                                     min_games=min_games)
            self.behaviour_chart.set_notes(BEHAVIOUR_NOTES_AS_TIE if inconsistent_as_tie else BEHAVIOUR_NOTES)
            self.behaviour_chart.set_rows(self._behaviour_rows(summary.get("judge_behaviour")))
            rows = [["(all)", p] for p in summary.get("pairs") or []]
            rows += [[name, p] for name, pairs in (summary.get("categories") or {}).items() for p in pairs]
            headers = ["category", "model A", "model B", "pairs", "A wins", "B wins", "ties", "inconsistent",
                       "A's win rate (n games)", "95% interval"]
            table = [[name, p["model_a"], p["model_b"], str(p["n"]), str(p.get("wins", "")),
                      str(p.get("losses", "")), str(p.get("ties", "")), str(p.get("inconsistent", "")),
                      _win_rate_text(p), _interval_text(p)] for name, p in rows]
            calibration = summary.get("calibration") or {}
            if calibration:
                # Beside the judge's own interval: the humans' win rate, calibrated by the labelled sample.
                calibrated = {(c["model_a"], c["model_b"]): c for c in calibration.get("pairs") or []}
                headers.append("calibrated by labels (n)")
                for (name, p), cells in zip(rows, table, strict=True):
                    c = calibrated.get((p["model_a"], p["model_b"])) if name == "(all)" else None
                    cells.append(_calibrated_text(c) if c else "")
            self._fill_table(headers, table)
        self.agreement_chart.set_rows(self._agreement_rows(summary.get("agreement") or {}, single)
                                      + self._peer_rows(summary.get("peer_agreement") or []))

    @staticmethod
    def _behaviour_rows(b: dict[str, Any] | None) -> list[BarRow]:
        if not b or not b.get("n"):
            return []
        return [
            BarRow("Position consistency", b["position_consistency"], f"{b['consistent']} of {b['both_orders']}"),
            BarRow("First-position preference", b["first_position_preference"],
                   f"first shown won {b['first_shown_won']} of {b['order_verdicts']}", reference=0.5),
            BarRow("Length preference", b["length_preference"],
                   f"longer won {b['longer_won']} of {b['length_decided']}", reference=0.5),
            BarRow("Ties", b["tie_rate"], f"{b['ties']} of {b['n']}"),
            BarRow("Inconsistent", b["inconsistent_rate"], f"{b['inconsistent']} of {b['n']}"),
            BarRow("Unparsed", b["unparsed_rate"], f"{b['unparsed']} of {b['n']}"),
        ]

    @staticmethod
    def _agreement_rows(agreement: dict[str, Any], single: bool) -> list[BarRow]:
        rows = []

        def kappa(a: dict[str, Any]) -> str:
            return "" if a.get("kappa") is None else f" · κ {a['kappa']:.2f}"

        if "final_decision" in agreement:
            final = agreement["final_decision"]
            rows.append(BarRow("Human labels · final decision", final["accuracy"],
                               f"{final['correct']} of {final['n']}{kappa(final)}"))
            first = agreement["first_order"]
            rows.append(BarRow("Human labels · first order", first["accuracy"],
                               f"{first['correct']} of {first['n']}{kappa(first)}"))
        if "both_orders" in agreement:
            both = agreement["both_orders"]
            rows.append(BarRow("Human labels · right in both orders", both["agreement"],
                               f"{both['correct_both']} of {both['n']}"))
        overrides = agreement.get("overrides")
        if overrides and single:
            mad = overrides["mean_absolute_difference"]
            rows.append(BarRow("Overrides · same score", overrides["exact"],
                               f"{overrides['n']} compared" + ("" if mad is None else f" · mean |Δ| {mad:.2f}")))
        elif overrides:
            rows.append(BarRow("Overrides · final decision", overrides["accuracy"],
                               f"{overrides['correct']} of {overrides['n']} · {overrides['count']} overridden"
                               f"{kappa(overrides)}"))
        return rows

    @staticmethod
    def _peer_rows(peers: list[dict[str, Any]]) -> list[BarRow]:
        """Agreement with other judges' runs of the same items (imported judgements), beside the human labels'."""
        rows = []
        for peer in peers:
            final = peer["final_decision"]
            kappa = "" if final.get("kappa") is None else f" · κ {final['kappa']:.2f}"
            rows.append(BarRow(f"{peer['label']} · final decision", final["accuracy"],
                               f"{final['correct']} of {final['n']}{kappa}"))
        return rows

    def _fill_table(self, headers: list[str], rows: list[list[str]]) -> None:
        # Numbers from the fourth column on (the third in the three-column grades table).
        fill_table(self.category_table, headers, rows, right_from=2 if len(headers) == 3 else 3, height=(60, 420))
        self.category_title.setText("Model pairs and categories" if len(headers) > 3 else "Per category")
