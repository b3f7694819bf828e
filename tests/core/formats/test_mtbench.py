"""The `mtbench` format: FastChat's MT-bench judge prompts, character for character, filled for turn 1 and turn 2
(with references for math, reasoning and coding), its last-match parsers, and its verdicts through the engine on the
mock backend.

The published prompts are read from tests/data/ecosystem/fastchat/judge_prompts.jsonl, an unchanged copy of
FastChat's file; expected prompts are filled from that file with FastChat's own keyword arguments (llm_judge/
common.py: run_judge_pair, run_judge_single), never from judgedesk's constants.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from judgedesk.core import DecodingSettings, EvalItem, FormatError, Judge, PriorTurn, to_json
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.formats import JudgeFormat, JudgePrompt, MTBenchFormat, PromptFields, get_format
from judgedesk.core.formats._ecosystem_prompts import MTBENCH_PROMPTS

from tests.reference_data import DATA

JUDGE_PROMPTS = DATA / "ecosystem" / "fastchat" / "judge_prompts.jsonl"
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
FMT = MTBenchFormat()
PAIR_OPTIONS = {"A]]": "1", "B]]": "2", "C]]": "tie"}


def _published() -> dict[str, dict[str, str]]:
    entries = [json.loads(line) for line in JUDGE_PROMPTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {entry["name"]: entry for entry in entries}


PUBLISHED = _published()


def _expected(name: str, **values: str) -> JudgePrompt:
    entry = PUBLISHED[name]
    return JudgePrompt(user=entry["prompt_template"].format(**values), system=entry["system_prompt"], chat=True)


# -- the published strings ----------------------------------------------------------------------------------


def test_the_eight_published_prompts_are_copied_character_for_character() -> None:
    assert len(PUBLISHED) == 8
    assert set(MTBENCH_PROMPTS) == set(PUBLISHED)
    for name, entry in PUBLISHED.items():
        assert MTBENCH_PROMPTS[name].system == entry["system_prompt"], name
        assert MTBENCH_PROMPTS[name].template == entry["prompt_template"], name


def test_every_published_string_is_in_the_template_hash() -> None:
    texts = set(FMT.template_texts())
    for entry in PUBLISHED.values():
        assert entry["system_prompt"] in texts and entry["prompt_template"] in texts


def test_registered_as_a_chat_format_for_conversations() -> None:
    fmt = get_format("mtbench")
    assert isinstance(fmt, MTBenchFormat) and isinstance(fmt, JudgeFormat)
    assert fmt.uses_chat_template and fmt.takes_conversation and fmt.has_tie and not fmt.takes_rubric
    assert fmt.tasks == {"pairwise", "single"} and fmt.languages == {"en"}


def test_output_specs_pause_at_the_verdict_and_use_fastchats_budget() -> None:
    pairwise = FMT.output("pairwise", "en")
    assert not pairwise.verdict_first and pairwise.max_tokens == 2048
    assert dict(pairwise.options) == {"1": "A]]", "2": "B]]", "tie": "C]]"}
    assert pairwise.verdict_statement.endswith(pairwise.verdict_phrase)
    single = FMT.output("single", "en")
    assert single.scale == (1, 10) and single.options == {} and single.max_tokens == 2048
    assert single.verdict_statement.endswith(single.verdict_phrase)


# -- filled prompts -----------------------------------------------------------------------------------------

TURN_1 = PriorTurn(question="What is 3 + 4?", answers=("7", "It is 8."), reference="3 + 4 = 7")


def test_pairwise_turn_1_is_pair_v2_written_out() -> None:
    fields = PromptFields(instruction="Name a primary colour.", responses=("Red.", "Purple."))
    prompt = FMT.prompt("pairwise", fields, "en")
    assert prompt == _expected("pair-v2", question="Name a primary colour.", answer_a="Red.", answer_b="Purple.")
    # The same, written out by hand, so a template filled with the wrong field cannot pass with itself.
    assert prompt.user == (
        "[User Question]\nName a primary colour.\n\n"
        "[The Start of Assistant A's Answer]\nRed.\n[The End of Assistant A's Answer]\n\n"
        "[The Start of Assistant B's Answer]\nPurple.\n[The End of Assistant B's Answer]"
    )
    assert prompt.system is not None and prompt.system.startswith("Please act as an impartial judge")


def test_an_items_input_is_shown_as_part_of_its_question() -> None:
    fields = PromptFields(instruction="Summarise.", input="The cat sat.", responses=("A cat sat.", "Dogs."))
    assert FMT.prompt("pairwise", fields, "en") == _expected(
        "pair-v2", question="Summarise.\n\nThe cat sat.", answer_a="A cat sat.", answer_b="Dogs.")


@pytest.mark.parametrize("category", ["math", "reasoning", "coding"])
def test_reference_categories_with_a_reference_get_pair_math_v1(category: str) -> None:
    fields = PromptFields(instruction="What is 3 + 4?", responses=("7", "8"), reference="7", category=category)
    assert FMT.prompt("pairwise", fields, "en") == _expected(
        "pair-math-v1", question="What is 3 + 4?", answer_a="7", answer_b="8", ref_answer_1="7")


@pytest.mark.parametrize(("category", "reference"), [("writing", "A model poem."), (None, "7"), ("math", None),
                                                     ("math", "  ")])
def test_other_categories_or_no_reference_get_pair_v2(category: str | None, reference: str | None) -> None:
    fields = PromptFields(instruction="Q?", responses=("a", "b"), reference=reference, category=category)
    assert FMT.prompt("pairwise", fields, "en") == _expected("pair-v2", question="Q?", answer_a="a", answer_b="b")


def test_pairwise_turn_2_shows_both_conversations_with_pair_v2_multi_turn() -> None:
    fields = PromptFields(instruction="Now double it.", responses=("14", "16"), history=(TURN_1,),
                          category="writing")
    assert FMT.prompt("pairwise", fields, "en") == _expected(
        "pair-v2-multi-turn", question_1="What is 3 + 4?", question_2="Now double it.", answer_a_1="7",
        answer_b_1="It is 8.", answer_a_2="14", answer_b_2="16")


def test_pairwise_turn_2_math_shows_the_references_of_both_turns() -> None:
    fields = PromptFields(instruction="Now double it.", responses=("14", "16"), history=(TURN_1,), category="math",
                          reference="2 x 7 = 14")
    prompt = FMT.prompt("pairwise", fields, "en")
    assert prompt == _expected(
        "pair-math-v1-multi-turn", question_1="What is 3 + 4?", question_2="Now double it.", answer_a_1="7",
        answer_b_1="It is 8.", answer_a_2="14", answer_b_2="16", ref_answer_1="3 + 4 = 7", ref_answer_2="2 x 7 = 14")
    assert "### Reference answer:\n3 + 4 = 7\n\n### User:\nNow double it.\n\n### Reference answer:\n2 x 7 = 14" in \
        prompt.user


@pytest.mark.parametrize(("first", "second", "missing"), [(None, "14", "turn 1"), ("7", None, "turn 2")])
def test_a_reference_category_missing_one_turns_reference_is_a_format_error(first: str | None, second: str | None,
                                                                           missing: str) -> None:
    turn = PriorTurn(question="What is 3 + 4?", answers=("7", "8"), reference=first)
    fields = PromptFields(instruction="Double it.", responses=("14", "16"), history=(turn,), category="math",
                          reference=second)
    with pytest.raises(FormatError, match=f"none for {missing}"):
        FMT.prompt("pairwise", fields, "en")


def test_single_turn_1_general_and_math() -> None:
    general = PromptFields(instruction="Write a haiku.", responses=("Old pond, a frog.",), category="writing",
                           reference="ignored")
    assert FMT.prompt("single", general, "en") == _expected("single-v1", question="Write a haiku.",
                                                            answer="Old pond, a frog.")
    math = PromptFields(instruction="What is 3 + 4?", responses=("8",), category="math", reference="7")
    assert FMT.prompt("single", math, "en") == _expected("single-math-v1", question="What is 3 + 4?", answer="8",
                                                         ref_answer_1="7")


def test_single_turn_2_general_and_math() -> None:
    turn = PriorTurn(question="What is 3 + 4?", answers=("7",), reference="3 + 4 = 7")
    general = PromptFields(instruction="Now double it.", responses=("14",), history=(turn,))
    assert FMT.prompt("single", general, "en") == _expected(
        "single-v1-multi-turn", question_1="What is 3 + 4?", question_2="Now double it.", answer_1="7", answer_2="14")
    math = PromptFields(instruction="Now double it.", responses=("14",), history=(turn,), category="reasoning",
                        reference="14")
    assert FMT.prompt("single", math, "en") == _expected(
        "single-math-v1-multi-turn", question_1="What is 3 + 4?", question_2="Now double it.", answer_1="7",
        answer_2="14", ref_answer_1="3 + 4 = 7", ref_answer_2="14")


@pytest.mark.parametrize("task", ["pairwise", "single"])
def test_a_third_turn_has_no_published_prompt(task: str) -> None:
    answers = ("a", "b") if task == "pairwise" else ("a",)
    history = (PriorTurn("one?", answers), PriorTurn("two?", answers))
    fields = PromptFields(instruction="three?", responses=answers, history=history)
    with pytest.raises(FormatError, match="turn 3"):
        FMT.prompt(task, fields, "en")  # type: ignore[arg-type]


# -- parsers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "winner"), [
    ("Assistant A is correct.\n\n[[A]]", "1"),
    ("B explains more.\n[[B]]", "2"),
    ("Both are equally good. [[C]]", "tie"),
    # The last verdict decides: an example quoted earlier, or a verdict the judge revised, cannot win.
    ('The format asks for "[[A]]" if A is better. B is better, though. [[B]]', "2"),
    ("[[B]] at first sight, but on reflection A is right: [[A]]", "1"),
])
def test_pairwise_last_verdict_decides(text: str, winner: str) -> None:
    parsed = FMT.parse_pairwise(text, "en")
    assert parsed.winner == winner and parsed.problem is None


def test_pairwise_reason_is_the_critique_before_the_verdict() -> None:
    parsed = FMT.parse_pairwise("Assistant A adds correctly; B does not.\n\nFinal verdict: [[A]]", "en")
    assert parsed.reason == "Assistant A adds correctly; B does not."


@pytest.mark.parametrize("text", ["A is better.", "[[D]]", "[A]", "[[a]]", "[[A]", "[[ A ]]", ""])
def test_pairwise_without_a_verdict_is_unparsed(text: str) -> None:
    parsed = FMT.parse_pairwise(text, "en")
    assert parsed.winner is None and parsed.problem


@pytest.mark.parametrize(("text", "score"), [
    ("Clear and correct. Rating: [[8]]", 8.0),
    ("Rating: [[10]]", 10.0),
    ("Mostly right. [[7.5]]", 7.5),
    ('The format is "Rating: [[5]]". This answer earns more. Rating: [[9]]', 9.0),
    # FastChat's backup pattern "[N]" reads a rating only when there is no "[[N]]" ...
    ("Rating: [6]", 6.0),
    # ... and a "[[N]]" anywhere wins over a later "[N]", as FastChat tries its patterns in that order.
    ("Rating: [[3]]. See note [9].", 3.0),
])
def test_grade_reads_the_last_rating_with_fastchats_patterns(text: str, score: float) -> None:
    parsed = FMT.parse_grade(text, "en")
    assert parsed.score == score and parsed.problem is None


def test_grade_critique_is_the_text_before_the_rating() -> None:
    assert FMT.parse_grade("Accurate and concise.\n\nRating: [[8]]", "en").critique == "Accurate and concise."


@pytest.mark.parametrize("text", ["Rating: [[0]]", "Rating: [[11]]", "Rating: eight", "Rating: [[x]]", "",
                                  "Rating: [[8]] then [[12]]"])
def test_grade_without_a_valid_last_rating_is_unparsed(text: str) -> None:
    parsed = FMT.parse_grade(text, "en")
    assert parsed.score is None and parsed.problem


def test_parsers_read_what_the_engine_concatenates() -> None:
    pairwise = FMT.output("pairwise", "en")
    for key, option in pairwise.options.items():
        # The critique paused at the phrase, or the statement was appended, then the option completes the verdict.
        for lead in ("A is right and B is not. " + pairwise.verdict_phrase,
                     "A is right and B is not." + pairwise.verdict_statement):
            parsed = FMT.parse_pairwise(lead + option, "en")
            assert parsed.winner == key and parsed.reason == "A is right and B is not."
    single = FMT.output("single", "en")
    for lead in ("Good. Rating: " + single.verdict_phrase, "Good." + single.verdict_statement):
        parsed = FMT.parse_grade(lead + "7]]", "en")
        assert parsed.score == 7.0 and parsed.critique == "Good."


# -- through the engine -------------------------------------------------------------------------------------


def _judge(outputs: Sequence[str] = (), scores: dict[str, float] | None = None, fmt: str = "mtbench",
           **decoding: object) -> tuple[Judge, MockBackend]:
    backend = MockBackend(list(outputs), option_scores=scores, chat_template=CHATML)
    return Judge(backend, format=fmt, decoding=DecodingSettings(**decoding)), backend  # type: ignore[arg-type]


ITEM = EvalItem(id="colour", instruction="Name a primary colour.", responses=("Red.", "Purple."))
TURN_2 = EvalItem(id="q81-t2", instruction="Now double it.", responses=("14", "16"), category="math",
                  reference="2 x 7 = 14", history=(PriorTurn("What is 3 + 4?", ("7", "It is 8."), "3 + 4 = 7"),))


def test_critique_pauses_at_the_verdict_and_the_options_complete_it() -> None:
    judge, backend = _judge(["Red is primary; purple is not. [[A]] trailing"], {"A]]": -0.1, "B]]": -3.0,
                                                                                "C]]": -4.0})
    verdict = judge.compare(ITEM)
    generate, score = backend.calls
    assert generate["kind"] == "generate" and generate["stop"] == ["[["]
    assert score["kind"] == "score" and score["options"] == ["A]]", "B]]", "C]]"]
    assert score["prompt"].endswith("Red is primary; purple is not. [[")
    assert verdict.raw_output == "Red is primary; purple is not. [[A]]"
    assert verdict.winner == "A" and verdict.status == "ok" and verdict.reason == "Red is primary; purple is not."
    assert verdict.probabilities is not None and max(verdict.probabilities, key=verdict.probabilities.get) == "A"
    assert verdict.strength is None and "strength" not in verdict.to_dict()


def test_order_ba_maps_the_shown_assistant_back_to_the_callers_label() -> None:
    judge, backend = _judge(["Assistant A is right."], {"A]]": 0.0, "B]]": -5.0, "C]]": -5.0})
    verdict = judge.compare(ITEM, order="BA")
    prompt = backend.calls[0]["prompt"]
    assert "[The Start of Assistant A's Answer]\nPurple.\n" in prompt
    # The judge never wrote "[[": FastChat's verdict format is appended, and the option completes it.
    assert verdict.raw_output == "Assistant A is right.\n\nFinal verdict: [[A]]"
    assert verdict.winner == "B" and verdict.probabilities is not None
    assert verdict.probabilities["B"] == pytest.approx(max(verdict.probabilities.values()))


def test_turn_2_in_order_ba_swaps_both_turns_answers() -> None:
    judge, backend = _judge(["x", "y"], {"A]]": 0.0, "B]]": -5.0, "C]]": -5.0})
    result = judge.judge_both_orders(TURN_2)
    ab_prompt, ba_prompt = (call["prompt"] for call in backend.calls if call["kind"] == "generate")
    assert "### Assistant A:\n7\n\n### User:\nNow double it.\n\n### Assistant A:\n14\n" in ab_prompt
    assert "### Assistant A:\nIt is 8.\n\n### User:\nNow double it.\n\n### Assistant A:\n16\n" in ba_prompt
    for prompt in (ab_prompt, ba_prompt):
        assert "### Reference answer:\n3 + 4 = 7" in prompt and "### Reference answer:\n2 x 7 = 14" in prompt
    # The judge always prefers whatever is shown first: a position bias the two orders expose.
    assert (result.ab.winner, result.ba is not None and result.ba.winner) == ("A", "B")
    assert result.decision == "inconsistent"


def test_grading_turn_2_shows_the_graded_models_own_conversation() -> None:
    judge, backend = _judge(["Doubling 8 gives 16, but 3 + 4 is 7. Rating: [[", "3]]"])
    grade = judge.grade(TURN_2, response_index=1)
    generate, tail = backend.calls
    assert "### Assistant A:\nIt is 8.\n\n### User:\nNow double it.\n\n### Assistant A:\n16\n" in generate["prompt"]
    assert "\n7\n" not in generate["prompt"].split("<|The Start of Assistant A's Conversation")[1]
    assert tail["grammar"] == FMT.output("single", "en").rest_only_grammar()
    assert grade.raw_output == "Doubling 8 gives 16, but 3 + 4 is 7. Rating: [[3]]"
    assert grade.score == 3.0 and grade.scale == (1, 10) and grade.status == "ok"
    assert grade.critique == "Doubling 8 gives 16, but 3 + 4 is 7."


def test_unconstrained_generation_is_parsed_last_match() -> None:
    judge, _ = _judge(['Format: "[[A]]" for A. Here B is better.\n\n[[B]]'], constrained=False)
    verdict = judge.compare(ITEM)
    assert verdict.winner == "B" and verdict.probabilities is None and verdict.status == "ok"


def test_an_output_without_a_verdict_is_unparsed_not_a_tie() -> None:
    judge, _ = _judge(["I cannot decide."], constrained=False)
    verdict = judge.compare(ITEM)
    assert verdict.winner is None and verdict.status == "unparsed" and verdict.raw_output == "I cannot decide."


def test_the_engine_refuses_a_third_turn_naming_it() -> None:
    judge, _ = _judge(["x"], {"A]]": 0.0})
    item = EvalItem(id="long", instruction="three?", responses=("a", "b"),
                    history=(PriorTurn("one?", ("a", "b")), PriorTurn("two?", ("a", "b"))))
    with pytest.raises(FormatError, match="turn 3"):
        judge.compare(item)


@pytest.mark.parametrize("fmt", ["pandalm", "autoj", "prometheus", "generic", "arenahard"])
def test_formats_that_cannot_show_a_conversation_refuse_it(fmt: str) -> None:
    judge, backend = _judge(fmt=fmt, scores={})
    with pytest.raises(FormatError, match=rf"item 'q81-t2' is turn 2 of a conversation.*{fmt}.*mtbench"):
        judge.compare(TURN_2)
    assert backend.calls == []


def test_same_seed_same_bytes() -> None:
    outputs = ["A names red.", "A names red."]
    first = _judge(outputs[:1], {"A]]": 0.0, "B]]": -2.0, "C]]": -3.0})[0].compare(TURN_2)
    second = _judge(outputs[1:], {"A]]": 0.0, "B]]": -2.0, "C]]": -3.0})[0].compare(TURN_2)
    assert to_json(first) == to_json(second)
    assert first.manifest is not None and first.manifest.format == "mtbench"
