"""Charts of the Results view, painted with QPainter (the Qt wheel the app uses has no QtCharts).

Each chart is a widget holding plain data; `paint(painter, rect)` draws it into any rectangle, so the same code
paints the widget and, in tests and screenshots, a `QImage` (`render_image`). Margins are measured from the
labels' own text width, so names are never clipped (a name too long for a third of the width is elided, with the
full name in the tooltip); every text painted shorter than it is (`cut_texts`) is added whole to the tooltip, so
nothing is cut without a way to read it. An empty chart says so instead of drawing empty axes.

Figures from few games must not look exact: an estimate without an interval is a hollow, dashed dot, a heat-map cell
holding fewer games than an interval needs is hatched, every cell writes its n, and a chart's notes (one line each,
under the body, e.g. the models left out of a ranking and why, wrapped to the chart's width) are painted with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

__all__ = ["BarRow", "Chart", "HeatMapChart", "IntervalChart", "IntervalRow", "PercentBarChart", "win_rate_colour"]

BACKGROUND = QColor("#ffffff")
INK = QColor("#1d2430")
MUTED = QColor("#5b6577")
GRID = QColor("#e3e8ef")
ACCENT = QColor("#1f5fa8")
BAR = QColor("#9cc0e6")
_HATCH = QColor(29, 36, 48, 110)
"""The hatching over a heat-map cell of too few games: the app's ink, translucent."""
_LOSE = QColor("#c0392b")
_WIN = QColor("#1f5fa8")
_PAD = 12.0


