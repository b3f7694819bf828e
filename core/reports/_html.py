"""report.html: one self-contained page (inline CSS and SVG, no scripts, fonts or images to fetch) that opens offline.

Every piece of model text goes through Jinja's autoescaping, so a response that contains HTML or a script shows as
text. Charts are drawn here as SVG from the summary's figures.

The page shows what each figure rests on: the summary's warnings first, every rating, win rate and matrix cell with
its n, the reason where there is no interval (a hollow dot in the ranking, a faded dashed cell in the matrix below
the summary's `min_games_for_interval`), and the models left out of the ranking with theirs.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape

from .._records import Status
from ..stats import MIN_GAMES_FOR_INTERVAL
from ._html_protocols import render_protocol_sections
from ._results import RunResults

__all__ = ["render_report"]

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_PROBLEM_STATUSES = (Status.UNPARSED, Status.ERROR)
"""Statuses of an order that has no verdict, tagged as bad."""


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _interval(entry: dict[str, Any], kind: str = "pct", digits: int = 0) -> str:
    """An entry's 95% interval as text, else the reason it has none ("too few games for an interval (n = 1)")."""
    low, high = entry.get("ci_low"), entry.get("ci_high")
    if low is None or high is None:
        return str(entry.get("no_interval") or "–")
    if kind == "pct":
        return f"{_pct(low)} – {_pct(high)}"
    return f"{_num(low, digits)} – {_num(high, digits)}"


