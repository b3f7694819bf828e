"""What each backend declares it can do (`Backend.capabilities`), and what the engine makes of it.

The server backend's capabilities depend on what the server answers; its fake server is in test_server_backend.py,
which checks them there.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from judgedesk.core import (
    Backend,
    BackendCapabilities,
    DecodingSettings,
    create_backend,
    decoding_for_backend,
    demo_judge_path,
    judge_with_backend,
    open_judge_backend,
)
from judgedesk.core.backends._transformers import TransformersBackend

IN_PROCESS = BackendCapabilities(logprobs=True, grammar=True, max_in_flight=1, endpoint=None, offload_note=None)


def test_the_record_is_frozen_and_its_defaults_are_a_model_held_in_this_process() -> None:
    assert BackendCapabilities() == IN_PROCESS
    with pytest.raises(FrozenInstanceError):
        BackendCapabilities().max_in_flight = 4  # type: ignore[misc]


def test_the_mock_declares_an_in_process_model_unless_a_test_scripts_less() -> None:
    mock = create_backend("mock")
    assert isinstance(mock, Backend) and mock.capabilities == IN_PROCESS
    limited = BackendCapabilities(logprobs=False, grammar=False, max_in_flight=3, endpoint="10.0.0.5:8080")
    assert create_backend("mock", capabilities=limited).capabilities == limited


def test_the_transformers_backend_declares_logprobs_grammars_and_one_at_a_time() -> None:
    assert TransformersBackend.capabilities == IN_PROCESS  # fixed for the class: no load needed to know it


@pytest.mark.real_model
def test_the_llamacpp_backend_declares_an_in_process_model() -> None:
    backend = open_judge_backend(str(demo_judge_path()), n_ctx=512)
    try:
        assert isinstance(backend, Backend) and backend.name == "llama.cpp"
        assert backend.capabilities == IN_PROCESS
    finally:
        backend.close()


@pytest.mark.real_model
def test_a_folder_opens_with_transformers_and_declares_the_same(smollm2_hf_dir: Path) -> None:
    backend = open_judge_backend(smollm2_hf_dir, n_ctx=512)
    try:
        assert isinstance(backend, Backend) and backend.name == "transformers"
        assert backend.capabilities == IN_PROCESS
    finally:
        backend.close()


@pytest.mark.parametrize(("capabilities", "expected"), [
    (BackendCapabilities(), DecodingSettings()),
    (BackendCapabilities(logprobs=False), DecodingSettings(fast=False)),
    (BackendCapabilities(grammar=False), DecodingSettings(constrained=False)),
    (BackendCapabilities(logprobs=False, grammar=False), DecodingSettings(fast=False, constrained=False)),
])
def test_the_judge_decodes_with_what_the_backend_declares(capabilities: BackendCapabilities,
                                                          expected: DecodingSettings) -> None:
    backend = create_backend("mock", capabilities=capabilities)
    assert decoding_for_backend(backend, DecodingSettings()) == expected
    assert judge_with_backend(backend, format="pandalm").decoding == expected
    # What was not asked for is not added back.
    assert decoding_for_backend(backend, DecodingSettings(fast=False, constrained=False)) == \
        DecodingSettings(fast=False, constrained=False)
