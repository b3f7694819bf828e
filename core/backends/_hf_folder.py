"""Reading and validating a Hugging Face model folder before transformers sees it.

transformers trusts the folder it is given: a truncated safetensors file surfaces as whatever exception the loader
happens to hit. Here the folder, config.json and every weight file's header are checked first (safetensors is an
8-byte header length, a JSON table of tensors, then the data; every tensor must lie inside the file), so a bad
folder is a `ModelFileError` naming the file and what is wrong. The same headers give the weight type for the
manifest without loading a tensor. Pickle weights (.bin, .pt) are refused: loading them can run code.
"""

from __future__ import annotations

import gc
import hashlib
import json
import struct
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import ModelFileError
from .._hashing import file_sha256

__all__ = ["HFFolder", "quiet_hf_warnings", "read_hf_folder"]

_MAX_HEADER = 100 << 20  # safetensors' own limit on the JSON table
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
_DTYPE_NAMES = {"F32": "F32", "F16": "F16", "BF16": "BF16", "F64": "F64"}
# The quantize_config.json older GPTQ exporters write beside config.json.
_QUANTIZE_CONFIG = "quantize_config.json"


@dataclass(frozen=True)
class HFFolder:
    """What judgedesk knows about a Hugging Face model folder without loading it."""

    path: Path
    """The folder."""
    config: dict[str, Any] = field(repr=False)
    """config.json."""
    weight_files: tuple[Path, ...]
    """The safetensors files, sorted by name."""
    quantization: dict[str, Any] | None
    """The quantization config (config.json's `quantization_config`, else quantize_config.json), if any."""
    dtype_counts: dict[str, int] = field(repr=False)
    """Elements stored per safetensors dtype, over all weight files."""

    @property
    def name(self) -> str:
        """The model's own name: config.json's `_name_or_path` unless it is a local path, else the folder's name."""
        for key in ("_name_or_path", "_model_name_or_path"):
            value = self.config.get(key)
            if isinstance(value, str) and value.strip():
                value = value.strip()
                # A local path says where the model was saved from, not what it is; a hub id like
                # "WeOpenML/PandaLM-7B-v1" is a name (and tells judgedesk the judge format).
                if value.startswith(("/", ".", "~")) or "\\" in value or value.count("/") > 1:
                    return Path(value).name or self.path.name
                return value
        return self.path.name

    @property
    def architecture(self) -> str:
        """config.json's first architecture (e.g. LlamaForCausalLM), else its model_type."""
        architectures = self.config.get("architectures")
        if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
            return architectures[0]
        return str(self.config.get("model_type") or "unknown")

    @property
    def file_type(self) -> str:
        """GPTQ-4bit-g128 for GPTQ, else the dominant stored float type: F32, F16 or BF16."""
        if self.quantization is not None:
            method = str(self.quantization.get("quant_method", "unknown")).upper()
            bits = self.quantization.get("bits")
            group = self.quantization.get("group_size")
            text = method + (f"-{bits}bit" if bits else "")
            return text + (f"-g{group}" if isinstance(group, int) and group > 0 else "")
        if not self.dtype_counts:
            return "unknown"
        dominant = max(self.dtype_counts, key=lambda name: self.dtype_counts[name])
        return _DTYPE_NAMES.get(dominant, dominant)

    @property
    def judge_format(self) -> str | None:
        """The judge format recorded in config.json under `judgedesk_format`, if any."""
        value = self.config.get("judgedesk_format")
        return value if isinstance(value, str) and value else None

    @property
    def context_length(self) -> int | None:
        """max_position_embeddings (top level, or in text_config for multimodal configs)."""
        for source in (self.config, self.config.get("text_config") or {}):
            value = source.get("max_position_embeddings") if isinstance(source, dict) else None
            if isinstance(value, int) and value > 0:
                return value
        return None

    def linear_input_sizes(self) -> dict[str, int]:
        """Input widths of the decoder's linear layers (the dimension GPTQ groups split), where config.json says."""
        nested = self.config.get("text_config")
        config: dict[str, Any] = nested if isinstance(nested, dict) else self.config
        hidden = config.get("hidden_size")
        heads = config.get("num_attention_heads")
        head_dim = config.get("head_dim") or (hidden // heads if isinstance(hidden, int) and heads else None)
        sizes = {"hidden_size": hidden, "intermediate_size": config.get("intermediate_size"),
                 "attention output": heads * head_dim if isinstance(heads, int) and isinstance(head_dim, int) else None}
        return {name: size for name, size in sizes.items() if isinstance(size, int) and size > 0}

    def sha256(self) -> str:
        """SHA-256 over the weight files: each file's name and SHA-256, in name order."""
        digest = hashlib.sha256()
        for path in self.weight_files:
            digest.update(f"{path.name}\t{file_sha256(path)}\n".encode())
        return digest.hexdigest()


def read_hf_folder(path: str | Path) -> HFFolder:
    """Check `path` is a loadable Hugging Face model folder and describe it; raises `ModelFileError` if not."""
    folder = Path(path)
    if not folder.exists():
        raise ModelFileError(folder, "no such folder")
    if not folder.is_dir():
        raise ModelFileError(folder, "not a folder (a Hugging Face model is a folder with config.json and "
                                     "safetensors weights; GGUF files run with the llama.cpp backend)")
    config = _read_json(folder / "config.json", required=True)
    assert config is not None
    quantization = config.get("quantization_config")
    if not isinstance(quantization, dict):
        quantization = _read_json(folder / _QUANTIZE_CONFIG, required=False)
    weights = sorted(p for p in folder.glob("*.safetensors") if p.is_file())
    if not weights:
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in _PICKLE_SUFFIXES)
        if pickles:
            raise ModelFileError(folder, f"only pickle weights ({', '.join(pickles)}); judgedesk loads safetensors "
                                         "only, because loading pickle files can run code")
        raise ModelFileError(folder, "no weights: no *.safetensors file in the folder")
    counts: Counter[str] = Counter()
    for weight_file in weights:
        for dtype, elements in _safetensors_dtypes(weight_file).items():
            counts[dtype] += elements
    return HFFolder(path=folder, config=config, weight_files=tuple(weights), quantization=quantization,
                    dtype_counts=dict(counts))


