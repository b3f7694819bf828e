"""How prompts are cut into multi-sequence rounds, how a batch run groups its orders, and how `--sequences auto`
chooses (units; the real judge's bit-identity is in test_llamacpp_sequences.py)."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import pytest
from judgedesk.core import DecodingSettings, EvalItem, InputError, Judge
from judgedesk.core._sequence_choice import choose_sequences, parse_sequences
from judgedesk.core.backends import BackendCapabilities
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.backends._sequences import plan_rounds
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.reports import load_results
from judgedesk.core.runs import run_batch


@pytest.mark.parametrize("seed", range(5))
def test_every_round_gives_its_sequences_equal_chunks_of_two_or_more_within_the_budget(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2000):
        lengths = [rng.choice([1, 2, 3, rng.randint(1, 700)]) for _ in range(rng.randint(1, 8))]
        budget = rng.choice([4, 5, 7, 64, 512])
        done = [0] * len(lengths)
        for chunks in plan_rounds(lengths, budget):
            assert len({c.count for c in chunks}) == 1
            assert sum(c.count for c in chunks) <= budget
            assert [c.seq for c in chunks] == sorted(c.seq for c in chunks)  # llama.cpp wants them in order
            for c in chunks:
                assert c.start == done[c.seq]
                assert c.count >= 2 or lengths[c.seq] == 1  # one token alone takes another kernel path
                done[c.seq] += c.count
                assert lengths[c.seq] - done[c.seq] != 1  # nor may one be left for later
        assert done == lengths


def test_prompts_of_equal_length_share_every_round() -> None:
    rounds = plan_rounds([300, 300, 300, 300], 512)
    assert [[(c.seq, c.count) for c in r] for r in rounds] == [[(s, 128) for s in range(4)],
                                                               [(s, 128) for s in range(4)],
                                                               [(s, 44) for s in range(4)]]


def test_a_budget_too_small_for_two_chunks_is_refused() -> None:
    with pytest.raises(ValueError, match="room for 4 tokens"):
        plan_rounds([10], 3)


def _data(n: int) -> Dataset:
    pairs = tuple(PairTask(item=EvalItem(id=f"i{k}", instruction=f"Task {k}", responses=(f"good {k}", f"bad {k}")),
                           model_a="alpha", model_b="beta") for k in range(n))
    long_item = EvalItem(id="huge", instruction="x" * 5000, responses=("a", "b"))
    pairs += (PairTask(long_item, "alpha", "beta"),)
    return Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta"), pairs=pairs, grades=())


def _prefers_good(prompt: str, options: list[str]) -> list[float]:
    first_is_good = prompt.find("good") < prompt.find("bad")
    return [0.0 if (o == "1") == first_is_good and o in ("1", "2") else -9.0 for o in options]


def _judge(sequences: int, **decoding: object) -> Judge:
    backend = MockBackend(["1\n\n### Reason: fine"] * 20, option_scores=_prefers_good, n_ctx=1024,
                          capabilities=BackendCapabilities(max_sequences=sequences))
    return Judge(backend, format="pandalm", decoding=DecodingSettings(**decoding))  # type: ignore[arg-type]


def test_a_batch_run_judges_its_orders_several_per_forward_pass_with_the_same_records(tmp_path: Path) -> None:
    one, three = _judge(1), _judge(3)
    run_batch(tmp_path / "one", _data(4), one)
    run_batch(tmp_path / "three", _data(4), three)
    batches = [c["size"] for c in three.backend.calls if c["kind"] == "batch"]  # type: ignore[attr-defined]
    assert batches == [3, 3, 2]  # 8 orders that fit, 3 per pass; the item too long never reaches the model
    assert not [c for c in one.backend.calls if c["kind"] == "batch"]  # type: ignore[attr-defined]
    rows_one, rows_three = load_results(tmp_path / "one").rows, load_results(tmp_path / "three").rows
    assert [r.sides for r in rows_one] == [r.sides for r in rows_three]
    assert "item 'huge'" in rows_three[-1].sides["AB"]["error"]


@pytest.mark.parametrize("decoding", [{"explain": True}, {"fast": False}])
def test_reasons_and_generated_verdicts_go_one_at_a_time(tmp_path: Path, decoding: dict[str, bool]) -> None:
    judge = _judge(4, **decoding)
    assert not judge.batches_fast_verdicts
    run_batch(tmp_path / "run", _data(2), judge)
    assert not [c for c in judge.backend.calls if c["kind"] == "batch"]  # type: ignore[attr-defined]


def test_compare_many_puts_an_items_error_in_its_place() -> None:
    judge = _judge(4)
    good = EvalItem(id="ok", instruction="Task", responses=("good", "bad"))
    huge = EvalItem(id="huge", instruction="x" * 5000, responses=("a", "b"))
    results = judge.compare_many([(good, "AB"), (huge, "AB"), (good, "BA")])
    assert [getattr(r, "winner", None) for r in results] == ["A", None, "A"]
    assert "item 'huge'" in str(results[1])


@pytest.mark.parametrize("text, expected", [("auto", "auto"), ("1", 1), ("8", 8)])
def test_sequences_are_auto_or_a_count_from_one_to_eight(text: str, expected: object) -> None:
    assert parse_sequences(text) == expected


@pytest.mark.parametrize("text", ["0", "9", "two", ""])
def test_other_sequences_are_a_clear_error(text: str) -> None:
    with pytest.raises(InputError, match="--sequences must be 'auto' or a whole number from 1 to 8"):
        parse_sequences(text)


def test_auto_is_one_sequence_on_the_cpu(tmp_path: Path) -> None:
    assert choose_sequences("auto", tmp_path / "any.gguf", n_ctx=4096, n_gpu_layers=0) == 1
    assert choose_sequences(5, tmp_path / "any.gguf", n_ctx=4096, n_gpu_layers=0) == 5


def test_auto_on_a_gpu_takes_what_the_memory_plan_fits_in_its_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from judgedesk import quantize
    from judgedesk.core import _sequence_choice, demo_judge_path

    monkeypatch.setattr(_sequence_choice, "load_llama_cpp",
                        lambda: SimpleNamespace(llama_supports_gpu_offload=lambda: True))
    asked: list[int] = []

    def fake_memory(free: int) -> object:
        asked.append(free)
        return SimpleNamespace(gpus=(SimpleNamespace(free_bytes=free),))

    judge_file = demo_judge_path()
    chosen = []
    for free in (10 << 30, 1):
        monkeypatch.setattr(quantize, "detect_memory", lambda free=free: fake_memory(free))
        chosen.append(choose_sequences("auto", judge_file, n_ctx=4096, n_gpu_layers=-1))
    assert asked == [10 << 30, 1]
    # The plan gets the free memory less the CUDA context's headroom
    expected = quantize.sequences_that_fit(judge_file, n_ctx=4096, free_bytes=(10 << 30) - (1 << 30))
    assert chosen[0] == expected
    # 10 GiB hold eight sequences of the demo judge; one byte nothing (one, and llama.cpp's own error if that fails)
    assert chosen == [8, 1]
    monkeypatch.setattr(quantize, "detect_memory", lambda: SimpleNamespace(gpus=()))
    assert choose_sequences("auto", judge_file, n_ctx=4096, n_gpu_layers=-1) == 1  # no NVML: no guess
