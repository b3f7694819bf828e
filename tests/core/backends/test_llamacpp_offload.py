"""GPU layers asked of a llama.cpp built without GPU support: the judge runs on the CPU and says so.

llama.cpp ignores the layers on such a build; judgedesk records what ran (0 layers) in every manifest instead of what
was asked, keeps the CPU's prefix reuse, and its capabilities' `offload_note` gives the user the reason and the
rebuild command.
"""

from __future__ import annotations

import json

import pytest
from judgedesk.core import DecodingSettings, EvalItem, Judge, create_backend, demo_judge_path

from tests.llama_build import cpu_only_build

ITEM = EvalItem(id="q1", instruction="Name a primary colour.", responses=("Red.", "Banana."))


def test_no_note_for_a_backend_without_gpu_layers():
    assert create_backend("mock").capabilities.offload_note is None  # no GPU layers of its own: nothing to say


@cpu_only_build
@pytest.mark.real_model
def test_gpu_layers_on_a_cpu_only_build_run_on_the_cpu_and_say_so():
    with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=2048, n_gpu_layers=-1) as asked_gpu, \
            create_backend("llama.cpp", path=demo_judge_path(), n_ctx=2048) as cpu:
        assert asked_gpu.settings()["n_gpu_layers"] == 0
        note = asked_gpu.capabilities.offload_note
        assert note is not None and "-1 GPU layers" in note and "no GPU support" in note and "-DGGML_CUDA=on" in note
        assert cpu.capabilities.offload_note is None
        records = [json.dumps(Judge(backend, format="pandalm", decoding=DecodingSettings(fast=True))
                              .judge_both_orders(ITEM).to_dict(), sort_keys=True) for backend in (asked_gpu, cpu)]
    assert records[0] == records[1]  # same manifest, same verdicts: what ran is what is recorded
