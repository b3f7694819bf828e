"""The memory planner against what llama.cpp allocates for 7B and 13B judges, in one run.

Shape-only judges (`judgedesk quantize synthetic`: LLaMA-7B as PandaLM-7B, Llama-2-13B as Auto-J-13B, Q4_K_M,
random weights) are written once into --cache and reused. Each is loaded by llama.cpp on the CPU, a context of
4096 tokens per sequence is created with 1 and with 4 sequences in separate KV streams (as a batch judging several
pairs per forward pass makes it), and llama.cpp's reported buffers (model, KV, compute + output) are printed next
to `plan_memory`'s figures, with the ratio planner / llama.cpp (goal: within 5%). llama.cpp's CPU_REPACK buffer
(weights rearranged for the CPU's vector units, on x86 with AVX2 and on ARM) is printed apart: it is a copy of
weights already counted.

When llama.cpp was built with GPU support, each judge is also loaded with every layer offloaded and the GPU
memory the process holds (NVML through pynvml, else nvidia-smi) is compared with the planner's GPU total and
with 24 GiB (an RTX 3090 / 4090).

Usage: python bench/judge_memory.py [--cache DIR] [--ctx 4096] [--sequences 1 4] [--shapes llama-7b llama2-13b]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from judgedesk.core import ModelFileError, read_gguf_header
from judgedesk.quantize import plan_memory, write_synthetic_gguf
from judgedesk.quantize._llama_buffers import LlamaBuffers, measure_llama_contexts

MIB = 1 << 20
GIB = 1 << 30
CARD = 24 * GIB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parent.parent / "build" / "synthetic",
                        help="where the synthetic judges are written and reused (build/synthetic)")
    parser.add_argument("--ctx", type=int, default=4096, help="context per sequence (4096)")
    parser.add_argument("--sequences", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--shapes", nargs="+", default=["llama-7b", "llama2-13b"])
    parser.add_argument("--type", dest="qtype", default="Q4_K_M")
    args = parser.parse_args()

    import llama_cpp

    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    print(f"llama-cpp-python {llama_cpp.__version__}, {os.cpu_count()} CPUs, GPU offload: {'yes' if gpu else 'no'}")
    print(f"context {args.ctx} tokens per sequence, f16 KV cache, n_batch = n_ubatch = 512, no flash attention\n")
    worst = 0.0
    for shape in args.shapes:
        path = cached_judge(args.cache, shape, args.qtype, args.ctx)
        started = time.perf_counter()
        measured = measure_llama_contexts(path, n_ctx=args.ctx, n_seqs=args.sequences)
        print(f"{shape} {args.qtype} ({path.stat().st_size / GIB:.2f} GiB file), CPU, loaded and measured in "
              f"{time.perf_counter() - started:.0f} s")
        print(f"  {'seqs':>4}  {'':9}{'model':>13}{'KV':>13}{'compute':>13}{'total':>13}")
        for n_seq, llama in zip(args.sequences, measured, strict=True):
            worst = max(worst, _print_comparison(path, args.ctx, n_seq, llama))
        print(f"  llama.cpp's CPU_REPACK copy of the weights: {measured[0].repack / MIB:,.0f} MiB (not counted: "
              "the planner sizes the file's weights once)\n")
        if gpu:
            _gpu_comparison(path, args.ctx, args.sequences)
    print(f"largest deviation of the planner from llama.cpp: {worst:.2%} (goal: within 5%)")
    return 0 if worst <= 0.05 else 1


def cached_judge(cache: Path, shape: str, qtype: str, ctx: int) -> Path:
    """The synthetic judge from the cache, written there first if missing (or not a synthetic judge)."""
    path = cache / f"{shape}-{qtype}-ctx{ctx}.gguf"
    try:
        header = read_gguf_header(path)
        if header.synthetic and header.file_type == qtype and header.context_length == ctx:
            return path
    except (ModelFileError, OSError):
        pass
    started = time.perf_counter()
    result = write_synthetic_gguf(shape, path, qtype=qtype, context_length=ctx)
    print(f"wrote {path} ({result.size_bytes / GIB:.2f} GiB) in {time.perf_counter() - started:.0f} s")
    return path


def _print_comparison(path: Path, ctx: int, n_seq: int, llama: LlamaBuffers) -> float:
    plan = plan_memory(path, n_ctx=ctx, sequences=n_seq, device="cpu")
    row = plan.row(plan.file_type or "")
    planned = (row.weights_bytes, row.kv_cache_bytes, row.compute_bytes, row.total_bytes)
    actual = (llama.model, llama.kv, llama.compute + llama.output, llama.total)
    ratios = [p / a for p, a in zip(planned, actual, strict=True)]
    print(f"  {n_seq:>4}  planner  " + "".join(f"{v / MIB:>11,.1f} M" for v in planned))
    print(f"  {'':>4}  llama.cpp" + "".join(f"{v / MIB:>11,.1f} M" for v in actual))
    print(f"  {'':>4}  ratio    " + "".join(f"{r:>13.4f}" for r in ratios))
    return max(abs(r - 1) for r in ratios)


def _gpu_comparison(path: Path, ctx: int, sequences: list[int]) -> None:
    """Every layer on the GPU: the memory the device has in use, measured by NVML, against the plan and 24 GiB."""
    before = _gpu_used()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _gpu_used())
            time.sleep(0.02)

    results: dict[int, int] = {}

    def record(n_seq: int) -> None:
        time.sleep(0.1)
        results[n_seq] = max(peak[0], _gpu_used()) - before

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        measured = measure_llama_contexts(path, n_ctx=ctx, n_seqs=sequences, n_gpu_layers=-1, while_loaded=record)
    finally:
        stop.set()
        sampler.join()
    for n_seq, llama in zip(sequences, measured, strict=True):
        plan = plan_memory(path, n_ctx=ctx, sequences=n_seq, budget_gib=24.0)
        row = plan.row(plan.file_type or "")
        on_gpu = sum(size for name, size in llama.by_device.items() if not name.startswith(("CPU", "CUDA_Host")))
        used = results.get(n_seq, 0)
        print(f"  GPU, {n_seq} sequence(s): peak {used / GIB:.2f} GiB in use by NVML (llama.cpp's GPU buffers "
              f"{on_gpu / GIB:.2f} GiB); planner {row.total_bytes / GIB:.2f} GiB, ratio {row.total_bytes / used:.3f}"
              f" against NVML; {'fits' if used <= CARD else 'does NOT fit'} 24 GiB ({used / CARD:.0%})")
    print()


def _gpu_used() -> int:
    """Bytes in use on GPU 0, by NVML (pynvml) or, without it, nvidia-smi."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return int(pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(0)).used)
    except ImportError:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, check=True).stdout
        return int(out.split()[0]) * MIB


if __name__ == "__main__":
    sys.exit(main())