class Chart(QWidget):
    """A titled chart; subclasses paint the body and say whether they have data."""

    empty_text = "No data yet"

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.notes: list[str] = []
        """Lines painted under the body (also when there is no data), and repeated in the tooltip."""
        self._tip_lines: list[str] = []
        self.cut_texts: list[str] = []
        """The texts the last paint had to elide (each one is in the tooltip, whole)."""
        self._layout_width: float | None = None
        """The width to lay out for when it is not the widget's (an image of another width)."""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(360)

    def set_notes(self, notes: list[str]) -> None:
        """Lines to paint under the chart, e.g. the models left out of a ranking and why."""
        self.notes = list(notes)
        self._set_tooltip(self._tip_lines)
        self.refresh()

    def _set_tooltip(self, lines: list[str]) -> None:
        self._tip_lines = list(lines)
        self._show_tooltip()

    def _show_tooltip(self) -> None:
        lines = [*self._tip_lines, *self.notes]
        shown = "\n".join(lines)
        lines += [text for text in dict.fromkeys(self.cut_texts) if text not in shown]
        self.setToolTip("\n".join(lines))

    def _fit(self, metrics: QFontMetricsF, text: str, mode: Qt.TextElideMode, width: float) -> str:
        """`text` elided to `width`, remembered in `cut_texts` (and so in the tooltip) when it had to be."""
        fitted = metrics.elidedText(text, mode, width)
        if fitted != text:
            self.cut_texts.append(text)
        return fitted

    # -- subclass interface ---------------------------------------------------------------------------------

    def has_data(self) -> bool:
        """Whether there is anything to paint; every chart class answers for its own data."""
        raise NotImplementedError(f"{type(self).__name__} must say whether it has data")

    def body_height(self) -> float:
        """Height the body needs, in pixels."""
        return 60.0

    def paint_body(self, painter: QPainter, rect: QRectF) -> None:
        """Paint the chart below its title; every chart class paints its own kind."""
        raise NotImplementedError(f"{type(self).__name__} must paint its body")

    # -- painting -------------------------------------------------------------------------------------------

    def _title_font(self) -> QFont:
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(self.font().pointSizeF() * 1.1)
        return font

    def _title_height(self) -> float:
        return QFontMetricsF(self._title_font()).height() + _PAD

    def _width(self) -> float:
        """The width the chart is laid out for: the image's, else the widget's (640 before it has one)."""
        if self._layout_width is not None:
            return self._layout_width
        return float(self.width()) if self.width() >= 200 else 640.0

    def _note_lines(self, width: float) -> list[str]:
        """The notes wrapped at word boundaries to `width` (a word longer than that is elided when painted)."""
        metrics = QFontMetricsF(self.font())
        lines: list[str] = []
        for note in self.notes:
            line = ""
            for word in note.split(" "):
                candidate = f"{line} {word}" if line else word
                if line and metrics.horizontalAdvance(candidate) > width:
                    lines.append(line)
                    line = word
                else:
                    line = candidate
            lines.append(line)
        return lines

    def _notes_height(self, width: float | None = None) -> float:
        lines = self._note_lines((self._width() if width is None else width) - 2 * _PAD)
        return (QFontMetricsF(self.font()).height() + 2) * len(lines) + (6 if lines else 0)

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        """Draw the whole chart (background, title, body or the empty text) into `rect`."""
        cut_before = self.cut_texts
        self.cut_texts = []
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        painter.fillRect(rect, BACKGROUND)
        painter.setPen(QPen(GRID, 1))
        painter.drawRect(rect.adjusted(0.5, 0.5, -0.5, -0.5))
        painter.setFont(self._title_font())
        painter.setPen(INK)
        title_rect = QRectF(rect.left() + _PAD, rect.top() + _PAD / 2, rect.width() - 2 * _PAD, self._title_height())
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self._fit(QFontMetricsF(self._title_font()), self.title, Qt.TextElideMode.ElideRight,
                                   title_rect.width()))
        painter.setFont(self.font())
        notes = self._notes_height(rect.width())
        body = QRectF(rect.left() + _PAD, title_rect.bottom(), rect.width() - 2 * _PAD,
                      rect.bottom() - title_rect.bottom() - _PAD / 2 - notes)
        if self.has_data():
            self.paint_body(painter, body)
        else:
            painter.setPen(MUTED)
            painter.drawText(body, Qt.AlignmentFlag.AlignCenter, self.empty_text)
        metrics = QFontMetricsF(self.font())
        painter.setPen(MUTED)
        for i, note in enumerate(self._note_lines(body.width())):
            line = QRectF(body.left(), body.bottom() + 4 + i * (metrics.height() + 2), body.width(), metrics.height())
            painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self._fit(metrics, note, Qt.TextElideMode.ElideRight, body.width()))
        painter.restore()
        if self.cut_texts != cut_before:
            self._show_tooltip()

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        try:
            self.paint(painter, QRectF(self.rect()))
        finally:
            painter.end()

    def render_image(self, width: int | None = None, height: int | None = None) -> QImage:
        """The chart painted into an image (tests, screenshots)."""
        self._layout_width = float(width or max(self.width(), self.sizeHint().width()))
        try:
            hint = self.sizeHint()
        finally:
            self._layout_width = None
        image = QImage(width or max(self.width(), hint.width()), height or hint.height(),
                       QImage.Format.Format_ARGB32)
        image.fill(BACKGROUND)
        painter = QPainter(image)
        try:
            self.paint(painter, QRectF(0, 0, image.width(), image.height()))
        finally:
            painter.end()
        return image

    def sizeHint(self) -> QSize:
        body = self.body_height() if self.has_data() else 60.0
        return QSize(640, math.ceil(self._title_height() + body + self._notes_height() + _PAD))

    def minimumSizeHint(self) -> QSize:
        return QSize(360, self.sizeHint().height())

    def refresh(self) -> None:
        """After new data: a new height, a repaint."""
        self.setFixedHeight(self.sizeHint().height())
        self.updateGeometry()
        self.update()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.sizeHint().height() != self.height():  # notes wrap (and rows stack) to the new width
            self.refresh()


def _label_width(metrics: QFontMetricsF, labels: list[str], limit: float) -> float:
    return min(max((metrics.horizontalAdvance(label) for label in labels), default=0.0), limit)


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


