"""Checkpoint checks, weight reading, output types, atomic output and streaming memory of the converter.

Every unusable folder is a `CheckpointError` naming the folder or file, raised before any output exists. q8_0
and bf16 outputs are compared bit for bit with llama.cpp's own quantizer run on our f32 output. Cancelling or
failing mid-way leaves neither the output nor the temporary file. Peak memory is measured with tracemalloc (it
sees numpy's buffers, not the memory-mapped checkpoint pages the OS can drop).
"""

from __future__ import annotations

import ctypes
import json
import shutil
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from judgedesk.core import FormatError, read_gguf_header
from judgedesk.quantize._checkpoint import inspect_checkpoint, read_model_config
from judgedesk.quantize._convert import convert_to_gguf
from judgedesk.quantize._errors import CheckpointError, QuantizeCancelled, QuantizeError
from judgedesk.quantize._safetensors import CheckpointTensors, open_checkpoint_tensors

from ._tiny_checkpoints import build_model, llamacpp_logits, train_sentencepiece

pytestmark = pytest.mark.real_model


def _build(folder: Path, **shape) -> object:
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    train_sentencepiece(folder)
    vocab = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model")).vocab_size()
    return build_model(folder, "mistral", vocab_size=vocab, kv_heads=2, seed=3, **shape)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("tiny") / "tiny-mistral")


@pytest.fixture
def copy_of(tiny, tmp_path):
    """A scratch copy of the tiny checkpoint, free to break."""
    def copy(name: str = "broken") -> Path:
        return Path(shutil.copytree(tiny.folder, tmp_path / name))
    return copy


def _tensors(path: Path) -> dict[str, tuple[str, np.ndarray]]:
    from gguf import GGUFReader

    return {t.name: (t.tensor_type.name, np.array(t.data)) for t in GGUFReader(path).tensors}


# -- config.json ----------------------------------------------------------------------------------------------------


def test_a_missing_folder_and_a_file_are_not_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no such folder") as caught:
        inspect_checkpoint(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(caught.value)
    file = tmp_path / "model.gguf"
    file.write_bytes(b"GGUF")
    with pytest.raises(CheckpointError, match="not a folder") as caught:
        inspect_checkpoint(file)
    assert str(file) in str(caught.value)


def test_a_folder_without_config_json(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json") as caught:
        read_model_config(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_broken_config_json_names_the_file_and_line(copy_of):
    folder = copy_of()
    (folder / "config.json").write_text('{\n  "architectures": ["LlamaForCausalLM"],\n  "hidden_size": 64,,\n}')
    with pytest.raises(CheckpointError, match=r"not valid JSON \(line 3") as caught:
        inspect_checkpoint(folder)
    assert str(folder / "config.json") in str(caught.value)


def _edit_config(folder: Path, **changes) -> Path:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))
    return path


def test_an_unsupported_architecture(copy_of):
    path = _edit_config(copy_of(), architectures=["GPT2LMHeadModel"])
    with pytest.raises(CheckpointError, match="unsupported architecture 'GPT2LMHeadModel'") as caught:
        inspect_checkpoint(path.parent)
    assert str(path) in str(caught.value) and "LlamaForCausalLM" in str(caught.value)


@pytest.mark.parametrize("changes, field", [
    ({"num_attention_heads": "four"}, "num_attention_heads"),
    ({"num_key_value_heads": 3}, "num_key_value_heads"),
    ({"rope_parameters": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1e4}}, "rope_parameters"),
    ({"rms_norm_eps": -1}, "rms_norm_eps"),
])
def test_bad_config_fields_are_named(copy_of, changes, field):
    path = _edit_config(copy_of(), **changes)
    with pytest.raises(CheckpointError) as caught:
        read_model_config(path.parent)
    assert f"field {field!r}" in str(caught.value) and str(path) in str(caught.value)


def test_transformers_4_rope_keys_are_read(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "num_attention_heads": 32,
        "num_key_value_heads": 8, "num_hidden_layers": 32, "intermediate_size": 14336, "vocab_size": 128256,
        "max_position_embeddings": 131072, "rope_theta": 500000.0, "torch_dtype": "bfloat16",
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192},
    }))
    config = read_model_config(tmp_path)  # no weights, no tokenizer: config.json is all the planner needs
    assert config.rope_theta == 500000.0 and config.rope_scaling["rope_type"] == "llama3"
    assert config.head_dim == 128 and config.torch_dtype == "bfloat16"
    assert config.parameter_count() == 8_030_261_248  # Llama-3.1-8B's published count


