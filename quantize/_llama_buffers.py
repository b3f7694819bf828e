"""What llama.cpp itself allocates for a model and a context: the buffer sizes it reports in its log.

The memory planner (quantize/_plan.py) is held against these figures: tests/quantize/test_plan_vs_llama.py on a
small synthetic judge, bench/judge_memory.py on the 7B and 13B shapes. llama.cpp logs one line per buffer when it
loads a model and creates a context:

    load_tensors:   CPU_Mapped model buffer size =  3891.24 MiB
    load_tensors:   CPU_REPACK model buffer size =  3204.00 MiB
    llama_kv_cache:        CPU KV buffer size =  2048.00 MiB
    llama_context:        CPU  output buffer size =     0.19 MiB
    sched_reserve:        CPU compute buffer size =   296.01 MiB

The context is created as judgedesk's llama.cpp backend creates it (n_batch = n_ubatch, no flash attention), with
`n_seq` sequences in separate KV streams (kv_unified off) of `n_ctx` tokens each, as a batch judging several pairs
per forward pass creates it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from judgedesk.core import ModelFileError
from judgedesk.core.backends import captured_llama_log, llama_failure_reason

__all__ = ["LlamaBuffers", "measure_llama_buffers", "measure_llama_contexts"]

_MIB = 1 << 20
_CACHE_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8}  # ggml_type values llama.cpp takes for type_k / type_v
_BUFFER_LINE = re.compile(r"(\S+)\s+(model|KV|output|compute) buffer size =\s*([\d.]+) MiB")


@dataclass(frozen=True)
class LlamaBuffers:
    """Buffer sizes in bytes, as llama.cpp reported them (rounded to its 0.01 MiB), summed over devices."""

    model: int
    """Model weights in buffers that hold the file's tensors (CPU_Mapped, CPU, CUDA0...)."""
    repack: int
    """Extra copies of weights llama.cpp rearranged for the CPU's vector units (CPU_REPACK; x86 with AVX2, ARM)."""
    kv: int
    compute: int
    output: int
    """The host buffer the logits are copied to."""
    by_device: dict[str, int] = field(default_factory=dict)
    """Every reported buffer as 'device kind' (e.g. 'CUDA0 model') -> bytes."""

    @property
    def total(self) -> int:
        """Weights (once), KV cache, compute and output buffers: what the model needs, repacked copies aside."""
        return self.model + self.kv + self.compute + self.output


def measure_llama_buffers(path: str | Path, *, n_ctx: int, n_seq: int = 1, n_batch: int = 512, n_gpu_layers: int = 0,
                          cache_type: str = "f16") -> LlamaBuffers:
    """Load `path` in llama.cpp, create a context of `n_seq` sequences of `n_ctx` tokens, return its buffers.

    Nothing is evaluated: the buffers are allocated when the context is created. Raises ModelFileError naming the
    file if llama.cpp cannot load it.
    """
    return measure_llama_contexts(path, n_ctx=n_ctx, n_seqs=(n_seq,), n_batch=n_batch, n_gpu_layers=n_gpu_layers,
                                  cache_type=cache_type)[0]


def measure_llama_contexts(path: str | Path, *, n_ctx: int, n_seqs: Sequence[int], n_batch: int = 512,
                           n_gpu_layers: int = 0, cache_type: str = "f16",
                           while_loaded: Callable[[int], None] | None = None) -> list[LlamaBuffers]:
    """`measure_llama_buffers` for several sequence counts, loading the model once (a 13B takes a minute).

    while_loaded(n_seq): called while each context exists (a benchmark reads the GPU's memory there).
    """
    import llama_cpp

    path = Path(path)
    with captured_llama_log(llama_cpp, keep=None) as load_lines:
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = n_gpu_layers
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), model_params)
    if not model:
        raise ModelFileError(path, llama_failure_reason(load_lines) or "llama.cpp could not load it")
    results = []
    try:
        for n_seq in n_seqs:
            with captured_llama_log(llama_cpp, keep=None) as lines:
                params = llama_cpp.llama_context_default_params()
                params.n_ctx = n_ctx * n_seq
                params.n_batch = params.n_ubatch = n_batch
                params.n_seq_max = n_seq
                params.kv_unified = False
                params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
                params.type_k = params.type_v = _CACHE_TYPES[cache_type]
                params.n_threads = params.n_threads_batch = 1
                context = llama_cpp.llama_init_from_model(model, params)
                if context and while_loaded is not None:
                    try:
                        while_loaded(n_seq)
                    finally:
                        llama_cpp.llama_free(context)
                elif context:
                    llama_cpp.llama_free(context)
            if not context:
                raise ModelFileError(path, llama_failure_reason(lines) or
                                     f"llama.cpp could not create a context of {n_seq} x {n_ctx} tokens")
            results.append(_parse([*load_lines, *lines]))
    finally:
        llama_cpp.llama_model_free(model)
    return results


def _parse(lines: list[str]) -> LlamaBuffers:
    sizes = {"model": 0, "repack": 0, "KV": 0, "compute": 0, "output": 0}
    by_device: dict[str, int] = {}
    for line in lines:
        match = _BUFFER_LINE.search(line)
        if match is None:
            continue
        device, kind = match.group(1), match.group(2)
        size = round(float(match.group(3)) * _MIB)
        by_device[f"{device} {kind}"] = by_device.get(f"{device} {kind}", 0) + size
        sizes["repack" if kind == "model" and device.endswith("REPACK") else kind] += size
    return LlamaBuffers(model=sizes["model"], repack=sizes["repack"], kv=sizes["KV"], compute=sizes["compute"],
                        output=sizes["output"], by_device=by_device)
