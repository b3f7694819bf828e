"""The engine on the real embedded demo judge (SmolLM2-135M-Instruct through llama.cpp).

The demo judge is weak, so these tests check behaviour that must hold for any judge: verdicts parse, fast verdicts
pick what greedy constrained decoding picks, reruns are byte-identical, long inputs are cut and flagged, and broken
model files are errors, not crashes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from judgedesk.core import (
    DecodingSettings,
    EvalItem,
    Judge,
    ModelFileError,
    Sampling,
    create_backend,
    demo_judge_path,
    load_judge,
    to_json,
)
from judgedesk.core._hashing import file_sha256

from tests.reference_data import PANDALM_TESTSET

pytestmark = pytest.mark.real_model

DATASET = PANDALM_TESTSET


@pytest.fixture(scope="module")
def backend():
    with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=2048) as loaded:
        yield loaded


def _judge(backend, fmt: str, **decoding) -> Judge:
    # The Judge would close the shared backend on close(); these tests never call it.
    return Judge(backend, format=fmt, decoding=DecodingSettings(**decoding))


def pandalm_items(count: int) -> list[EvalItem]:
    rows = json.loads(DATASET.read_text(encoding="utf-8"))
    # One item per distinct prompt, so the sample covers many tasks rather than one prompt's ten model pairs.
    seen, items = set(), []
    for row in rows:
        key = (row["instruction"], row["input"])
        if key in seen or len(row["response1"]) + len(row["response2"]) > 1500:
            continue
        seen.add(key)
        items.append(EvalItem(id=str(row["idx"]), instruction=row["instruction"], input=row["input"],
                              responses=(row["response1"], row["response2"])))
        if len(items) == count:
            break
    return items


PAIR = EvalItem(id="capital", instruction="What is the capital of France?",
                responses=("The capital of France is Paris.", "France's capital is Berlin."))


@pytest.mark.parametrize("fmt", ["pandalm", "generic", "autoj", "prometheus"])
def test_compare_both_orders_on_every_format(backend, fmt):
    judge = _judge(backend, fmt, max_tokens=48)
    result = judge.judge_both_orders(PAIR)
    for verdict, order in ((result.ab, "AB"), (result.ba, "BA")):
        assert verdict is not None and verdict.order == order
        assert verdict.status == "ok", verdict.raw_output
        assert verdict.winner in {"A", "B", "tie"}
        assert verdict.probabilities is not None
        assert sum(verdict.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert max(verdict.probabilities, key=verdict.probabilities.get) == verdict.winner
    assert result.decision in {"A", "B", "tie", "inconsistent"}
    assert result.consistent == (result.decision != "inconsistent")


def test_manifest_names_the_real_judge(backend):
    verdict = _judge(backend, "pandalm").compare(PAIR)
    manifest = verdict.manifest
    assert manifest.judge_sha256 == file_sha256(demo_judge_path())
    assert manifest.judge_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert (manifest.architecture, manifest.file_type, manifest.format) == ("llama", "Q4_1", "pandalm")
    assert manifest.decoding["mode"] == "logits" and manifest.decoding["n_ctx"] == 2048
    assert manifest.decoding["n_threads"] >= 1 and manifest.versions["llama_cpp_python"] == "0.3.36"


@pytest.mark.parametrize("fmt", ["pandalm", "generic"])
def test_fast_verdicts_match_greedy_decoding(backend, fmt):
    items = pandalm_items(20)
    assert len(items) == 20
    fast = _judge(backend, fmt)
    # The verdict is the first thing written, so a short budget decides the same as 512 tokens would.
    greedy = _judge(backend, fmt, fast=False, max_tokens=24)
    disagreements = []
    for item in items:
        quick = fast.compare(item)
        full = greedy.compare(item)
        assert full.status == "ok", full.raw_output
        if quick.winner != full.winner:
            disagreements.append((item.id, quick.winner, full.winner, quick.probabilities))
    assert disagreements == []


def test_explain_generates_reason_and_reference_after_the_fast_verdict(backend):
    judge = _judge(backend, "pandalm", explain=True, max_tokens=64)
    verdict = judge.compare(PAIR)
    assert verdict.raw_output.startswith({"A": "1", "B": "2", "tie": "Tie"}[verdict.winner] + "\n\n### Reason: ")
    assert verdict.reason
    fast_only = _judge(backend, "pandalm").compare(PAIR)
    assert fast_only.winner == verdict.winner and fast_only.reason is None


def test_reruns_are_byte_identical(backend):
    items = pandalm_items(3)
    first = [to_json(_judge(backend, "pandalm", explain=True, max_tokens=32).judge_both_orders(i)) for i in items]
    second = [to_json(_judge(backend, "pandalm", explain=True, max_tokens=32).judge_both_orders(i)) for i in items]
    assert first == second
    # A freshly loaded model (new llama.cpp context) gives the same bytes too.
    with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=2048) as other:
        third = [to_json(_judge(other, "pandalm", explain=True, max_tokens=32).judge_both_orders(i)) for i in items]
    assert third == first


def test_sampling_follows_the_seed(backend):
    def sample(item: EvalItem, seed: int) -> str:
        judge = _judge(backend, "generic", fast=False, max_tokens=24, sampling=Sampling(temperature=0.9, seed=seed))
        verdict = judge.compare(item, order="AB")
        assert verdict.manifest.seed == seed
        return verdict.raw_output

    items = [PAIR, EvalItem(id="sum", instruction="What is 15% of 80?", responses=("It is 12.", "It is 10.")),
             EvalItem(id="boil", instruction="When does water boil?", responses=("At 100 °C.", "At 90 °C."))]
    # Seed 7, then 8, then 7 again (item by item, so the prompt's cache is reused): the rerun repeats although
    # another seed ran in between (a sampler that kept its state, or drew a fresh seed per call, would not), and the
    # other seed writes something else for at least one prompt (a seed that never reached the sampler would not).
    runs = [[sample(item, seed) for seed in (7, 8, 7)] for item in items]
    assert [again for _, _, again in runs] == [first for first, _, _ in runs]
    assert [other for _, other, _ in runs] != [first for first, _, _ in runs]


def test_long_responses_are_cut_in_the_middle_and_flagged():
    long_a = "Paris is the capital. " + "It has many museums and old streets. " * 400 + "Final answer: Paris."
    long_b = "Berlin. " + "Germany has a long history. " * 300 + "Final answer: Berlin."
    item = EvalItem(id="long", instruction="What is the capital of France?", responses=(long_a, long_b))
    # A 768-token context: the cut is the same at any size, and each prompt that fills it costs a quarter of 2048.
    with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=768) as small:
        for fmt in ("pandalm", "generic"):
            verdict = _judge(small, fmt).compare(item)
            assert verdict.status == "truncated" and verdict.cut_tokens > 0
            assert verdict.winner in {"A", "B", "tie"}
        grade = _judge(small, "autoj", max_tokens=24).grade(EvalItem("long", "Q?", (long_a,)))
        assert grade.status in {"truncated", "unparsed"} and grade.cut_tokens > 0


@pytest.mark.parametrize(("fmt", "scale"), [("autoj", (1, 10)), ("prometheus", (1, 5)), ("generic", (1, 10))])
def test_grade_on_every_grading_format(backend, fmt, scale):
    grade = _judge(backend, fmt, max_tokens=48).grade(PAIR)
    assert grade.status == "ok", grade.raw_output
    assert grade.scale == scale and scale[0] <= grade.score <= scale[1]


def test_autoj_chinese_pairwise(backend):
    judge = Judge(backend, format="autoj", lang="zh", decoding=DecodingSettings(max_tokens=32))
    verdict = judge.compare(EvalItem("zh", "法国的首都是哪里？", ("巴黎。", "柏林。")))
    assert verdict.status == "ok" and "最终决定是" in verdict.raw_output


def test_truncated_model_file_is_an_error_not_a_crash(tmp_path):
    source = demo_judge_path()
    for name, size in (("half.gguf", source.stat().st_size // 2), ("one-byte-short.gguf", source.stat().st_size - 1)):
        broken = tmp_path / name
        with source.open("rb") as src, broken.open("wb") as dst:
            dst.write(src.read(size))
        with pytest.raises(ModelFileError, match="truncated"):
            load_judge(str(broken))


def test_unloadable_model_is_an_error_in_the_cli_not_a_crash(tmp_path):
    """A well-formed GGUF that llama.cpp refuses (unknown architecture) exits 1 with a message."""
    import gguf
    import numpy as np

    path = tmp_path / "alien.gguf"
    writer = gguf.GGUFWriter(str(path), "alienarch")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    done = subprocess.run([sys.executable, "-m", "judgedesk.core.cli", "compare", "--instruction", "q", "--a", "x",
                           "--b", "y", "--judge", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert str(path) in done.stderr and "Traceback" not in done.stderr


def test_empty_and_foreign_files_in_the_cli(tmp_path):
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    foreign = tmp_path / "model.safetensors"
    shutil.copyfile(Path(__file__), foreign)
    for path, message in ((empty, "empty"), (foreign, "not a GGUF")):
        done = subprocess.run([sys.executable, "-m", "judgedesk.core.cli", "compare", "--instruction", "q",
                               "--a", "x", "--b", "y", "--judge", str(path)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_close_frees_the_model_and_is_idempotent():
    judge = load_judge(None, n_ctx=512)
    assert judge.compare(PAIR).winner is not None
    judge.close()
    judge.close()