# -- intervals (ranking, mean scores) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalRow:
    """One line of an interval chart."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    note: str = ""
    """Shown after the value, e.g. the number of games."""

    @property
    def has_interval(self) -> bool:
        """Whether the row has an interval; one without is drawn as a hollow dot, so it does not look exact."""
        return self.low is not None and self.high is not None


class IntervalChart(Chart):
    """Estimates with their 95% intervals, one row each, best first (Bradley–Terry ratings, mean scores); an
    estimate without an interval is a hollow, dashed dot."""

    row_height = 30.0

    def __init__(self, title: str, *, value_format: str = "{:.0f}", axis_label: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.rows: list[IntervalRow] = []
        self.value_format = value_format
        self.axis_label = axis_label
        self.reference: float | None = None
        self.bounds: tuple[float, float] | None = None

    def set_rows(self, rows: list[IntervalRow], *, reference: float | None = None,
                 bounds: tuple[float, float] | None = None) -> None:
        """New rows; `reference` draws a dashed line (e.g. the anchor's 1000), `bounds` fixes the axis."""
        self.rows = list(rows)
        self.reference = reference
        self.bounds = bounds
        self._set_tooltip([f"{r.label}: {self._value_text(r)}" for r in self.rows])
        self.refresh()

    def has_data(self) -> bool:
        return bool(self.rows)

    def body_height(self) -> float:
        metrics = QFontMetricsF(self.font())
        hollow = metrics.height() + 4 if not all(r.has_interval for r in self.rows) else 0.0
        return self.row_height * len(self.rows) + metrics.height() * 3 + 16 + hollow

    def _value_text(self, row: IntervalRow) -> str:
        text = self.value_format.format(row.value)
        if row.low is not None and row.high is not None:
            text += f"  [{self.value_format.format(row.low)}, {self.value_format.format(row.high)}]"
        return text + (f"  {row.note}" if row.note else "")

    def _range(self) -> tuple[float, float]:
        if self.bounds is not None:
            low, high = self.bounds
            pad = (high - low) * 0.03  # a dot at the scale's end stays clear of the values column
            return low - pad, high + pad
        values = [v for r in self.rows for v in (r.value, r.low, r.high) if v is not None]
        if self.reference is not None:
            values.append(self.reference)
        low, high = min(values), max(values)
        span = max(high - low, abs(high) * 0.05, 1e-6)
        return low - span * 0.08, high + span * 0.08

    def paint_body(self, painter: QPainter, rect: QRectF) -> None:
        metrics = QFontMetricsF(self.font())
        left = _label_width(metrics, [r.label for r in self.rows], rect.width() * 0.3) + _PAD
        right = _label_width(metrics, [self._value_text(r) for r in self.rows], rect.width() * 0.35) + _PAD
        plot = QRectF(rect.left() + left, rect.top() + 4, max(rect.width() - left - right, 40.0),
                      self.row_height * len(self.rows))
        low, high = self._range()

        def x(value: float) -> float:
            return plot.left() + (value - low) / (high - low) * plot.width()

        ticks = [t for t in _nice_ticks(low, high) if low <= t <= high]
        painter.setPen(QPen(GRID, 1))
        for tick in ticks:
            painter.drawLine(QPointF(x(tick), plot.top()), QPointF(x(tick), plot.bottom()))
        if self.reference is not None and low <= self.reference <= high:
            painter.setPen(QPen(MUTED, 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x(self.reference), plot.top()), QPointF(x(self.reference), plot.bottom()))
        for i, row in enumerate(self.rows):
            y = plot.top() + self.row_height * (i + 0.5)
            label_rect = QRectF(rect.left(), y - self.row_height / 2, left - _PAD / 2, self.row_height)
            painter.setPen(INK)
            painter.drawText(label_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             self._fit(metrics, row.label, Qt.TextElideMode.ElideMiddle, left - _PAD / 2))
            if row.low is not None and row.high is not None:
                painter.setPen(QPen(ACCENT, 2))
                x1, x2 = x(max(row.low, low)), x(min(row.high, high))
                painter.drawLine(QPointF(x1, y), QPointF(x2, y))
                painter.drawLine(QPointF(x1, y - 6), QPointF(x1, y + 6))
                painter.drawLine(QPointF(x2, y - 6), QPointF(x2, y + 6))
            if row.has_interval:
                painter.setPen(QPen(QColor("#ffffff"), 1.5))
                painter.setBrush(QBrush(ACCENT))
            else:  # no interval: hollow and dashed, an estimate that is not to be read as exact
                painter.setPen(QPen(ACCENT, 1.8, Qt.PenStyle.DotLine))
                painter.setBrush(QBrush(BACKGROUND))
            painter.drawEllipse(QPointF(x(min(max(row.value, low), high)), y), 5.5, 5.5)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(MUTED)
            value_rect = QRectF(plot.right() + _PAD / 2, y - self.row_height / 2, right, self.row_height)
            painter.drawText(value_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self._fit(metrics, self._value_text(row), Qt.TextElideMode.ElideRight, right - 2))
        # Axis: ticks under the plot, then the axis label and the legend.
        painter.setPen(QPen(MUTED, 1))
        painter.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        text_h = metrics.height()
        for tick in ticks:
            text = f"{tick:g}"
            width = metrics.horizontalAdvance(text)
            painter.drawText(QRectF(x(tick) - width / 2 - 2, plot.bottom() + 2, width + 4, text_h),
                             Qt.AlignmentFlag.AlignCenter, text)
        legend_y = plot.bottom() + text_h + 6
        legend = QRectF(plot.left(), legend_y, plot.width() + right, text_h)
        painter.setPen(QPen(ACCENT, 2))
        painter.drawLine(QPointF(legend.left(), legend.center().y()), QPointF(legend.left() + 22, legend.center().y()))
        painter.setBrush(QBrush(ACCENT))
        painter.drawEllipse(QPointF(legend.left() + 11, legend.center().y()), 4, 4)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(MUTED)
        caption = "estimate and 95% interval"
        if self.axis_label:
            caption = f"{self.axis_label} · {caption}"
        if self.reference is not None:
            caption += f" · dashed: {self.value_format.format(self.reference)}"
        painter.drawText(legend.adjusted(30, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self._fit(metrics, caption, Qt.TextElideMode.ElideRight, legend.width() - 30))
        if not all(r.has_interval for r in self.rows):
            hollow = legend.translated(0, text_h + 4)
            painter.setPen(QPen(ACCENT, 1.8, Qt.PenStyle.DotLine))
            painter.drawEllipse(QPointF(hollow.left() + 11, hollow.center().y()), 4.5, 4.5)
            painter.setPen(MUTED)
            painter.drawText(hollow.adjusted(30, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self._fit(metrics, "hollow: no interval (the tooltip says why)",
                                       Qt.TextElideMode.ElideRight, hollow.width() - 30))


# -- win-rate matrix ---------------------------------------------------------------------------------------------


def win_rate_colour(rate: float) -> QColor:
    """Red for losing, white at one half, blue for winning."""
    rate = min(max(rate, 0.0), 1.0)
    end = _WIN if rate >= 0.5 else _LOSE
    t = abs(rate - 0.5) * 2
    return QColor(round(255 + (end.red() - 255) * t), round(255 + (end.green() - 255) * t),
                  round(255 + (end.blue() - 255) * t))


def _text_on(colour: QColor) -> QColor:
    luminance = 0.2126 * colour.redF() + 0.7152 * colour.greenF() + 0.0722 * colour.blueF()
    return QColor("#ffffff") if luminance < 0.5 else INK


class HeatMapChart(Chart):
    """Each row model's win rate against each column model, the value and its n written in its cell; a cell of
    fewer than `min_games` games is hatched."""

    empty_text = "Not enough decisive verdicts between two models yet"

    def __init__(self, title: str = "Win-rate matrix", parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.models: list[str] = []
        self.rates: list[list[float | None]] = []
        self.games: list[list[int]] = []
        self.min_games = 0
        """Cells with fewer games than this are hatched (the summary's min_games_for_interval)."""

    def set_matrix(self, models: list[str], rates: list[list[float | None]],
                   games: list[list[int]] | None = None, *, min_games: int = 0) -> None:
        self.models, self.rates = list(models), [list(r) for r in rates]
        self.games = [list(g) for g in games] if games else [[0] * len(models) for _ in models]
        self.min_games = min_games
        self._set_tooltip([f"{a} vs {b}: {rate:.0%} of {self._games(i, j)} game{'s' if self._games(i, j) != 1 else ''}"
                           for i, a in enumerate(self.models) for j, b in enumerate(self.models)
                           if (rate := self._rate(i, j)) is not None])
        self.refresh()

    def _rate(self, i: int, j: int) -> float | None:
        return self.rates[i][j] if i < len(self.rates) and j < len(self.rates[i]) else None

    def _games(self, i: int, j: int) -> int:
        return self.games[i][j] if i < len(self.games) and j < len(self.games[i]) else 0

    def has_data(self) -> bool:
        return len(self.models) >= 2

    def _geometry(self, width: float | None) -> tuple[float, float, float]:
        """Label column width, header height and cell size (as big as fits, up to 60 px)."""
        metrics = QFontMetricsF(self.font())
        label = _label_width(metrics, self.models, 220.0) + _PAD
        top = label * 0.72 + metrics.height() + 4  # column names at -45°
        cell = 60.0
        if width is not None:
            cell = min(cell, max(36.0, (width - label - 2 * _PAD) / max(len(self.models), 1)))
        return label, top, cell

    def body_height(self) -> float:
        _, top, cell = self._geometry(None)
        return top + cell * len(self.models) + QFontMetricsF(self.font()).height() * 4 + 28

    def paint_body(self, painter: QPainter, rect: QRectF) -> None:
        metrics = QFontMetricsF(self.font())
        label, top, cell = self._geometry(rect.width())
        origin = QPointF(rect.left() + label, rect.top() + top)
        size = len(self.models)
        for j, name in enumerate(self.models):
            painter.save()
            painter.translate(origin.x() + cell * (j + 0.5), origin.y() - 6)
            painter.rotate(-45)
            painter.setPen(INK)
            painter.drawText(QPointF(0, 0), self._fit(metrics, name, Qt.TextElideMode.ElideMiddle, label - _PAD))
            painter.restore()
        cell_font = QFont(self.font())
        cell_font.setBold(True)
        games_font = QFont(self.font())
        games_font.setPointSizeF(self.font().pointSizeF() * 0.8)
        games_height = QFontMetricsF(games_font).height()
        value_height = QFontMetricsF(cell_font).height()
        for i, name in enumerate(self.models):
            y = origin.y() + cell * i
            painter.setPen(INK)
            painter.setFont(self.font())
            painter.drawText(QRectF(rect.left(), y, label - _PAD / 2, cell),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             self._fit(metrics, name, Qt.TextElideMode.ElideMiddle, label - _PAD / 2))
            for j in range(size):
                box = QRectF(origin.x() + cell * j + 1, y + 1, cell - 2, cell - 2)
                rate = self._rate(i, j)
                if rate is None:
                    painter.fillRect(box, QColor("#eef1f5"))
                    painter.setPen(MUTED)
                    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "–")
                    continue
                colour = win_rate_colour(rate)
                games = self._games(i, j)
                painter.fillRect(box, colour)
                painter.setPen(QPen(GRID, 1))  # a near-white cell (about 50%) still shows its edge
                painter.drawRect(box)
                if games < self.min_games:  # too few games to read much into: hatched, dashed edge
                    painter.fillRect(box, QBrush(_HATCH, Qt.BrushStyle.BDiagPattern))
                    painter.setPen(QPen(MUTED, 1, Qt.PenStyle.DashLine))
                    painter.drawRect(box)
                # The rate over its n, the two lines centred together in the cell.
                top = box.center().y() - (value_height + games_height) / 2
                painter.setPen(_text_on(colour))
                painter.setFont(cell_font)
                painter.drawText(QRectF(box.left(), top, box.width(), value_height), Qt.AlignmentFlag.AlignCenter,
                                 f"{rate:.0%}")
                painter.setFont(games_font)
                painter.drawText(QRectF(box.left(), top + value_height, box.width(), games_height),
                                 Qt.AlignmentFlag.AlignCenter, f"n = {games}")
                painter.setFont(self.font())
        # Legend: the colour scale.
        legend_top = origin.y() + cell * size + 12
        bar = QRectF(origin.x(), legend_top, min(cell * size, 260.0), 10)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for stop in (0.0, 0.25, 0.5, 0.75, 1.0):
            gradient.setColorAt(stop, win_rate_colour(stop))
        painter.fillRect(bar, QBrush(gradient))
        painter.setPen(QPen(GRID, 1))
        painter.drawRect(bar)
        painter.setPen(MUTED)
        text_h = metrics.height()
        for stop, text in ((0.0, "0%"), (0.5, "50%"), (1.0, "100%")):
            width = metrics.horizontalAdvance(text)
            x = bar.left() + bar.width() * stop - width / 2
            painter.drawText(QRectF(x, bar.bottom() + 1, width + 2, text_h), Qt.AlignmentFlag.AlignCenter, text)
        captions = ["row model's win rate against the column model (ties count half)",
                    f"n: games in the cell · hatched: fewer than {self.min_games} games" if self.min_games
                    else "n: games in the cell"]
        for k, caption in enumerate(captions):
            painter.drawText(QRectF(rect.left(), bar.bottom() + (k + 1) * (text_h + 2), rect.width(), text_h),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self._fit(metrics, caption, Qt.TextElideMode.ElideRight, rect.width()))


# -- percentages (judge behaviour, agreement) -------------------------------------------------------------------


@dataclass(frozen=True)
class BarRow:
    """One bar of a percentage chart."""

    label: str
    value: float | None
    """A share in [0, 1]; None shows as 'n/a'."""
    detail: str = ""
    """Shown after the percentage, e.g. '12 of 16'."""
    reference: float | None = None
    """A marker, e.g. 0.5 where no bias is expected."""


class PercentBarChart(Chart):
    """Shares as horizontal bars from 0 to 100%, with optional reference markers. Where the labels or values do not
    fit beside the bars (a narrow window), each label goes on a line of its own above its bar."""

    row_height = 28.0

    def __init__(self, title: str, *, reference_label: str = "", parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.rows: list[BarRow] = []
        self.reference_label = reference_label

    def set_rows(self, rows: list[BarRow]) -> None:
        self.rows = list(rows)
        self._set_tooltip([f"{r.label}: {self._value_text(r)}" for r in self.rows])
        self.refresh()

    def has_data(self) -> bool:
        return bool(self.rows)

    def _stacked(self, width: float) -> bool:
        """Whether the labels go above the bars: beside them they would take over 38% of `width` (the body's), or
        the values over 40%."""
        metrics = QFontMetricsF(self.font())
        label = _label_width(metrics, [r.label for r in self.rows], math.inf)
        value = _label_width(metrics, [self._value_text(r) for r in self.rows], math.inf)
        return label + _PAD > width * 0.38 or value + _PAD > width * 0.4

    def _row_step(self, width: float) -> float:
        label_line = QFontMetricsF(self.font()).height() + 2 if self._stacked(width) else 0.0
        return self.row_height + label_line

    def body_height(self) -> float:
        legend = QFontMetricsF(self.font()).height() + 8 if any(r.reference is not None for r in self.rows) else 0
        return self._row_step(self._width() - 2 * _PAD) * len(self.rows) + legend + 8

    @staticmethod
    def _value_text(row: BarRow) -> str:
        value = "n/a" if row.value is None else f"{row.value:.0%}"
        return f"{value}  {row.detail}" if row.detail else value

    def paint_body(self, painter: QPainter, rect: QRectF) -> None:
        metrics = QFontMetricsF(self.font())
        stacked = self._stacked(rect.width())
        step = self._row_step(rect.width())
        label_line = step - self.row_height  # 0 beside the bars
        left = 0.0 if stacked else _label_width(metrics, [r.label for r in self.rows], rect.width() * 0.38) + _PAD
        right = _label_width(metrics, [self._value_text(r) for r in self.rows],
                             rect.width() * (0.6 if stacked else 0.4)) + _PAD
        plot = QRectF(rect.left() + left, rect.top() + 4, max(rect.width() - left - right, 40.0),
                      step * len(self.rows))
        for i, row in enumerate(self.rows):
            y = plot.top() + step * i + label_line
            painter.setPen(INK)
            if stacked:
                painter.drawText(QRectF(rect.left(), y - label_line, rect.width(), label_line),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                                 self._fit(metrics, row.label, Qt.TextElideMode.ElideMiddle, rect.width()))
            else:
                painter.drawText(QRectF(rect.left(), y, left - _PAD / 2, self.row_height),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 self._fit(metrics, row.label, Qt.TextElideMode.ElideMiddle, left - _PAD / 2))
            track = QRectF(plot.left(), y + 6, plot.width(), self.row_height - 12)
            painter.fillRect(track, QColor("#eef1f5"))
            if row.value is not None:
                painter.fillRect(QRectF(track.left(), track.top(), track.width() * min(max(row.value, 0.0), 1.0),
                                        track.height()), BAR)
            if row.reference is not None:
                painter.setPen(QPen(INK, 1.5, Qt.PenStyle.DashLine))
                rx = track.left() + track.width() * row.reference
                painter.drawLine(QPointF(rx, track.top() - 3), QPointF(rx, track.bottom() + 3))
            painter.setPen(MUTED)
            painter.drawText(QRectF(plot.right() + _PAD / 2, y, right, self.row_height),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self._fit(metrics, self._value_text(row), Qt.TextElideMode.ElideRight, right - 2))
        if any(r.reference is not None for r in self.rows):
            legend = QRectF(plot.left(), plot.bottom() + 6, plot.width() + right, metrics.height())
            painter.setPen(QPen(INK, 1.5, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(legend.left() + 4, legend.top()), QPointF(legend.left() + 4, legend.bottom()))
            painter.setPen(MUTED)
            painter.drawText(legend.adjusted(14, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self._fit(metrics, self.reference_label or "reference", Qt.TextElideMode.ElideRight,
                                       legend.width() - 14))
