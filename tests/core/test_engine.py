"""The judge engine on the mock backend: fast verdicts, generation, verdict-last formats, grading, manifests.

The mock's tokens are code points, so a prompt's length in tokens is its length in characters and every test
can compute budgets and context limits by hand.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

import pytest
from judgedesk.core import (
    Cancelled,
    ContextOverflowError,
    DecodingSettings,
    EvalItem,
    FormatError,
    InputError,
    Judge,
    PairwiseVerdict,
    Sampling,
    constrained_option_probabilities,
    create_backend,
    decide,
    to_json,
)
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.formats import PromptFields, get_format

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
ITEM = EvalItem(id="colour-1", instruction="Name a primary colour.", responses=("Red.", "Purple."))
AUTOJ_OPTIONS = [" Response 1", " Response 2", " Tie"]
AUTOJ_ZH_OPTIONS = ["回应1", "回应2", "平局"]
PROMETHEUS_OPTIONS = [" A", " B"]

Scores = dict[str, float] | Callable[[str, list[str]], list[float]]


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _judge(fmt: str, *, outputs: Sequence[str] = (), scores: Scores | None = None, lang: str = "en",
           rubric: str | None = None, n_ctx: int = 4096, chat_template: str | None = CHATML,
           **decoding: object) -> tuple[Judge, MockBackend]:
    backend = MockBackend(list(outputs), option_scores=scores, n_ctx=n_ctx, chat_template=chat_template)
    return Judge(backend, format=fmt, lang=lang, rubric=rubric,
                 decoding=DecodingSettings(**decoding)), backend  # type: ignore[arg-type]


def _calls(backend: MockBackend, kind: str) -> list[dict[str, object]]:
    return [call for call in backend.calls if call["kind"] == kind]


def _prefer(text: str, options: dict[str, str],
            markers: tuple[str, str]) -> Callable[[str, list[str]], list[float]]:
    """Option scores that favour whichever position `text` is shown in; markers precede positions 1 and 2."""

    def score(prompt: str, shown: list[str]) -> list[float]:
        position = "1" if f"{markers[0]}{text}" in prompt else "2"
        return [0.0 if shown_text == options[position] else -6.0 for shown_text in shown]

    return score


PANDALM_MARKERS = ("### Response 1:\n", "### Response 2:\n")
PANDALM_OPTIONS = {"1": "1", "2": "2", "tie": "Tie"}


# -- fast verdicts ------------------------------------------------------------------------------------------


def test_pandalm_fast_verdict_reads_option_scores_without_generating() -> None:
    judge, backend = _judge("pandalm", scores={"1": -3.0, "2": -0.1, "Tie": -4.0})

    verdict = judge.compare(ITEM)

    assert verdict.winner == "B"
    assert verdict.status == "ok"
    assert verdict.raw_output == "2"
    assert _calls(backend, "generate") == []
    [score_call] = _calls(backend, "score")
    assert score_call["options"] == ["1", "2", "Tie"]
    assert str(score_call["prompt"]).endswith("### Evaluation:\n")


def test_generic_fast_verdict_reads_option_scores_after_the_prefill() -> None:
    judge, backend = _judge("generic", scores={"A": 0.0, "B": -2.0, "tie": -5.0})

    verdict = judge.compare(ITEM)

    assert verdict.winner == "A"
    assert verdict.raw_output == '{"winner": "A'
    assert _calls(backend, "generate") == []
    [score_call] = _calls(backend, "score")
    assert score_call["options"] == ["A", "B", "tie"]
    assert str(score_call["prompt"]).endswith('<|im_start|>assistant\n{"winner": "')


def test_probabilities_use_caller_labels_and_sum_to_one() -> None:
    scores = {"1": math.log(0.6), "2": math.log(0.3), "Tie": math.log(0.1)}
    judge, _ = _judge("pandalm", scores=scores)

    verdict = judge.compare(ITEM)

    assert verdict.probabilities is not None
    assert set(verdict.probabilities) == {"A", "B", "tie"}
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert verdict.probabilities["A"] == pytest.approx(0.6, abs=1e-6)
    assert verdict.probabilities["B"] == pytest.approx(0.3, abs=1e-6)
    assert verdict.probabilities["tie"] == pytest.approx(0.1, abs=1e-6)


def test_order_ba_shows_b_first_and_maps_positions_back() -> None:
    judge, backend = _judge("pandalm", scores={"1": 0.0, "2": -3.0, "Tie": -3.0})

    verdict = judge.compare(ITEM, order="BA")

    [score_call] = _calls(backend, "score")
    prompt = str(score_call["prompt"])
    assert prompt.index("### Response 1:\nPurple.") < prompt.index("### Response 2:\nRed.")
    assert verdict.order == "BA"
    assert verdict.raw_output == "1"  # the judge's own position...
    assert verdict.winner == "B"  # ...is response B in the caller's labels
    assert verdict.probabilities is not None
    assert verdict.probabilities["B"] > verdict.probabilities["A"]


# -- both orders --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "decision", "consistent"),
    [
        pytest.param(_prefer("Red.", PANDALM_OPTIONS, PANDALM_MARKERS), "A", True, id="agree-A"),
        pytest.param(_prefer("Purple.", PANDALM_OPTIONS, PANDALM_MARKERS), "B", True, id="agree-B"),
        pytest.param({"1": -5.0, "2": -5.0, "Tie": 0.0}, "tie", True, id="both-tie"),
        pytest.param({"1": 0.0, "2": -5.0, "Tie": -5.0}, "inconsistent", False, id="position-bias"),
    ],
)
def test_both_orders_decision(scores: Scores, decision: str, consistent: bool) -> None:
    judge, _ = _judge("pandalm", scores=scores)

    result = judge.judge_both_orders(ITEM)

    assert result.ab.order == "AB"
    assert result.ba is not None and result.ba.order == "BA"
    assert result.decision == decision
    assert result.consistent is consistent
    assert result.to_dict()["consistent"] is consistent


def test_both_orders_unparsed_when_either_order_is_unparsed() -> None:
    judge, _ = _judge("pandalm", outputs=["1\n\n### Reason: fine", "I cannot decide."], fast=False,
                      constrained=False)

    result = judge.judge_both_orders(ITEM)

    assert result.ab.winner == "A"
    assert result.ba is not None and result.ba.winner is None
    assert result.decision == "unparsed"
    assert result.consistent is None


def test_one_order_only() -> None:
    judge, backend = _judge("pandalm", scores={"1": 0.0, "2": -1.0, "Tie": -2.0})

    result = judge.judge_both_orders(ITEM, both=False)

    assert result.ba is None
    assert result.decision == "A"
    assert result.consistent is None
    assert len(_calls(backend, "score")) == 1


@pytest.mark.parametrize(("both", "expected"), [(True, [(0, 2, "AB"), (1, 2, "BA")]), (False, [(0, 1, "AB")])])
def test_both_orders_reports_each_order_as_it_starts(both: bool, expected: list[tuple[int, int, str]]) -> None:
    judge, _ = _judge("pandalm", scores={"1": 0.0, "2": -1.0, "Tie": -2.0})
    seen: list[tuple[int, int, str]] = []

    judge.judge_both_orders(ITEM, both=both, progress=lambda done, total, order: seen.append((done, total, order)))

    assert seen == expected


def test_a_cancel_during_the_first_order_stops_before_the_second() -> None:
    judge, backend = _judge("pandalm", scores={"1": 0.0, "2": -1.0, "Tie": -2.0})
    cancel = threading.Event()
    seen: list[str] = []

    def progress(done: int, total: int, order: str) -> None:
        seen.append(order)
        cancel.set()  # the user cancels while this order is judged

    with pytest.raises(Cancelled, match="before the BA order"):
        judge.judge_both_orders(ITEM, progress=progress, cancel=cancel)

    assert seen == ["AB"]
    assert len(_calls(backend, "score")) == 1


def test_a_cancel_set_before_judging_judges_nothing() -> None:
    judge, backend = _judge("pandalm", scores={"1": 0.0, "2": -1.0, "Tie": -2.0})
    cancel = threading.Event()
    cancel.set()

    with pytest.raises(Cancelled):
        judge.judge_both_orders(ITEM, cancel=cancel)

    assert backend.calls == []


def _verdict(winner: str | None, order: str = "AB") -> PairwiseVerdict:
    return PairwiseVerdict(item_id="x", order=order, winner=winner, raw_output="",  # type: ignore[arg-type]
                           status="ok" if winner else "unparsed")


@pytest.mark.parametrize(
    ("ab", "ba", "expected"),
    [
        ("A", "A", "A"), ("B", "B", "B"), ("tie", "tie", "tie"), ("A", "B", "inconsistent"),
        ("A", "tie", "inconsistent"), ("tie", "B", "inconsistent"), (None, "A", "unparsed"),
        ("A", None, "unparsed"), (None, None, "unparsed"),
    ],
)
def test_decide_rules(ab: str | None, ba: str | None, expected: str) -> None:
    assert decide(_verdict(ab), _verdict(ba, "BA")) == expected


def test_decide_with_one_order_takes_its_winner() -> None:
    assert decide(_verdict("tie"), None) == "tie"
    assert decide(_verdict(None), None) == "unparsed"


# -- explanation and generate mode --------------------------------------------------------------------------


def test_explain_generates_after_the_chosen_option_with_the_rest_grammar() -> None:
    rest = "\n\n### Reason: Red is a primary colour.\n\n### Reference: Red.\n"
    judge, backend = _judge("pandalm", outputs=[rest], scores={"1": 0.0, "2": -4.0, "Tie": -4.0},
                            explain=True)

    verdict = judge.compare(ITEM)

    spec = get_format("pandalm").output("pairwise", "en")
    assert [call["kind"] for call in backend.calls] == ["score", "generate"]
    [generate] = _calls(backend, "generate")
    assert str(generate["prompt"]).endswith("### Evaluation:\n1")
    assert generate["grammar"] == spec.rest_only_grammar()
    assert generate["max_tokens"] == spec.max_tokens - 1
    assert verdict.raw_output == "1" + rest
    assert verdict.winner == "A"
    assert verdict.reason == "Red is a primary colour."
    assert verdict.reference == "Red."
    assert verdict.manifest is not None and verdict.manifest.decoding["mode"] == "logits"
    assert verdict.manifest.decoding["explain"] is True


def test_generic_explain_continues_the_json_object() -> None:
    judge, backend = _judge("generic", outputs=['", "reason": "Purple is not primary."}'],
                            scores={"A": 0.0, "B": -3.0, "tie": -3.0}, explain=True)

    verdict = judge.compare(ITEM)

    [generate] = _calls(backend, "generate")
    assert str(generate["prompt"]).endswith('{"winner": "A')
    assert verdict.raw_output == '{"winner": "A", "reason": "Purple is not primary."}'
    assert verdict.winner == "A"
    assert verdict.reason == "Purple is not primary."


def test_generate_mode_uses_the_full_grammar_and_parses() -> None:
    text = "2\n\n### Reason: Purple is vivid.\n\n### Reference: Blue.\n"
    judge, backend = _judge("pandalm", outputs=[text], fast=False)

    verdict = judge.compare(ITEM)

    spec = get_format("pandalm").output("pairwise", "en")
    assert _calls(backend, "score") == []
    [generate] = _calls(backend, "generate")
    assert generate["grammar"] == spec.grammar()
    assert generate["max_tokens"] == spec.max_tokens
    assert verdict.winner == "B"
    assert verdict.raw_output == text
    assert verdict.probabilities is None
    assert verdict.manifest is not None and verdict.manifest.decoding["mode"] == "generate"


def test_generic_generate_mode_output_includes_the_prefill() -> None:
    judge, _ = _judge("generic", outputs=['tie", "reason": "Both fail."}'], fast=False)

    verdict = judge.compare(ITEM)

    assert verdict.raw_output == '{"winner": "tie", "reason": "Both fail."}'
    assert verdict.winner == "tie"
    assert verdict.reason == "Both fail."


def test_unconstrained_generation_passes_no_grammar() -> None:
    judge, backend = _judge("pandalm", outputs=["1\n\n### Reason: x"], fast=False, constrained=False)

    judge.compare(ITEM)

    [generate] = _calls(backend, "generate")
    assert generate["grammar"] is None


def test_unconstrained_explanation_passes_no_grammar() -> None:
    judge, backend = _judge("pandalm", outputs=["\n\n### Reason: x"], scores={"1": 0.0}, explain=True,
                            constrained=False)

    judge.compare(ITEM)

    [generate] = _calls(backend, "generate")
    assert generate["grammar"] is None


def test_max_tokens_overrides_the_published_budget() -> None:
    judge, backend = _judge("pandalm", outputs=["1"], fast=False, max_tokens=17)

    verdict = judge.compare(ITEM)

    assert _calls(backend, "generate")[0]["max_tokens"] == 17
    assert verdict.manifest is not None and verdict.manifest.decoding["max_tokens"] == 17


# -- verdict-last formats -----------------------------------------------------------------------------------


def test_autoj_critique_stops_at_the_phrase_then_scores_options_after_it() -> None:
    critique = "Response 1 names a primary colour; response 2 does not. So, the "
    judge, backend = _judge("autoj", outputs=[critique + "final decision is Response 2 (ignored)."],
                            scores={" Response 1": 0.0, " Response 2": -5.0, " Tie": -5.0})

    verdict = judge.compare(ITEM)

    assert [call["kind"] for call in backend.calls] == ["generate", "score"]
    generate, score = backend.calls
    assert generate["stop"] == ["final decision is"]
    assert generate["grammar"] is None
    assert str(score["prompt"]).endswith("[/INST]" + critique + "final decision is")
    assert score["options"] == AUTOJ_OPTIONS
    assert verdict.raw_output == critique + "final decision is" + " Response 1"
    assert verdict.winner == "A"
    assert verdict.status == "ok"
    assert verdict.probabilities is not None
    assert verdict.probabilities["A"] == pytest.approx(1 / (1 + 2 * math.exp(-5.0)), abs=1e-6)
    assert verdict.manifest is not None and verdict.manifest.decoding["mode"] == "generate"


def test_autoj_chinese_verdict() -> None:
    critique = "回应2更准确。所以，"
    judge, backend = _judge("autoj", lang="zh", outputs=[critique + "最终决定是回应1"],
                            scores={"回应1": -6.0, "回应2": 0.0, "平局": -6.0})

    verdict = judge.compare(ITEM)

    generate, score = backend.calls
    assert generate["stop"] == ["最终决定是"]
    assert score["options"] == AUTOJ_ZH_OPTIONS
    assert verdict.raw_output == critique + "最终决定是回应2"
    assert verdict.winner == "B"


def test_prometheus_verdict_after_result_marker() -> None:
    critique = "Feedback: Response B names a secondary colour; A is correct. "
    judge, backend = _judge("prometheus", outputs=[critique + "[RESULT] B"], scores={" A": 0.0, " B": -4.0})

    verdict = judge.compare(ITEM)

    generate, score = backend.calls
    assert generate["stop"] == ["[RESULT]"]
    assert score["options"] == PROMETHEUS_OPTIONS
    assert verdict.raw_output == critique + "[RESULT] A"
    assert verdict.winner == "A"
    assert verdict.probabilities is not None
    assert set(verdict.probabilities) == {"A", "B"}  # Prometheus has no tie


def test_prometheus_order_ba_maps_back() -> None:
    judge, _ = _judge("prometheus", outputs=["Feedback: x [RESULT]"], scores={" A": 0.0, " B": -4.0},)

    verdict = judge.compare(ITEM, order="BA")

    assert verdict.raw_output.endswith("[RESULT] A")
    assert verdict.winner == "B"


def test_autoj_statement_is_appended_when_the_judge_never_writes_the_phrase() -> None:
    judge, backend = _judge("autoj", outputs=["Both are short, and both answer.   "],
                            scores={" Response 1": -5.0, " Response 2": -5.0, " Tie": 0.0})

    verdict = judge.compare(ITEM)

    lead = "Both are short, and both answer.\n\nSo, the final decision is"
    assert str(_calls(backend, "score")[0]["prompt"]).endswith(lead)
    assert verdict.raw_output == lead + " Tie"
    assert verdict.winner == "tie"


def test_prometheus_statement_is_appended_when_the_judge_never_writes_the_phrase() -> None:
    judge, _ = _judge("prometheus", outputs=["Feedback: A is right."], scores={" A": -4.0, " B": 0.0},)

    verdict = judge.compare(ITEM)

    assert verdict.raw_output == "Feedback: A is right. [RESULT] B"
    assert verdict.winner == "B"


def test_critique_budget_cut_still_gets_a_verdict() -> None:
    judge, backend = _judge("autoj", outputs=["x" * 500], scores={" Response 1": 0.0},
                            max_tokens=40)

    verdict = judge.compare(ITEM)

    assert _calls(backend, "generate")[0]["max_tokens"] == 40
    assert verdict.raw_output == "x" * 40 + "\n\nSo, the final decision is Response 1"
    assert verdict.winner == "A"


def test_verdict_last_scoring_never_exceeds_the_context() -> None:
    """Room is kept for the verdict statement a judge that never writes the phrase gets appended."""
    budget = 20
    fmt = get_format("autoj")
    fields = PromptFields(instruction=ITEM.instruction, responses=ITEM.responses)
    prompt = fmt.prompt("pairwise", fields, "en").user
    n_ctx = len(prompt) + max(len(o) for o in AUTOJ_OPTIONS) + budget  # fits only without the statement
    long_item = EvalItem(id="long", instruction=ITEM.instruction,
                         responses=(ITEM.responses[0] * 20, ITEM.responses[1] * 20))
    # With room for the statement only once the responses are cut, they are cut, and scoring still fits.
    judge, backend = _judge("autoj", outputs=["x" * 100], scores={" Response 1": 0.0},
                            max_tokens=budget, n_ctx=n_ctx + 60)

    verdict = judge.compare(long_item)
    assert verdict.status == "truncated"

    with pytest.raises(ContextOverflowError, match="item 'colour-1'"):
        _judge("autoj", outputs=["x"], scores={" Response 1": 0.0}, max_tokens=budget, n_ctx=n_ctx)[0].compare(ITEM)

    [score] = _calls(backend, "score")
    assert len(str(score["prompt"])) + max(len(o) for o in AUTOJ_OPTIONS) <= backend.n_ctx


@pytest.mark.parametrize(("fmt", "scores", "expected"), [
    ("autoj", {" Response 1": -30.0, " Response 2": 0.0, " Tie": -30.0}, "B"),
    ("prometheus", {" A": -30.0, " B": 0.0}, "B"),
])
def test_stock_mock_option_scores_drive_verdict_last_formats(fmt: str, scores: dict[str, float],
                                                            expected: str) -> None:
    judge, _ = _judge(fmt, outputs=["Critique."], scores=scores)

    assert judge.compare(ITEM).winner == expected


# -- unparsed output ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "text"), [
    ("pandalm", "Both responses are acceptable, hard to say."),
    ("pandalm", "Tie-breaker: none\n\n### Reason: unsure"),
    ("autoj", "They are equally good, I think."),
    ("prometheus", "Feedback: both fine."),
    ("generic", 'maybe", "reason": "unsure"}'),
])
def test_unparsed_output_is_kept_and_never_a_tie(fmt: str, text: str) -> None:
    judge, _ = _judge(fmt, outputs=[text], fast=False, constrained=False)

    verdict = judge.compare(ITEM)

    assert verdict.status == "unparsed"
    assert verdict.winner is None
    assert text in verdict.raw_output
    assert verdict.probabilities is None


def test_unconstrained_verdict_last_output_is_generated_whole() -> None:
    text = "Response 2 is wrong. So, the final decision is Response 1"
    judge, backend = _judge("autoj", outputs=[text], constrained=False)

    verdict = judge.compare(ITEM)

    [generate] = backend.calls
    assert generate["kind"] == "generate" and generate["grammar"] is None and generate["stop"] == []
    assert verdict.raw_output == text
    assert verdict.winner == "A"


# -- grading ------------------------------------------------------------------------------------------------


def test_autoj_grade_is_critique_then_score_tail() -> None:
    judge, backend = _judge("autoj", outputs=["Correct and concise. Rating: [[9]] ignored", "7]]"])

    grade = judge.grade(EvalItem(id="g", instruction="Name a primary colour.", responses=("Red.",)))

    first, second = _calls(backend, "generate")
    assert first["stop"] == ["Rating: [["]
    assert first["grammar"] is None
    assert str(second["prompt"]).endswith("Correct and concise. Rating: [[")
    assert second["grammar"] == get_format("autoj").output("single", "en").rest_only_grammar()
    assert second["max_tokens"] == 8
    assert grade.raw_output == "Correct and concise. Rating: [[7]]"
    assert grade.score == 7.0
    assert grade.scale == (1, 10)
    assert grade.critique == "Correct and concise."
    assert grade.status == "ok"
    assert grade.manifest is not None and grade.manifest.decoding["mode"] == "generate"


def test_autoj_grade_appends_the_rating_statement() -> None:
    judge, _ = _judge("autoj", outputs=["Fine answer.", "6]]"])

    grade = judge.grade(EvalItem(id="g", instruction="q", responses=("Red.",)))

    assert grade.raw_output == "Fine answer.\n\nRating: [[6]]"
    assert grade.score == 6.0


def test_autoj_chinese_grade() -> None:
    judge, backend = _judge("autoj", lang="zh", outputs=["回答正确。评分: [[", "8]]"])

    grade = judge.grade(EvalItem(id="g", instruction="q", responses=("Red.",)))

    assert _calls(backend, "generate")[0]["stop"] == ["评分: [["]
    assert grade.score == 8.0


def test_prometheus_grade() -> None:
    judge, backend = _judge("prometheus", outputs=["Feedback: Accurate. [RESULT] 2", " 4"])

    grade = judge.grade(EvalItem(id="g", instruction="q", responses=("Red.",)))

    first, second = _calls(backend, "generate")
    assert first["stop"] == ["[RESULT]"]
    assert second["grammar"] == 'root ::= rest\nrest ::= " " [1-5]\n'
    assert grade.raw_output == "Feedback: Accurate. [RESULT] 4"
    assert grade.score == 4.0
    assert grade.scale == (1, 5)
    assert grade.critique == "Accurate."


def test_generic_grade_is_one_constrained_generation() -> None:
    judge, backend = _judge("generic", outputs=['8, "critique": "Clear and correct."}'])

    grade = judge.grade(EvalItem(id="g", instruction="q", responses=("Red.",)))

    [generate] = backend.calls
    assert generate["kind"] == "generate"
    assert generate["grammar"] == get_format("generic").output("single", "en").grammar()
    assert str(generate["prompt"]).endswith('{"score": ')
    assert grade.raw_output == '{"score": 8, "critique": "Clear and correct."}'
    assert grade.score == 8.0
    assert grade.critique == "Clear and correct."


def test_unparsed_grade_keeps_raw_text() -> None:
    judge, backend = _judge("autoj", outputs=["No rating from me."], constrained=False)

    grade = judge.grade(EvalItem(id="g", instruction="q", responses=("Red.",)))

    [generate] = backend.calls
    assert generate["grammar"] is None
    assert grade.score is None
    assert grade.status == "unparsed"
    assert grade.raw_output == "No rating from me."


def test_grade_a_chosen_response() -> None:
    judge, backend = _judge("generic", outputs=['3, "critique": "x"}'])

    grade = judge.grade(EvalItem(id="g", instruction="q", responses=("Red.", "Purple.")), response_index=1)

    assert grade.response_index == 1
    assert "[Response]\nPurple." in str(backend.calls[0]["prompt"])


def test_grade_response_index_out_of_range() -> None:
    judge, _ = _judge("generic")
    with pytest.raises(InputError, match="field 'responses'"):
        judge.grade(EvalItem(id="g", instruction="q", responses=("Red.",)), response_index=1)


def test_pandalm_cannot_grade() -> None:
    judge, _ = _judge("pandalm")
    with pytest.raises(FormatError, match="pandalm"):
        judge.grade(EvalItem(id="g", instruction="q", responses=("Red.",)))


# -- input errors -------------------------------------------------------------------------------------------


def test_one_empty_pairwise_response_is_judged() -> None:
    """A model that answered nothing is an outcome to judge (PandaLM's labelled test set has such pairs)."""
    judge, backend = _judge("pandalm", scores={"1": 0.0})
    verdict = judge.compare(EvalItem(id="empty-1", instruction="q", responses=("", "Purple.")))
    assert verdict.winner == "A" and len(backend.calls) == 1


def test_two_empty_pairwise_responses_name_the_field() -> None:
    judge, backend = _judge("pandalm", scores={"1": 0.0})
    with pytest.raises(InputError, match="field 'responses'") as info:
        judge.compare(EvalItem(id="empty-1", instruction="q", responses=(" ", "\n")))
    assert info.value.item == "empty-1"
    assert backend.calls == []


def test_empty_graded_response_names_the_field() -> None:
    judge, _ = _judge("generic")
    with pytest.raises(InputError, match="field 'response'"):
        judge.grade(EvalItem(id="g", instruction="q", responses=(" ",)))


@pytest.mark.parametrize("count", [1, 3])
def test_pairwise_needs_exactly_two_responses(count: int) -> None:
    judge, _ = _judge("pandalm", scores={"1": 0.0})
    item = EvalItem(id="three", instruction="q", responses=tuple(f"r{i}" for i in range(count)))
    with pytest.raises(InputError, match=f"two responses, got {count}") as info:
        judge.compare(item)
    assert info.value.field == "responses"
    assert "'three'" in str(info.value)


def test_unsupported_language_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="'zh'"):
        _judge("pandalm", lang="zh")


