"""The GBNF automaton the transformers backend enforces grammars with: every grammar judge formats write compiles,
accepts the outputs llama.cpp's grammar would accept, and refuses the rest; unsupported grammars are errors."""

from __future__ import annotations

import pytest
from judgedesk.core import JudgedeskError
from judgedesk.core.backends._gbnf import GrammarError, GrammarMatcher
from judgedesk.core.formats import format_names, get_format


def _complete(matcher: GrammarMatcher, text: str) -> bool:
    state = matcher.advance(matcher.start, text)
    return state is not None and matcher.accepts(state)


def test_every_format_grammar_compiles():
    compiled = 0
    for name in format_names():
        fmt = get_format(name)
        for task in sorted(fmt.tasks):
            for lang in sorted(fmt.languages):
                spec = fmt.output(task, lang)  # type: ignore[arg-type]
                GrammarMatcher(spec.grammar())
                GrammarMatcher(spec.rest_only_grammar())
                compiled += 2
    assert compiled >= 12


def test_pandalm_grammar():
    matcher = GrammarMatcher(get_format("pandalm").output("pairwise", "en").grammar())
    whole = "Tie\n\n### Reason: both are fine\n\n### Reference: Paris\n"
    state = matcher.advance(matcher.start, whole)
    assert state is not None and matcher.accepts(state) and matcher.finished(state)
    unfinished = matcher.advance(matcher.start, whole[:-1])
    assert unfinished is not None and not matcher.accepts(unfinished) and not matcher.finished(unfinished)
    assert matcher.advance(matcher.start, "Ti") is not None
    assert matcher.advance(matcher.start, "3") is None
    assert matcher.advance(matcher.start, "1\n\n### Reason: \n") is None  # a reason line is never empty
    assert matcher.advance(state, "x") is None  # nothing after the final newline


def test_generic_grammars():
    pairwise = GrammarMatcher(get_format("generic").output("pairwise", "en").grammar())
    assert _complete(pairwise, 'tie", "reason": "a \\"quoted\\" word"}')
    assert pairwise.advance(pairwise.start, 'A", "reason": "two\nlines') is None  # raw newline inside a string
    assert pairwise.advance(pairwise.start, "C") is None
    single = GrammarMatcher(get_format("generic").output("single", "en").grammar())
    assert _complete(single, '10, "critique": ""}')
    assert _complete(single, '7, "critique": "ok"}')
    assert single.advance(single.start, "11") is None
    assert single.advance(single.start, "0") is None


def test_classes_escapes_and_repetition():
    matcher = GrammarMatcher(r'root ::= [^a-c\]x-]+ [\x41] "\u00e9" .? # a comment')
    assert _complete(matcher, "dzAé")
    assert _complete(matcher, "dzAéq")
    for text in ("x", "-", "]", "b"):
        assert matcher.advance(matcher.start, text) is None
    optional = GrammarMatcher('root ::= "a" ("b" | "cd")* "e"?')
    assert _complete(optional, "a") and _complete(optional, "abcdbe")
    assert not _complete(optional, "ac")
    assert optional.advance(optional.start, "abx") is None


@pytest.mark.parametrize(("grammar", "problem"), [
    ('root ::= a\na ::= "x" a', "recursive"),
    ('root ::= "x"{2}', "not supported"),
    ('start ::= "a"', "no 'root' rule"),
    ("root ::= b", "never defined"),
    ('root ::= ("a"', "unclosed"),
    ('root ::= "\\q"', "unknown escape"),
    ('root ::= "a"\nroot ::= "b"', "defined twice"),
])
def test_unsupported_grammars_are_errors(grammar, problem):
    with pytest.raises(GrammarError, match=problem) as caught:
        GrammarMatcher(grammar)
    assert isinstance(caught.value, JudgedeskError)