def _read_json(path: Path, *, required: bool) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ModelFileError(path.parent, f"no {path.name}: not a Hugging Face model folder") from None
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(path, f"unreadable: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ModelFileError(path, f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelFileError(path, "not a JSON object")
    return data


def _safetensors_dtypes(path: Path) -> dict[str, int]:
    """Elements per dtype in a safetensors file, after checking its header and that every tensor lies inside it."""
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ModelFileError(path, f"truncated: {size} bytes, too short for a safetensors header")
            (length,) = struct.unpack("<Q", prefix)
            if length > _MAX_HEADER or 8 + length > size:
                raise ModelFileError(path, f"not a safetensors file, or truncated (header of {length} bytes in a "
                                           f"file of {size})")
            raw = handle.read(length)
    except OSError as exc:
        raise ModelFileError(path, f"unreadable: {exc}") from exc
    try:
        table = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(path, f"corrupt safetensors header: {exc}") from exc
    if not isinstance(table, dict):
        raise ModelFileError(path, "corrupt safetensors header: not a JSON object")
    data_size = size - 8 - length
    counts: Counter[str] = Counter()
    for name, entry in table.items():
        if name == "__metadata__":
            continue
        try:
            dtype = str(entry["dtype"])
            shape = [int(d) for d in entry["shape"]]
            begin, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(path, f"corrupt safetensors header: bad entry for tensor {name!r}") from None
        if not 0 <= begin <= end <= data_size:
            raise ModelFileError(path, f"truncated or corrupt: tensor {name!r} lies at bytes {begin}-{end} of a "
                                       f"{data_size}-byte data section")
        elements = 1
        for dim in shape:
            elements *= dim
        counts[dtype] += elements
    return dict(counts)


@contextmanager
def quiet_hf_warnings() -> Iterator[None]:
    """Silence the warnings transformers and GPTQModel raise about their own internals while a model loads.

    GPTQModel's GPTQ v1-to-v2 conversion builds a throw-away config that creates (and leaks) a temporary folder;
    collecting it here keeps its ResourceWarning from surfacing later in unrelated code.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r"Implicitly cleaning up <TemporaryDirectory '.*gptqmodel_",
                                category=ResourceWarning)
        yield
        gc.collect()
