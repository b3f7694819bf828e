"""GPTQ with GPTQModel on the CPU, and importing auto-gptq checkpoints, checked through the transformers backend.

A tiny random Llama (hidden size 128, so 128-column groups fit) with SmolLM2's real tokenizer is quantized once per
module on judge prompts. A random model's verdicts are noise, so the tests hold what must be true of any GPTQ
output: packed 4-bit weights, a greedy generation config, no stray files, a judge that loads, parses and gives
probabilities close to the unquantized model's. The slow test quantizes SmolLM2-135M itself.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from judgedesk.core import DecodingSettings, EvalItem, FormatError, Judge, ModelLoadError, create_backend
from judgedesk.core._hashing import file_sha256
from judgedesk.quantize._calibration import calibration_prompts
from judgedesk.quantize._errors import CheckpointError, QuantizeCancelled, QuantizeError
from judgedesk.quantize._gptq import import_autogptq, quantize_gptq

from tests.reference_data import PANDALM_TESTSET

pytestmark = pytest.mark.real_model

DATASET = PANDALM_TESTSET
ITEMS = [
    EvalItem(id="capital", instruction="What is the capital of France?", responses=("Paris.", "Lyon.")),
    EvalItem(id="sum", instruction="What is 15% of 80?", responses=("15% of 80 is 12.", "It is 10.")),
    EvalItem(id="boil", instruction="At what temperature does water boil at sea level?", input="In Celsius.",
             responses=("100 degrees Celsius.", "About 90 degrees.")),
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, smollm2_hf_dir) -> Path:
    """A random 2-layer Llama with SmolLM2's tokenizer and chat template, saved as F32 safetensors."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    tokenizer = AutoTokenizer.from_pretrained(smollm2_hf_dir, local_files_only=True)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def quantized(tiny_dir, tmp_path_factory):
    """(GPTQ folder, progress events, the working directory quantization ran in)."""
    workdir = tmp_path_factory.mktemp("cwd")
    out = tmp_path_factory.mktemp("out") / "tiny-gptq"
    events: list[tuple[int, int, str]] = []
    previous = Path.cwd()
    os.chdir(workdir)
    try:
        quantize_gptq(tiny_dir, out, fmt="pandalm", device="cpu", progress=lambda *event: events.append(event))
    finally:
        os.chdir(previous)
    return out, events, workdir


