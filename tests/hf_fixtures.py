"""Hugging Face fixtures shared by tests/quantize/ and tests/core/backends/ (registered in tests/conftest.py).

`smollm2_hf_dir` is the embedded demo judge (SmolLM2-135M-Instruct, GGUF Q4_1) as a Hugging Face folder:
transformers reads the GGUF file and dequantizes it to float32, and the result is saved as safetensors with its
tokenizer. Building it takes about a minute on 2 cores, so the folder is cached outside the checkout (as
scripts/build_llama.py caches llama.cpp's builds: a clean clone finds it), under a key made of the GGUF file's
SHA-256, the transformers version and the recipe, and rebuilt when it is incomplete.

transformers' GGUF reader gives SmolLM2's tokenizer plain GPT-2 pre-tokenization; the published SmolLM2 tokenizer
(and llama.cpp's "smollm" pre-tokenizer) first splits digits one by one. Without that split, text such as "? \n2"
tokenizes differently (108 of the 3769 PandaLM test-set texts), so the fixture restores it: then the folder
tokenizes every one of those texts exactly as llama.cpp tokenizes the GGUF file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from judgedesk.core import demo_judge_path

_CACHE_NAME = "smollm2-hf"
_FOLDER = "SmolLM2-135M-Instruct"  # the folder's name is the judge's name
_STAMP = "judgedesk-fixture.json"
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
_RECIPE = 2  # bump when _build changes, so cached folders are rebuilt


@pytest.fixture(scope="session")
def smollm2_hf_dir() -> Path:
    """A Hugging Face folder (float32 safetensors + tokenizer + chat template) of the embedded demo judge."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from judgedesk.core._hashing import file_sha256

    gguf = demo_judge_path()
    stamp = {"gguf_sha256": file_sha256(gguf), "transformers": transformers.__version__, "recipe": _RECIPE}
    key = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:20]
    base = _cache_root() / f"{_CACHE_NAME}-{key}"
    base.mkdir(parents=True, exist_ok=True)
    folder = base / _FOLDER
    if _is_complete(folder, stamp):
        return folder
    building = base / f".building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    _build(gguf, building)
    (building / _STAMP).write_text(json.dumps(stamp, sort_keys=True), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    try:
        building.rename(folder)
    except OSError:
        # Another pytest process (another checkout's session) finished first: keep its copy if it is whole.
        shutil.rmtree(building, ignore_errors=True)
        if not _is_complete(folder, stamp):
            raise
    return folder


def _cache_root() -> Path:
    """Where test fixtures built from the installed packages are kept between checkouts."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "judgedesk" / "test-fixtures"


def _is_complete(folder: Path, stamp: dict[str, object]) -> bool:
    try:
        recorded = json.loads((folder / _STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == stamp and all((folder / name).is_file() for name in _REQUIRED)


def _build(gguf: Path, out: Path) -> None:
    import torch
    from tokenizers import pre_tokenizers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32,
                                                 local_files_only=True)
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    # The weights are already dequantized; the GGUF quantizer left on the model only makes save_pretrained refuse.
    del model.hf_quantizer
    del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if not AutoTokenizer.from_pretrained(out, local_files_only=True).chat_template:
        raise AssertionError(f"{out}: the saved tokenizer lost the GGUF file's chat template")
