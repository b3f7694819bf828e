"""Output grammars: well-formed GBNF, accepted by llama.cpp, and in agreement with the parsers.

A constrained generation is only useful if what the grammar lets the judge write parses to the option it
chose. The pure-Python checks need nothing else; the llama.cpp checks need llama-cpp-python (a dependency) and the
embedded demo judge, whose vocabulary the grammar sampler needs: either missing is a failure, never a skip.
"""

from __future__ import annotations

import ctypes
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from judgedesk.core import create_backend, load_llama_cpp
from judgedesk.core.backends import Backend, Sampling
from judgedesk.core.backends._gbnf import GrammarMatcher
from judgedesk.core.formats import OutputSpec, PromptFields, format_names, get_format

COMBOS = [
    (name, task, lang)
    for name in format_names()
    for task in sorted(get_format(name).tasks)
    for lang in sorted(get_format(name).languages)
]
# A five-level judge (arenahard) keys its options by the verdict as written, in shown positions.
_FIVE_LEVELS = {"A>>B": "1", "A>B": "1", "A=B": "tie", "B>A": "2", "B>>A": "2"}
_RULE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\s*::=\s*(.*)$")
_LITERALS = re.compile(r'"(?:[^"\\]|\\.)*"|\[(?:[^\]\\]|\\.)*\]')


def _spec(name: str, task: str, lang: str) -> OutputSpec:
    return get_format(name).output(task, lang)  # type: ignore[arg-type]


def _rules(grammar: str) -> dict[str, str]:
    """Rule name -> body; every non-blank line must be one single-line rule."""
    rules: dict[str, str] = {}
    for line in grammar.splitlines():
        if not line.strip():
            continue
        match = _RULE.match(line)
        assert match, f"not a GBNF rule: {line!r}"
        assert match[1] not in rules, f"rule {match[1]!r} defined twice"
        rules[match[1]] = match[2]
    return rules


def _grammars() -> Iterator[Any]:
    for name, task, lang in COMBOS:
        spec = _spec(name, task, lang)
        yield pytest.param(spec.grammar(), id=f"{name}-{task}-{lang}")
        yield pytest.param(spec.rest_only_grammar(), id=f"{name}-{task}-{lang}-rest-only")


GRAMMARS = list(_grammars())


# --------------------------------------------------------------------------- shape, in pure Python


@pytest.mark.parametrize("grammar", GRAMMARS)
def test_grammar_is_gbnf_with_a_root_rule(grammar: str) -> None:
    assert isinstance(grammar, str) and grammar.strip()
    assert re.search(r"^root ::= ", grammar, re.MULTILINE)
    rules = _rules(grammar)
    assert "root" in rules
    for name, body in rules.items():
        assert body.strip(), f"rule {name!r} is empty"
        referenced = set(re.findall(r"[A-Za-z][A-Za-z0-9_-]*", _LITERALS.sub(" ", body)))
        assert referenced <= set(rules), f"rule {name!r} uses undefined {sorted(referenced - set(rules))}"


@pytest.mark.parametrize(("name", "task", "lang"), COMBOS)
def test_output_spec_is_consistent(name: str, task: str, lang: str) -> None:
    fmt = get_format(name)
    spec = _spec(name, task, lang)
    assert spec.max_tokens > 0
    if task == "pairwise":
        assert spec.scale is None
        expected = {"1", "2", "tie"} if fmt.has_tie else {"1", "2"}
        if set(spec.options) & set(_FIVE_LEVELS):
            expected = set(_FIVE_LEVELS)
            assert fmt.has_tie
        assert set(spec.options) == expected
        assert all(spec.options.values())
    else:
        assert spec.options == {}
        assert spec.scale is not None and spec.scale[0] < spec.scale[1]
    if not spec.verdict_first:
        assert spec.verdict_phrase and spec.verdict_phrase in spec.verdict_statement


# --------------------------------------------------------------------------- grammar and parser agree