def test_chat_format_without_a_chat_template_is_a_format_error() -> None:
    judge, _ = _judge("generic", scores={"A": 0.0}, chat_template=None)
    with pytest.raises(FormatError, match="no chat template"):
        judge.compare(ITEM)


# -- seed, manifest, reproducibility ------------------------------------------------------------------------


def test_seed_is_passed_on_every_generate_call() -> None:
    sampling = Sampling(seed=77)
    judge, backend = _judge("autoj", outputs=["A. Rating: [[", "5]]", "B. So, the final decision is"],
                            scores={" Tie": 0.0}, sampling=sampling)
    judge.grade(EvalItem(id="g", instruction="q", responses=("Red.",)))
    judge.compare(ITEM)

    explainer, explainer_backend = _judge("pandalm", outputs=["\n\n### Reason: r"] * 2, scores={"1": 0.0},
                                          explain=True, sampling=sampling)
    explainer.judge_both_orders(ITEM)

    generates = _calls(backend, "generate") + _calls(explainer_backend, "generate")
    assert len(generates) == 5
    assert all(call["seed"] == 77 for call in generates)


def test_manifest_fields() -> None:
    judge, backend = _judge("pandalm", scores={"1": 0.0}, sampling=Sampling(seed=5, temperature=0.0))

    manifest = judge.compare(ITEM).manifest

    assert manifest is not None
    assert manifest.format == "pandalm"
    assert manifest.backend == "mock"
    assert manifest.seed == 5
    assert manifest.judge_sha256 == backend.info.sha256
    assert manifest.judge_name == "mock-judge"
    assert manifest.judge_file == "mock-judge.gguf"
    assert manifest.architecture == "mock"
    assert manifest.decoding["mode"] == "logits"
    assert manifest.decoding["n_ctx"] == 4096
    assert manifest.decoding["max_tokens"] == 512
    assert manifest.versions["mock"] == "1"
    assert "judgedesk" in manifest.versions
    assert len(manifest.template_sha256) == 64


