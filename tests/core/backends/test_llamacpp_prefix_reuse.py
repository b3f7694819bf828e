"""KV prefix reuse in the llama.cpp backend, on the real demo judge.

The backend keeps the KV cache of the prefix a call shares with the previous one (the two orders of a pair share
the instruction). That is only allowed because llama.cpp's CPU kernels give bit-identical logits however a prompt
is split into batches; these tests hold that promise: a verdict must not depend on what was judged before it.
"""

from __future__ import annotations

import json

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge, create_backend, demo_judge_path

from tests.reference_data import PANDALM_TESTSET

pytestmark = pytest.mark.real_model

DATASET = PANDALM_TESTSET


def _items(count: int) -> list[EvalItem]:
    rows = json.loads(DATASET.read_text(encoding="utf-8"))
    items, seen = [], set()
    for row in rows:
        texts = (row["response1"], row["response2"])
        if row["instruction"] in seen or not all(isinstance(t, str) and t.strip() for t in texts):
            continue
        if sum(map(len, texts)) > 1200:
            continue
        seen.add(row["instruction"])
        items.append(EvalItem(id=str(row["idx"]), instruction=row["instruction"], input=row["input"],
                              responses=texts))
        if len(items) == count:
            return items
    return items


@pytest.fixture(scope="module")
def backends():
    reusing = create_backend("llama.cpp", path=demo_judge_path(), n_ctx=2048)
    fresh = create_backend("llama.cpp", path=demo_judge_path(), n_ctx=2048, reuse_prefix=False)
    with reusing, fresh:
        yield reusing, fresh


def _records(judge: Judge, items: list[EvalItem]) -> list[tuple]:
    results = [judge.judge_both_orders(item) for item in items]
    return [(r.ab.winner, r.ab.probabilities, r.ab.raw_output, r.ba.winner, r.ba.probabilities, r.ba.raw_output)
            for r in results]


@pytest.mark.parametrize("fmt", ["pandalm", "generic"])
def test_fast_verdicts_are_bit_identical_with_and_without_reuse(backends, fmt):
    reusing, fresh = backends
    items = _items(4)
    decoding = DecodingSettings(fast=True)
    assert _records(Judge(reusing, format=fmt, decoding=decoding), items) == \
        _records(Judge(fresh, format=fmt, decoding=decoding), items)


def test_generation_is_identical_with_and_without_reuse(backends):
    reusing, fresh = backends
    items = _items(2)
    decoding = DecodingSettings(fast=False, max_tokens=40)
    assert _records(Judge(reusing, format="pandalm", decoding=decoding), items) == \
        _records(Judge(fresh, format="pandalm", decoding=decoding), items)


def test_a_verdict_does_not_depend_on_what_came_before(backends):
    reusing, _ = backends
    judge = Judge(reusing, format="pandalm", decoding=DecodingSettings(fast=True))
    first, second, third = _items(3)
    judge.compare(second)
    after_second = judge.compare(first, order="BA")
    judge.compare(third, order="BA")
    after_third = judge.compare(first, order="BA")
    judge.compare(first, order="BA")
    after_itself = judge.compare(first, order="BA")
    assert after_second == after_third == after_itself


def test_the_second_order_reuses_the_shared_instruction(backends, monkeypatch):
    reusing, fresh = backends
    item = _items(1)[0]
    evaluated = {"reusing": 0, "fresh": 0}
    for key, backend in (("reusing", reusing), ("fresh", fresh)):
        llm = backend._llm
        original = llm.eval

        def counting(tokens, _original=original, _key=key):
            evaluated[_key] += len(tokens)
            return _original(tokens)

        monkeypatch.setattr(llm, "eval", counting)
        Judge(backend, format="pandalm", decoding=DecodingSettings(fast=True)).judge_both_orders(item)
    instruction_tokens = len(reusing.tokenize(item.instruction, special=False))
    assert evaluated["fresh"] - evaluated["reusing"] >= instruction_tokens


def _long_prompt(backend, length: int) -> list[int]:
    text = " ".join(f"token{i} goes here, and then {i * 7} more" for i in range(length // 4))
    return backend.tokenize(text, special=False)[:length]


@pytest.mark.parametrize("length", [300, 400, 513])
def test_a_long_prompt_scored_again_gives_the_fresh_logits(backends, length):
    """A second call with the same prompt reuses all of it but two tokens: never one token alone, whose batch-of-one
    path gives other last bits past a few hundred tokens (0.16 in a logprob at 300, found with the MT-bench
    prompts), and whose KV entry would then carry the difference into every later reuse."""
    reusing, fresh = backends
    prompt = _long_prompt(reusing, length)
    options = [reusing.tokenize(text, special=False) for text in (" yes", " no", " maybe")]
    first = reusing.score_options(prompt, options)
    again = reusing.score_options(prompt, options)
    longer = reusing.score_options(prompt + prompt[:7], options)
    assert first == again == fresh.score_options(prompt, options)
    assert longer == fresh.score_options(prompt + prompt[:7], options)


def test_generation_is_the_same_with_and_without_a_cancel_flag(backends):
    """With a cancel flag the prompt is evaluated in smaller batches between checks; the text must not change."""
    import threading

    from judgedesk.core import Sampling

    _, fresh = backends
    prompt = _long_prompt(fresh, 300)
    plain = fresh.generate(prompt, max_tokens=16, sampling=Sampling())
    cancellable = fresh.generate(prompt, max_tokens=16, sampling=Sampling(), cancel=threading.Event())
    assert plain.text == cancellable.text and plain.n_tokens == cancellable.n_tokens


@pytest.mark.parametrize(("count", "size", "expected"), [
    (1, 512, [1]), (2, 512, [2]), (513, 512, [511, 2]), (1024, 512, [512, 512]), (257, 128, [128, 127, 2]),
    (300, 128, [128, 128, 44]),
])
def test_no_token_is_evaluated_alone_when_there_are_more(count, size, expected):
    from judgedesk.core.backends._llamacpp import _batches

    assert _batches(count, size) == expected and sum(expected) == count