_CRITIQUE = {"en": "The response is correct but terse.", "zh": "该回应正确但过于简短。"}
# A few texts each grammar allows after the option (pairwise) or as the whole constrained part (grading), with
# what the whole output must parse to.
_PAIRWISE_RESTS = {
    "pandalm": "\n\n### Reason: Response 1 is correct.\n\n### Reference: Paris\n",
    "autoj": "",
    "prometheus": "",
    "generic": '", "reason": "It answers the question."}',
    "mtbench": "",
    "arenahard": "",
}
_SINGLE_RESTS: dict[str, list[tuple[str, float]]] = {
    "autoj": [(f"{n}]]", float(n)) for n in range(1, 11)] + [("5.5]]", 5.5), ("9.9]]", 9.9), ("1.0]]", 1.0)],
    "prometheus": [(f" {n}", float(n)) for n in range(1, 6)],
    "generic": [(f'{n}, "critique": "fine"}}', float(n)) for n in range(1, 11)],
    "mtbench": [(f"{n}]]", float(n)) for n in range(1, 11)] + [("7.5]]", 7.5), ("1.0]]", 1.0)],
}
_TWO = PromptFields(instruction="Capital of France?", responses=("Paris", "Lyon"))
_ONE = PromptFields(instruction="Capital of France?", responses=("Paris",))


def _position(key: str) -> str:
    """The shown position an option key names: itself, or the winner of a five-level verdict."""
    return _FIVE_LEVELS.get(key, key)


def _constrained_samples(name: str, task: str, lang: str) -> list[tuple[str, str, Any]]:
    """(text the grammar must accept, whole output as the engine assembles it, expected parse)."""
    fmt = get_format(name)
    spec = _spec(name, task, lang)
    prefill = fmt.prompt(task, _TWO if task == "pairwise" else _ONE, lang).prefill  # type: ignore[arg-type]
    lead = "" if spec.verdict_first else _CRITIQUE[lang] + spec.verdict_statement
    if task == "pairwise":
        rest = _PAIRWISE_RESTS[name]
        return [
            (option + rest, prefill + lead + option + rest, position)
            for position, option in spec.options.items()
        ]
    return [(rest, prefill + lead + rest, score) for rest, score in _SINGLE_RESTS[name]]


@pytest.mark.parametrize(("name", "task", "lang"), COMBOS)
def test_every_option_the_grammar_allows_parses_to_itself(name: str, task: str, lang: str) -> None:
    fmt = get_format(name)
    for _, output, expected in _constrained_samples(name, task, lang):
        if task == "pairwise":
            verdict = fmt.parse_pairwise(output, lang)
            assert (verdict.winner, verdict.problem) == (_position(expected), None), output
            assert verdict.strength == (expected if expected in _FIVE_LEVELS else None), output
        else:
            grade = fmt.parse_grade(output, lang)
            assert (grade.score, grade.problem) == (expected, None), output


# --------------------------------------------------------------------------- llama.cpp


def _import_llama_cpp() -> Any:
    # judgedesk's own loader: it checks the build's CPU needs first, as every judge load does.
    return load_llama_cpp()


@pytest.fixture(scope="module")
def demo_backend(demo_path: Path) -> Iterator[Backend]:
    with create_backend("llama.cpp", path=demo_path, n_ctx=512, n_threads=1) as backend:
        yield backend


# Hot and uncut sampling: left alone the demo judge writes anything at all, so only the grammar keeps it in line.
_WILD = [Sampling(temperature=1.5, top_k=0, top_p=1.0, min_p=0.0, seed=seed) for seed in (1, 2, 3)]
_WILD_TOKENS = 16


@pytest.fixture(scope="module")
def unconstrained(demo_backend: Backend) -> list[tuple[list[int], str]]:
    """(prompt, what the judge writes there without a grammar) for each of a few prompts, hot sampling."""
    prompts = ["Verdict:", "Which response is better? Answer:", "评分:"]
    written = []
    for text, sampling in zip(prompts, _WILD, strict=True):
        prompt = demo_backend.tokenize(text, special=False)
        written.append((prompt, demo_backend.generate(prompt, max_tokens=_WILD_TOKENS, sampling=sampling).text))
    return written


