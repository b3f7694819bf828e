"""`judgedesk quantize ...` on the command line: each step validates its input and prints one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from judgedesk.core import demo_judge_path, read_gguf_header
from judgedesk.core.cli import main
from judgedesk.core.cli._arguments import QUANT_TYPES
from judgedesk.quantize import QUANT_TYPES as QUANTIZER_TYPES

from ._tiny_checkpoints import build_model, llamacpp_logits, train_sentencepiece

LLAMA_13B = {"architectures": ["LlamaForCausalLM"], "hidden_size": 5120, "num_hidden_layers": 40,
             "num_attention_heads": 40, "intermediate_size": 13824, "vocab_size": 32000,
             "max_position_embeddings": 4096, "rms_norm_eps": 1e-5}


def test_the_parser_offers_exactly_the_quantizer_types():
    assert set(QUANT_TYPES) == set(QUANTIZER_TYPES)


def test_plan_json_for_a_config_only_folder(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_13B))
    assert main(["quantize", "plan", str(tmp_path), "--ctx", "4096", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    rows = {row["qtype"]: row for row in plan["rows"]}
    assert rows["F16"]["fits"] is False and rows["Q4_K_M"]["fits"] is True


def test_plan_table_for_the_demo_judge(capsys):
    assert main(["quantize", "plan", str(demo_judge_path()), "--budget", "8"]) == 0
    out = capsys.readouterr().out
    assert "Q4_K_M" in out and "Q4_1" in out


@pytest.mark.parametrize("argv, message", [
    (["quantize", "plan", "/nonexistent/folder"], "/nonexistent/folder"),
    (["quantize", "convert", "/nonexistent/hf", "--out", "x.gguf"], "/nonexistent/hf"),
    (["quantize", "gguf", "/nonexistent/in.gguf", "--type", "Q4_K_M", "--out", "x.gguf"], "/nonexistent/in.gguf"),
    (["quantize", "verify", "/nonexistent/ref.gguf", "demo"], "/nonexistent/ref.gguf"),
])
def test_bad_inputs_are_one_line_errors(argv, message, tmp_path):
    result = subprocess.run([sys.executable, "-m", "judgedesk.core.cli", *argv], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("judgedesk: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and not list(tmp_path.iterdir())


def test_a_text_file_is_not_a_model(tmp_path, capsys):
    bogus = tmp_path / "notes.gguf"
    bogus.write_text("hello")
    assert main(["quantize", "gguf", str(bogus), "--type", "Q8_0", "--out", str(tmp_path / "out.gguf")]) == 1
    assert "notes.gguf" in capsys.readouterr().err
    assert not (tmp_path / "out.gguf").exists()


@pytest.mark.real_model
def test_gguf_step_requantizes_the_demo_judge_only_when_allowed(tmp_path, capsys):
    out = tmp_path / "demo.Q8_0.gguf"
    assert main(["quantize", "gguf", str(demo_judge_path()), "--type", "Q8_0", "--out", str(out)]) == 1
    assert "requantize" in capsys.readouterr().err and not out.exists()
    assert main(["quantize", "gguf", str(demo_judge_path()), "--type", "Q8_0", "--out", str(out),
                 "--allow-requantize"]) == 0
    assert read_gguf_header(out).file_type == "Q8_0"
    assert f"wrote {out}" in capsys.readouterr().out


# -- convert and gptq on a tiny real checkpoint ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """A random 2-layer Llama (hidden size 64) with a trained SentencePiece tokenizer, and its transformers logits."""
    import sentencepiece as spm
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny-llama")
    train_sentencepiece(folder)
    AutoTokenizer.from_pretrained(folder).save_pretrained(folder)
    vocab = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model")).vocab_size()
    return build_model(folder, "llama", vocab_size=vocab, seed=4)


@pytest.mark.real_model
def test_cli_convert_writes_a_judge_that_computes_what_transformers_computed(tiny_llama, tmp_path, capsys):
    out = tmp_path / "tiny.f16.gguf"
    assert main(["quantize", "convert", str(tiny_llama.folder), "--out", str(out), "--outtype", "f16",
                 "--format", "prometheus"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, f16)"
    header = read_gguf_header(out)
    assert (header.architecture, header.file_type, header.judge_format) == ("llama", "F16", "prometheus")
    logits = llamacpp_logits(out, tiny_llama.token_ids)
    assert float(np.abs(logits - tiny_llama.logits).max()) < 0.1  # f16 rounding; a wrong layout moves them by ~11
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # written through a temporary file, renamed at the end


@pytest.mark.real_model
def test_cli_gptq_quantizes_with_the_options_given(tiny_llama, tmp_path, capsys):
    from judgedesk.core import create_backend

    out = tmp_path / "tiny-gptq"
    assert main(["quantize", "gptq", str(tiny_llama.folder), "--out", str(out), "--bits", "4", "--group-size", "32",
                 "--format", "autoj", "--calibration", "8"]) == 0
    assert capsys.readouterr().out.strip().endswith(
        f"wrote {out} (GPTQ 4-bit, group size 32, 8 calibration prompts in the autoj format)")
    quantize_config = json.loads((out / "quantize_config.json").read_text())
    assert (quantize_config["bits"], quantize_config["group_size"]) == (4, 32)
    config = json.loads((out / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "gptq" and config["judgedesk_format"] == "autoj"
    with create_backend("transformers", path=out, device="cpu") as backend:
        assert (backend.info.file_type, backend.info.judge_format) == ("GPTQ-4bit-g32", "autoj")
