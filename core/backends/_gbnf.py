"""GBNF grammars for backends that have no grammar engine of their own (transformers).

llama.cpp enforces the GBNF grammars that judge formats write (`OutputSpec.grammar()`). Those grammars are all
regular: literals, character classes, groups, alternatives and repetition, with rules that refer to other rules but
never to themselves. So a grammar compiles here to a character automaton (an NFA, explored lazily as a DFA), and a
backend asks it which text may come next. A recursive rule or an unsupported construct (`{m,n}` repetition) is a
`GrammarError` naming it, never a silently unenforced grammar.

    matcher = GrammarMatcher(spec.grammar())
    state = matcher.start
    state = matcher.advance(state, "Tie")   # None: the text leaves the grammar
    matcher.accepts(state), matcher.finished(state)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .._errors import JudgedeskError

__all__ = ["GrammarError", "GrammarMatcher"]

State = frozenset[int]


class GrammarError(JudgedeskError):
    """A GBNF grammar this module cannot enforce: malformed, recursive, or using an unsupported construct."""


@dataclass(frozen=True)
class _CharSet:
    """A character class: ranges of code points, possibly negated."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False

    def __contains__(self, char: str) -> bool:
        code = ord(char)
        inside = any(low <= code <= high for low, high in self.ranges)
        return inside != self.negated


_ANY = _CharSet((), negated=True)
_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\n]+|\#[^\n]*)
  | (?P<define>::=)
  | (?P<name>[A-Za-z0-9_-]+)
  | (?P<literal>"(?:[^"\\]|\\.)*")
  | (?P<charclass>\[(?:[^\]\\]|\\.)*\])
  | (?P<punct>[()|*+?.])
  | (?P<bad>.)