def test_manifest_mode_logits_versus_generate() -> None:
    fast, _ = _judge("pandalm", scores={"1": 0.0})
    slow, _ = _judge("pandalm", outputs=["1"], fast=False)
    # fast=True does not apply to verdict-last formats: their critique is always generated.
    verdict_last, _ = _judge("autoj", outputs=["c. So, the final decision is"], scores={" Tie": 0.0}, fast=True)

    fast_manifest = fast.compare(ITEM).manifest
    slow_manifest = slow.compare(ITEM).manifest
    verdict_last_manifest = verdict_last.compare(ITEM).manifest

    assert fast_manifest is not None and fast_manifest.decoding["mode"] == "logits"
    assert slow_manifest is not None and slow_manifest.decoding["mode"] == "generate"
    assert verdict_last_manifest is not None and verdict_last_manifest.decoding["mode"] == "generate"
    assert fast_manifest.template_sha256 == slow_manifest.template_sha256


def test_template_hash_changes_with_rubric_and_chat_template() -> None:
    def template_hash(**options: object) -> str:
        judge, _ = _judge("generic", **options)  # type: ignore[arg-type]
        return judge.manifest("pairwise", fast=True).template_sha256

    base = template_hash(rubric="Prefer correct answers.")
    assert template_hash(rubric="Prefer correct answers.") == base
    assert template_hash(rubric="Prefer short answers.") != base
    assert template_hash(rubric=None) != base
    assert template_hash(rubric="Prefer correct answers.", chat_template=CHATML + " ") != base