def test_the_config_parameter_count_matches_the_weights(tiny):
    checkpoint = inspect_checkpoint(tiny.folder)
    assert checkpoint.config.parameter_count() == checkpoint.parameter_count()
    assert "tiny-mistral: MistralForCausalLM" in checkpoint.describe()


# -- tokenizer and weights --------------------------------------------------------------------------------------------


def test_a_missing_tokenizer(copy_of):
    folder = copy_of()
    for name in ("tokenizer.model", "tokenizer.json"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="no tokenizer") as caught:
        inspect_checkpoint(folder)
    assert str(folder) in str(caught.value)


def test_a_sentencepiece_style_tokenizer_json_needs_its_tokenizer_model(copy_of, tmp_path):
    from transformers import AutoTokenizer

    folder = copy_of()
    AutoTokenizer.from_pretrained(folder).save_pretrained(folder)  # its byte-fallback BPE translation
    (folder / "tokenizer.model").unlink()
    with pytest.raises(CheckpointError, match="needs its tokenizer.model") as caught:
        convert_to_gguf(folder, tmp_path / "out.gguf")
    assert str(folder / "tokenizer.json") in str(caught.value)


def test_missing_weights(copy_of):
    folder = copy_of()
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no weights found") as caught:
        inspect_checkpoint(folder)
    assert str(folder) in str(caught.value)


@pytest.mark.parametrize("cut", [5, 40, -100], ids=["no-header-length", "inside-header", "inside-data"])
def test_a_truncated_safetensors_file(copy_of, tmp_path, cut):
    folder = copy_of()
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="truncated") as caught:
        convert_to_gguf(folder, tmp_path / "out.gguf")
    assert str(weights) in str(caught.value)
    assert list(tmp_path.glob("*.gguf*")) == [] and list(tmp_path.glob(".out.gguf*")) == []


def test_pickle_weights_are_refused_unless_allowed(tiny, copy_of, tmp_path):
    import torch
    from safetensors.torch import load_file

    folder = copy_of("pickled")
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pickle") as caught:
        convert_to_gguf(folder, tmp_path / "pickled.gguf")
    assert str(folder) in str(caught.value) and "pytorch_model.bin" in str(caught.value)
    with pytest.raises(CheckpointError, match="allow_pickle"):
        open_checkpoint_tensors(folder)
    # With the opt-in the weights are read through torch, and the result is the same file content.
    from_pickle = convert_to_gguf(folder, tmp_path / "pickled.gguf", outtype="f32", allow_pickle=True)
    from_safetensors = convert_to_gguf(tiny.folder, tmp_path / "plain.gguf", outtype="f32")
    _assert_same_tensors(from_pickle.path, from_safetensors.path)


def _assert_same_tensors(a: Path, b: Path) -> None:
    left, right = _tensors(a), _tensors(b)
    assert left.keys() == right.keys()
    for name in left:
        assert left[name][0] == right[name][0] and np.array_equal(left[name][1], right[name][1]), name