""", re.VERBOSE | re.DOTALL)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "[": "[", "]": "]", "-": "-", "^": "^", "/": "/"}


def _unescape(body: str, where: str) -> list[str]:
    """Characters of a literal or class body, with GBNF escapes resolved (each escaped char kept distinguishable)."""
    chars: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            chars.append(char)
            index += 1
            continue
        code = body[index + 1:index + 2]
        if code in _ESCAPES:
            chars.append("\\" + _ESCAPES[code])
            index += 2
        elif code in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = body[index + 2:index + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise GrammarError(f"bad escape \\{code}{digits} in {where}")
            chars.append("\\" + chr(int(digits, 16)))
            index += 2 + width
        else:
            raise GrammarError(f"unknown escape \\{code} in {where}")
    return chars


def _plain(char: str) -> str:
    return char[1:] if len(char) == 2 and char[0] == "\\" else char


def _char_class(text: str) -> _CharSet:
    body = _unescape(text[1:-1], text)
    negated = bool(body) and body[0] == "^"
    if negated:
        body = body[1:]
    ranges = []
    index = 0
    while index < len(body):
        low = _plain(body[index])
        if index + 2 < len(body) and body[index + 1] == "-":
            high = _plain(body[index + 2])
            if ord(high) < ord(low):
                raise GrammarError(f"empty range {low}-{high} in {text}")
            ranges.append((ord(low), ord(high)))
            index += 3
        else:
            ranges.append((ord(low), ord(low)))
            index += 1
    return _CharSet(tuple(ranges), negated)


@dataclass
class _Automaton:
    """Thompson NFA: per state, character edges and epsilon edges."""

    edges: list[list[tuple[_CharSet, int]]] = field(default_factory=list)
    empty: list[list[int]] = field(default_factory=list)

    def new_state(self) -> int:
        self.edges.append([])
        self.empty.append([])
        return len(self.edges) - 1


class _Compiler:
    """Recursive-descent parser of GBNF that emits NFA fragments directly (rules are inlined where referenced)."""

    def __init__(self, text: str) -> None:
        self.tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text) if m.lastgroup != "space"]
        for kind, value in self.tokens:
            if kind == "bad":
                hint = " ({m,n} repetition is not supported)" if value in "{}" else ""
                raise GrammarError(f"unexpected {value!r} in the grammar{hint}")
        self.rules: dict[str, list[tuple[str | None, str]]] = {}
        position = 0
        while position < len(self.tokens):
            kind, name = self.tokens[position]
            if kind != "name" or self._at(position + 1) != ("define", "::="):
                raise GrammarError(f"expected a rule definition 'name ::= ...', found {name!r}")
            end = position + 2
            while end < len(self.tokens) and not (self.tokens[end][0] == "name"
                                                  and self._at(end + 1) == ("define", "::=")):
                end += 1
            if name in self.rules:
                raise GrammarError(f"rule {name!r} is defined twice")
            self.rules[name] = self.tokens[position + 2:end]
            position = end
        if "root" not in self.rules:
            raise GrammarError("the grammar has no 'root' rule")
        self.nfa = _Automaton()
        self.expanding: list[str] = []

    def _at(self, index: int) -> tuple[str | None, str] | None:
        return self.tokens[index] if index < len(self.tokens) else None

    def compile(self) -> tuple[_Automaton, int, int]:
        start = self.nfa.new_state()
        end = self._rule("root", start)
        return self.nfa, start, end

    def _rule(self, name: str, start: int) -> int:
        if name not in self.rules:
            raise GrammarError(f"rule {name!r} is used but never defined")
        if name in self.expanding:
            raise GrammarError(f"rule {name!r} is recursive ({' -> '.join([*self.expanding, name])}); only regular "
                               "grammars can be enforced by this backend")
        self.expanding.append(name)
        tokens = self.rules[name]
        end, position = self._alternatives(tokens, 0, start, name)
        if position != len(tokens):
            raise GrammarError(f"unexpected {tokens[position][1]!r} in rule {name!r}")
        self.expanding.pop()
        return end

    def _alternatives(self, tokens: list[tuple[str | None, str]], position: int, start: int,
                      rule: str) -> tuple[int, int]:
        nfa = self.nfa
        end = nfa.new_state()
        while True:
            branch = nfa.new_state()
            nfa.empty[start].append(branch)
            branch_end, position = self._sequence(tokens, position, branch, rule)
            nfa.empty[branch_end].append(end)
            if position < len(tokens) and tokens[position] == ("punct", "|"):
                position += 1
                continue
            return end, position

    def _sequence(self, tokens: list[tuple[str | None, str]], position: int, start: int,
                  rule: str) -> tuple[int, int]:
        current = start
        while position < len(tokens) and tokens[position] not in (("punct", "|"), ("punct", ")")):
            element_start = self.nfa.new_state()
            element_end, position = self._element(tokens, position, element_start, rule)
            quantifier = tokens[position][1] if position < len(tokens) and tokens[position][0] == "punct" \
                and tokens[position][1] in "*+?" else None
            if quantifier is not None:
                position += 1
            current = self._attach(current, element_start, element_end, quantifier)
        return current, position

    def _attach(self, current: int, element_start: int, element_end: int, quantifier: str | None) -> int:
        nfa = self.nfa
        after = nfa.new_state()
        nfa.empty[current].append(element_start)
        nfa.empty[element_end].append(after)
        if quantifier in ("*", "?"):
            nfa.empty[current].append(after)
        if quantifier in ("*", "+"):
            nfa.empty[element_end].append(element_start)
        return after

    def _element(self, tokens: list[tuple[str | None, str]], position: int, start: int,
                 rule: str) -> tuple[int, int]:
        nfa = self.nfa
        kind, value = tokens[position]
        if kind == "literal":
            current = start
            for char in _unescape(value[1:-1], value):
                following = nfa.new_state()
                code = ord(_plain(char))
                nfa.edges[current].append((_CharSet(((code, code),)), following))
                current = following
            return current, position + 1
        if kind == "charclass":
            end = nfa.new_state()
            nfa.edges[start].append((_char_class(value), end))
            return end, position + 1
        if (kind, value) == ("punct", "."):
            end = nfa.new_state()
            nfa.edges[start].append((_ANY, end))
            return end, position + 1
        if kind == "name":
            return self._rule(value, start), position + 1
        if (kind, value) == ("punct", "("):
            end, position = self._alternatives(tokens, position + 1, start, rule)
            if position >= len(tokens) or tokens[position] != ("punct", ")"):
                raise GrammarError(f"unclosed '(' in rule {rule!r}")
            return end, position + 1
        raise GrammarError(f"unexpected {value!r} in rule {rule!r}")


class GrammarMatcher:
    """Which text a GBNF grammar allows next; states are immutable, so one matcher serves every generation."""

    def __init__(self, grammar: str) -> None:
        nfa, start, self._final = _Compiler(grammar).compile()
        self._nfa = nfa
        self.start: State = self._closure({start})
        self._steps: dict[tuple[State, str], State | None] = {}

    def _closure(self, states: set[int]) -> State:
        stack = list(states)
        seen = set(states)
        while stack:
            for target in self._nfa.empty[stack.pop()]:
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        # States with nothing but epsilon edges add nothing once closed; dropping them keeps the cache small.
        return frozenset(s for s in seen if self._nfa.edges[s] or s == self._final)

    def _step(self, state: State, char: str) -> State | None:
        key = (state, char)
        if key not in self._steps:
            targets = {target for s in state for charset, target in self._nfa.edges[s] if char in charset}
            self._steps[key] = self._closure(targets) if targets else None
        return self._steps[key]

    def advance(self, state: State, text: str) -> State | None:
        """The state after `text`, or None when no string of the grammar continues this way."""
        for char in text:
            following = self._step(state, char)
            if following is None:
                return None
            state = following
        return state

    def accepts(self, state: State) -> bool:
        """Whether the text so far is a complete string of the grammar."""
        return self._final in state

    def finished(self, state: State) -> bool:
        """Whether the text so far is complete and nothing more may follow."""
        return all(not self._nfa.edges[s] for s in state)
