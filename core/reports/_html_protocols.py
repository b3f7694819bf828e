"""report.html's sections for the ecosystem's own figures (AlpacaEval's leaderboard, Arena-Hard's scores, MT-bench's
per-turn tables) and for agreement with another judge's run of the same items. Each section shows only when the
summary holds its figures."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from ._figure_text import estimate_text, rating_text

__all__ = ["render_protocol_sections"]

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


_SECTIONS = _ENV.from_string("""
{% if s.leaderboard %}
<h2>AlpacaEval leaderboard (against {{ s.leaderboard[0].baseline }})</h2>
<p class="muted">AlpacaEval's own columns and definitions: win rate = mean preference for the model × 100 (preferences: {{ s.leaderboard_preference }}), its standard error, wins, baseline wins, draws, the discrete win rate (draws half), the model's mean output length in characters, and a length-controlled win rate (AlpacaEval's GLM without its downloaded instruction-difficulty table: see the README). <code>judgedesk report DIR --leaderboard</code> prints it as AlpacaEval's CSV.</p>
<table><tr><th>model</th><th>win rate</th><th>standard error</th><th>wins</th><th>baseline wins</th><th>draws</th><th>n</th><th>discrete win rate</th><th>avg length</th><th>length-controlled</th><th>LC standard error</th></tr>
{% for r in s.leaderboard %}<tr><td>{{ r.model }}</td><td class="n">{{ num(r.win_rate) }}</td><td class="n">{{ num(r.standard_error) }}</td><td class="n">{{ r.n_wins }}</td><td class="n">{{ r.n_wins_base }}</td><td class="n">{{ r.n_draws }}</td><td class="n">{{ r.n_total }}</td><td class="n">{{ num(r.discrete_win_rate) }}</td><td class="n">{{ r.avg_length }}</td><td class="n">{{ num(r.length_controlled_winrate) }}</td><td class="n">{{ num(r.lc_standard_error) }}</td></tr>{% endfor %}
</table>
{% endif %}
{% if s.arena_hard %}{% set a = s.arena_hard %}
<h2>Arena-Hard scores (against {{ a.baseline }})</h2>
{% if a.no_scores %}<p class="warn">No Arena-Hard scores: {{ a.no_scores }}.</p>{% else %}
<p class="muted">Arena-Hard's method: every judged order is a battle, a strong verdict (A&gt;&gt;B) counting {{ a.scores.strong_weight }} times; Bradley–Terry by logistic regression with the baseline at 0; the score is the predicted win rate against the baseline; 95% interval from {{ a.scores.rounds }} bootstrap rounds over battles. Style control adds the answers' length and markdown (headers, lists, bold) as covariates. {{ a.battles }} battles.</p>
<table><tr><th>model</th><th>score</th><th>95% interval</th><th>style-controlled score</th><th>95% interval</th><th>battles (n)</th></tr>
{% for m in a.scores.scores %}{% set c = styled[m.model] %}<tr><td>{{ m.model }}</td><td class="n">{{ num(m.score, 1) }}</td><td class="n{% if m.ci_low is none %} why{% endif %}">{{ span(m) }}</td><td class="n">{{ num(c.score, 1) if c else "–" }}</td><td class="n{% if c and c.ci_low is none %} why{% endif %}">{{ span(c) if c else "–" }}</td><td class="n">{{ m.battles }}</td></tr>{% endfor %}
</table>{% endif %}
{% endif %}
{% if s.mt_bench %}{% set t = s.mt_bench %}
<h2>MT-bench</h2>
{% if t.scores %}<p class="muted">FastChat's table: mean score per model per turn, and over all its graded turns (n = turns graded; scores of −1, FastChat's failed judgements, are dropped).</p>
<table><tr><th>model</th>{% for turn in turns %}<th>turn {{ turn }}</th>{% endfor %}<th>average</th><th>n</th></tr>
{% for m in t.scores %}<tr><td>{{ m.model }}</td>{% for turn in turns %}<td class="n">{{ num(m.turns.get(turn|string), 2) }}{% if m.counts.get(turn|string) %} <span class="muted">(n = {{ m.counts.get(turn|string) }})</span>{% endif %}</td>{% endfor %}<td class="n">{{ num(m.average, 2) }}</td><td class="n">{{ m.n }}</td></tr>{% endfor %}
</table>{% endif %}
{% if t.win_rates %}<p class="muted">FastChat's pairwise table per turn: a pair's two orders that disagree count as a tie; adjusted win rate = (wins + ½ ties) / n.{% if t.win_rates.baseline %} Against {{ t.win_rates.baseline }}.{% endif %}</p>
<table><tr><th>turn</th><th>model</th><th>wins</th><th>losses</th><th>ties</th><th>win rate</th><th>loss rate</th><th>adjusted win rate</th></tr>
{% for name, rows in [("all", t.win_rates.overall)] + t.win_rates.by_turn.items()|list %}{% for m in rows %}<tr><td>{{ name }}</td><td>{{ m.model }}</td><td class="n">{{ m.wins }}</td><td class="n">{{ m.losses }}</td><td class="n">{{ m.ties }}</td><td class="n">{{ pct(m.win_rate) }}</td><td class="n">{{ pct(m.loss_rate) }}</td><td class="n">{{ pct(m.win_rate_adjusted) }}</td></tr>{% endfor %}{% endfor %}
</table>{% endif %}
{% if t.no_win_rates %}<p class="warn">{{ t.no_win_rates }}.</p>{% endif %}
{% endif %}
{% if s.calibration %}{% set c = s.calibration %}
<h2>Calibrated win rates (judge + {{ c.labelled }} human labels)</h2>
<p class="muted">What the analysts would have found had they labelled every pair: the judge's verdicts on all N pairs, corrected by human labels on n of them (prediction-powered inference, PPI++). Labels: {{ c.label_source }}.{% if c.assumption %} Note: {{ c.assumption }}.{% endif %} <b>Judge only</b> describes the judge's own noise, not its bias, and can miss; <b>labels only</b> is valid but wide; <b>calibrated</b> is valid whatever the judge's bias, and narrower than the labels alone when the judge tracks the humans (effective sample size).</p>
<table><tr><th>model A</th><th>model B</th><th>judge only (N)</th><th>labels only (n)</th><th>calibrated</th><th>effective n</th></tr>
{% for p in c.pairs %}<tr><td>{{ p.model_a }}</td><td>{{ p.model_b }}</td><td class="n">{{ estimate(p.judge_only) }} <span class="muted">(N = {{ p.N }})</span></td><td class="n">{{ estimate(p.labels_only) }} <span class="muted">(n = {{ p.n }})</span></td><td class="n"><b>{{ estimate(p.calibrated) }}</b></td><td class="n">{{ num(p.calibrated.effective_n, 0) if p.calibrated.effective_n else "–" }}</td></tr>{% endfor %}
</table>
{% if c.ratings and c.ratings.models %}
<p class="muted">Bradley–Terry ratings (Elo scale, anchored at {{ c.ratings.anchor }} = 1000) on the same labels: the judge's own (its verdicts alone), the labelled pairs alone, and calibrated (PPI++ M-estimation, λ = {{ num(c.ratings.lam, 2) }}).</p>
<table><tr><th>model</th><th>judge only</th><th>labels only</th><th>calibrated</th><th>labelled games</th></tr>
{% for m in c.ratings.models %}{% set j = judge_ratings.get(m.model) %}{% set l = label_ratings.get(m.model) %}<tr><td>{{ m.model }}</td><td class="n">{{ rating(j) if j else "–" }}</td><td class="n">{{ rating(l) if l else "–" }}</td><td class="n"><b>{{ rating(m) }}</b></td><td class="n">{{ m.labelled_games }}</td></tr>{% endfor %}
</table>
{% elif c.ratings and c.ratings.no_fit %}<p class="warn">No calibrated ratings: {{ c.ratings.no_fit }}.</p>{% endif %}
{% endif %}
{% if s.jury %}{% set j = s.jury %}
<h2>Jury ({{ j.method }} of {{ j.members|length }} judges, {{ j["items"] }} items)</h2>
<p class="muted">How far the judges agree with one another (Fleiss' κ over their final decisions{% if j.fleiss %}, {{ j.fleiss.n_items }} items with a decision from every judge{% if j.fleiss.left_out %}, {{ j.fleiss.left_out }} left out{% endif %}{% endif %}), each judge's agreement with the jury's decisions and with the human labels.</p>
{% if j.fleiss %}<p>Fleiss' κ <b>{{ num(j.fleiss.kappa, 3) }}</b> (observed agreement {{ pct(j.fleiss.observed) }}, by chance {{ pct(j.fleiss.expected) }}).</p>{% endif %}
<table><tr><th>judge</th><th>agreement with the jury</th><th>κ</th><th>agreement with humans</th><th>κ</th></tr>
{% for m in j.members %}<tr><td>{{ m.name }}</td><td class="n">{{ pct(m.agreement_with_jury.accuracy) if m.agreement_with_jury else "–" }}</td><td class="n">{{ num(m.agreement_with_jury.kappa, 3) if m.agreement_with_jury else "–" }}</td><td class="n">{{ pct(m.agreement_with_humans.accuracy) if m.agreement_with_humans else "–" }}</td><td class="n">{{ num(m.agreement_with_humans.kappa, 3) if m.agreement_with_humans else "–" }}</td></tr>{% endfor %}
{% if j.jury_agreement_with_humans %}<tr><td><b>the jury</b></td><td class="n">–</td><td class="n">–</td><td class="n">{{ pct(j.jury_agreement_with_humans.accuracy) }}</td><td class="n">{{ num(j.jury_agreement_with_humans.kappa, 3) }}</td></tr>{% endif %}
</table>
{% endif %}
{% if s.peer_agreement %}
<h2>Agreement with other judges on the same items</h2>
<p class="muted">This run's verdicts against each other run of the same items in this folder (imported judgements, another judge), taken as the labels. Items the other judge left undecided (inconsistent, unparsed) count as unlabelled.</p>
<table><tr><th>other judge</th><th>compared</th><th>verdicts</th><th>n</th><th>accuracy</th><th>macro F1</th><th>Cohen's κ</th><th>unparsed</th><th>inconsistent</th></tr>
{% for p in s.peer_agreement %}{% for name, key in [("first order (AB)", "first_order"), ("second order (BA)", "second_order"), ("final decision", "final_decision")] %}{% if p[key] %}{% set a = p[key] %}
<tr><td>{{ p.label }}</td><td>{{ name }}</td><td class="n">{{ p.matched }}</td><td class="n">{{ a.n }}</td><td class="n">{{ pct(a.accuracy) }}</td><td class="n">{{ pct(a.f1) }}</td><td class="n">{{ num(a.kappa, 3) }}</td><td class="n">{{ a.n_unparsed }}</td><td class="n">{{ a.n_inconsistent }}</td></tr>{% endif %}{% endfor %}{% endfor %}
</table>
{% endif %}
""")


def _span(entry: dict[str, Any]) -> str:
    if entry.get("ci_low") is None:
        return entry.get("no_interval") or "–"
    return f"{entry['ci_low']:.1f} – {entry['ci_high']:.1f}"


def render_protocol_sections(summary: dict[str, Any]) -> Markup:
    """The sections as HTML, empty when the summary has none of their figures."""
    arena = summary.get("arena_hard") or {}
    styled = {m["model"]: m for m in ((arena.get("style_controlled") or {}).get("scores") or [])}
    scores = (summary.get("mt_bench") or {}).get("scores") or []
    turns = sorted({int(turn) for m in scores for turn in m["turns"]})
    calibration = summary.get("calibration") or {}
    judge_ratings = {m["model"]: m for m in (summary.get("ratings") or {}).get("models") or []}
    label_ratings = {m["model"]: m for m in (calibration.get("ratings_labels_only") or {}).get("models") or []}
    return Markup(_SECTIONS.render(s=summary, pct=_pct, num=_num, span=_span, styled=styled, turns=turns,
                                   estimate=estimate_text, rating=rating_text, judge_ratings=judge_ratings,
                                   label_ratings=label_ratings))
