"""The QPainter charts: they paint something (not a blank image), survive empty data, keep labels inside the
image, colour the win-rate matrix from red through white to blue, and make figures from too few games look
uncertain (hatched cells, hollow dots, notes) rather than exact."""

from __future__ import annotations

import pytest
from judgedesk.desktop._charts import (
    BACKGROUND,
    BarRow,
    Chart,
    HeatMapChart,
    IntervalChart,
    IntervalRow,
    PercentBarChart,
    win_rate_colour,
)
from PySide6.QtGui import QImage


def _ink_columns(image: QImage) -> tuple[int, int]:
    """The leftmost and rightmost columns holding anything but the background (borders excluded)."""
    background = BACKGROUND.rgb()
    columns = [x for x in range(2, image.width() - 2)
               if any(image.pixel(x, y) != background for y in range(2, image.height() - 2, 2))]
    return (columns[0], columns[-1]) if columns else (-1, -1)


def _distinct_colours(image: QImage) -> int:
    return len({image.pixel(x, y) for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)})


def _charts() -> list[Chart]:
    ranking = IntervalChart("Ranking")
    ranking.set_rows([IntervalRow("model-alpha-with-a-rather-long-name", 1120.0, 1040.0, 1210.0, "12 games"),
                      IntervalRow("model-beta", 1000.0, 1000.0, 1000.0, "12 games"),
                      IntervalRow("model-gamma", 870.0, 790.0, 950.0, "12 games")], reference=1000.0)
    heat = HeatMapChart()
    heat.set_matrix(["model-alpha", "model-beta", "model-gamma"],
                    [[None, 0.75, 0.9], [0.25, None, 0.6], [0.1, 0.4, None]], [[0, 4, 4], [4, 0, 4], [4, 4, 0]])
    bars = PercentBarChart("Judge behaviour", reference_label="dashed: no bias")
    bars.set_rows([BarRow("Position consistency", 0.42, "5 of 12"),
                   BarRow("First-position preference", 0.81, "first won 17 of 21", reference=0.5),
                   BarRow("Unparsed", None)])
    return [ranking, heat, bars]


def test_charts_paint_their_data(qtbot: object) -> None:
    for chart in _charts():
        qtbot.addWidget(chart)  # type: ignore[attr-defined]
        image = chart.render_image(720)
        assert image.height() == chart.sizeHint().height() > 100
        assert _distinct_colours(image) > 8, chart.title  # text, bars, dots: far more than a blank card
        left, right = _ink_columns(image)
        assert 0 < left < right < image.width() - 2


def test_the_heat_map_writes_values_and_colours_cells(qtbot: object) -> None:
    heat = _charts()[1]
    qtbot.addWidget(heat)  # type: ignore[attr-defined]
    image = heat.render_image(720)
    colours = {image.pixel(x, y) for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}
    assert win_rate_colour(0.9).rgb() in colours and win_rate_colour(0.1).rgb() in colours
    assert win_rate_colour(0.5).name() == "#ffffff"
    assert win_rate_colour(1.0).blue() > win_rate_colour(1.0).red()
    assert win_rate_colour(0.0).red() > win_rate_colour(0.0).blue()


@pytest.mark.parametrize("chart_type", [IntervalChart, HeatMapChart, PercentBarChart])
def test_empty_charts_say_so_and_do_not_crash(qtbot: object, chart_type: type[Chart]) -> None:
    chart = chart_type("Empty")
    qtbot.addWidget(chart)  # type: ignore[attr-defined]
    assert not chart.has_data()
    image = chart.render_image(400)
    assert _distinct_colours(image) > 2  # the title and the "no data" line
    if isinstance(chart, IntervalChart | PercentBarChart):
        chart.set_rows([])
    else:
        chart.set_matrix([], [])
    chart.show()
    chart.repaint()


def test_a_single_interval_without_bounds_and_a_narrow_chart(qtbot: object) -> None:
    chart = IntervalChart("Mean score", value_format="{:.2f}")
    qtbot.addWidget(chart)  # type: ignore[attr-defined]
    chart.set_rows([IntervalRow("only", 5.0)])
    assert _distinct_colours(chart.render_image(200)) > 4
    chart.set_rows([IntervalRow("a", 2.0, 1.0, 3.0)], bounds=(1.0, 10.0))
    assert _distinct_colours(chart.render_image(640)) > 4


def test_figures_from_too_few_games_look_uncertain(qtbot: object) -> None:
    models, rates, games = ["a", "b"], [[None, 1.0], [0.0, None]], [[0, 1], [1, 0]]
    heat = HeatMapChart()
    qtbot.addWidget(heat)  # type: ignore[attr-defined]
    heat.set_matrix(models, rates, games)
    solid = heat.render_image(480)
    heat.set_matrix(models, rates, games, min_games=10)
    hatched = heat.render_image(480)
    assert hatched != solid  # the one-game cells are hatched
    assert "a vs b: 100% of 1 game" in heat.toolTip()

    ranking = IntervalChart("Ranking")
    qtbot.addWidget(ranking)  # type: ignore[attr-defined]
    ranking.set_rows([IntervalRow("x", 1000.0, 900.0, 1100.0), IntervalRow("y", 950.0, 850.0, 1050.0)])
    filled = ranking.render_image(480)
    assert all(row.has_interval for row in ranking.rows)
    ranking.set_rows([IntervalRow("x", 1000.0, 900.0, 1100.0), IntervalRow("y", 950.0, note="n = 1 · too few games")])
    assert not ranking.rows[1].has_interval and ranking.render_image(480) != filled
    height = ranking.sizeHint().height()
    ranking.set_notes(["Not ranked: z: no decisive games — all 4 inconsistent"])
    assert ranking.sizeHint().height() > height and "Not ranked: z" in ranking.toolTip()
    ranking.set_rows([])
    assert ranking.notes and _distinct_colours(ranking.render_image(480)) > 2  # the empty text and the note
