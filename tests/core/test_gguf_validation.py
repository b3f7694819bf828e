"""A judge file that passes judgedesk's checks never aborts the process.

Each case is a copy of the demo judge with one thing wrong (tests/gguf_edit.py): a hyperparameter llama.cpp asserts
on, a tensor shape that disagrees, a truncated data region. read_gguf_header refuses it naming the key or tensor,
`judgedesk compare` exits 1 with that one line, and `judgedesk models` lists it with its problem. What the checks
do not foresee is met by the checked first load (core/_load_probe.py), which is proven here with the checks off.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gguf.constants import GGUFValueType
from judgedesk.core import ModelFileError, ModelLoadError, read_gguf_header
from judgedesk.core._gguf_checks import MAX_LAYERS
from judgedesk.core._llama_log import llama_failure_reason
from judgedesk.core.cli import main

from tests.gguf_edit import Typed, rewrite_gguf

_N_LAYER = 30  # the demo judge: SmolLM2-135M, 576 wide, 9 heads of 64, 3 KV heads, 49152 tokens


@pytest.fixture
def mutated(tmp_path: Path, demo_path: Path) -> Any:
    """mutated(**rewrite_gguf options) -> a changed copy of the demo judge; its weights are zeros unless a test
    asks for them (weights=True), which only a test that runs llama.cpp on the file needs."""
    count = iter(range(1000))

    def make(weights: bool = False, **changes: Any) -> Path:
        return rewrite_gguf(demo_path, tmp_path / f"bad-{next(count)}.gguf", weights=weights, **changes)

    return make


def test_an_unchanged_rewrite_is_the_demo_judge_byte_for_byte(mutated: Any, demo_path: Path) -> None:
    assert mutated(weights=True).read_bytes() == demo_path.read_bytes()  # it changes nothing it is not asked to


# (rewrite options, text the one-line error must hold: the key or tensor, and why)
REFUSED = {
    "no layers": ({"metadata": {"llama.block_count": 0}}, "llama.block_count = 0: llama.cpp needs between 1 and"),
    "2^32-1 layers": ({"metadata": {"llama.block_count": 0xFFFFFFFF}}, "llama.block_count = 4294967295"),
    "one layer too many": ({"metadata": {"llama.block_count": MAX_LAYERS + 1}}, "llama.block_count = 513"),
    "block count as int32": ({"metadata": {"llama.block_count": Typed(GGUFValueType.INT32, 30)}},
                             "llama.block_count = 30: llama.cpp reads it as a uint32, the file stores an int32"),
    "fewer layers than tensors": ({"metadata": {"llama.block_count": 29}},
                                  "tensor 'blk.29."),
    "no heads": ({"metadata": {"llama.attention.head_count": 0}}, "llama.attention.head_count = 0: it must be"),
    "negative heads per layer": ({"metadata": {"llama.attention.head_count": Typed(GGUFValueType.INT32,
                                                                                    [-1] * _N_LAYER)}},
                                 "llama.attention.head_count = [-1, -1, -1, -1, -1, -1, ...]: negative in layer 0"),
    "per-layer heads that differ": ({"metadata": {"llama.attention.head_count": [9] * 29 + [3]}},
                                    "the same value in every layer"),
    "a head array one short": ({"metadata": {"llama.attention.head_count": [9] * 29}},
                               "29 values, one per layer, but llama.block_count is 30"),
    "more heads than values": ({"metadata": {"llama.attention.head_count": 579}}, "more heads than the 576"),
    "no KV heads": ({"metadata": {"llama.attention.head_count_kv": 0}}, "llama.attention.head_count_kv = 0"),
    "KV heads not dividing": ({"metadata": {"llama.attention.head_count_kv": 4}},
                              "4 KV heads do not divide the 9 attention heads"),
    "no embedding": ({"metadata": {"llama.embedding_length": 0}}, "llama.embedding_length = 0: it must be positive"),
    "heads narrower than the rope": ({"metadata": {"llama.embedding_length": 512}},
                                     "llama.rope.dimension_count = 64: more than the head size of 56"),
    "feed-forward length disagreeing with the tensors": (
        {"metadata": {"llama.feed_forward_length": 1024}},
        "tensor 'blk.0.ffn_down.weight' has shape [1536, 576], but llama.embedding_length = 576 and "
        "llama.feed_forward_length = 1024 make it [1024, 576]"),
    "no feed-forward length": ({"drop": ["llama.feed_forward_length"]}, "llama.feed_forward_length is missing"),
    "context length as a string": ({"metadata": {"llama.context_length": "8192"}},
                                   "llama.context_length = '8192': llama.cpp reads it as a uint32"),
    "no context": ({"metadata": {"llama.context_length": 0}}, "llama.context_length = 0: it must be positive"),
    "odd rope dimensions": ({"metadata": {"llama.rope.dimension_count": 63}}, "it must be even"),
    "rope wider than a head": ({"metadata": {"llama.rope.dimension_count": 128}}, "more than the head size of 64"),
    "rope narrower than a head": ({"metadata": {"llama.rope.dimension_count": 32}}, "rotates the whole head"),
    "rope base zero": ({"metadata": {"llama.rope.freq_base": 0.0}}, "llama.rope.freq_base = 0.0: it must be"),
    # Found by test_cli_never_crashes: `grade` aborted in llama.cpp's grammar sampler (SIGABRT) on such a judge.
    "norm epsilon zero": ({"metadata": {"llama.attention.layer_norm_rms_epsilon": 0.0}},
                          "llama.attention.layer_norm_rms_epsilon = 0.0: it must be a positive number"),
    "norm epsilon negative": ({"metadata": {"llama.attention.layer_norm_rms_epsilon": -1e-5}},
                              "it must be a positive number"),
    "unknown rope scaling": ({"metadata": {"llama.rope.scaling.type": "wobbly"}}, "llama.rope.scaling.type"),
    "experts never used": ({"metadata": {"llama.expert_count": 4}}, "llama.expert_used_count"),
    "experts used without experts": ({"metadata": {"llama.expert_used_count": 2}},
                                     "more experts used than llama.expert_count = 0"),
    "more than the layers predicted": ({"metadata": {"llama.nextn_predict_layers": 31}}, "more than the 30 layers"),
    "empty vocabulary": ({"metadata": {"tokenizer.ggml.tokens": Typed(GGUFValueType.STRING, [])}},
                         "an empty vocabulary"),
    "vocabulary of numbers": ({"metadata": {"tokenizer.ggml.tokens": [1, 2]}}, "llama.cpp reads an array of strings"),
    "a tensor transposed": ({"tensor_dims": {"blk.0.attn_k.weight": (192, 576)}},
                            "tensor 'blk.0.attn_k.weight' has shape [192, 576], but llama.embedding_length = 576, "
                            "llama.attention.head_count = 9, llama.attention.head_count_kv = 3"),
    "alignment as text": ({"metadata": {"general.alignment": "abc"}}, "general.alignment = 'abc' (string)"),
    "alignment as a list": ({"metadata": {"general.alignment": [32]}}, "general.alignment = '[32]' (array of"),
    "alignment not a power of two": ({"metadata": {"general.alignment": 48}}, "must be a power of two"),
    "truncated tensor data": ({"data_bytes": 1 << 20}, "truncated GGUF file: tensor data needs"),
}


@pytest.mark.parametrize("changes, expected", REFUSED.values(), ids=REFUSED.keys())
def test_read_gguf_header_refuses_what_llama_cpp_would_abort_on(mutated: Any, changes: dict[str, Any],
                                                                expected: str) -> None:
    path = mutated(**changes)
    with pytest.raises(ModelFileError) as raised:
        read_gguf_header(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message


def test_an_unreadable_file_is_a_model_file_error(demo_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)  # chmod 000 does not stop root, who may run the tests
    with pytest.raises(ModelFileError, match=r"the file cannot be read \(Permission denied\)"):
        read_gguf_header(demo_path)


@pytest.mark.real_model
@pytest.mark.parametrize("case", ["no layers", "2^32-1 layers", "negative heads per layer", "a tensor transposed",
                                  "truncated tensor data", "context length as a string", "norm epsilon zero"])
def test_compare_with_a_bad_judge_exits_1_with_one_line(mutated: Any, case: str) -> None:
    changes, expected = REFUSED[case]
    path = mutated(**changes)
    command = ["grade", "--response", "y"] if case == "norm epsilon zero" else ["compare", "--a", "y", "--b", "z"]
    done = subprocess.run([sys.executable, "-m", "judgedesk.core.cli", *command, "--judge", str(path),
                           "--instruction", "x"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # never a signal (-6, 134), never a traceback (exit 1 with a stack)
    [line] = done.stderr.splitlines()
    assert line.startswith(f"judgedesk: error: {path}: ") and expected in line


@pytest.mark.real_model
def test_compare_with_a_chat_template_jinja_cannot_parse(mutated: Any) -> None:
    path = mutated(metadata={"tokenizer.chat_template": "{% if messages %}{{ unclosed"})
    done = subprocess.run([sys.executable, "-m", "judgedesk.core.cli", "compare", "--judge", str(path),
                           "--instruction", "x", "--a", "y", "--b", "z"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"judgedesk: error: {path}: metadata tokenizer.chat_template is not a chat template "
                           "Jinja can compile: ")
    assert "(line 1)" in line


def test_models_lists_a_broken_library_entry_with_its_problem(mutated: Any, capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from judgedesk.core._paths import judges_dir

    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))
    judges_dir().mkdir(parents=True)
    for name, changes in (("bad-alignment", {"general.alignment": "abc"}),
                          ("bad-context", {"llama.context_length": "8192"})):
        mutated(metadata=changes).rename(judges_dir() / f"{name}.gguf")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "[unusable: metadata general.alignment = 'abc' (string)" in out
    assert "[unusable: metadata llama.context_length = '8192'" in out


def test_import_refuses_a_file_llama_cpp_would_abort_on(mutated: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from judgedesk.core import import_judge
    from judgedesk.core._paths import judges_dir

    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "home"))
    with pytest.raises(ModelFileError, match="llama.block_count = 0"):
        import_judge(mutated(metadata={"llama.block_count": 0}))
    assert not judges_dir().exists() or not any(judges_dir().iterdir())


# -- the checked first load ----------------------------------------------------------------------------------------


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache folder of its own, so no earlier test has vouched for a file."""
    monkeypatch.setenv("JUDGEDESK_HOME", str(tmp_path / "fresh-home"))