@pytest.mark.real_model
@pytest.mark.parametrize(("name", "task", "lang"), COMBOS)
def test_the_grammar_holds_hot_sampling_on_the_demo_judge(demo_backend: Backend, unconstrained: list[Any],
                                                          name: str, task: str, lang: str) -> None:
    fmt = get_format(name)
    spec = _spec(name, task, lang)
    grammar = spec.grammar()
    matcher = GrammarMatcher(grammar)  # judgedesk's own GBNF automaton, independent of llama.cpp's
    prefill = fmt.prompt(task, _TWO if task == "pairwise" else _ONE, lang).prefill  # type: ignore[arg-type]
    lead = "" if spec.verdict_first else _CRITIQUE[lang] + spec.verdict_statement
    for (prompt, free), sampling in zip(unconstrained, _WILD, strict=True):
        # The same prompt and sampling without the grammar leave it: what holds the output below is the grammar.
        assert matcher.advance(matcher.start, free) is None, free
        written = demo_backend.generate(prompt, max_tokens=_WILD_TOKENS, sampling=sampling, grammar=grammar)
        text = written.text.rstrip("\ufffd") if written.finish == "length" else written.text  # a cut character
        state = matcher.advance(matcher.start, text)
        assert state is not None, f"left the grammar: {text!r}"
        if task == "pairwise":
            chosen = [position for position, option in spec.options.items() if text.startswith(option)]
            assert len(chosen) == 1, text
        if written.finish != "eos":
            continue
        assert matcher.accepts(state), f"ended before the grammar allows: {text!r}"
        output = prefill + lead + text
        if task == "pairwise":
            verdict = fmt.parse_pairwise(output, lang)
            assert (verdict.winner, verdict.problem) == (_position(chosen[0]), None), output
        else:
            grade = fmt.parse_grade(output, lang)
            assert grade.problem is None and spec.scale is not None, output
            assert grade.score is not None and spec.scale[0] <= grade.score <= spec.scale[1], output


class _NativeGrammar:
    """llama.cpp's own GBNF parser and sampler, over the demo judge's vocabulary (loaded without weights)."""

    def __init__(self, llama_cpp: Any, path: Path) -> None:
        self._lib = llama_cpp
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        self._model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if not self._model:
            raise RuntimeError(f"{path}: llama.cpp could not load the vocabulary")
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)

    def close(self) -> None:
        if self._model:
            self._lib.llama_model_free(self._model)
            self._model = None

    def parses(self, grammar: str) -> bool:
        sampler = self._lib.llama_sampler_init_grammar(self._vocab, grammar.encode(), b"root")
        if not sampler:
            return False
        self._lib.llama_sampler_free(sampler)
        return True

    def accepts(self, grammar: str, text: str) -> bool:
        """Whether the grammar lets a generation write exactly `text` and then end."""
        sampler = self._lib.llama_sampler_init_grammar(self._vocab, grammar.encode(), b"root")
        assert sampler, f"llama.cpp rejected the grammar:\n{grammar}"
        try:
            for token in self._tokenize(text):
                if not self._allowed(sampler, token):
                    return False
                self._lib.llama_sampler_accept(sampler, token)  # only ever an allowed token: never throws
            return self._allowed(sampler, self._lib.llama_vocab_eos(self._vocab))
        finally:
            self._lib.llama_sampler_free(sampler)

    def _tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        buffer = (self._lib.llama_token * (len(data) + 8))()
        count = self._lib.llama_tokenize(self._vocab, data, len(data), buffer, len(buffer), False, False)
        assert count >= 0
        return list(buffer[:count])

    def _allowed(self, sampler: Any, token: int) -> bool:
        candidates = (self._lib.llama_token_data * 1)(self._lib.llama_token_data(token, 0.0, 0.0))
        array = self._lib.llama_token_data_array(candidates, 1, -1, False)
        self._lib.llama_sampler_apply(sampler, ctypes.byref(array))
        return not math.isinf(candidates[0].logit)