def test_template_hash_differs_between_formats_and_tasks() -> None:
    generic, _ = _judge("generic")
    prometheus, _ = _judge("prometheus")
    hashes = {
        generic.manifest("pairwise", fast=True).template_sha256,
        generic.manifest("single", fast=False).template_sha256,
        prometheus.manifest("pairwise", fast=False).template_sha256,
    }
    assert len(hashes) == 3


def _run_all() -> list[str]:
    pair_scores = {"1": -0.5, "2": -1.5, "Tie": -2.0}
    pandalm, _ = _judge("pandalm", outputs=["\n\n### Reason: r\n\n### Reference: x\n"] * 2,
                        scores=pair_scores, explain=True)
    autoj, _ = _judge("autoj", outputs=["Critique one. Rating: [[", "7]]"])
    generic, _ = _judge("generic", scores={"A": -1.0, "B": -0.2, "tie": -3.0})
    return [
        to_json(pandalm.judge_both_orders(ITEM)),
        to_json(autoj.grade(EvalItem(id="g", instruction="q", responses=("Red.",)))),
        to_json(generic.judge_both_orders(ITEM)),
    ]


def test_records_are_byte_identical_across_runs() -> None:
    first, second = _run_all(), _run_all()
    assert first == second
    assert [text.encode("utf-8") for text in first] == [text.encode("utf-8") for text in second]


