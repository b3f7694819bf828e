"""`judgedesk quantize synthetic`: shape-only judges with the real layout, random weights, labelled synthetic.

The 2-layer test-tiny shape goes through the whole path: written by the CLI, read back (names, shapes, types,
metadata, tokenizer, weight statistics), loaded by llama.cpp through judgedesk, judged, and labelled.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
from pathlib import Path

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFReader, GGUFWriter
from gguf.quants import dequantize
from judgedesk.core import JUDGEDESK_SYNTHETIC_KEY, demo_judge_path, load_judge, read_gguf_header
from judgedesk.core.cli import main
from judgedesk.core.cli._arguments import SYNTHETIC_SHAPES as PARSER_SHAPES
from judgedesk.quantize import SYNTHETIC_SHAPES, QuantizeError, synthetic_shape, write_synthetic_gguf
from judgedesk.quantize._tensor_type_rules import planned_tensor_types


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """test-tiny at Q4_K_M with 4096 tokens of context, written by the CLI; (path, stdout, stderr). A module
    fixture cannot take capsys, so the output is redirected here."""
    out = tmp_path_factory.mktemp("synthetic") / "tiny.gguf"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main(["quantize", "synthetic", "--shape", "test-tiny", "--type", "q4_k_m", "--context", "4096",
                     "--out", str(out)]) == 0
    return out, stdout.getvalue(), stderr.getvalue()


def test_the_parser_offers_exactly_the_writer_shapes() -> None:
    assert PARSER_SHAPES == list(SYNTHETIC_SHAPES)


def test_cli_reports_the_file_and_warns_it_is_synthetic(tiny: tuple[Path, str, str]) -> None:
    path, out, err = tiny
    assert f"wrote {path}" in out and "Q4_K_M" in out and "context 4096" in out
    assert "SYNTHETIC judge with random weights" in err


def test_metadata_says_synthetic_and_keeps_the_shape(tiny: tuple[Path, str, str]) -> None:
    header = read_gguf_header(tiny[0])
    config = SYNTHETIC_SHAPES["test-tiny"]
    assert header.synthetic is True and header.metadata[JUDGEDESK_SYNTHETIC_KEY] is True
    assert header.name == "synthetic test-tiny (random weights)"
    assert header.architecture == "llama" and header.file_type == "Q4_K_M"
    assert header.context_length == 4096
    meta = header.metadata
    assert meta["llama.embedding_length"] == config["hidden_size"]
    assert meta["llama.block_count"] == config["num_hidden_layers"]
    assert meta["llama.attention.head_count"] == config["num_attention_heads"]
    assert meta["llama.attention.head_count_kv"] == config["num_key_value_heads"]
    assert meta["llama.feed_forward_length"] == config["intermediate_size"]


def test_tokenizer_is_the_demo_judges_and_sizes_the_vocabulary(tiny: tuple[Path, str, str]) -> None:
    ours, demo = GGUFReader(tiny[0]), GGUFReader(demo_judge_path())
    keys = sorted(k for k in demo.fields if k.startswith("tokenizer."))
    assert keys == sorted(k for k in ours.fields if k.startswith("tokenizer."))
    for key in keys:
        assert ours.fields[key].contents() == demo.fields[key].contents(), key
        assert ours.fields[key].types == demo.fields[key].types, key
    vocab = len(demo.fields["tokenizer.ggml.tokens"].data)
    tensors = {t.name: t for t in ours.tensors}
    assert tensors["token_embd.weight"].shape.tolist() == [256, vocab]
    assert tensors["output.weight"].shape.tolist() == [256, vocab]


def test_tensors_have_llama_names_shapes_and_the_quantizers_types(tiny: tuple[Path, str, str]) -> None:
    header = read_gguf_header(tiny[0])
    vocab = header.tensors["token_embd.weight"].shape[1]
    hidden, ffn, kv = 256, 512, 2 * 64
    expected = {"token_embd.weight": (hidden, vocab), "output_norm.weight": (hidden,),
                "output.weight": (hidden, vocab)}
    for i in range(2):
        expected |= {f"blk.{i}.attn_norm.weight": (hidden,), f"blk.{i}.ffn_norm.weight": (hidden,),
                     f"blk.{i}.attn_q.weight": (hidden, hidden), f"blk.{i}.attn_k.weight": (hidden, kv),
                     f"blk.{i}.attn_v.weight": (hidden, kv), f"blk.{i}.attn_output.weight": (hidden, hidden),
                     f"blk.{i}.ffn_gate.weight": (hidden, ffn), f"blk.{i}.ffn_up.weight": (hidden, ffn),
                     f"blk.{i}.ffn_down.weight": (ffn, hidden)}
    assert {name: t.shape for name, t in header.tensors.items()} == expected
    # The types llama-quantize would pick, by the rules held against its own dry run in test_plan.py...
    source = [(name, shape, 1 if len(shape) > 1 else 0) for name, shape in expected.items()]
    types = planned_tensor_types(source, "Q4_K_M", n_heads=4, n_kv_heads=2)
    assert {name: t.ggml_type.name for name, t in header.tensors.items()} == types
    # ... which, for a 2-layer Q4_K_M, means Q6_K output and the last layer's attn_v and ffn_down.
    assert types["output.weight"] == "Q6_K" and types["blk.1.ffn_down.weight"] == "Q6_K"
    assert types["blk.0.attn_q.weight"] == "Q4_K" and types["blk.0.attn_norm.weight"] == "F32"


def _sampled_values(path: Path, max_elements: int = 1 << 16) -> dict[str, np.ndarray]:
    """Each tensor's first values, decoded by gguf-py (a sample: its numpy K-quant decoder takes seconds for the
    whole embedding matrix)."""
    header = read_gguf_header(path)
    last = max(header.tensors.values(), key=lambda t: t.offset)
    data_start = header.data_end - (last.offset + _nbytes(last.shape, last.ggml_type))
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    values = {}
    for tensor in header.tensors.values():
        block, type_size = GGML_QUANT_SIZES[tensor.ggml_type]
        elements = min(max_elements, int(np.prod(tensor.shape)))
        start = data_start + tensor.offset
        chunk = np.array(raw[start:start + elements // block * type_size]).reshape(-1, type_size)
        values[tensor.name] = dequantize(chunk, tensor.ggml_type).ravel()
    return values


def _nbytes(shape: tuple[int, ...], ggml_type: GGMLQuantizationType) -> int:
    block, type_size = GGML_QUANT_SIZES[ggml_type]
    return int(np.prod(shape)) // block * type_size


def test_weights_are_finite_centred_and_scaled_like_a_trained_model(tiny: tuple[Path, str, str]) -> None:
    for name, values in _sampled_values(tiny[0]).items():
        assert np.isfinite(values).all(), name
        if name.endswith("norm.weight"):
            assert (values == 1).all(), name  # norms as in an untrained model
            continue
        assert abs(float(values.mean())) < 0.005, name
        assert 0.015 < float(values.std()) < 0.025, name


@pytest.mark.parametrize("qtype", ["Q8_0", "Q5_K_M", "Q3_K_M", "Q2_K", "Q4_0", "Q4_1", "Q5_1", "F16"])
def test_every_block_type_decodes_to_finite_scaled_values(tmp_path: Path, qtype: str) -> None:
    result = write_synthetic_gguf("test-tiny", tmp_path / "t.gguf", qtype=qtype)
    header = read_gguf_header(result.path)
    assert header.file_type == qtype
    for name, values in _sampled_values(result.path).items():
        if not name.endswith("norm.weight"):
            assert np.isfinite(values).all(), (qtype, name, header.tensors[name].ggml_type)
            assert abs(float(values.mean())) < 0.006, (qtype, name, header.tensors[name].ggml_type)
            assert 0.012 < float(values.std()) < 0.03, (qtype, name, header.tensors[name].ggml_type)


def test_same_seed_same_file_and_another_seed_another(tmp_path: Path) -> None:
    a = write_synthetic_gguf("test-tiny", tmp_path / "a.gguf", seed=1).path.read_bytes()
    assert write_synthetic_gguf("test-tiny", tmp_path / "b.gguf", seed=1).path.read_bytes() == a
    assert write_synthetic_gguf("test-tiny", tmp_path / "c.gguf", seed=2).path.read_bytes() != a


def test_llama_cpp_runs_it_with_finite_logits_and_generates(tiny: tuple[Path, str, str]) -> None:
    from llama_cpp import Llama

    llm = Llama(str(tiny[0]), n_ctx=512, n_threads=1, verbose=False, logits_all=True)
    try:
        tokens = llm.tokenize(b"Which response is better?")
        llm.eval(tokens)
        logits = np.asarray(llm.scores[: len(tokens)])
        assert np.isfinite(logits).all()
        assert float(logits[-1].std()) > 0.1  # not flat: the random weights reach the output
        text = llm.create_completion("Response 1 or 2?", max_tokens=8, temperature=0.0)["choices"][0]["text"]
        assert text != ""
    finally:
        llm.close()


def test_a_compare_on_it_is_parsed_and_recorded_as_synthetic(tiny: tuple[Path, str, str],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tiny[0]
    assert main(["compare", "--judge", str(path), "--format", "pandalm", "--instruction", "What is 2+2?",
                 "--a", "4", "--b", "5", "--threads", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert "SYNTHETIC judge with random weights" in captured.err
    result = json.loads(captured.out)
    for order in ("ab", "ba"):
        assert result[order]["status"] == "ok" and result[order]["winner"] in ("A", "B", "tie")
        assert result[order]["manifest"]["synthetic"] is True
        assert result[order]["manifest"]["judge_name"] == "synthetic test-tiny (random weights)"


@pytest.mark.parametrize("fmt", ["prometheus", "autoj"])
def test_every_format_runs_on_the_demo_tokenizer(tiny: tuple[Path, str, str], fmt: str) -> None:
    with load_judge(tiny[0], format=fmt, n_ctx=4096, n_threads=1) as judge:
        assert judge.backend.info.synthetic is True
        assert judge.backend.info.context_length == 4096


def test_the_planner_sizes_the_shape_like_the_file(tiny: tuple[Path, str, str]) -> None:
    from judgedesk.quantize import plan_memory

    header = read_gguf_header(tiny[0])
    shape = synthetic_shape("test-tiny", vocab_size=header.tensors["token_embd.weight"].shape[1], context_length=4096)
    from_shape = plan_memory(shape, n_ctx=4096, device="cpu").row("Q4_K_M")
    from_file = plan_memory(tiny[0], n_ctx=4096, device="cpu").row("Q4_K_M")
    assert from_shape.weights_bytes == from_file.weights_bytes
    assert from_shape.kv_cache_bytes == from_file.kv_cache_bytes


# -- bad arguments ----------------------------------------------------------------------------------------------------


def test_unknown_shape_and_type_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(QuantizeError, match="unknown shape 'gpt-5'.*llama-7b"):
        write_synthetic_gguf("gpt-5", tmp_path / "x.gguf")
    with pytest.raises(QuantizeError, match="unknown type 'Q9_K'"):
        write_synthetic_gguf("test-tiny", tmp_path / "x.gguf", qtype="Q9_K")
    with pytest.raises(QuantizeError, match="context length must be positive"):
        write_synthetic_gguf("test-tiny", tmp_path / "x.gguf", context_length=0)
    with pytest.raises(SystemExit):
        main(["quantize", "synthetic", "--shape", "gpt-5", "--out", str(tmp_path / "x.gguf")])
    assert "invalid choice: 'gpt-5'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_unwritable_output_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quantize", "synthetic", "--shape", "test-tiny", "--out", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["quantize", "synthetic", "--shape", "test-tiny", "--out", str(blocker / "x.gguf")]) == 1
    err = capsys.readouterr().err
    assert "judgedesk: error:" in err and "cannot create the output folder" in err and str(blocker) in err


def test_a_full_disk_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = []

    def full_disk(self: GGUFWriter, tensor: np.ndarray, *args: object) -> None:
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(tensor.nbytes)

    monkeypatch.setattr(GGUFWriter, "write_tensor_data", full_disk)
    with pytest.raises(QuantizeError, match=r"x\.gguf: could not write the GGUF file \(No space left on device\)"):
        write_synthetic_gguf("test-tiny", tmp_path / "x.gguf")
    assert not list(tmp_path.iterdir())