@pytest.fixture(scope="module")
def native(demo_path: Path) -> Iterator[_NativeGrammar]:
    grammar = _NativeGrammar(_import_llama_cpp(), demo_path)
    try:
        yield grammar
    finally:
        grammar.close()


@pytest.mark.real_model
def test_native_parser_rejects_a_broken_grammar(native: _NativeGrammar) -> None:
    # Without this, a parser that accepted everything would make the tests below pass vacuously.
    assert not native.parses("root ::= rest\n")
    assert not native.parses("root ::= [1-5\n")


_GENERATE_WITH_A_BROKEN_GRAMMAR = """
import sys
from judgedesk.core import JudgedeskError, create_backend
from judgedesk.core.backends import Sampling

with create_backend("llama.cpp", path=sys.argv[1], n_ctx=256, n_threads=1) as backend:
    prompt = backend.tokenize("Score:", special=False)
    try:
        backend.generate(prompt, max_tokens=4, sampling=Sampling(), grammar="root ::= [1-5\\n")
    except JudgedeskError as exc:
        print(type(exc).__name__, exc)
"""


@pytest.mark.real_model
def test_the_backend_refuses_a_grammar_llama_cpp_cannot_parse(demo_path: Path) -> None:
    # In a child process: llama.cpp returns NULL for a grammar it cannot parse, and a sampler chain given that NULL
    # brings the whole process down with SIGSEGV.
    result = subprocess.run([sys.executable, "-c", _GENERATE_WITH_A_BROKEN_GRAMMAR, str(demo_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"exit status {result.returncode}\n{result.stderr[-2000:]}"
    assert result.stdout.startswith("GrammarError llama.cpp cannot parse the output grammar"), result.stdout


@pytest.mark.real_model
@pytest.mark.parametrize("grammar", GRAMMARS)
def test_llama_cpp_parses_grammar(native: _NativeGrammar, grammar: str) -> None:
    assert native.parses(grammar), grammar


@pytest.mark.real_model
@pytest.mark.parametrize(("name", "task", "lang"), COMBOS)
def test_llama_cpp_grammar_accepts_what_the_parser_reads(
    native: _NativeGrammar, name: str, task: str, lang: str
) -> None:
    grammar = _spec(name, task, lang).grammar()
    for constrained, _, _ in _constrained_samples(name, task, lang):
        assert native.accepts(grammar, constrained), repr(constrained)


_REJECTED = {
    ("pandalm", "pairwise", "en"): ["3\n\n### Reason: x\n\n### Reference: y\n", "1\n\n### Reason: x"],
    ("autoj", "pairwise", "en"): [" Response 3", "Response 1"],
    ("autoj", "pairwise", "zh"): ["回应3", "回应"],
    ("autoj", "single", "en"): ["0]]", "11]]", "7", "5.55]]"],
    ("autoj", "single", "zh"): ["0]]", "11]]"],
    ("prometheus", "pairwise", "en"): [" C", " Tie"],
    ("prometheus", "single", "en"): [" 0", " 6", "4"],
    ("generic", "pairwise", "en"): ['C", "reason": "x"}', 'A", "reason": "line\nbreak"}'],
    ("generic", "single", "en"): ['0, "critique": "x"}', '11, "critique": "x"}'],
    ("mtbench", "pairwise", "en"): ["D]]", "A]", "a]]"],
    ("mtbench", "single", "en"): ["0]]", "11]]", "7", "7.55]]"],
    ("arenahard", "pairwise", "en"): ["A>>>B]]", "A]]", "A=B]", "a>b]]"],
}


def test_rejections_cover_every_format() -> None:
    assert set(_REJECTED) == set(COMBOS)


@pytest.mark.real_model
@pytest.mark.parametrize(("name", "task", "lang"), COMBOS)
def test_llama_cpp_grammar_rejects_what_the_parser_must_not_see(
    native: _NativeGrammar, name: str, task: str, lang: str
) -> None:
    grammar = _spec(name, task, lang).grammar()
    for text in _REJECTED[(name, task, lang)]:
        assert not native.accepts(grammar, text), repr(text)
