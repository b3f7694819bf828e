"""Several prompts per forward pass on the real demo judge: the same logits, bit for bit, as one at a time.

The llama.cpp backend with n_seq > 1 keeps each sequence in a KV stream of its own and cuts every forward pass so no
prompt's token goes alone (core/backends/_sequences.py). These tests hold the promise `--sequences` makes: a batch
run's verdicts do not depend on how many orders share a forward pass.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from judgedesk.core import DecodingSettings, Judge, Sampling, create_backend, demo_judge_path, load_judge
from judgedesk.core.datasets import load_dataset

from tests.reference_data import PANDALM_TESTSET

pytestmark = pytest.mark.real_model

N_CTX = 2048


@pytest.fixture(scope="module")
def one_and_three() -> Any:
    one = create_backend("llama.cpp", path=demo_judge_path(), n_ctx=N_CTX, n_threads=2)
    three = create_backend("llama.cpp", path=demo_judge_path(), n_ctx=N_CTX, n_threads=2, n_seq=3)
    yield one, three
    one.close()
    three.close()


def _requests(backend: Any) -> list[tuple[list[int], list[list[int]]]]:
    """Real prompts of both verdict-first formats, of different lengths, with their options; and options of
    several tokens sharing prefixes, and a prompt of two tokens."""
    data = load_dataset(PANDALM_TESTSET, limit=3)
    requests = []
    for name in ("pandalm", "generic"):
        judge = Judge(backend, format=name, owns_backend=False)
        for pair in data.pairs:
            for order in ("AB", "BA"):
                assembly = judge._assemble_pairwise(pair.item, order)
                requests.append((list(assembly.fitted.tokens), assembly.option_tokens))
    words = [backend.tokenize(t, special=False) for t in (" Response 1", " Response 2", " Tie", " A>>B]]")]
    requests.insert(3, (requests[0][0][:2], words))
    requests.append((requests[5][0], words))
    return requests


def test_a_batch_of_prompts_scores_exactly_what_each_scores_alone(one_and_three: Any) -> None:
    one, three = one_and_three
    requests = _requests(one)
    assert len({len(prompt) for prompt, _ in requests}) >= 5  # rounds of unequal prompts are the hard case
    alone = [one.score_options(prompt, options) for prompt, options in requests]
    assert three.score_options_batch(requests) == alone  # == on floats: bit-identical
    assert three.score_options_batch(requests[::-1]) == alone[::-1]  # whatever shares the pass with it


def test_the_single_prompt_calls_of_a_multi_sequence_backend_are_unchanged(one_and_three: Any) -> None:
    one, three = one_and_three
    prompt, options = _requests(one)[1]
    three.score_options_batch(_requests(one)[4:8])  # leaves other prompts in sequences 0..2
    assert three.score_options(prompt, options) == one.score_options(prompt, options)
    sampling = Sampling()
    assert three.generate(prompt, max_tokens=24, sampling=sampling) == one.generate(prompt, max_tokens=24,
                                                                                    sampling=sampling)
    assert three.settings()["n_seq"] == 3 and "n_seq" not in one.settings()
    assert three.capabilities.max_sequences == 3 and one.capabilities.max_sequences == 1


def _records(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    with sqlite3.connect(folder / "run.sqlite") as db:
        rows = db.execute("SELECT content, side, record FROM verdicts")
        records = {(content, side): json.loads(record) for content, side, record in rows}
    for record in records.values():
        record["manifest"]["decoding"].pop("n_seq", None)  # how it ran, recorded; not what it decided
    return records


def test_a_cli_batch_with_three_sequences_stores_the_verdicts_of_one(tmp_path: Path) -> None:
    def batch(sequences: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "judgedesk.core.cli", "batch", str(PANDALM_TESTSET), "--out",
                               str(tmp_path / sequences), "--limit", "6", "--format", "pandalm", "--ctx", str(N_CTX),
                               "--threads", "2", "--sequences", sequences], capture_output=True, text=True,
                              timeout=600)
    one, three = batch("1"), batch("3")
    assert one.returncode == 0 and three.returncode == 0, three.stderr
    records_one, records_three = _records(tmp_path / "1"), _records(tmp_path / "3")
    assert len(records_one) >= 8 and records_three == records_one
    with sqlite3.connect(tmp_path / "3" / "run.sqlite") as db:
        (stored,) = db.execute("SELECT record FROM verdicts LIMIT 1").fetchone()
    assert json.loads(stored)["manifest"]["decoding"]["n_seq"] == 3
    assert (tmp_path / "1" / "summary.json").read_bytes() != b""
    with sqlite3.connect(tmp_path / "1" / "run.sqlite") as a, sqlite3.connect(tmp_path / "3" / "run.sqlite") as b:
        assert a.execute("SELECT run_key FROM runs").fetchall() == b.execute("SELECT run_key FROM runs").fetchall()


def test_a_bad_sequences_value_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "judgedesk.core.cli", "batch", str(PANDALM_TESTSET), "--out",
                             str(tmp_path / "run"), "--limit", "1", "--sequences", "16"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "--sequences must be 'auto' or a whole number from 1 to 8, not '16'" in result.stderr
    assert not (tmp_path / "run" / "run.sqlite").exists()


def test_a_judge_loaded_with_sequences_judges_pairs_like_one_without(tmp_path: Path) -> None:
    data = load_dataset(PANDALM_TESTSET, limit=3)
    with load_judge(str(demo_judge_path()), format="pandalm", n_ctx=N_CTX, sequences=2) as two, \
            load_judge(str(demo_judge_path()), format="pandalm", n_ctx=N_CTX) as one:
        assert two.batches_fast_verdicts and not one.batches_fast_verdicts
        requests = [(pair.item, order) for pair in data.pairs for order in ("AB", "BA")]
        many = two.compare_many(requests)
        single = [one.compare(item, order=order) for item, order in requests]
        assert [(v.winner, v.probabilities, v.raw_output) for v in many] == \
            [(v.winner, v.probabilities, v.raw_output) for v in single]  # type: ignore[union-attr]
        explained = Judge(two.backend, format="pandalm", owns_backend=False,
                          decoding=DecodingSettings(explain=True, max_tokens=16))
        assert not explained.batches_fast_verdicts  # reasons are generated one at a time


def test_a_forced_option_token_costs_no_forward_pass_and_changes_no_probability(one_and_three: Any) -> None:
    from judgedesk.core._engine import constrained_option_probabilities
    from judgedesk.core.backends._llamacpp import branching_prefixes

    one, _ = one_and_three
    prompt, _ = _requests(one)[0]
    options = [one.tokenize(t, special=False) for t in ("A]]", "B]]", "C]]")]  # MT-bench's: "]]" is forced
    assert all(len(o) == 2 for o in options) and branching_prefixes(options) == {()}
    scores = one.score_options(prompt, options)
    assert [s[1] for s in scores] == [0.0, 0.0, 0.0]
    # What evaluating each forced token's prefix would have given: the same probabilities, for a forward pass each.
    full = []
    for option, score in zip(options, scores, strict=True):
        one._llm.reset()
        one._llm.eval(prompt + option[:1])
        full.append([score[0], float(one._last_logprobs()[option[1]])])
    assert full != scores
    assert constrained_option_probabilities(options, full) == constrained_option_probabilities(options, scores)


def test_branching_prefixes_are_where_options_part() -> None:
    from judgedesk.core.backends._llamacpp import branching_prefixes

    assert branching_prefixes([[1], [2], [3, 4]]) == {()}
    assert branching_prefixes([[5, 1, 9], [5, 2], [5, 1, 8]]) == {(5,), (5, 1)}
    assert branching_prefixes([[7, 8]]) == set()
