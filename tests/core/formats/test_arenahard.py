"""The `arenahard` format: Arena-Hard-Auto v0.1's judge prompt, character for character, its five-level verdicts
parsed as Arena-Hard parses them (last match), and the strength mapped to the caller's labels through the engine.

The published strings are read from unchanged copies of Arena-Hard's files in tests/data/ecosystem/arena-hard/:
`judge_utils.py.txt` (parsed as Python, never run) for the system prompt, `arena-hard-v0.1.yaml` for the user
template, the verdict regexes and the token budget.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

import pytest
import yaml
from judgedesk.core import DecodingSettings, EvalItem, FormatError, Judge, strength_winner, to_json
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.formats import ArenaHardFormat, JudgeFormat, JudgePrompt, PromptFields, get_format
from judgedesk.core.formats._ecosystem_prompts import (
    ARENA_HARD_SYSTEM,
    ARENA_HARD_TEMPLATE,
    ARENA_HARD_VERDICT_PATTERNS,
)

from tests.reference_data import DATA

ARENA_HARD = DATA / "ecosystem" / "arena-hard"
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
FMT = ArenaHardFormat()
LEVELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
POSITION = {"A>>B": "1", "A>B": "1", "A=B": "tie", "B>A": "2", "B>>A": "2"}
SWAPPED = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}


def _config() -> dict[str, Any]:
    config = yaml.safe_load((ARENA_HARD / "arena-hard-v0.1.yaml").read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def _judge_utils() -> tuple[dict[str, str], ast.expr]:
    """(module-level string constants, the arena-hard-v0.1 setting's system_prompt expression) of judge_utils.py."""
    tree = ast.parse((ARENA_HARD / "judge_utils.py.txt").read_text(encoding="utf-8"))
    constants: dict[str, str] = {}
    settings: ast.Dict | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                constants[name] = node.value.value
            elif name == "JUDGE_SETTINGS" and isinstance(node.value, ast.Dict):
                settings = node.value
    assert settings is not None
    for key, value in zip(settings.keys, settings.values, strict=True):
        if isinstance(key, ast.Constant) and key.value == "arena-hard-v0.1":
            assert isinstance(value, ast.Dict)
            for field, expr in zip(value.keys, value.values, strict=True):
                if isinstance(field, ast.Constant) and field.value == "system_prompt":
                    return constants, expr
    raise AssertionError("judge_utils.py has no arena-hard-v0.1 system_prompt")


# -- the published strings ----------------------------------------------------------------------------------


def test_system_prompt_is_the_one_arena_hard_v0_1_uses() -> None:
    constants, expr = _judge_utils()
    # The setting names the constant rather than repeating it; the constant's text is the prompt.
    assert isinstance(expr, ast.Name) and expr.id == "OG_ARENA_HARD_PROMPT"
    assert ARENA_HARD_SYSTEM == constants["OG_ARENA_HARD_PROMPT"]


def test_template_patterns_and_budget_are_the_yamls() -> None:
    config = _config()
    assert ARENA_HARD_TEMPLATE == config["prompt_template"]
    assert list(ARENA_HARD_VERDICT_PATTERNS) == config["regex_patterns"]
    assert FMT.output("pairwise", "en").max_tokens == config["max_tokens"] == 4096
    texts = FMT.template_texts()
    assert ARENA_HARD_SYSTEM in texts and ARENA_HARD_TEMPLATE in texts


def test_registered_as_a_pairwise_chat_format_for_single_turns() -> None:
    fmt = get_format("arenahard")
    assert isinstance(fmt, ArenaHardFormat) and isinstance(fmt, JudgeFormat)
    assert fmt.uses_chat_template and fmt.has_tie and not fmt.takes_conversation and not fmt.takes_rubric
    assert fmt.tasks == {"pairwise"} and fmt.languages == {"en"}


def test_output_spec_pauses_at_the_verdict_and_options_are_the_five_levels() -> None:
    spec = FMT.output("pairwise", "en")
    assert not spec.verdict_first and spec.verdict_statement.endswith(spec.verdict_phrase)
    assert dict(spec.options) == {level: f"{level}]]" for level in LEVELS}


def test_filled_prompt_is_the_yaml_template_with_the_system_prompt() -> None:
    fields = PromptFields(instruction="Write a limerick.", responses=("There once was...", "Roses are red."))
    prompt = FMT.prompt("pairwise", fields, "en")
    expected_user = _config()["prompt_template"].format(QUESTION="Write a limerick.", ANSWER_A="There once was...",
                                                        ANSWER_B="Roses are red.")
    assert prompt == JudgePrompt(user=expected_user, system=_judge_utils()[0]["OG_ARENA_HARD_PROMPT"], chat=True)
    assert prompt.user == (
        "<|User Prompt|>\nWrite a limerick.\n\n"
        "<|The Start of Assistant A's Answer|>\nThere once was...\n<|The End of Assistant A's Answer|>\n\n"
        "<|The Start of Assistant B's Answer|>\nRoses are red.\n<|The End of Assistant B's Answer|>"
    )


def test_an_items_input_is_part_of_the_user_prompt_and_braces_stay_as_written() -> None:
    fields = PromptFields(instruction="Fix this code:", input="def f(): return {1: 2}", responses=("{x}", "{}"))
    prompt = FMT.prompt("pairwise", fields, "en")
    assert "<|User Prompt|>\nFix this code:\n\ndef f(): return {1: 2}\n\n" in prompt.user
    assert "Answer|>\n{x}\n<|The End" in prompt.user and "Answer|>\n{}\n<|The End" in prompt.user


def test_single_grading_is_not_offered() -> None:
    with pytest.raises(FormatError, match="pairwise"):
        FMT.output("single", "en")
    assert FMT.parse_grade("Rating: [[5]]", "en").score is None


# -- parser -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_gives_its_winner_and_strength(level: str) -> None:
    parsed = FMT.parse_pairwise(f"My own answer: ...\n\nMy final verdict is: [[{level}]]", "en")
    assert (parsed.winner, parsed.strength, parsed.problem) == (POSITION[level], level, None)
    assert parsed.reason == "My own answer: ...\n\nMy final verdict is:"


@pytest.mark.parametrize(("text", "level"), [
    # The prompt's own example, echoed, does not win over the verdict after it.
    ('Following "My final verdict is tie: [[A=B]]": here B is much better.\n\nMy final verdict is: [[B>>A]]', "B>>A"),
    ("[[A>B]] at first; looking again, [[B>A]]", "B>A"),
    # Arena-Hard matches on judgment.upper().
    ("My final verdict is: [[a>>b]]", "A>>B"),
    # Its second pattern, single brackets, reads a verdict only when there is no double-bracket one ...
    ("My final verdict is: [A>B]", "A>B"),
    # ... and a double-bracket verdict anywhere wins over a later single-bracket one.
    ("Verdict: [[B>A]]. Note: options were [A>>B] or [A=B].", "B>A"),
])
def test_last_match_of_the_first_pattern_that_matches(text: str, level: str) -> None:
    parsed = FMT.parse_pairwise(text, "en")
    assert parsed.strength == level and parsed.winner == POSITION[level]


@pytest.mark.parametrize("text", [
    "Assistant A is better.",
    "[[C]]",
    "",
    # A last verdict that is not one of the five labels leaves the output unparsed, never an earlier one.
    "[[A>B]] ... final: [[A>>>B]]",
    "My final verdict: [[A]]",
    "[[AB]]",
])
def test_malformed_or_missing_verdicts_are_unparsed(text: str) -> None:
    parsed = FMT.parse_pairwise(text, "en")
    assert parsed.winner is None and parsed.strength is None and parsed.problem


def test_parser_reads_what_the_engine_concatenates() -> None:
    spec = FMT.output("pairwise", "en")
    for key, option in spec.options.items():
        for lead in ("Mine: 42. " + spec.verdict_phrase, "Mine: 42." + spec.verdict_statement):
            parsed = FMT.parse_pairwise(lead + option, "en")
            assert parsed.strength == key and parsed.winner == POSITION[key]


# -- through the engine -------------------------------------------------------------------------------------


def _judge(outputs: Sequence[str] = (), scores: dict[str, float] | None = None,
           **decoding: object) -> tuple[Judge, MockBackend]:
    backend = MockBackend(list(outputs), option_scores=scores, chat_template=CHATML)
    settings = DecodingSettings(max_tokens=256, **decoding)  # type: ignore[arg-type]
    return Judge(backend, format="arenahard", decoding=settings), backend


ITEM = EvalItem(id="capital", instruction="What is the capital of France?",
                responses=("Paris.", "Berlin."))


def _favour(level: str) -> dict[str, float]:
    return {f"{other}]]": (0.0 if other == level else -4.0) for other in LEVELS}


@pytest.mark.parametrize("level", LEVELS)
def test_strength_in_order_ab_is_the_shown_verdict(level: str) -> None:
    judge, backend = _judge(["My answer: Paris. A is right. [["], _favour(level))
    verdict = judge.compare(ITEM)
    assert backend.calls[1]["options"] == [f"{other}]]" for other in LEVELS]
    assert verdict.raw_output == f"My answer: Paris. A is right. [[{level}]]"
    assert verdict.strength == level and verdict.winner == strength_winner(level) and verdict.status == "ok"
    assert verdict.probabilities is not None and set(verdict.probabilities) == set(LEVELS)
    assert max(verdict.probabilities, key=verdict.probabilities.get) == level
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert verdict.to_dict()["strength"] == level


@pytest.mark.parametrize("level", LEVELS)
def test_strength_in_order_ba_is_mapped_to_the_callers_labels(level: str) -> None:
    judge, backend = _judge(["Assistant A (Berlin) is wrong."], _favour(level))
    verdict = judge.compare(ITEM, order="BA")
    assert "<|The Start of Assistant A's Answer|>\nBerlin.\n" in backend.calls[0]["prompt"]
    # The judge never wrote "[[": the statement is appended, and the raw output stays in the judge's positions.
    assert verdict.raw_output == f"Assistant A (Berlin) is wrong.\n\nMy final verdict is: [[{level}]]"
    assert verdict.strength == SWAPPED[level] and verdict.winner == strength_winner(SWAPPED[level])
    assert verdict.probabilities is not None
    assert max(verdict.probabilities, key=verdict.probabilities.get) == SWAPPED[level]


def test_both_orders_agreeing_on_paris_decide_for_a() -> None:
    def favour_paris(prompt: str, options: list[str]) -> list[float]:
        paris_first = "Answer|>\nParis." in prompt.split("Assistant B's Answer|>")[0]
        wanted = "A>>B]]" if paris_first else "B>A]]"
        return [0.0 if option == wanted else -5.0 for option in options]

    backend = MockBackend(["Paris is right.", "Paris is right."], option_scores=favour_paris, chat_template=CHATML)
    judge = Judge(backend, format="arenahard", decoding=DecodingSettings(max_tokens=64))
    result = judge.judge_both_orders(ITEM)
    assert result.ab.strength == "A>>B" and result.ba is not None and result.ba.strength == "A>B"
    assert result.decision == "A" and result.consistent


def test_unconstrained_generation_is_parsed_and_mapped() -> None:
    judge, _ = _judge(['Example: "[[A=B]]". Mine: B (Paris) is better.\n\nMy final verdict is: [[B>A]]'],
                      constrained=False)
    verdict = judge.compare(ITEM, order="BA")
    assert (verdict.winner, verdict.strength, verdict.probabilities) == ("A", "A>B", None)


def test_unparsed_output_has_no_strength() -> None:
    judge, _ = _judge(["No verdict here."], constrained=False)
    verdict = judge.compare(ITEM)
    assert verdict.winner is None and verdict.strength is None and verdict.status == "unparsed"
    assert "strength" not in verdict.to_dict()


def test_grading_is_refused() -> None:
    judge, _ = _judge()
    with pytest.raises(FormatError, match="does not do single"):
        judge.grade(EvalItem(id="g", instruction="Q", responses=("A",)))


def test_same_seed_same_bytes() -> None:
    runs = []
    for _ in range(2):
        judge, _backend = _judge(["Paris.", "Paris."], _favour("A>B"))
        runs.append(to_json(judge.judge_both_orders(ITEM)))
    assert runs[0] == runs[1] and '"strength": "A>B"' in runs[0] and '"strength": "B>A"' in runs[0]
