"""The llama.cpp backend with every layer offloaded to a GPU, on the real demo judge.

These run only where llama-cpp-python was built with GPU support and a GPU is present (CI has neither, so there they
are skipped); `bench/verdict_speed.py --gpu-layers -1` measures the same machine's speed. They hold the promises the
CPU tests hold, on the GPU: byte-identical reruns (every GPU call starts from an empty KV cache, see the backend),
fast verdicts that pick what greedy decoding picks, winners the CPU agrees with, and a memory plan that knows the GPU.
"""

from __future__ import annotations

import json

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge, create_backend, demo_judge_path

from tests.llama_build import GPU_BUILD
from tests.reference_data import PANDALM_TESTSET

pytestmark = pytest.mark.real_model

DATASET = PANDALM_TESTSET


if not GPU_BUILD:
    pytest.skip("this llama-cpp-python build has no GPU support", allow_module_level=True)


def _items(count: int) -> list[EvalItem]:
    rows = json.loads(DATASET.read_text(encoding="utf-8"))
    usable = [r for r in rows if all(isinstance(r[k], str) and r[k].strip() for k in ("response1", "response2"))]
    return [EvalItem(id=str(r["idx"]), instruction=r["instruction"], input=r["input"],
                     responses=(r["response1"], r["response2"])) for r in usable[:count]]


@pytest.fixture(scope="module")
def gpu():
    with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=4096, n_gpu_layers=-1) as backend:
        yield backend


@pytest.fixture(scope="module")
def cpu():
    with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=4096) as backend:
        yield backend


def _records(judge: Judge, items: list[EvalItem]) -> list[str]:
    return [json.dumps(judge.judge_both_orders(item).to_dict(), sort_keys=True) for item in items]


def test_the_backend_records_the_offload(gpu):
    assert gpu.settings()["n_gpu_layers"] == -1


@pytest.mark.parametrize("decoding", [DecodingSettings(fast=True),
                                      DecodingSettings(fast=True, explain=True, max_tokens=48),
                                      DecodingSettings(fast=False, max_tokens=64)],
                         ids=["fast", "explain", "generate"])
def test_gpu_reruns_are_byte_identical(gpu, decoding):
    items = _items(8)
    judge = Judge(gpu, format="pandalm", decoding=decoding)
    first = _records(judge, items)
    # Something else judged in between must not change a verdict either.
    Judge(gpu, format="generic", decoding=DecodingSettings(fast=True)).judge_both_orders(_items(9)[-1])
    assert _records(judge, items) == first


def test_gpu_fast_verdicts_match_greedy_decoding(gpu):
    items = _items(24)
    fast = Judge(gpu, format="pandalm", decoding=DecodingSettings(fast=True))
    greedy = Judge(gpu, format="pandalm", decoding=DecodingSettings(fast=False, max_tokens=24))
    for item in items:
        assert fast.compare(item).winner == greedy.compare(item).winner, item.id


def test_gpu_and_cpu_agree(gpu, cpu):
    """Other kernels, so not bit-identical: probabilities agree closely, winners wherever the CPU's is not a near tie.

    Measured on an H100 over 40 items: largest difference 0.093 in one option's probability, no winner changed.
    """
    items = _items(40)
    decoding = DecodingSettings(fast=True)
    differences = []
    for item in items:
        on_gpu = Judge(gpu, format="pandalm", decoding=decoding).compare(item)
        on_cpu = Judge(cpu, format="pandalm", decoding=decoding).compare(item)
        assert on_gpu.probabilities.keys() == on_cpu.probabilities.keys()
        differences += [abs(on_gpu.probabilities[option] - p) for option, p in on_cpu.probabilities.items()]
        first, second = sorted(on_cpu.probabilities.values(), reverse=True)[:2]
        if first - second > 0.2:
            assert on_gpu.winner == on_cpu.winner, item.id
    mean = sum(differences) / len(differences)
    print(f"GPU vs CPU option probabilities over {len(items)} items: mean difference {mean:.4f}, "
          f"largest {max(differences):.4f}")
    assert max(differences) < 0.15 and mean < 0.03


def test_memory_plan_sees_the_gpu_and_covers_what_llama_cpp_takes(gpu):
    from judgedesk.quantize import detect_memory, plan_memory

    before = detect_memory().gpus
    if not before:
        pytest.skip("NVML reports no GPU")
    plan = plan_memory(demo_judge_path(), budget_gib=before[0].total_bytes / 2**30, n_ctx=4096)
    own = next(row for row in plan.rows if row.this_file)
    assert own.fits and own.gpu_layers == plan.n_layers
    with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=4096, n_gpu_layers=-1) as backend:
        Judge(backend, format="pandalm").compare(_items(1)[0])
        taken = before[0].free_bytes - detect_memory().gpus[0].free_bytes
    # `gpu` already made the CUDA context (the driver's few hundred MiB, which the plan leaves out, as its notes say).
    print(f"plan {own.total_bytes / 2**20:.0f} MiB, llama.cpp took {taken / 2**20:.0f} MiB of GPU memory")
    assert own.total_bytes * 0.5 <= taken <= own.total_bytes + 1024 * 2**20


def test_several_sequences_per_pass_on_the_gpu_agree_with_one(gpu):
    """Several prompts per forward pass (`--sequences`): other batch shapes on the GPU, so within the GPU-vs-CPU
    tolerance above rather than bit-identical (on the CPU they are: test_llamacpp_sequences.py), winners unchanged
    wherever one sequence's winner is not a near tie; and reruns of the batched path are byte-identical."""
    items = _items(16)
    requests = [(item, order) for item in items for order in ("AB", "BA")]
    one = Judge(gpu, format="pandalm", owns_backend=False)
    with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=4096, n_gpu_layers=-1, n_seq=4) as wide:
        many = Judge(wide, format="pandalm", owns_backend=False)
        assert many.batches_fast_verdicts
        batched = many.compare_many(requests)
        assert [v.to_dict() for v in many.compare_many(requests)] == [v.to_dict() for v in batched]
    differences = []
    for (item, order), verdict in zip(requests, batched, strict=True):
        alone = one.compare(item, order=order)
        differences += [abs(verdict.probabilities[k] - p) for k, p in alone.probabilities.items()]
        first, second = sorted(alone.probabilities.values(), reverse=True)[:2]
        if first - second > 0.2:
            assert verdict.winner == alone.winner, (item.id, order)
    assert max(differences) < 0.15 and sum(differences) / len(differences) < 0.03
