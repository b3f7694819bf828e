"""The Results view's "Leaderboards and calibration" tab: calibrated win rates, a jury's figures, the figures as
AlpacaEval, Arena-Hard and MT-bench compute them, and the judge's agreement with other judges' runs of the same
items, one table each (only those the run has)."""

from __future__ import annotations

from typing import Any

from judgedesk.core.reports import estimate_text, rating_text
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QScrollArea,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ._widgets import fill_table

__all__ = ["ProtocolTables", "has_protocol_figures"]

_KEYS = ("calibration", "leaderboard", "arena_hard", "mt_bench", "peer_agreement", "jury")


def has_protocol_figures(summary: dict[str, Any]) -> bool:
    """Whether the summary holds any figure this tab shows."""
    return any(summary.get(key) for key in _KEYS)


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _interval(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "–"
    if entry.get("ci_low") is None:
        return entry.get("no_interval") or "–"
    return f"{entry['ci_low']:.1f} – {entry['ci_high']:.1f}"


class _Section(QWidget):
    """A bold title, a note, and a read-only table sized to its rows."""

    def __init__(self, name: str, title: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.title = QLabel(title)
        self.title.setStyleSheet("font-weight: bold")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(mid)")
        self.table = QTableWidget(0, 0)
        self.table.setObjectName(f"{name}Table")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.addWidget(self.title)
        layout.addWidget(self.note)
        layout.addWidget(self.table)

    def fill(self, title: str, note: str, headers: list[str], rows: list[list[str]]) -> None:
        self.title.setText(title)
        self.note.setText(note)
        self.note.setVisible(bool(note))
        fill_table(self.table, headers, rows, right_from=1, height=(50, 360))
        self.setVisible(bool(rows))

    def cells(self) -> list[list[str]]:
        """The table's text, row by row (what a test or a screen reader reads)."""
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]


class ProtocolTables(QScrollArea):
    """Every ecosystem table of one run's summary."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.leaderboard = _Section("alpacaEvalLeaderboard", "AlpacaEval leaderboard")
        self.arena_hard = _Section("arenaHardScores", "Arena-Hard scores")
        self.mt_bench_scores = _Section("mtBenchScores", "MT-bench scores")
        self.mt_bench_win_rates = _Section("mtBenchWinRates", "MT-bench win rates")
        self.peer_agreement = _Section("peerAgreement", "Agreement with other judges")
        self.jury = _Section("juryFigures", "Jury")
        self.calibration = _Section("calibratedWinRates", "Calibrated win rates")
        self.calibrated_ratings = _Section("calibratedRatings", "Calibrated ratings")
        body = QWidget()
        layout = QVBoxLayout(body)
        for section in self.sections:
            layout.addWidget(section)
            section.hide()
        layout.addStretch(1)
        self.setObjectName("protocolTables")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(body)

    @property
    def sections(self) -> tuple[_Section, ...]:
        return (self.calibration, self.calibrated_ratings, self.jury, self.leaderboard, self.arena_hard,
                self.mt_bench_scores, self.mt_bench_win_rates, self.peer_agreement)

    def show_summary(self, summary: dict[str, Any]) -> None:
        """Fill the sections the summary has figures for; hide the others."""
        self._leaderboard(summary)
        self._arena_hard(summary.get("arena_hard") or {})
        self._mt_bench(summary.get("mt_bench") or {})
        self._peers(summary.get("peer_agreement") or [])
        self._jury(summary.get("jury") or {})
        self._calibration(summary.get("calibration") or {})
        self._calibrated_ratings(summary)

    def _leaderboard(self, summary: dict[str, Any]) -> None:
        rows = summary.get("leaderboard") or []
        baseline = rows[0]["baseline"] if rows else ""
        self.leaderboard.fill(
            f"AlpacaEval leaderboard · against {baseline}",
            f"AlpacaEval's columns: win rate = mean preference × 100 (preferences: "
            f"{summary.get('leaderboard_preference', '')}), wins, baseline wins, draws, n, the discrete win rate, "
            "the mean output length (characters) and the length-controlled win rate (AlpacaEval's GLM without "
            "its downloaded instruction-difficulty table).",
            ["model", "win rate", "± s.e.", "wins", "baseline wins", "draws", "n", "discrete", "avg length",
             "length-controlled", "± s.e."],
            [[r["model"], _num(r["win_rate"]), _num(r["standard_error"]), str(r["n_wins"]), str(r["n_wins_base"]),
              str(r["n_draws"]), str(r["n_total"]), _num(r["discrete_win_rate"]), str(r["avg_length"]),
              _num(r["length_controlled_winrate"]), _num(r["lc_standard_error"])] for r in rows])

    def _arena_hard(self, arena: dict[str, Any]) -> None:
        scores = (arena.get("scores") or {}).get("scores") or []
        styled = {m["model"]: m for m in ((arena.get("style_controlled") or {}).get("scores") or [])}
        note = arena.get("no_scores") or (
            f"Arena-Hard's method: {arena.get('battles', 0)} battles (every judged order), a strong verdict "
            "counting 3 times; Bradley–Terry against the baseline; 95% bootstrap interval. Style control adds the "
            "answers' length and markdown as covariates.")
        self.arena_hard.fill(
            f"Arena-Hard scores · against {arena.get('baseline', '')}", note,
            ["model", "score", "95% interval", "style-controlled", "95% interval", "battles (n)"],
            [[m["model"], _num(m["score"], 1), _interval(m),
              _num(styled[m["model"]]["score"], 1) if m["model"] in styled else "–",
              _interval(styled.get(m["model"])), str(m["battles"])] for m in scores])
        if arena.get("no_scores"):
            self.arena_hard.show()

    def _mt_bench(self, table: dict[str, Any]) -> None:
        scores = table.get("scores") or []
        turns = sorted({int(turn) for m in scores for turn in m["turns"]})
        self.mt_bench_scores.fill(
            "MT-bench scores", "Mean score per model per turn and over all graded turns (n).",
            ["model", *(f"turn {t}" for t in turns), "average", "n"],
            [[m["model"], *(_num(m["turns"].get(str(t))) for t in turns), _num(m["average"]), str(m["n"])]
             for m in scores])
        win_rates = table.get("win_rates") or {}
        groups = [("all", win_rates.get("overall") or [])]
        groups += [(f"turn {turn}", rows) for turn, rows in (win_rates.get("by_turn") or {}).items()]
        self.mt_bench_win_rates.fill(
            "MT-bench win rates", table.get("no_win_rates") or
            "FastChat's table: two orders that disagree count as a tie; adjusted = (wins + ½ ties) / n.",
            ["turn", "model", "wins", "losses", "ties", "win rate", "loss rate", "adjusted"],
            [[name, m["model"], str(m["wins"]), str(m["losses"]), str(m["ties"]), _pct(m["win_rate"]),
              _pct(m["loss_rate"]), _pct(m["win_rate_adjusted"])] for name, rows in groups for m in rows])

    def _calibration(self, calibration: dict[str, Any]) -> None:
        note = ("What the analysts would have found had they labelled every pair: the judge's verdicts on all N "
                "pairs corrected by the human labels on n of them (PPI++). Judge only describes the judge's noise, "
                "not its bias; labels only is valid but wide; calibrated is valid whatever the judge's bias. "
                f"Labels: {calibration.get('label_source', '')}.")
        if calibration.get("assumption"):
            note += f" Note: {calibration['assumption']}."
        self.calibration.fill(
            f"Calibrated win rates · judge + {calibration.get('labelled', 0)} human labels", note,
            ["model A", "model B", "judge only (N)", "labels only (n)", "calibrated", "effective n"],
            [[p["model_a"], p["model_b"], f"{estimate_text(p['judge_only'])} (N = {p['N']})",
              f"{estimate_text(p['labels_only'])} (n = {p['n']})", estimate_text(p["calibrated"]),
              _num(p["calibrated"].get("effective_n"), 0)] for p in calibration.get("pairs") or []])

    def _calibrated_ratings(self, summary: dict[str, Any]) -> None:
        calibration = summary.get("calibration") or {}
        ratings = calibration.get("ratings") or {}
        judge = {m["model"]: m for m in (summary.get("ratings") or {}).get("models") or []}
        labels = {m["model"]: m for m in (calibration.get("ratings_labels_only") or {}).get("models") or []}
        self.calibrated_ratings.fill(
            f"Calibrated ratings · Bradley–Terry, anchored at {ratings.get('anchor')} = 1000",
            ratings.get("no_fit") or "The judge's own ratings, the labelled pairs' alone, and calibrated (PPI++).",
            ["model", "judge only", "labels only", "calibrated", "labelled games"],
            [[m["model"], rating_text(judge.get(m["model"])), rating_text(labels.get(m["model"])), rating_text(m),
              str(m["labelled_games"])] for m in ratings.get("models") or []])
        if ratings.get("no_fit"):
            self.calibrated_ratings.show()

    def _jury(self, jury: dict[str, Any]) -> None:
        fleiss = jury.get("fleiss") or {}
        note = (f"Fleiss' κ {_num(fleiss.get('kappa'), 3)} over {fleiss.get('n_items', 0)} items with a decision "
                f"from every judge: how far the judges agree with one another." if fleiss else "")
        rows = []
        for m in jury.get("members") or []:
            with_jury, with_humans = m.get("agreement_with_jury") or {}, m.get("agreement_with_humans") or {}
            rows.append([m["name"], _pct(with_jury.get("accuracy")), _num(with_jury.get("kappa"), 3),
                         _pct(with_humans.get("accuracy")), _num(with_humans.get("kappa"), 3)])
        if jury.get("jury_agreement_with_humans"):
            own = jury["jury_agreement_with_humans"]
            rows.append(["the jury", "–", "–", _pct(own.get("accuracy")), _num(own.get("kappa"), 3)])
        self.jury.fill(f"Jury · {jury.get('method', '')} of {len(jury.get('members') or [])} judges", note,
                       ["judge", "with the jury", "κ", "with humans", "κ"], rows)

    def _peers(self, peers: list[dict[str, Any]]) -> None:
        rows = []
        for peer in peers:
            for name, key in (("first order", "first_order"), ("second order", "second_order"),
                              ("final decision", "final_decision")):
                a = peer.get(key)
                if a:
                    rows.append([peer["label"], name, str(a["n"]), _pct(a["accuracy"]), _num(a["f1"], 3),
                                 _num(a["kappa"], 3)])
        self.peer_agreement.fill(
            "Agreement with other judges on the same items",
            "This run's verdicts against another run of the same items in this folder (e.g. imported "
            "judgements), taken as the labels.",
            ["other judge", "verdicts", "n", "accuracy", "macro F1", "Cohen's κ"], rows)
