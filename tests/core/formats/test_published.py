"""The published judge prompts, character for character.

The reference text is tests/data/judge-formats.md (a copy of the team's shared reference): each "### Title"
section holds the Python repr of one published string. Every constant in `_published` must equal its section, and
every format's `prompt()` must render exactly the published template filled with the item's fields.
"""

from __future__ import annotations

import ast
import re

import pytest
from judgedesk.core.formats import (
    DEFAULT_GENERIC_RUBRIC,
    DEFAULT_PROMETHEUS_RUBRIC,
    JudgePrompt,
    PromptFields,
    _published,
    clean_pandalm_response,
    get_format,
)

from tests.reference_data import JUDGE_FORMATS

REFERENCE = JUDGE_FORMATS

# Section title in judge-formats.md -> constant in _published.
CONSTANT_OF_SECTION = {
    "PandaLM, with input": "PANDALM_WITH_INPUT",
    "PandaLM, without input (input empty)": "PANDALM_WITHOUT_INPUT",
    "Auto-J wrapper": "AUTOJ_WRAPPER",
    "Auto-J pairwise (English)": "AUTOJ_PAIRWISE_EN",
    "Auto-J single (English)": "AUTOJ_SINGLE_EN",
    "Auto-J pairwise (Chinese)": "AUTOJ_PAIRWISE_ZH",
    "Auto-J single (Chinese)": "AUTOJ_SINGLE_ZH",
    "Prometheus ABS_SYSTEM_PROMPT": "PROMETHEUS_ABS_SYSTEM",
    "Prometheus REL_SYSTEM_PROMPT": "PROMETHEUS_REL_SYSTEM",
    "Prometheus ABSOLUTE_PROMPT": "PROMETHEUS_ABSOLUTE",
    "Prometheus ABSOLUTE_PROMPT_WO_REF": "PROMETHEUS_ABSOLUTE_WO_REF",
    "Prometheus RELATIVE_PROMPT": "PROMETHEUS_RELATIVE",
    "Prometheus RELATIVE_PROMPT_WO_REF": "PROMETHEUS_RELATIVE_WO_REF",
    "Prometheus SCORE_RUBRIC_TEMPLATE": "PROMETHEUS_RUBRIC_TEMPLATE",
}
_REPR_MARKER = "Python repr (exact, with every newline and space):"
_SECTION = re.compile(
    r"^### (?P<title>[^\n]+)\n" + re.escape(_REPR_MARKER) + r"\n\n```\n(?P<repr>[^\n]*)\n```\n"
    r"(?:\nRendered:\n\n````\n(?P<rendered>.*?)\n````$)?",
    re.MULTILINE | re.DOTALL,
)


def _read_reference() -> tuple[dict[str, str], dict[str, str]]:
    """(title -> published string, title -> its rendered block) from judge-formats.md."""
    text = REFERENCE.read_text(encoding="utf-8")
    reprs: dict[str, str] = {}
    rendered: dict[str, str] = {}
    for match in _SECTION.finditer(text):
        value = ast.literal_eval(match["repr"])
        assert isinstance(value, str), match["title"]
        assert match["title"] not in reprs, f"section {match['title']!r} appears twice"
        reprs[match["title"]] = value
        if match["rendered"] is not None:
            rendered[match["title"]] = match["rendered"]
    assert len(reprs) == text.count(_REPR_MARKER), "a repr section of judge-formats.md was not recognised"
    return reprs, rendered


@pytest.fixture(scope="module")
def published() -> dict[str, str]:
    return _read_reference()[0]


def _published_constants() -> dict[str, str]:
    return {
        name: value for name, value in vars(_published).items() if name.isupper() and isinstance(value, str)
    }


# --------------------------------------------------------------------------- the constants themselves


def test_every_section_has_a_constant_and_every_constant_a_section(published: dict[str, str]) -> None:
    assert set(published) == set(CONSTANT_OF_SECTION)
    assert set(_published_constants()) == set(CONSTANT_OF_SECTION.values())


@pytest.mark.parametrize(("title", "constant"), sorted(CONSTANT_OF_SECTION.items()))
def test_constant_equals_published_text(published: dict[str, str], title: str, constant: str) -> None:
    assert getattr(_published, constant) == published[title]


def test_reference_rendered_blocks_agree_with_their_repr(published: dict[str, str]) -> None:
    # Guards the reference itself: a repr edited without its rendering (or the reverse) shows up here.
    _, rendered = _read_reference()
    assert set(rendered) == set(published)
    for title, text in rendered.items():
        assert text == published[title], title


# --------------------------------------------------------------------------- PandaLM

_PANDALM_SPECIALS = (
    "<unk>",
    "<pad>",
    "<s>",
    "</s>",
    "[PAD]",
    "<|endoftext|>",
    "[UNK]",
    "[CLS]",
    "[MASK]",
    "<|startofpiece|>",
    "<|endofpiece|>",
    "[gMASK]",
    "[sMASK]",
)
# PandaLM's own clean-up (pandalm_inference.py, build_pandalm_prompt): one regex pass between two strips.
_PANDALM_REFERENCE_PATTERN = re.compile("|".join(re.escape(s) for s in _PANDALM_SPECIALS))