def _ranking_svg(ratings: dict[str, Any]) -> Markup:
    models = ratings.get("models") or []
    if not models:
        return Markup("")
    values = [v for m in models for v in (m["rating"], m["ci_low"], m["ci_high"]) if v is not None]
    low, high = min(values), max(values)
    span = max(high - low, 1.0)
    low, high = low - span * 0.1, high + span * 0.1
    width, left, right, row = 640, 170, 110, 28
    height = row * len(models) + 40

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * (width - left - right)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="ranking with 95% intervals">']
    for i, m in enumerate(models):
        y = 20 + i * row
        parts.append(f'<text x="{left - 10}" y="{y + 5}" text-anchor="end" class="label">{escape(m["model"])}</text>')
        if m["ci_low"] is not None and m["ci_high"] is not None:
            parts.append(f'<line x1="{x(m["ci_low"]):.1f}" x2="{x(m["ci_high"]):.1f}" y1="{y}" y2="{y}" '
                         'class="whisker"/>')
            parts.append(f'<circle cx="{x(m["rating"]):.1f}" cy="{y}" r="5" class="dot"/>')
        else:  # no interval: a hollow dot, so the estimate does not look exact
            parts.append(f'<circle cx="{x(m["rating"]):.1f}" cy="{y}" r="5" class="dot open">'
                         f'<title>{escape(m.get("no_interval") or "no interval")}</title></circle>')
        parts.append(f'<text x="{width - 5}" y="{y + 5}" text-anchor="end" class="value">{m["rating"]:.0f} · '
                     f'n = {m["games"]}</text>')
    axis_y = height - 12
    for tick in (low + (high - low) * f for f in (0.05, 0.5, 0.95)):
        parts.append(f'<text x="{x(tick):.1f}" y="{axis_y}" text-anchor="middle" class="tick">{tick:.0f}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _matrix_svg(matrix: dict[str, Any], min_games: int) -> Markup:
    models = matrix.get("models") or []
    if len(models) < 2:
        return Markup("")
    cell, left, top = 56, 150, 110
    size = len(models)
    width, height = left + cell * size + 10, top + cell * size + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="win-rate matrix">']
    for j, name in enumerate(models):
        cx = left + j * cell + cell / 2
        parts.append(f'<text transform="translate({cx:.0f},{top - 8}) rotate(-40)" class="label">{escape(name)}</text>')
    for i, name in enumerate(models):
        y = top + i * cell
        parts.append(f'<text x="{left - 8}" y="{y + cell / 2 + 4:.0f}" text-anchor="end" class="label">'
                     f'{escape(name)}</text>')
        for j in range(size):
            rate = matrix["rates"][i][j]
            games = (matrix.get("games") or [[0] * size] * size)[i][j]
            x = left + j * cell
            if rate is None:
                parts.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" class="empty"/>')
                continue
            # Blue for winning, red for losing, white at 50%.
            red = int(255 * min(1.0, 2 * rate)) if rate < 0.5 else int(255 * (1 - (rate - 0.5) * 1.2))
            blue = int(255 * min(1.0, 2 * (1 - rate))) if rate > 0.5 else int(255 * (1 - (0.5 - rate) * 1.2))
            green = min(red, blue)
            # Fewer games than an interval needs: faded and dashed, so 100% from one game does not look solid.
            few = ' class="few"' if games < min_games else ""
            parts.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                         f'fill="rgb({blue},{green},{red})"{few}><title>{escape(name)} vs {escape(models[j])}: '
                         f'{rate:.1%} of {games} game{"s" if games != 1 else ""}</title></rect>')
            parts.append(f'<text x="{x + cell / 2 - 1:.0f}" y="{y + cell / 2 - 1:.0f}" text-anchor="middle" '
                         f'class="cell">{rate:.0%}</text>')
            parts.append(f'<text x="{x + cell / 2 - 1:.0f}" y="{y + cell / 2 + 13:.0f}" text-anchor="middle" '
                         f'class="games">n = {games}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _grades_svg(grades: dict[str, Any]) -> Markup:
    models = grades.get("models") or []
    scale = grades.get("scale") or [1, 10]
    if not models:
        return Markup("")
    width, left, row = 640, 170, 28
    height = row * len(models) + 20
    low, high = scale

    def x(value: float) -> float:
        return left + (value - low) / max(high - low, 1) * (width - left - 110)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="mean score per model">']
    for i, m in enumerate(models):
        y = 14 + i * row
        parts.append(f'<text x="{left - 10}" y="{y + 5}" text-anchor="end" class="label">{escape(m["model"])}</text>')
        parts.append(f'<rect x="{left}" y="{y - 8}" width="{x(m["mean"]) - left:.1f}" height="16" class="bar"/>')
        if m["ci_low"] is not None:
            parts.append(f'<line x1="{x(m["ci_low"]):.1f}" x2="{x(m["ci_high"]):.1f}" y1="{y}" y2="{y}" '
                         'class="whisker"/>')
        parts.append(f'<text x="{width - 5}" y="{y + 5}" text-anchor="end" class="value">{m["mean"]:.2f} · '
                     f'n = {m["n"]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


_TEMPLATE = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>judgedesk report: {{ s.run.label }}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;color:#1d2430;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d8dee8;padding-bottom:.2rem}
.muted{color:#5b6577}table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d8dee8;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f2f5f9}td.n{text-align:right;font-variant-numeric:tabular-nums}
.figures{display:flex;flex-wrap:wrap;gap:.8rem}.figure{border:1px solid #d8dee8;border-radius:6px;padding:.5rem .8rem;min-width:9rem}
.figure b{display:block;font-size:1.3rem}.warn{background:#fff6e0;border:1px solid #f0c36d;padding:.5rem .8rem;border-radius:6px}
svg .label{font-size:12px;fill:#1d2430}svg .value,svg .tick{font-size:11px;fill:#5b6577}svg .cell{font-size:12px;fill:#1d2430}
svg .dot{fill:#1f5fa8}svg .whisker{stroke:#1f5fa8;stroke-width:2}svg .bar{fill:#9cc0e6}svg .empty{fill:#eef1f5}
svg .dot.open{fill:#fff;stroke:#1f5fa8;stroke-width:2;stroke-dasharray:3 2}svg .few{fill-opacity:.4;stroke:#5b6577;stroke-dasharray:4 3}
svg .games{font-size:10px;fill:#1d2430}.alert{background:#fdecea;border:1px solid #e0a39c;border-left:5px solid #c0392b;padding:.6rem .9rem;border-radius:6px;margin:1rem 0}
td.why{color:#5b6577;font-style:italic}
details{border:1px solid #d8dee8;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}summary{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f9fb;padding:.4rem .6rem;border-radius:4px;margin:.2rem 0}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:.6rem}.tag{font-size:.8rem;padding:0 .35rem;border-radius:3px;background:#e6ecf4}
.tag.bad{background:#fbe0e0}.tag.good{background:#dff3e4}.tag.override{background:#f3e3fb}
p.override{background:#f8effc;border-left:3px solid #9b59b6;padding:.3rem .6rem}
</style></head><body>
<h1>judgedesk report</h1>
<div class="muted">{{ s.run.label }} · {{ s.run.mode }} · orders {{ s.run.orders|join(", ") }} · source {{ s.run.source }}<br>
run {{ s.run.run_key[:16] }} · judgedesk {{ s.judgedesk }} · seed {{ s.run.settings.seed }} · decoding {{ s.run.settings.decoding.mode }}</div>
{% for w in s.warnings %}<div class="alert" role="alert"><b>Warning: {{ w.title }}.</b> {{ w.meaning }}<br><b>What to do:</b> {{ w.advice }}</div>
{% endfor %}
<h2>Summary</h2>
<div class="figures">
<div class="figure">tasks<b>{{ s.progress.complete }} / {{ s.progress.tasks }}</b>complete</div>
{% for status, count in s.progress.statuses.items() %}<div class="figure">{{ status }}<b>{{ count }}</b>judgements</div>{% endfor %}
<div class="figure">input problems<b>{{ s.input_problems|length }}</b>skipped</div>
</div>
{% if s.progress.complete < s.progress.tasks %}<p class="warn">This run is not finished: figures cover the {{ s.progress.complete }} completed tasks.</p>{% endif %}

{% if s.grades %}
<h2>Mean score per model (95% interval)</h2>
{{ grades_svg }}
<table><tr><th>model</th><th>graded (n)</th><th>mean</th><th>95% interval</th><th>unparsed</th></tr>
{% for m in s.grades.models %}<tr><td>{{ m.model }}</td><td class="n">{{ m.n }}</td><td class="n">{{ num(m.mean, 2) }}</td><td class="n{% if m.ci_low is none %} why{% endif %}">{{ interval(m, "num", 2) }}</td><td class="n">{{ m.unparsed }}</td></tr>{% endfor %}
</table>
{% else %}
{% if s.ratings and not s.ratings.models %}
<h2>Ranking</h2>
<p class="warn">No decisive verdicts to rank: every finished pair was unparsed{% if not s.options.inconsistent_as_tie %} or inconsistent across the two orders (<code>judgedesk report DIR --inconsistent-as-tie</code> counts those as ties, PandaLM's protocol; with a judge this inconsistent the ranking then measures its position bias){% endif %}.</p>
{% endif %}
{% if s.ratings and s.ratings.models %}
<h2>Ranking (Bradley–Terry, Elo scale, 95% bootstrap interval)</h2>
<p class="muted">Anchored at {{ s.ratings.anchor }} = 1000; ties count as half a win{% if s.options.inconsistent_as_tie %}, inconsistent pairs as ties{% else %}; inconsistent pairs are left out{% endif %}. n = the games a model played that count. A hollow dot has no interval: the anchor, or fewer than {{ s.options.min_games_for_interval }} games, or redraws that do not vary.</p>
{{ ranking_svg }}
<table><tr><th>model</th><th>rating</th><th>95% interval</th><th>games (n)</th></tr>
{% for m in s.ratings.models %}<tr><td>{{ m.model }}</td><td class="n">{{ num(m.rating) }}</td><td class="n{% if m.ci_low is none %} why{% endif %}">{{ interval(m, "num") }}</td><td class="n">{{ m.games }}</td></tr>{% endfor %}
</table>
{% endif %}
{% if s.ratings and s.ratings.unrated %}
<p class="warn">Not ranked: {% for m in s.ratings.unrated %}<b>{{ m.model }}</b>: {{ m.reason }}{{ "; " if not loop.last else "." }}{% endfor %}</p>
{% endif %}
{% if s.ratings and s.ratings.models %}
<h2>Win-rate matrix</h2>
<p class="muted">Row model's win rate against the column model (ties as half); n = the games in the cell. Faded, dashed cells hold fewer than {{ s.options.min_games_for_interval }} games: too few to read much into.</p>
{{ matrix_svg }}
{% endif %}
<h2>Model pairs</h2>
<table><tr><th>model A</th><th>model B</th><th>wins</th><th>losses</th><th>ties</th><th>inconsistent</th><th>unparsed</th><th>games (n)</th><th>A's win rate</th><th>95% interval</th></tr>
{% for p in s.pairs %}<tr><td>{{ p.model_a }}</td><td>{{ p.model_b }}</td><td class="n">{{ p.wins }}</td><td class="n">{{ p.losses }}</td><td class="n">{{ p.ties }}</td><td class="n">{{ p.inconsistent }}</td><td class="n">{{ p.unparsed }}</td><td class="n">{{ p.games }}</td><td class="n">{{ pct(p.win_rate) }}</td><td class="n{% if p.ci_low is none and p.win_rate is not none %} why{% endif %}">{{ interval(p) }}</td></tr>{% endfor %}
</table>
{% if s.categories %}
<h2>Per category</h2>
<table><tr><th>category</th><th>model A</th><th>model B</th><th>pairs</th><th>games (n)</th><th>A's win rate</th><th>95% interval</th></tr>
{% for name, rows in s.categories.items() %}{% for p in rows %}<tr><td>{{ name }}</td><td>{{ p.model_a }}</td><td>{{ p.model_b }}</td><td class="n">{{ p.n }}</td><td class="n">{{ p.games }}</td><td class="n">{{ pct(p.win_rate) }}</td><td class="n{% if p.ci_low is none and p.win_rate is not none %} why{% endif %}">{{ interval(p) }}</td></tr>{% endfor %}{% endfor %}
</table>
{% endif %}
<h2>Judge behaviour</h2>
{% set b = s.judge_behaviour %}
<p class="muted">What the judge did on all {{ b.n }} finished pairs, whatever the options: "inconsistent as tie"{% if s.options.inconsistent_as_tie %} (on in this report){% endif %} changes only the ranking, the win-rate matrix and the pair and category win rates, never these figures.</p>
<div class="figures">
<div class="figure">position consistency<b>{{ pct(b.position_consistency) }}</b>{{ b.consistent }} of {{ b.both_orders }} pairs</div>
<div class="figure">first-position preference<b>{{ pct(b.first_position_preference) }}</b>first shown won {{ b.first_shown_won }} of {{ b.order_verdicts }}; 50% = no bias</div>
<div class="figure">length preference<b>{{ pct(b.length_preference) }}</b>longer won {{ b.longer_won }} of {{ b.length_decided }}</div>
<div class="figure">tie rate<b>{{ pct(b.tie_rate) }}</b>{{ b.ties }} of {{ b.n }} pairs</div>
<div class="figure">inconsistent<b>{{ pct(b.inconsistent_rate) }}</b>{{ b.inconsistent }} of {{ b.n }} pairs</div>
<div class="figure">unparsed<b>{{ pct(b.unparsed_rate) }}</b>{{ b.unparsed }} of {{ b.n }} pairs</div>
</div>
{% if s.agreement and s.agreement.final_decision %}
<h2>Agreement with human labels</h2>
<table><tr><th>protocol</th><th>n</th><th>accuracy</th><th>macro precision</th><th>macro recall</th><th>macro F1</th><th>Cohen's κ</th><th>unparsed</th></tr>
{% for name, a in [("first order only (PandaLM)", s.agreement.first_order), ("final decision", s.agreement.final_decision)] %}
<tr><td>{{ name }}</td><td class="n">{{ a.n }}</td><td class="n">{{ pct(a.accuracy) }}</td><td class="n">{{ pct(a.precision) }}</td><td class="n">{{ pct(a.recall) }}</td><td class="n">{{ pct(a.f1) }}</td><td class="n">{{ num(a.kappa, 3) }}</td><td class="n">{{ a.n_unparsed }}</td></tr>{% endfor %}
</table>
{% if s.agreement.both_orders %}{% set o = s.agreement.both_orders %}
<p>Auto-J's protocol: right in both orders <b>{{ pct(o.agreement) }}</b> ({{ o.correct_both }} of {{ o.n }}), same verdict in both orders <b>{{ pct(o.consistency) }}</b>.</p>{% endif %}
{% endif %}
{% endif %}
{% if s.agreement and s.agreement.overrides %}{% set a = s.agreement.overrides %}
<h2>Agreement with the analyst's overrides</h2>
<p class="muted">{{ a.count }} task{{ "s" if a.count != 1 else "" }} overridden; the judge's {{ "scores" if s.grades else "final decisions" }} against the analyst's, taken as gold.
{% if s.options.apply_overrides %}The figures above use the overrides in place of the judge's decisions.{% else %}The figures above are the judge's own.{% endif %}</p>
{% if s.grades %}<p>Same score <b>{{ pct(a.exact) }}</b> of {{ a.n }}, mean absolute difference <b>{{ num(a.mean_absolute_difference, 2) }}</b>.</p>
{% else %}<table><tr><th>n</th><th>accuracy</th><th>macro F1</th><th>Cohen's κ</th><th>inconsistent</th><th>unparsed</th></tr>
<tr><td class="n">{{ a.n }}</td><td class="n">{{ pct(a.accuracy) }}</td><td class="n">{{ pct(a.f1) }}</td><td class="n">{{ num(a.kappa, 3) }}</td><td class="n">{{ a.n_inconsistent }}</td><td class="n">{{ a.n_unparsed }}</td></tr></table>{% endif %}
{% endif %}
{{ protocol_sections }}
{% if s.input_problems %}
<h2>Input problems (skipped)</h2>
<table><tr><th>file</th><th>line</th><th>item</th><th>reason</th></tr>
{% for p in s.input_problems %}<tr><td>{{ p.path }}</td><td class="n">{{ p.line if p.line is not none else "" }}</td><td>{{ p.item or "" }}</td><td>{{ p.reason }}</td></tr>{% endfor %}
</table>
{% endif %}

<h2>Items</h2>
{% for row in rows %}
<details><summary>#{{ row.task.position + 1 }} · {{ row.task.item_id }} · {{ row.task.model_a }}{% if row.task.model_b %} vs {{ row.task.model_b }}{% endif %}
{% for side, status in row.statuses.items() %} <span class="tag{% if status in problem_statuses %} bad{% endif %}">{{ side }}: {{ row.sides[side].winner or row.sides[side].score or status }}</span>{% endfor %}
{% if row.task.human %} <span class="tag good">human: {{ row.task.human }}</span>{% endif %}
{% if row.override %} <span class="tag override">override: {{ row.override.value }}</span>{% endif %}</summary>
{% if row.override %}<p class="override"><b>Analyst's override:</b> {{ row.override.value }}{% if row.override.note %} · {{ row.override.note }}{% endif %} <span class="muted">({{ row.override.created }})</span></p>{% endif %}
<p><b>Instruction</b></p><pre>{{ row.task.payload.instruction }}</pre>
{% if row.task.payload.input %}<p><b>Input</b></p><pre>{{ row.task.payload.input }}</pre>{% endif %}
<div class="cols">{% for text in row.task.payload.responses %}<div><b>Response {{ "AB"[loop.index0] if row.task.payload.responses|length > 1 else "" }}</b><pre>{{ text }}</pre></div>{% endfor %}</div>
{% for side, record in row.sides.items() %}
<p><b>{{ side }}</b> · {{ row.statuses[side] }}{% if record.probabilities %} · {% for k, v in record.probabilities.items() %}{{ k }} {{ pct(v) }} {% endfor %}{% endif %}{% if record.cut_tokens %} · {{ record.cut_tokens }} tokens cut{% endif %}</p>
<pre>{{ record.raw_output or record.error }}</pre>
{% endfor %}
</details>
{% endfor %}
</body></html>
""")


def render_report(results: RunResults, summary: dict[str, Any]) -> str:
    """The HTML report of a run."""
    return _TEMPLATE.render(
        s=summary, rows=results.rows, pct=_pct, num=_num, interval=_interval, problem_statuses=_PROBLEM_STATUSES,
        ranking_svg=_ranking_svg(summary.get("ratings") or {}),
        matrix_svg=_matrix_svg(summary.get("win_rate_matrix") or {},
                               (summary.get("options") or {}).get("min_games_for_interval", MIN_GAMES_FOR_INTERVAL)),
        grades_svg=_grades_svg(summary.get("grades") or {}), protocol_sections=render_protocol_sections(summary),
    )
