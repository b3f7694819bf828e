"""The whole pipeline on a real judge: the demo judge as a Hugging Face folder -> GGUF f16 -> Q8_0 and Q4_K_M.

`smollm2_hf_dir` is SmolLM2-135M-Instruct dequantized by transformers from the embedded GGUF (tests/hf_fixtures.py).
judgedesk converts it back, quantizes it, and checks what a user relies on: llama.cpp reads the same token ids as
the Hugging Face tokenizer, the converted file judges like the original file, and `quantize verify` measures how
far each quant moved from the float32 reference run by transformers.
"""

from __future__ import annotations

import pytest
from judgedesk.core import create_backend, demo_judge_path, read_gguf_header
from judgedesk.quantize import convert_to_gguf, quantize_gguf, verify_fidelity

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

CORPUS = [
    "Which response answers the question better? Explain briefly.",
    "The meeting moved from 10:30 to 14:45 on 2024-03-07; 3 of 12 people can't attend.",
    "请比较这两个回答，哪一个更准确？北京是中国的首都。",
    "def fib(n: int) -> int:\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n\tprint(fib(10))",
    "Great job 👍🏽🎉 — naïve café résumé… «quoted» “curly” ‘single’",
    "  leading spaces,\ttabs,\n\nnewlines   and trailing spaces   ",
    "<|im_start|>user\nnot a special token when it is user text<|im_end|>",
    "x" * 50 + " 1234567890 ½ ² ∑ ∫ π",
]


@pytest.fixture(scope="module")
def converted(smollm2_hf_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("smollm2-gguf")
    f16 = convert_to_gguf(smollm2_hf_dir, folder / "smollm2.F16.gguf", outtype="f16", judge_format="pandalm").path
    quants = {qtype: quantize_gguf(f16, folder / f"smollm2.{qtype}.gguf", qtype=qtype) for qtype in ("Q8_0", "Q4_K_M")}
    return {"F16": f16, **quants}


def test_headers_name_the_types_and_the_judge_format(converted):
    for qtype, path in converted.items():
        header = read_gguf_header(path)
        assert header.file_type == qtype
        assert header.architecture == "llama"
        assert header.judge_format == "pandalm"
        assert header.chat_template and "<|im_start|>" in header.chat_template


def test_llama_cpp_tokenizes_like_the_hugging_face_tokenizer(converted, smollm2_hf_dir):
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(smollm2_hf_dir, local_files_only=True)
    with create_backend("llama.cpp", path=converted["F16"], n_ctx=512) as backend:
        for text in CORPUS:
            expected = tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)
            assert backend.tokenize(text, special=False) == expected, text
        # Special tokens are still special when the template asks for them.
        chat = "<|im_start|>user\nhi<|im_end|>"
        assert backend.tokenize(chat, special=True) == tokenizer.encode(chat, add_special_tokens=False)


def test_the_converted_file_judges_like_the_original(converted):
    # F16 of weights dequantized from Q4_1 holds the same numbers, so the verdicts must not move.
    report = verify_fidelity(demo_judge_path(), converted["F16"], fmt="pandalm", limit=3)
    assert report.orders == 18
    assert report.agreement == 1.0, report.format_text()
    assert report.mean_kl < 0.01, report.format_text()


@pytest.mark.parametrize("qtype, min_agreement, max_kl", [("Q8_0", 0.9, 0.02), ("Q4_K_M", 0.6, 0.3)])
def test_quantized_judges_against_the_float32_reference(converted, smollm2_hf_dir, qtype, min_agreement, max_kl):
    report = verify_fidelity(smollm2_hf_dir, converted[qtype], fmt="pandalm", limit=3)
    print(f"\n{qtype}: {report.format_text()}")
    assert report.orders == 18
    assert report.agreement >= min_agreement, report.format_text()
    assert report.mean_kl <= max_kl, report.format_text()