def test_create_backend_mock_drives_the_judge() -> None:
    backend = create_backend("mock", option_scores={"1": -1.0, "2": 0.0})
    with Judge(backend, format="pandalm") as judge:
        assert judge.compare(ITEM).winner == "B"


# -- constrained option probabilities -----------------------------------------------------------------------


def test_option_probabilities_forced_tokens_count_as_one() -> None:
    options = [[1], [2], [3, 4]]
    logprobs = [[math.log(0.5)], [math.log(0.2)], [math.log(0.3), math.log(0.01)]]

    assert constrained_option_probabilities(options, logprobs) == pytest.approx([0.5, 0.2, 0.3])


def test_option_probabilities_renormalise_among_allowed_first_tokens() -> None:
    # Most of the mass is on tokens outside the options; constrained decoding renormalises over 1, 2, 3.
    logprobs = [[math.log(0.02)], [math.log(0.06)], [math.log(0.02)]]

    assert constrained_option_probabilities([[1], [2], [3]], logprobs) == pytest.approx([0.2, 0.6, 0.2])


def test_option_probabilities_shared_prefix_renormalises_at_the_branch() -> None:
    options = [[5, 1], [5, 2]]
    logprobs = [[math.log(0.8), math.log(0.3)], [math.log(0.8), math.log(0.1)]]

    assert constrained_option_probabilities(options, logprobs) == pytest.approx([0.75, 0.25])


def test_option_probabilities_mixed_tree() -> None:
    # Root: 7 (0.1) vs 5 (0.3) -> 0.25 / 0.75; under 5: 1 (0.2) vs 2 (0.6) -> 0.25 / 0.75.
    options = [[5, 1], [5, 2], [7]]
    logprobs = [[math.log(0.3), math.log(0.2)], [math.log(0.3), math.log(0.6)], [math.log(0.1)]]

    expected = [0.75 * 0.25, 0.75 * 0.75, 0.25]
    assert constrained_option_probabilities(options, logprobs) == pytest.approx(expected)


def test_option_probabilities_single_option_is_certain() -> None:
    assert constrained_option_probabilities([[9, 8, 7]], [[-9.0, -3.0, -1.0]]) == pytest.approx([1.0])


def test_option_probabilities_are_shift_invariant() -> None:
    options = [[1], [2]]
    low = constrained_option_probabilities(options, [[-20.0], [-21.0]])
    high = constrained_option_probabilities(options, [[-1.0], [-2.0]])
    assert low == pytest.approx(high)
    assert low == pytest.approx([1 / (1 + math.exp(-1)), math.exp(-1) / (1 + math.exp(-1))])
