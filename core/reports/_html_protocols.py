"""report.html's sections for the ecosystem's own figures (AlpacaEval's leaderboard, Arena-Hard's scores, MT-bench's
per-turn tables) and for agreement with another judge's run of the same items. Each section shows only when the
summary holds its figures."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

__all__ = ["render_protocol_sections"]

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


_SECTIONS = _ENV.from_string("""
{% if s.peer_agreement %}
<h2>Agreement with other judges on the same items</h2>
<p class="muted">This run's verdicts against each other run of the same items in this folder (imported judgements, another judge), taken as the labels. Items the other judge left undecided (inconsistent, unparsed) count as unlabelled.</p>
<table><tr><th>other judge</th><th>compared</th><th>verdicts</th><th>n</th><th>accuracy</th><th>macro F1</th><th>Cohen's κ</th><th>unparsed</th><th>inconsistent</th></tr>
{% for p in s.peer_agreement %}{% for name, key in [("first order (AB)", "first_order"), ("second order (BA)", "second_order"), ("final decision", "final_decision")] %}{% if p[key] %}{% set a = p[key] %}
<tr><td>{{ p.label }}</td><td>{{ name }}</td><td class="n">{{ p.matched }}</td><td class="n">{{ a.n }}</td><td class="n">{{ pct(a.accuracy) }}</td><td class="n">{{ pct(a.f1) }}</td><td class="n">{{ num(a.kappa, 3) }}</td><td class="n">{{ a.n_unparsed }}</td><td class="n">{{ a.n_inconsistent }}</td></tr>{% endif %}{% endfor %}{% endfor %}
</table>
{% endif %}
""")


def render_protocol_sections(summary: dict[str, Any]) -> Markup:
    """The sections as HTML, empty when the summary has none of their figures."""
    return Markup(_SECTIONS.render(s=summary, pct=_pct, num=_num))