def _pandalm_reference_clean(text: str) -> str:
    return _PANDALM_REFERENCE_PATTERN.sub("", text.strip()).strip()


def test_pandalm_with_input(published: dict[str, str]) -> None:
    fields = PromptFields(
        instruction="Translate the sentence into French.",
        input="Good morning, {name}!",
        responses=("Bonjour, {name} !", "Salut {0}"),
    )
    prompt = get_format("pandalm").prompt("pairwise", fields, "en")
    expected = published["PandaLM, with input"].format(
        instruction="Translate the sentence into French.",
        input="Good morning, {name}!",
        response1="Bonjour, {name} !",
        response2="Salut {0}",
    )
    assert prompt == JudgePrompt(user=expected, system=None, chat=False, prefill="")


def test_pandalm_without_input(published: dict[str, str]) -> None:
    fields = PromptFields(instruction="Name the capital of France.", responses=("Paris.", "Lyon."))
    prompt = get_format("pandalm").prompt("pairwise", fields, "en")
    expected = published["PandaLM, without input (input empty)"].format(
        instruction="Name the capital of France.", response1="Paris.", response2="Lyon."
    )
    assert prompt == JudgePrompt(user=expected)


def test_pandalm_cleans_responses_but_not_the_instruction(published: dict[str, str]) -> None:
    fields = PromptFields(
        instruction="Explain what <s> means.",
        responses=("  <s>It marks the start.</s>  \n", "\n<|endoftext|> A [PAD]token [UNK]\n"),
    )
    prompt = get_format("pandalm").prompt("pairwise", fields, "en")
    expected = published["PandaLM, without input (input empty)"].format(
        instruction="Explain what <s> means.", response1="It marks the start.", response2="A token"
    )
    assert prompt.user == expected


@pytest.mark.parametrize("special", _PANDALM_SPECIALS)
def test_pandalm_clean_removes_each_special_string(special: str) -> None:
    assert clean_pandalm_response(f" {special}a{special} b {special}\n") == "a b"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "plain answer",
        "  leading and trailing  ",
        "<s> inner  spacing\n\nkept </s>",
        "</s></s><s>",
        "<s>\n  text  \n</s>",
        "[CLS] [MASK] [gMASK] [sMASK] <|startofpiece|>x<|endofpiece|> <unk><pad>",
        "<S> is not special, <s > neither",
        "tab\t<|endoftext|>\ttab",
    ],
)
def test_pandalm_clean_matches_reference_implementation(text: str) -> None:
    assert clean_pandalm_response(text) == _pandalm_reference_clean(text)


@pytest.mark.parametrize("text", ["<<s>/s>", "[[PAD]UNK]"])
def test_pandalm_clean_single_pass_like_reference(text: str) -> None:
    assert clean_pandalm_response(text) == _pandalm_reference_clean(text)


# --------------------------------------------------------------------------- Auto-J

_AUTOJ_QUERY = "What's the capital of the United States? Answer in {one} word."
_AUTOJ_R1 = "The capital of the United States is New York."
_AUTOJ_R2 = "The capital of the United States is Washington DC."


@pytest.mark.parametrize(
    ("lang", "title"), [("en", "Auto-J pairwise (English)"), ("zh", "Auto-J pairwise (Chinese)")]
)
def test_autoj_pairwise(published: dict[str, str], lang: str, title: str) -> None:
    fields = PromptFields(instruction=_AUTOJ_QUERY, responses=(_AUTOJ_R1, _AUTOJ_R2))
    prompt = get_format("autoj").prompt("pairwise", fields, lang)
    body = published[title].format(prompt=_AUTOJ_QUERY, response=_AUTOJ_R1, response_another=_AUTOJ_R2)
    assert prompt == JudgePrompt(user=f"[INST] {body} [/INST]", system=None, chat=False, prefill="")
    assert prompt.user == published["Auto-J wrapper"].format(input=body)


@pytest.mark.parametrize(
    ("lang", "title"), [("en", "Auto-J single (English)"), ("zh", "Auto-J single (Chinese)")]
)
def test_autoj_single(published: dict[str, str], lang: str, title: str) -> None:
    fields = PromptFields(instruction=_AUTOJ_QUERY, responses=(_AUTOJ_R2,))
    prompt = get_format("autoj").prompt("single", fields, lang)
    body = published[title].format(prompt=_AUTOJ_QUERY, response=_AUTOJ_R2)
    assert prompt == JudgePrompt(user=f"[INST] {body} [/INST]", system=None, chat=False, prefill="")


def test_autoj_puts_the_input_in_the_query() -> None:
    # Auto-J's prompt has no input slot; the input travels with the query.
    fields = PromptFields(
        instruction="Summarise the text.", input="The cat sat on the mat.", responses=("A cat sat.", "Mats.")
    )
    user = get_format("autoj").prompt("pairwise", fields, "en").user
    query = user.split("[Query]: ", 1)[1].split("\n***\n[Response 1]", 1)[0]
    assert "Summarise the text." in query
    assert "The cat sat on the mat." in query