@pytest.mark.real_model
def test_the_first_load_survives_an_abort_the_checks_let_through(mutated: Any, fresh_cache: None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from judgedesk.core import _gguf_file
    from judgedesk.core.backends._llamacpp import LlamaCppBackend

    monkeypatch.setattr(_gguf_file, "check_hyperparameters", lambda header: None)  # as if the checks missed it
    path = mutated(weights=True, metadata={"llama.block_count": 0})
    with pytest.raises(ModelLoadError) as raised:
        LlamaCppBackend(path, n_ctx=256)
    message = str(raised.value)
    assert message.startswith(f"{path}: could not load the model: llama.cpp crashes on this file (stopped by ")
    assert "llama-model.cpp:" in message and "GGML_ASSERT(hparams.n_layer_all > 0" in message
    assert "\n" not in message


@pytest.mark.real_model
def test_a_refusal_keeps_llama_cpps_reason(mutated: Any, fresh_cache: None) -> None:
    from judgedesk.core.backends._llamacpp import LlamaCppBackend

    path = mutated(weights=True, drop=["llama.attention.layer_norm_rms_epsilon"])  # no assert: llama.cpp reports it
    with pytest.raises(ModelLoadError, match="llama.cpp refused it: .*key not found in model: "
                                             "llama.attention.layer_norm_rms_epsilon"):
        LlamaCppBackend(path, n_ctx=256)


@pytest.mark.real_model
def test_a_failed_load_in_process_keeps_llama_cpps_reason(mutated: Any, fresh_cache: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from judgedesk.core.backends import _llamacpp

    monkeypatch.setattr(_llamacpp, "check_first_load", lambda *args: None)  # as if the probe had vouched for it
    path = mutated(weights=True, drop=["llama.attention.layer_norm_rms_epsilon"])
    with pytest.raises(ModelLoadError) as raised:
        _llamacpp.LlamaCppBackend(path, n_ctx=256)
    # Not llama-cpp-python's bare "Failed to load model from file": llama.cpp's own reason, from its log.
    assert str(raised.value) == (f"{path}: could not load the model: llama.cpp refused it: llama_model_load: error "
                                 "loading model: error loading model hyperparameters: key not found in model: "
                                 "llama.attention.layer_norm_rms_epsilon")


@pytest.mark.real_model
def test_a_file_that_loaded_is_not_probed_again(mutated: Any, fresh_cache: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from judgedesk.core import _load_probe
    from judgedesk.core.backends._llamacpp import LlamaCppBackend

    copy = mutated(weights=True, metadata={"general.name": "Demo copy"})  # not the demo judge's file: probed once
    probes: list[list[str]] = []
    real_run = subprocess.run

    def counted(command: list[str], **kwargs: Any) -> Any:
        probes.append(command)
        return real_run(command, **kwargs)

    monkeypatch.setattr(_load_probe.subprocess, "run", counted)
    for _ in range(2):
        with LlamaCppBackend(copy, n_ctx=256) as backend:
            assert backend.info.name == "Demo copy"
    assert len(probes) == 1 and probes[0][-1] == str(copy)


def test_the_reason_is_the_line_that_says_why() -> None:
    log = ["llama_model_loader: - type q4_1:  211 tensors",
           "print_info: file size   = 92.10 MiB (5.74 BPW)",
           "/tmp/llama-build-x/vendor/llama.cpp/src/llama-model.cpp:1328: GGML_ASSERT(n > 0) failed"]
    assert llama_failure_reason(log) == "llama-model.cpp:1328: GGML_ASSERT(n > 0) failed"
    refused = ["llama_model_load: error loading model: missing tensor 'blk.0.attn_q.weight'",
               "llama_model_load_from_file_impl: failed to load model"]
    assert llama_failure_reason(refused) == "llama_model_load: error loading model: missing tensor " \
                                            "'blk.0.attn_q.weight'"
    assert llama_failure_reason(["llama_model_load_from_file_impl: failed to load model"]) is None
    assert llama_failure_reason(["x" * 400 + " error"]).endswith("...")


def test_the_captured_log_keeps_the_last_lines_or_with_keep_none_all_of_them() -> None:
    """A failed load's reason is among the last lines, and the capture is bounded for it; the memory planner's
    check reads buffer sizes a 7B load reports after thousands of lines, and keeps the whole log."""
    import llama_cpp
    from judgedesk.core.backends import captured_llama_log

    installed: list[Any] = []

    class _Library:  # llama.cpp's logging entry points, recording the callback judgedesk installs
        llama_log_callback = llama_cpp.llama_log_callback

        @staticmethod
        def llama_log_set(callback: Any, user_data: Any) -> None:
            installed.append(callback)

    for options, expected in (({}, 400), ({"keep": None}, 1000)):
        with captured_llama_log(_Library, **options) as lines:  # type: ignore[arg-type]
            for number in range(1000):
                installed[-1](2, f"line {number}\n".encode(), None)
        assert len(lines) == expected and lines[-1] == "line 999"
        # llama-cpp-python's own logger is put back after the block
        assert installed[-1] is llama_cpp._logger.llama_log_callback
