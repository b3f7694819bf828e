"""Auto-J (GAIR-NLP/auto-j): pairwise comparison and single grading (1-10), English and Chinese.

The prompt is wrapped as `[INST] ... [/INST]` (no system message). The verdict comes after the critique: pairwise
outputs end with "So, the final decision is Response 1 / Response 2 / Tie", single grading with "Rating: [[N]]".
Parsing takes the LAST occurrence, as Auto-J's own scripts do, so an earlier echoed or quoted verdict cannot win.
"""

from __future__ import annotations

import re

from ._base import JudgePrompt, OutputSpec, ParsedGrade, ParsedVerdict, PromptFields, Task
from ._published import (
    AUTOJ_PAIRWISE_EN,
    AUTOJ_PAIRWISE_ZH,
    AUTOJ_SINGLE_EN,
    AUTOJ_SINGLE_ZH,
    AUTOJ_WRAPPER,
)

__all__ = ["AutoJFormat"]

_PAIRWISE = {
    # lang: (template, phrase the verdict follows, statement appended if the judge never wrote it, options)
    "en": (AUTOJ_PAIRWISE_EN, "final decision is", "\n\nSo, the final decision is",
           {"1": " Response 1", "2": " Response 2", "tie": " Tie"}),
    "zh": (AUTOJ_PAIRWISE_ZH, "最终决定是", "\n\n所以，最终决定是", {"1": "回应1", "2": "回应2", "tie": "平局"}),
}
_SINGLE = {
    "en": (AUTOJ_SINGLE_EN, "Rating: [[", "\n\nRating: [["),
    "zh": (AUTOJ_SINGLE_ZH, "评分: [[", "\n\n评分: [["),
}
# Real Chinese outputs also use the full-width colon, and 评级 ("grade") or 打分 ("mark", which Auto-J's own
# extractor accepts) instead of 评分 ("score").
_RATING_OPENER = {
    "en": re.compile(r"Rating:\s*\[\["),
    "zh": re.compile(r"(?:评分|评级|打分)\s*[:：]\s*\[\["),
}
_RATING_VALUE = re.compile(r"\s*(\d{1,3}(?:\.\d{1,3})?)\s*\]\]")
_DECISION_PREFIX = {"en": "final decision is", "zh": "最终决定是"}
_DECISION_WORDS = {
    "en": (("response 1", "1"), ("response 2", "2"), ("tie", "tie")),
    "zh": (("回应1", "1"), ("回应2", "2"), ("平局", "tie")),
}
# The words that open the decision statement ("So, the" / "所以，") belong to it, not to the critique.
_STATEMENT_OPENING = re.compile(r"(?:So,?\s*the\s*|所以\s*[，,]?\s*)$", re.IGNORECASE)
_SCORE_GRAMMAR = 'rest ::= ("10" | [1-9] ("." [0-9])?) "]]"\n'
_NOTHING_GRAMMAR = 'rest ::= ""\n'


def _query(fields: PromptFields) -> str:
    return f"{fields.instruction}\n\n{fields.input}" if fields.input.strip() else fields.instruction


class AutoJFormat:
    """Auto-J-13B's formats."""

    name = "autoj"
    description = "Auto-J-13B: critique then verdict; pairwise (Response 1 / 2 / Tie) and 1-10 grading; en, zh"
    tasks: frozenset[Task] = frozenset({"pairwise", "single"})
    languages = frozenset({"en", "zh"})
    uses_chat_template = False
    takes_rubric = False
    has_tie = True
    takes_conversation = False

    def prompt(self, task: Task, fields: PromptFields, lang: str) -> JudgePrompt:
        if task == "pairwise":
            body = _PAIRWISE[lang][0].format(prompt=_query(fields), response=fields.responses[0],
                                             response_another=fields.responses[1])
        else:
            body = _SINGLE[lang][0].format(prompt=_query(fields), response=fields.responses[0])
        return JudgePrompt(user=AUTOJ_WRAPPER.format(input=body))

    def output(self, task: Task, lang: str) -> OutputSpec:
        if task == "pairwise":
            _, phrase, statement, options = _PAIRWISE[lang]
            return OutputSpec(verdict_first=False, options=options, rest_grammar=_NOTHING_GRAMMAR, max_tokens=1024,
                              verdict_phrase=phrase, verdict_statement=statement)
        _, phrase, statement = _SINGLE[lang]
        return OutputSpec(verdict_first=False, options={}, rest_grammar=_SCORE_GRAMMAR, max_tokens=1024,
                          verdict_phrase=phrase, verdict_statement=statement, scale=(1, 10))

    def parse_pairwise(self, text: str, lang: str) -> ParsedVerdict:
        prefix = _DECISION_PREFIX.get(lang, _DECISION_PREFIX["en"])
        position = text.rfind(prefix)
        if position < 0:
            return ParsedVerdict(winner=None, problem=f"no {prefix!r} statement")
        after = text[position + len(prefix):].strip().lower()
        for word, winner in _DECISION_WORDS.get(lang, _DECISION_WORDS["en"]):
            if after.startswith(word):
                critique = _STATEMENT_OPENING.sub("", text[:position]).strip()
                return ParsedVerdict(winner=winner, reason=critique or None)  # type: ignore[arg-type]
        return ParsedVerdict(winner=None, problem=f"the last decision statement names {after[:30]!r}")

    def parse_grade(self, text: str, lang: str) -> ParsedGrade:
        # The LAST opener decides (Auto-J's scripts use rfind): an earlier quoted "Rating: [[5]]" cannot stand in
        # for a final rating that is missing or malformed.
        openers = list(_RATING_OPENER.get(lang, _RATING_OPENER["en"]).finditer(text))
        if not openers:
            return ParsedGrade(score=None, problem="no 'Rating: [[N]]'")
        last = openers[-1]
        value = _RATING_VALUE.match(text, last.end())
        if value is None:
            return ParsedGrade(score=None, problem="the last 'Rating: [[' is not followed by a number and ']]'")
        score = float(value.group(1))
        if not 1 <= score <= 10:
            return ParsedGrade(score=None, problem=f"rating {score:g} is outside 1-10")
        return ParsedGrade(score=score, critique=text[:last.start()].strip() or None)

    def template_texts(self) -> tuple[str, ...]:
        return (AUTOJ_WRAPPER, AUTOJ_PAIRWISE_EN, AUTOJ_PAIRWISE_ZH, AUTOJ_SINGLE_EN, AUTOJ_SINGLE_ZH,
                _SCORE_GRAMMAR, _NOTHING_GRAMMAR)
