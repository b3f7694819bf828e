"""GPTQ: 4-bit (or 2/3/8-bit) Hugging Face judges with GPTQModel, and importing published auto-gptq checkpoints.

`quantize_gptq` calibrates on judge prompts in the judge's own format (`calibration_prompts`) and writes a GPTQ
folder that transformers loads (judgedesk's transformers backend runs it on the CPU or a GPU). GPTQModel writes
the same checkpoint layout as the archived auto-gptq. Three of its habits are corrected: it writes a
generation_config.json that samples (judgedesk judges greedily, so the folder says so too), it writes logs into
the current directory (they go to a temporary folder here), and on small machines its CPU worker pool needs at
least two workers. The output folder appears only when complete: everything is written to a hidden sibling folder
and renamed at the end.

`import_autogptq` makes a checkpoint published by auto-gptq (such as Auto-J's 4-bit release) loadable: the weights
file is renamed to model.safetensors and the obsolete `is_marlin_format` key is dropped, on a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from judgedesk.core import (
    BackendError,
    CancelFlag,
    JudgedeskError,
    ModelFileError,
    Progress,
    choose_format,
    get_format,
)
from judgedesk.core.backends import HFFolder, quiet_hf_warnings, read_hf_folder

from ._calibration import calibration_prompts
from ._errors import CheckpointError, QuantizeCancelled, QuantizeError

__all__ = ["GPTQ_BITS", "import_autogptq", "quantize_gptq"]

GPTQ_BITS = (2, 3, 4, 8)
"""Bit widths GPTQ packs."""

_STAGES = ("load", "quantize", "save")
_INSTALL_HINT = "pip install judgedesk[hf]"
_QUANTIZE_CONFIG = "quantize_config.json"
_GENERATION_CONFIG = "generation_config.json"
# Sampling settings that contradict do_sample=false (transformers warns about each at load time).
_SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "typical_p")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")


def quantize_gptq(folder: str | Path, out: str | Path, *, bits: int = 4, group_size: int = 128,
                  calibration: Sequence[str] | None = None, fmt: str | None = None, device: str = "auto",
                  progress: Progress | None = None, cancel: CancelFlag | None = None) -> Path:
    """Quantize the Hugging Face judge in `folder` with GPTQ into the new folder `out`; returns `out`.

    bits: 2, 3, 4 or 8. group_size: columns sharing one scale (128 is the usual choice; -1 for one per row).
    calibration: the texts to calibrate on; default `calibration_prompts(fmt)`, a few hundred judge prompts.
    fmt: the judge format to calibrate for; default the one recorded in config.json (`judgedesk_format`) or
        recognisable from the model's name, else generic. An explicit or recorded format is written to the
        output's config.json so the quantized judge is prompted the same way.
    device: where GPTQ runs: "cpu", "cuda", or "auto" (a CUDA GPU when torch sees one).
    progress: progress(done, total, stage) as each stage starts ('load', 'quantize', 'save'; done = stages
        finished, total 3), then once more as (3, 3, 'done'). cancel: checked between stages; when set, nothing is
        left behind.

    Raises `CheckpointError` for an unusable input folder, `QuantizeError` when quantization fails or `out`
    already exists, `QuantizeCancelled` on cancel, `BackendError` when the [hf] extra is not installed.
    """
    source = _read_source(folder)
    if source.quantization is not None:
        raise CheckpointError("is already quantized (config.json has a quantization_config); GPTQ needs the "
                              "F32/F16/BF16 weights", path=source.path)
    if bits not in GPTQ_BITS:
        raise QuantizeError(f"GPTQ cannot pack {bits}-bit weights; choose one of {', '.join(map(str, GPTQ_BITS))}")
    if group_size != -1 and group_size <= 0:
        raise QuantizeError(f"group size must be positive or -1 (one group per row), not {group_size}")
    uneven = {name: size for name, size in source.linear_input_sizes().items() if group_size > 0 and size % group_size}
    if uneven:
        # GPTQModel would pack a partial last group that the CPU int4 kernel then refuses to run.
        widths = ", ".join(f"{name} {size}" for name, size in uneven.items())
        fitting = [g for g in (128, 64, 32) if all(size % g == 0 for size in source.linear_input_sizes().values())]
        hint = f"; group size {fitting[0]} divides them all" if fitting else "; use -1 (one group per row)"
        raise QuantizeError(f"{source.path}: group size {group_size} does not divide {widths}{hint}")
    recorded = source.judge_format
    if fmt is not None:
        get_format(fmt)  # an unknown format fails now, not after an hour of quantizing
    judge_format = choose_format(fmt, recorded=recorded, names=(source.name, source.path.name))
    out = _check_output(out)
    torch, gptqmodel = _import_gptqmodel()
    model_type = str(source.config.get("model_type", ""))
    from gptqmodel.models.auto import SUPPORTED_MODELS

    if model_type not in SUPPORTED_MODELS:
        raise CheckpointError(f"GPTQModel cannot quantize model_type {model_type!r} ({source.architecture})",
                              path=source.path / "config.json")
    run_on = _device(torch, device)

    def stage(index: int) -> None:
        if cancel is not None and cancel.is_set():
            raise QuantizeCancelled(f"GPTQ quantization of {source.path} cancelled; nothing was written")
        if progress is not None:
            progress(index, len(_STAGES), _STAGES[index])

    partial = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        with tempfile.TemporaryDirectory(prefix="judgedesk-gptq-") as scratch, _gptqmodel_logs_in(Path(scratch)), \
                quiet_hf_warnings():
            stage(0)
            config = gptqmodel.QuantizeConfig(bits=bits, group_size=group_size, offload_to_disk=False)
            # On the CPU GPTQModel would pick bfloat16, which CPUs without bf16 units run about 9x slower than
            # float32 (measured on an AVX2 EPYC); on a GPU its own choice (float16 / bfloat16) is the fast one.
            precision = {"dtype": torch.float32} if run_on == "cpu" else {}
            model = gptqmodel.GPTQModel.load(str(source.path), config, device=run_on, **precision)
            texts = list(calibration) if calibration is not None else \
                calibration_prompts(judge_format, tokenizer=model.tokenizer)
            if not texts:
                raise QuantizeError(f"GPTQ quantization of {source.path}: the calibration set is empty")
            stage(1)
            model.quantize(texts, batch_size=1)
            stage(2)
            model.save(str(partial))
            del model
        _make_greedy(partial / _GENERATION_CONFIG)
        if fmt is not None or recorded is not None:
            _record_format(partial / "config.json", judge_format)
        os.rename(partial, out)
    except JudgedeskError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except Exception as exc:  # GPTQModel fails in many ways; each becomes one error naming the input
        shutil.rmtree(partial, ignore_errors=True)
        raise QuantizeError(f"GPTQ quantization of {source.path} failed: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if progress is not None:
        progress(len(_STAGES), len(_STAGES), "done")
    return out


def import_autogptq(folder: str | Path, out: str | Path) -> Path:
    """Copy the auto-gptq checkpoint `folder` into the new folder `out`, made loadable by transformers; returns `out`.

    The weights file (auto-gptq names it like gptq_model-4bit-128g.safetensors) becomes model.safetensors, and
    `is_marlin_format` leaves quantize_config.json and config.json's quantization_config (transformers refuses it);
    a config.json without a quantization_config gets one from quantize_config.json. Weight files are hard-linked
    when the file system allows (they are only renamed, never changed), else copied. `folder` is never modified.
    """
    source = Path(folder)
    if not source.is_dir():
        raise CheckpointError("not a folder" if source.exists() else "no such folder", path=source)
    config = _load_json(source / "config.json")
    quantize_config = _load_optional_json(source / _QUANTIZE_CONFIG)
    embedded = config.get("quantization_config")
    if quantize_config is None and not isinstance(embedded, dict):
        raise CheckpointError(f"not a GPTQ checkpoint: no {_QUANTIZE_CONFIG} and no quantization_config in "
                              "config.json", path=source)
    described: dict[str, Any] = embedded if isinstance(embedded, dict) else quantize_config or {}
    method = str(described.get("quant_method", "gptq"))
    if method.lower() != "gptq":
        raise CheckpointError(f"quantized with {method!r}, not GPTQ", path=source / "config.json")
    weights = sorted(p for p in source.glob("*.safetensors") if p.is_file())
    if not weights:
        pickles = sorted(p.name for p in source.iterdir() if p.suffix in _PICKLE_SUFFIXES)
        if pickles:
            raise CheckpointError(f"only pickle weights ({', '.join(pickles)}); judgedesk loads safetensors only, "
                                  "because loading pickle files can run code", path=source)
        raise CheckpointError("no *.safetensors weights", path=source)
    index_files = list(source.glob("*.safetensors.index.json"))
    if len(weights) > 1 and not index_files:
        raise CheckpointError(f"{len(weights)} safetensors files and no index naming the shards: "
                              f"{', '.join(p.name for p in weights)}", path=source)
    out = _check_output(out)
    partial = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        for item in sorted(source.iterdir()):
            if item.is_dir() or item.name in ("config.json", _QUANTIZE_CONFIG):
                continue
            # A single weights file takes the name transformers looks for; shards keep the names their index uses.
            name = "model.safetensors" if len(weights) == 1 and item == weights[0] else item.name
            _link_or_copy(item, partial / name)
        if quantize_config is not None:
            quantize_config.pop("is_marlin_format", None)
            if "model_file_base_name" in quantize_config and len(weights) == 1:
                quantize_config["model_file_base_name"] = "model"
            _write_json(partial / _QUANTIZE_CONFIG, quantize_config)
        if isinstance(embedded, dict):
            embedded.pop("is_marlin_format", None)
            embedded.setdefault("quant_method", "gptq")
        else:
            assert quantize_config is not None
            config["quantization_config"] = {"quant_method": "gptq", **quantize_config}
        _write_json(partial / "config.json", config)
        os.rename(partial, out)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise QuantizeError(f"{out}: could not write the imported checkpoint ({exc.strerror or exc})") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out


# -- helpers ----------------------------------------------------------------------------------------------------


def _read_source(folder: str | Path) -> HFFolder:
    try:
        return read_hf_folder(folder)
    except ModelFileError as exc:
        raise CheckpointError(exc.reason, path=exc.path) from exc


def _check_output(out: str | Path) -> Path:
    """`out` as a path that does not exist yet (or is an empty folder), with its parent created."""
    path = Path(out)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise QuantizeError(f"{path}: already exists; choose a new folder or remove it first")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            path.rmdir()  # renaming onto it is then atomic and never merges two folders
    except OSError as exc:
        raise QuantizeError(f"{path.parent}: cannot write there ({exc.strerror or exc})") from exc
    return path


def _import_gptqmodel() -> tuple[Any, Any]:
    # GPTQModel's CPU worker pool deadlocks with a single worker, which is its default on a 2-core machine.
    if (os.cpu_count() or 1) <= 3:
        os.environ.setdefault("GPTQMODEL_CPU_WORKERS", "2")
    try:
        with quiet_hf_warnings():
            import gptqmodel
            import torch
    except ImportError as exc:
        raise BackendError(f"GPTQ quantization needs gptqmodel and torch: {_INSTALL_HINT}") from exc
    return torch, gptqmodel


def _device(torch: Any, device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise QuantizeError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")
    if device == "cuda" and not torch.cuda.is_available():
        raise QuantizeError("device 'cuda' was asked for, but torch sees no CUDA GPU (use 'cpu' or 'auto')")
    return device


@contextmanager
def _gptqmodel_logs_in(folder: Path) -> Iterator[None]:
    """Point GPTQModel's per-run log files (a `logs` folder relative to the working directory) into `folder`."""
    from gptqmodel.looper import loop_processor

    previous = loop_processor._PROJECT_LOG_DIR
    loop_processor._PROJECT_LOG_DIR = folder / "logs"
    try:
        yield
    finally:
        loop_processor._PROJECT_LOG_DIR = previous


def _make_greedy(path: Path) -> None:
    """GPTQModel saves do_sample=true; a judge decodes greedily, so the folder's own defaults say so."""
    config = _load_optional_json(path) or {}
    config["do_sample"] = False
    for key in _SAMPLING_KEYS:
        config.pop(key, None)
    _write_json(path, config)


def _record_format(path: Path, judge_format: str) -> None:
    config = _load_json(path)
    config["judgedesk_format"] = judge_format
    _write_json(path, config)


def _load_json(path: Path) -> dict[str, Any]:
    data = _load_optional_json(path)
    if data is None:
        raise CheckpointError(f"no {path.name}: not a Hugging Face model folder", path=path.parent)
    return data


def _load_optional_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"unreadable or not JSON: {exc}", path=path) from exc
    if not isinstance(data, dict):
        raise CheckpointError("not a JSON object", path=path)
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
