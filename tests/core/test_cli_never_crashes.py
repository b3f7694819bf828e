"""The property behind every one-line error: whatever judge file or path a command is handed, `judgedesk` exits 0,
or 1 with one line on stderr naming what is wrong, or 130 on Ctrl-C; never a traceback, never a signal.

Hypothesis mutates copies of the demo judge (a metadata value replaced by another of any type, a key dropped, a
tensor reshaped, the data cut short) and the paths around it (missing files, folders where files belong, files
where folders belong), and runs each command as a user would, in a child process, so that a native abort is
seen as the signal it is.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from judgedesk.core import demo_judge_path

from tests.gguf_edit import rewrite_gguf

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

JUDGEDESK = Path(sys.executable).parent / "judgedesk"

_KEYS = ["llama.block_count", "llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
         "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.dimension_count",
         "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon", "llama.vocab_size", "general.alignment",
         "general.architecture", "general.file_type", "tokenizer.ggml.tokens", "tokenizer.ggml.model",
         "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.chat_template", "general.name"]
_VALUES = st.one_of(
    st.sampled_from([0, 1, 2, 3, 7, 64, 513, 0xFFFFFFFF]),
    st.integers(min_value=-(2**31), max_value=2**32 - 1),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.text(max_size=12),
    st.sampled_from(["{% if %}", "{{ messages[0]['content'] }}", "llama", "gpt2", "qwen2", ""]),
    st.lists(st.integers(min_value=-4, max_value=40), max_size=4),
    st.lists(st.text(max_size=3), max_size=3),
)
_MUTATIONS = st.one_of(
    st.builds(lambda key, value: {"metadata": {key: value}}, st.sampled_from(_KEYS), _VALUES),
    st.builds(lambda key: {"drop": [key]}, st.sampled_from(_KEYS)),
    st.builds(lambda dims: {"tensor_dims": {"blk.0.attn_q.weight": dims}},
              st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=5).map(tuple)),
    st.builds(lambda size: {"data_bytes": size}, st.integers(min_value=0, max_value=200_000_000)),
)
_PAIRS = {"id": "1", "instruction": "What is 2+2?", "response_a": "4", "response_b": "5"}


def _commands(judge: Path, work: Path) -> dict[str, list[str]]:
    pairs = work / "pairs.jsonl"
    return {
        "compare": ["compare", "--judge", str(judge), "--instruction", "What is 2+2?", "--a", "4", "--b", "5"],
        "grade": ["grade", "--judge", str(judge), "--instruction", "What is 2+2?", "--response", "4"],
        "import": ["models", "import", str(judge), "--reference"],
        "batch": ["batch", str(pairs), "--judge", str(judge), "--out", str(work / "run")],
    }


def _run(args: list[str], work: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "JUDGEDESK_HOME": str(work / "home"), "LANG": "C.UTF-8"}
    return subprocess.run([str(JUDGEDESK), *args], cwd=work, env=env, capture_output=True, text=True, timeout=600)


def _assert_clean_exit(done: subprocess.CompletedProcess[str], what: str) -> None:
    assert done.returncode in (0, 1), f"{what}: exit {done.returncode}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, f"{what}:\n{done.stderr[-3000:]}"
    if done.returncode == 1:
        errors = [line for line in done.stderr.splitlines() if line.startswith("judgedesk: error:")]
        assert len(errors) == 1, f"{what}: expected one error line\n{done.stderr[-3000:]}"
        # The error is the last word (a dataset error goes on to list what it found and what it expected).
        after = done.stderr.rstrip().splitlines()
        after = after[after.index(errors[0]) + 1:]
        assert not any(line.startswith(("judgedesk:", "Traceback", "Fatal")) for line in after), done.stderr


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=_MUTATIONS, command=st.sampled_from(["compare", "grade", "import", "batch"]))
def test_a_mutated_judge_file_is_one_line_or_a_verdict(mutation: dict[str, Any], command: str,
                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    work = tmp_path_factory.mktemp("mutated")
    (work / "pairs.jsonl").write_text(json.dumps(_PAIRS) + "\n", encoding="utf-8")
    try:
        judge = rewrite_gguf(demo_judge_path(), work / "judge.gguf", weights=False, **mutation)
    except (ValueError, TypeError, OverflowError, struct.error):  # not even writable as GGUF: nothing to test
        return
    _assert_clean_exit(_run(_commands(judge, work)[command], work), f"{command} with {mutation}")


@pytest.mark.parametrize("command", ["compare", "grade", "import", "batch"])
@pytest.mark.parametrize("where", ["missing", "a folder", "empty", "not gguf"])
def test_a_judge_path_that_is_no_judge_file_is_one_line(command: str, where: str, tmp_path: Path) -> None:
    (tmp_path / "pairs.jsonl").write_text(json.dumps(_PAIRS) + "\n", encoding="utf-8")
    judge = tmp_path / "judge.gguf"
    if where == "a folder":
        judge.mkdir()
    elif where == "empty":
        judge.write_bytes(b"")
    elif where == "not gguf":
        judge.write_text("<html>not found</html>", encoding="utf-8")
    done = _run(_commands(judge, tmp_path)[command], tmp_path)
    _assert_clean_exit(done, f"{command} with a judge path that is {where}")
    assert done.returncode == 1 and str(judge) in done.stderr


@pytest.mark.parametrize("args", [
    ["compare", "--instruction", "@missing.txt", "--a", "4", "--b", "5"],
    ["compare", "--instruction", "@.", "--a", "4", "--b", "5"],
    ["grade", "--instruction", "x", "--response", "@missing.txt"],
    ["batch", "missing.jsonl", "--out", "run"],
    ["batch", ".", "--out", "run"],
    ["batch", "pairs.jsonl", "--out", "pairs.jsonl/run"],
    ["batch", "pairs.jsonl", "--out", "/proc/judgedesk-run"],
    ["report", "missing-run"],
    ["parse", "--format", "pandalm", "--task", "pairwise", "missing.jsonl"],
    ["import-verdicts", "missing.jsonl", "--data", "pairs.jsonl", "--out", "run", "--name", "x"],
], ids=lambda args: " ".join(args))
def test_a_bad_path_is_one_line_before_any_judge_loads(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "pairs.jsonl").write_text(json.dumps(_PAIRS) + "\n", encoding="utf-8")
    done = _run(args, tmp_path)
    _assert_clean_exit(done, " ".join(args))
    assert done.returncode == 1