# --------------------------------------------------------------------------- Prometheus

_RUBRIC = (
    "[Is the answer polite?]\n"
    "Score 1: Rude.\nScore 2: Curt.\nScore 3: Neutral.\nScore 4: Polite.\nScore 5: Warm."
)


@pytest.mark.parametrize(
    ("reference", "title"),
    [
        ("Washington, D.C.", "Prometheus ABSOLUTE_PROMPT"),
        (None, "Prometheus ABSOLUTE_PROMPT_WO_REF"),
        ("", "Prometheus ABSOLUTE_PROMPT_WO_REF"),
    ],
)
def test_prometheus_absolute(published: dict[str, str], reference: str | None, title: str) -> None:
    fields = PromptFields(
        instruction="What is the capital of the {USA}?",
        responses=("Washington, D.C.",),
        reference=reference,
        rubric=_RUBRIC,
    )
    prompt = get_format("prometheus").prompt("single", fields, "en")
    expected = published[title].format(
        instruction="What is the capital of the {USA}?",
        response="Washington, D.C.",
        reference_answer=reference,
        rubric=_RUBRIC,
    )
    assert prompt == JudgePrompt(
        user=expected, system=published["Prometheus ABS_SYSTEM_PROMPT"], chat=True, prefill=""
    )


@pytest.mark.parametrize(
    ("reference", "title"),
    [
        ("Washington, D.C.", "Prometheus RELATIVE_PROMPT"),
        (None, "Prometheus RELATIVE_PROMPT_WO_REF"),
        ("", "Prometheus RELATIVE_PROMPT_WO_REF"),
    ],
)
def test_prometheus_relative(published: dict[str, str], reference: str | None, title: str) -> None:
    fields = PromptFields(
        instruction="What is the capital of the USA?",
        responses=("New York.", "Washington."),
        reference=reference,
        rubric=_RUBRIC,
    )
    prompt = get_format("prometheus").prompt("pairwise", fields, "en")
    expected = published[title].format(
        instruction="What is the capital of the USA?",
        response_A="New York.",
        response_B="Washington.",
        reference_answer=reference,
        rubric=_RUBRIC,
    )
    assert prompt == JudgePrompt(
        user=expected, system=published["Prometheus REL_SYSTEM_PROMPT"], chat=True, prefill=""
    )


@pytest.mark.parametrize("task", ["single", "pairwise"])
def test_prometheus_default_rubric_fills_the_rubric_slot(published: dict[str, str], task: str) -> None:
    responses = ("Paris.",) if task == "single" else ("Paris.", "Lyon.")
    fields = PromptFields(instruction="Capital of France?", responses=responses)
    user = get_format("prometheus").prompt(task, fields, "en").user  # type: ignore[arg-type]
    assert user.endswith(f"\n{DEFAULT_PROMETHEUS_RUBRIC}\n\n###Feedback: ")


def test_prometheus_default_rubric_has_the_published_rubric_shape(published: dict[str, str]) -> None:
    template = published["Prometheus SCORE_RUBRIC_TEMPLATE"]
    shape = re.escape(template)
    for slot in re.findall(r"\{(\w+)\}", template):
        shape = shape.replace(re.escape("{" + slot + "}"), r"[^\n]+")
    assert re.fullmatch(shape, DEFAULT_PROMETHEUS_RUBRIC)


# --------------------------------------------------------------------------- generic


def test_generic_pairwise() -> None:
    fields = PromptFields(instruction="Add 2 and 2.", input="Show the {work}.", responses=("4", "5"))
    prompt = get_format("generic").prompt("pairwise", fields, "en")
    assert prompt.chat is True
    assert prompt.prefill == '{"winner": "'
    assert prompt.system is not None and DEFAULT_GENERIC_RUBRIC in prompt.system
    assert '"winner"' in prompt.system
    user = prompt.user
    assert user.index("Add 2 and 2.") < user.index("Show the {work}.") < user.index("[Response A]\n4")
    assert user.index("[Response A]\n4") < user.index("[Response B]\n5")


def test_generic_without_input_has_no_input_block() -> None:
    fields = PromptFields(instruction="Add 2 and 2.", responses=("4", "5"))
    user = get_format("generic").prompt("pairwise", fields, "en").user
    assert "[Input]" not in user


def test_generic_single_with_user_rubric() -> None:
    fields = PromptFields(
        instruction="Write a haiku.", responses=("An old silent pond",), rubric="Count syllables."
    )
    prompt = get_format("generic").prompt("single", fields, "en")
    assert prompt.chat is True
    assert prompt.prefill == '{"score": '
    assert prompt.system is not None and "Count syllables." in prompt.system
    assert DEFAULT_GENERIC_RUBRIC not in prompt.system
    assert "Write a haiku." in prompt.user and "An old silent pond" in prompt.user
