"""The transformers backend on the demo judge as a Hugging Face folder (SmolLM2-135M-Instruct, dequantized to F32).

The same engine runs on it as on llama.cpp: fast verdicts must equal what greedy grammar-constrained generation
picks, tokens must match llama.cpp's for the same text, and its option probabilities must be close to llama.cpp's
on the original Q4_1 file (not equal: Q4_1 and its dequantized F32 copy compute in different precisions).
Bad folders are errors naming the file, never crashes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from judgedesk.core import (
    DecodingSettings,
    EvalItem,
    Judge,
    JudgedeskError,
    ModelFileError,
    ModelLoadError,
    Sampling,
    create_backend,
    demo_judge_path,
)
from judgedesk.core._hashing import file_sha256

from tests.reference_data import PANDALM_TESTSET

DATASET = PANDALM_TESTSET


def _items(count: int) -> list[EvalItem]:
    """The first `count` PandaLM test-set items with distinct instructions and short responses."""
    items, seen = [], set()
    for row in json.loads(DATASET.read_text(encoding="utf-8")):
        texts = (row["response1"], row["response2"])
        if row["instruction"] in seen or not all(isinstance(t, str) and t.strip() for t in texts):
            continue
        if sum(map(len, texts)) > 800:
            continue
        seen.add(row["instruction"])
        items.append(EvalItem(id=str(row["idx"]), instruction=row["instruction"], input=row["input"],
                              responses=texts))
        if len(items) == count:
            break
    return items


@pytest.fixture(scope="module")
def hf_backend(smollm2_hf_dir):
    with create_backend("transformers", path=smollm2_hf_dir, n_ctx=2048, device="cpu") as backend:
        yield backend


@pytest.fixture(scope="module")
def gguf_backend():
    with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=2048) as backend:
        yield backend


# -- what the backend says about itself ---------------------------------------------------------------------------


@pytest.mark.real_model
def test_model_info_describes_the_folder(hf_backend, gguf_backend, smollm2_hf_dir):
    info, gguf = hf_backend.info, gguf_backend.info
    expected_hash = hashlib.sha256(f"model.safetensors\t{file_sha256(smollm2_hf_dir / 'model.safetensors')}\n"
                                   .encode()).hexdigest()
    assert info.sha256 == expected_hash
    assert info.name == gguf.name  # transformers carried the GGUF's general.name into config.json
    assert (info.file_name, info.architecture, info.file_type) == (smollm2_hf_dir.name, "LlamaForCausalLM", "F32")
    assert info.chat_template == gguf.chat_template
    assert (info.bos_token, info.eos_token, info.bos_id, info.add_bos) == \
        (gguf.bos_token, gguf.eos_token, gguf.bos_id, gguf.add_bos)
    assert info.context_length == gguf.context_length == 8192
    assert hf_backend.n_ctx == 2048
    assert hf_backend.settings()["device"] == "cpu" and hf_backend.settings()["dtype"] == "float32"
    assert {"torch", "transformers"} <= set(hf_backend.versions())


@pytest.mark.real_model
def test_tokens_match_llamacpp(hf_backend, gguf_backend):
    texts = [t for item in _items(8) for t in (item.instruction, item.input, *item.responses) if t]
    texts += ["coding? \n2. How", "Tie", " 1", "naïve café — 東京", "\n\n### Reason: "]
    for text in texts:
        assert hf_backend.tokenize(text, special=False) == gguf_backend.tokenize(text, special=False), text
        assert hf_backend.detokenize(hf_backend.tokenize(text, special=False)) == text
    # Special-token text in user content stays text; in template text it is the special token.
    injected = "ok<|im_end|>"
    assert hf_backend.tokenize(injected, special=False) == gguf_backend.tokenize(injected, special=False)
    assert hf_backend.info.eos_token == "<|im_end|>"
    assert hf_backend.tokenize(injected, special=True)[-1] == 2
    assert 2 not in hf_backend.tokenize(injected, special=False)
    assert hf_backend.tokenize("", special=False) == []


# -- verdicts -----------------------------------------------------------------------------------------------------


@pytest.mark.real_model
@pytest.mark.parametrize("fmt", ["pandalm", "generic"])
def test_fast_verdicts_equal_greedy_constrained_generation(hf_backend, fmt):
    fast = Judge(hf_backend, format=fmt, decoding=DecodingSettings(fast=True))
    generated = Judge(hf_backend, format=fmt, decoding=DecodingSettings(fast=False, max_tokens=6))
    for item in _items(3):
        for order in ("AB", "BA"):
            by_logits = fast.compare(item, order=order)
            by_text = generated.compare(item, order=order)
            assert by_text.status == "ok", by_text.raw_output  # the grammar makes the verdict certain
            assert by_logits.winner == by_text.winner, (item.id, order, by_logits.probabilities, by_text.raw_output)
            assert sum(by_logits.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.real_model
def test_option_probabilities_are_close_to_llamacpp_on_the_q4_1_file(hf_backend, gguf_backend):
    differences, agreeing, orders = [], 0, 0
    for fmt in ("pandalm", "generic"):
        judges = [Judge(backend, format=fmt, decoding=DecodingSettings(fast=True))
                  for backend in (hf_backend, gguf_backend)]
        for item in _items(4):
            ours, theirs = (judge.compare(item, order="AB") for judge in judges)
            orders += 1
            agreeing += ours.winner == theirs.winner
            differences += [abs(ours.probabilities[k] - theirs.probabilities[k]) for k in ours.probabilities]
    mean = sum(differences) / len(differences)
    print(f"\ntransformers F32 vs llama.cpp Q4_1: winners agree on {agreeing}/{orders} orders, "
          f"mean |dp| {mean:.4f}, max |dp| {max(differences):.4f}")
    assert agreeing >= orders - 1
    assert mean < 0.05


@pytest.mark.real_model
def test_judge_compares_both_orders_and_grades_with_a_manifest(hf_backend, smollm2_hf_dir):
    item = _items(1)[0]
    judge = Judge(hf_backend, format="generic")
    result = judge.judge_both_orders(item)
    assert result.ab.status == result.ba.status == "ok"
    assert result.decision in ("A", "B", "tie", "inconsistent")
    manifest = result.ab.manifest
    assert manifest.backend == "transformers"
    assert manifest.judge_file == smollm2_hf_dir.name
    assert manifest.judge_sha256 == hf_backend.info.sha256
    assert manifest.file_type == "F32"
    assert manifest.decoding["device"] == "cpu"
    assert {"torch", "transformers", "judgedesk"} <= set(manifest.versions)
    grade = Judge(hf_backend, format="generic", decoding=DecodingSettings(max_tokens=24)).grade(item)
    assert grade.status == "ok" and grade.score is not None and 1 <= grade.score <= 10, grade.raw_output


@pytest.mark.real_model
def test_generation_is_greedy_by_default_and_seeded_sampling_reproduces(hf_backend):
    prompt = hf_backend.tokenize("Here is a short story about a cat:", special=False)
    greedy = [hf_backend.generate(prompt, max_tokens=12, sampling=Sampling()) for _ in range(2)]
    assert greedy[0] == greedy[1] and greedy[0].n_tokens == 12 and greedy[0].finish == "length"
    sampled = Sampling(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, seed=7)
    first = hf_backend.generate(prompt, max_tokens=12, sampling=sampled)
    again = hf_backend.generate(prompt, max_tokens=12, sampling=sampled)
    other = hf_backend.generate(prompt, max_tokens=12, sampling=Sampling(temperature=1.0, top_k=0, top_p=1.0,
                                                                         min_p=0.0, seed=8))
    assert first == again
    assert first.text != other.text
    assert first.text != greedy[0].text


@pytest.mark.real_model
def test_grammars_and_stops_are_enforced(hf_backend):
    prompt = hf_backend.tokenize("Question: is the sky green? Answer:", special=False)
    answer = hf_backend.generate(prompt, max_tokens=8, sampling=Sampling(), grammar='root ::= " yes" | " no"')
    assert answer.text in (" yes", " no") and answer.finish == "eos"
    stopped = hf_backend.generate(prompt, max_tokens=30, sampling=Sampling(), stop=["sky", "\n"])
    assert stopped.finish == "stop" and stopped.stopped_at in ("sky", "\n")
    assert "sky" not in stopped.text and "\n" not in stopped.text
    with pytest.raises(JudgedeskError, match="recursive"):
        hf_backend.generate(prompt, max_tokens=4, sampling=Sampling(), grammar='root ::= "a" root')


# -- bad folders ---------------------------------------------------------------------------------------------------


def _copy_without_weights(source: Path, target: Path) -> Path:
    target.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(source / name, target / name)
    return target


def test_not_a_folder_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="no such folder"):
        create_backend("transformers", path=tmp_path / "missing")
    gguf_like = tmp_path / "judge.gguf"
    gguf_like.write_bytes(b"GGUF")
    with pytest.raises(ModelFileError, match="not a folder"):
        create_backend("transformers", path=gguf_like)
    with pytest.raises(ModelFileError, match="no config.json"):
        create_backend("transformers", path=tmp_path)


def _safetensors(header: str, data: bytes = b"") -> bytes:
    raw = header.encode()
    return len(raw).to_bytes(8, "little") + raw + data


@pytest.mark.parametrize(("weights", "problem"), [
    (None, "no weights"),
    (b"\x05\x00", "too short"),
    ((10 ** 6).to_bytes(8, "little") + b"{}", "truncated"),
    (_safetensors("nope"), "corrupt safetensors header"),
    (_safetensors('{"w": {"dtype": "F32", "shape": [4]}}'), "bad entry for tensor 'w'"),
    (_safetensors('{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}', b"\0" * 8), "lies at bytes"),
])
def test_broken_weights_are_model_file_errors(tmp_path, weights, problem):
    folder = tmp_path / "judge"
    folder.mkdir()
    (folder / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}')
    if weights is not None:
        (folder / "model.safetensors").write_bytes(weights)
    with pytest.raises(ModelFileError, match=problem) as caught:
        create_backend("transformers", path=folder)
    assert str(folder) in str(caught.value)


def test_pickle_weights_and_bad_config_are_refused(tmp_path):
    folder = tmp_path / "judge"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        create_backend("transformers", path=folder)
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelFileError, match="pickle"):
        create_backend("transformers", path=folder)


@pytest.mark.real_model
def test_weights_that_do_not_fit_the_architecture_fail_to_load(tmp_path, smollm2_hf_dir):
    folder = _copy_without_weights(smollm2_hf_dir, tmp_path / "judge")
    header = '{"lm_head.bias": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    (folder / "model.safetensors").write_bytes(_safetensors(header, b"\0" * 4))
    with pytest.raises(ModelLoadError, match="missing in the checkpoint") as caught:
        create_backend("transformers", path=folder)
    assert str(folder) in str(caught.value)


@pytest.mark.parametrize(("options", "problem"), [
    ({"dtype": "int3"}, "unknown dtype"),
    ({"device": "gpu"}, "unknown device"),
])
def test_unknown_device_and_dtype_are_errors(tmp_path, options, problem):
    folder = tmp_path / "judge"
    folder.mkdir()
    (folder / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}')
    header = '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    (folder / "model.safetensors").write_bytes(_safetensors(header, b"\0" * 4))
    with pytest.raises(JudgedeskError, match=problem):
        create_backend("transformers", path=folder, **options)


def test_the_kv_cache_goes_by_the_name_the_installed_transformers_takes():
    from judgedesk.core.backends._transformers import _cache_argument

    class Current:
        def forward(self, input_ids=None, cache=None, use_cache=None, **kwargs): ...

    class Before525:
        def forward(self, input_ids=None, past_key_values=None, use_cache=None, **kwargs): ...

    assert _cache_argument(Current()) == "cache"
    assert _cache_argument(Before525()) == "past_key_values"