def _tensor_names(path: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return list(handle.keys())


def _probabilities(folder: Path, items: list[EvalItem], fmt: str = "pandalm") -> list[dict[str, float]]:
    with create_backend("transformers", path=folder, device="cpu", n_ctx=2048) as backend:
        judge = Judge(backend, format=fmt, decoding=DecodingSettings(fast=True))
        verdicts = [judge.compare(item, order=order) for item in items for order in ("AB", "BA")]
    assert all(v.status == "ok" for v in verdicts)
    return [v.probabilities for v in verdicts]


def test_output_is_a_complete_gptq_folder(quantized):
    out, events, workdir = quantized
    assert events == [(0, 3, "load"), (1, 3, "quantize"), (2, 3, "save"), (3, 3, "done")]
    names = _tensor_names(out / "model.safetensors")
    assert sum(name.endswith(".qweight") for name in names) == 2 * 7  # q, k, v, o, gate, up, down per layer
    assert not any(name.endswith("_proj.weight") for name in names)
    quantize_config = json.loads((out / "quantize_config.json").read_text())
    assert (quantize_config["bits"], quantize_config["group_size"]) == (4, 128)
    config = json.loads((out / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "gptq"
    assert config["judgedesk_format"] == "pandalm"
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["do_sample"] is False and "temperature" not in generation
    assert not (workdir / "logs").exists() and not any(workdir.iterdir())
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no partial folder left beside it


def test_quantized_judge_loads_and_decides_close_to_the_original(tiny_dir, quantized):
    out = quantized[0]
    with create_backend("transformers", path=out, device="cpu") as backend:
        assert backend.info.file_type == "GPTQ-4bit-g128"
        assert backend.info.judge_format == "pandalm"
        assert {"gptqmodel", "optimum"} <= set(backend.versions())
        generated = Judge(backend, format="pandalm", decoding=DecodingSettings(fast=False, max_tokens=6))
        assert generated.compare(ITEMS[0]).status == "ok"
    reference, candidate = _probabilities(tiny_dir, ITEMS), _probabilities(out, ITEMS)
    agreeing = sum(max(r, key=r.get) == max(c, key=c.get) for r, c in zip(reference, candidate, strict=True))
    differences = [abs(r[k] - c[k]) for r, c in zip(reference, candidate, strict=True) for k in r]
    print(f"\ntiny GPTQ vs F32: winners agree on {agreeing}/{len(reference)} orders, "
          f"mean |dp| {sum(differences) / len(differences):.4f}, max {max(differences):.4f}")
    assert all(sum(c.values()) == pytest.approx(1.0, abs=1e-5) for c in candidate)
    assert max(differences) < 0.1


def _autogptq_layout(gptq: Path, target: Path, *, embedded_config: bool = True) -> Path:
    """GPTQModel's output rearranged the way auto-gptq published checkpoints (e.g. Auto-J's 4-bit release)."""
    shutil.copytree(gptq, target)
    (target / "model.safetensors").rename(target / "gptq_model-4bit-128g.safetensors")
    quantize_config = json.loads((target / "quantize_config.json").read_text())
    quantize_config.update(is_marlin_format=False, model_file_base_name="gptq_model-4bit-128g")
    (target / "quantize_config.json").write_text(json.dumps(quantize_config))
    config = json.loads((target / "config.json").read_text())
    if embedded_config:
        config["quantization_config"]["is_marlin_format"] = False
    else:
        del config["quantization_config"]
    (target / "config.json").write_text(json.dumps(config))
    return target


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("embedded_config", [True, False])
def test_import_autogptq_makes_a_published_layout_loadable(quantized, tmp_path, embedded_config):
    out = quantized[0]
    source = _autogptq_layout(out, tmp_path / "autoj-gptq", embedded_config=embedded_config)
    before = _snapshot(source)
    with pytest.raises(ModelLoadError):  # as published, transformers cannot load it
        create_backend("transformers", path=source, device="cpu")
    imported = import_autogptq(source, tmp_path / "imported")
    assert _snapshot(source) == before  # the published folder is never touched
    assert imported == tmp_path / "imported"
    assert (imported / "model.safetensors").is_file()
    assert not (imported / "gptq_model-4bit-128g.safetensors").exists()
    for name in ("config.json", "quantize_config.json"):
        assert "is_marlin_format" not in (imported / name).read_text()
    assert json.loads((imported / "quantize_config.json").read_text())["model_file_base_name"] == "model"
    assert _probabilities(imported, ITEMS[:1]) == _probabilities(out, ITEMS[:1])


def test_import_autogptq_refuses_what_it_cannot_import(quantized, tmp_path, tiny_dir):
    with pytest.raises(CheckpointError, match="no such folder"):
        import_autogptq(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(CheckpointError, match="not a GPTQ checkpoint"):
        import_autogptq(tiny_dir, tmp_path / "out")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    shutil.copy(quantized[0] / "config.json", pickled / "config.json")
    (pickled / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(CheckpointError, match="pickle"):
        import_autogptq(pickled, tmp_path / "out")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(QuantizeError, match="already exists"):
        import_autogptq(quantized[0], tmp_path / "taken")
    assert not (tmp_path / "out").exists()


def test_quantize_gptq_refuses_bad_inputs(quantized, tiny_dir, tmp_path):
    with pytest.raises(CheckpointError, match="no such folder"):
        quantize_gptq(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(CheckpointError, match="no config.json"):
        quantize_gptq(tmp_path, tmp_path / "out")
    with pytest.raises(CheckpointError, match="already quantized"):
        quantize_gptq(quantized[0], tmp_path / "out")
    with pytest.raises(QuantizeError, match="5-bit"):
        quantize_gptq(tiny_dir, tmp_path / "out", bits=5)
    with pytest.raises(QuantizeError, match="group size 96 does not divide hidden_size 128.*group size 128 divides"):
        quantize_gptq(tiny_dir, tmp_path / "out", group_size=96)
    with pytest.raises(FormatError, match="unknown judge format"):
        quantize_gptq(tiny_dir, tmp_path / "out", fmt="nonsense")
    with pytest.raises(QuantizeError, match="already exists"):
        quantize_gptq(tiny_dir, quantized[0])
    odd = tmp_path / "odd"
    shutil.copytree(tiny_dir, odd)
    config = json.loads((odd / "config.json").read_text())
    config["model_type"] = "no-such-model"
    (odd / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="cannot quantize model_type 'no-such-model'"):
        quantize_gptq(odd, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd"]


def test_a_group_size_the_cpu_kernel_cannot_run_is_a_load_error(quantized, tmp_path):
    uneven = tmp_path / "uneven"
    shutil.copytree(quantized[0], uneven)
    config = json.loads((uneven / "config.json").read_text())
    config["quantization_config"]["group_size"] = 96
    (uneven / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="group size 96 does not divide hidden_size 128"):
        create_backend("transformers", path=uneven, device="cpu")


def test_cancel_leaves_nothing_behind(tiny_dir, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(QuantizeCancelled):
        quantize_gptq(tiny_dir, tmp_path / "out", calibration=["a judge prompt"], cancel=cancel)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_gptq_smollm2_agrees_with_f32_on_pandalm_items(smollm2_hf_dir, tmp_path):
    # Group size 64: SmolLM2's hidden size, 576, is not a whole number of 128-column groups.
    out = quantize_gptq(smollm2_hf_dir, tmp_path / "smollm2-gptq", device="cpu", group_size=64,
                        calibration=calibration_prompts("pandalm", count=16))
    items, seen = [], set()
    for row in json.loads(DATASET.read_text(encoding="utf-8")):
        texts = (row["response1"], row["response2"])
        if row["instruction"] in seen or not all(isinstance(t, str) and t.strip() for t in texts):
            continue
        seen.add(row["instruction"])
        items.append(EvalItem(id=str(row["idx"]), instruction=row["instruction"], input=row["input"],
                              responses=texts))
        if len(items) == 12:
            break
    reference, candidate = _probabilities(smollm2_hf_dir, items), _probabilities(out, items)
    agreeing = sum(max(r, key=r.get) == max(c, key=c.get) for r, c in zip(reference, candidate, strict=True))
    differences = [abs(r[k] - c[k]) for r, c in zip(reference, candidate, strict=True) for k in r]
    print(f"\nSmolLM2-135M GPTQ 4-bit vs F32 on {len(items)} PandaLM items, both orders: winners agree on "
          f"{agreeing}/{len(reference)}, mean |dp| {sum(differences) / len(differences):.4f}")
    assert agreeing >= 0.75 * len(reference)