def test_sharded_checkpoints_are_followed_through_the_index(tiny, copy_of, tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = copy_of("sharded")
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(state)
    shards = {f"model-0000{i + 1}-of-00003.safetensors": names[i::3] for i in range(3)}
    for shard, members in shards.items():
        save_file({name: state[name] for name in members}, folder / shard)
    weight_map = {name: shard for shard, members in shards.items() for name in members}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    sharded = convert_to_gguf(folder, tmp_path / "sharded.gguf", outtype="f32")
    whole = convert_to_gguf(tiny.folder, tmp_path / "whole.gguf", outtype="f32")
    _assert_same_tensors(sharded.path, whole.path)


def test_bf16_weights_widen_exactly(tiny, copy_of):
    import torch
    from safetensors.torch import load_file, save_file

    folder = copy_of("bf16")
    state = {name: tensor.to(torch.bfloat16) for name, tensor in load_file(folder / "model.safetensors").items()}
    save_file(state, folder / "model.safetensors")
    with open_checkpoint_tensors(folder) as tensors:
        assert {info.dtype for info in tensors} == {"BF16"}
        for name, tensor in state.items():
            assert np.array_equal(tensors.read(name), tensor.float().numpy()), name


# -- output types ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outtype", ["q8_0", "bf16"])
def test_q8_0_and_bf16_match_llamacpps_own_quantizer_bit_for_bit(tiny, tmp_path, outtype):
    from judgedesk.core import load_llama_cpp

    llama_cpp = load_llama_cpp()

    f32 = convert_to_gguf(tiny.folder, tmp_path / "f32.gguf", outtype="f32")
    ours = convert_to_gguf(tiny.folder, tmp_path / f"{outtype}.gguf", outtype=outtype)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = {"q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, "bf16": llama_cpp.LLAMA_FTYPE_MOSTLY_BF16}[outtype]
    params.nthread = 1
    reference = tmp_path / f"llamacpp-{outtype}.gguf"
    assert llama_cpp.llama_model_quantize(str(f32.path).encode(), str(reference).encode(), ctypes.byref(params)) == 0
    _assert_same_tensors(ours.path, reference)
    assert read_gguf_header(ours.path).file_type == outtype.upper()
    # And it runs: the rounding moves logits (measured max 0.66 for q8_0, 0.28 for bf16) but not the argmax much.
    logits = llamacpp_logits(ours.path, tiny.token_ids)
    assert float(np.abs(logits - tiny.logits).max()) < 2.0
    assert (logits.argmax(-1) == tiny.logits.argmax(-1)).mean() >= 0.9


def test_bad_options_fail_before_anything_is_written(tiny, tmp_path):
    with pytest.raises(QuantizeError, match="unknown output type 'q4_k'"):
        convert_to_gguf(tiny.folder, tmp_path / "x.gguf", outtype="q4_k")
    with pytest.raises(FormatError):
        convert_to_gguf(tiny.folder, tmp_path / "x.gguf", judge_format="no-such-format")
    with pytest.raises(QuantizeError, match="is a folder"):
        convert_to_gguf(tiny.folder, tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- atomic output, progress, memory --------------------------------------------------------------------------------


def test_progress_counts_every_tensor(tiny, tmp_path):
    calls = []
    result = convert_to_gguf(tiny.folder, tmp_path / "out.gguf", progress=lambda *call: calls.append(call))
    assert [done for done, _, _ in calls] == list(range(1, result.tensor_count + 1))
    assert {total for _, total, _ in calls} == {result.tensor_count}
    assert calls[-1][2] in {name for name in _tensors(result.path)}


def test_the_output_gets_the_permissions_of_any_new_file(tiny, tmp_path):
    """The temporary file is renamed into place; it must not carry a private 0600 mode along."""
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    result = convert_to_gguf(tiny.folder, tmp_path / "out.gguf")
    assert result.path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_cancel_mid_way_leaves_no_file_and_keeps_the_old_one(tiny, tmp_path):
    out = tmp_path / "judge.gguf"
    out.write_bytes(b"the previous model")
    cancel = threading.Event()

    def progress(done, total, name):
        if done == 3:
            cancel.set()

    with pytest.raises(QuantizeCancelled):
        convert_to_gguf(tiny.folder, out, progress=progress, cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["judge.gguf"]
    assert out.read_bytes() == b"the previous model"


def test_an_error_mid_way_leaves_nothing_behind(tiny, tmp_path, monkeypatch):
    real_read = CheckpointTensors.read
    seen = []

    def failing_read(self, name):
        seen.append(name)
        if len(seen) == 5:
            raise CheckpointError("simulated read failure", path=tiny.folder / "model.safetensors")
        return real_read(self, name)

    monkeypatch.setattr(CheckpointTensors, "read", failing_read)
    with pytest.raises(CheckpointError, match="simulated"):
        convert_to_gguf(tiny.folder, tmp_path / "out.gguf")
    assert list(tmp_path.iterdir()) == []


def _peak_bytes(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_conversion_streams_one_tensor_at_a_time(tmp_path_factory, tmp_path):
    """Peak traced memory stays a small fraction of the weights (measured 0.57 MB for 13.5 MB of f32 weights,
    the largest tensor being 0.79 MB); the control, holding every tensor at once as a non-streaming converter
    does, is measured at the whole model size."""
    checkpoint = _build(tmp_path_factory.mktemp("wide") / "wide", hidden=256, layers=4, ffn=768)
    assert checkpoint.weight_bytes > 12_000_000
    peak = _peak_bytes(lambda: convert_to_gguf(checkpoint.folder, tmp_path / "wide.gguf", outtype="f16"))
    assert peak < checkpoint.weight_bytes / 5, f"peak {peak} bytes for {checkpoint.weight_bytes} of weights"

    def hold_everything():
        with open_checkpoint_tensors(checkpoint.folder) as tensors:
            held = [np.array(tensors.read(info.name), dtype=np.float32) for info in tensors]
            assert held

    assert _peak_bytes(hold_everything) > 0.9 * checkpoint.weight_bytes  # the measure sees whole-model buffers
