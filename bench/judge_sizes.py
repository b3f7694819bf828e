"""Speed at a real judge's size: fast verdicts against generation and against llama.cpp's raw prompt evaluation.

A shape-only judge (`judgedesk quantize synthetic`: LLaMA-7B as PandaLM-7B by default, Q4_K_M, random weights,
written once into build/synthetic and reused) costs exactly what the real judge of that shape costs. On the same
PandaLM prompts (both orders of --pairs pairs of PandaLM's test set, PandaLM format), measured in one run:

1. raw: llama.cpp evaluates the same tokens the fast path does (llama-cpp-python's `Llama.eval` in n_batch batches:
   each prompt after the prefix it shares with the one before, as the CPU path keeps it), and nothing else: the
   physical limit of the fast path on this machine;
2. fast: judgedesk's fast verdicts (`Judge.compare_many`, both orders, prefix reuse on the CPU), with one sequence
   and, for each --sequences N above 1, N prompts per forward pass;
3. published length: the prompt, then exactly --gen-tokens greedy tokens (77: the mean length of PandaLM-7B's
   published outputs on its test set, verdict, reason and reference, in the demo judge's tokens; median 61);
4. full budget: the prompt, then 512 tokens, PandaLM's published budget.
Both generations run on the first --gen-orders orders (all by default; at seconds per token on a CPU, fewer keep
the run short: the per-order figures are what is compared, and each line says how many orders it was measured on).

Raw and the fast paths alternate for --rounds rounds (each keeps its fastest), so a neighbour's load on a shared
machine slows them alike. Prints seconds per order and pairs per minute for each, fast against raw (goal: at least
0.9) and every other against fast. With --gpu-layers -1 (a CUDA build) it also prints the GPU memory in use at the
end (NVML) against the memory planner and against 24 GiB (an RTX 3090 / 4090); the goal there is 500 pairs per
minute in fast mode.

Usage: python bench/judge_sizes.py [--shape llama-7b|llama2-13b|mistral-7b] [--judge FILE.gguf] [--pairs 20]
       [--ctx 4096] [--threads 2] [--gpu-layers 0] [--sequences 2] [--gen-tokens 77] [--budget 512]
       [--gen-orders N] [--rounds 2]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from judgedesk.core import Judge, create_backend
from judgedesk.core.datasets import load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_memory import GIB, cached_judge  # the synthetic judges' cache, shared

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "tests" / "data" / "pandalm-testset-v1.json"
PAIRS = 30.0
"""Pairs per minute = PAIRS / seconds per order (60 s, and a pair is two orders)."""
PUBLISHED_MEAN_TOKENS = 77
"""PandaLM-7B's published outputs on its test set: mean length in the demo judge's tokens (median 61, max 500)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="llama-7b", help="synthetic shape when no --judge is given (llama-7b)")
    parser.add_argument("--judge", type=Path, help="a GGUF judge instead of the synthetic one")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "synthetic")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gpu-layers", type=int, default=0)
    parser.add_argument("--sequences", type=int, nargs="*", default=[2],
                        help="also judge N prompts per pass (2; each sequence holds a KV cache of --ctx tokens)")
    parser.add_argument("--gen-tokens", type=int, default=PUBLISHED_MEAN_TOKENS)
    parser.add_argument("--budget", type=int, default=512)
    parser.add_argument("--gen-orders", type=int, help="orders to generate for, both lengths (default all; 0: none)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of raw and fast, alternating (2)")
    args = parser.parse_args()

    path = args.judge or cached_judge(args.cache, args.shape, "Q4_K_M", args.ctx)
    items = [pair.item for pair in load_dataset(args.data, limit=args.pairs).pairs]
    load = {"path": path, "n_ctx": args.ctx, "n_threads": args.threads, "n_gpu_layers": args.gpu_layers}
    backend = create_backend("llama.cpp", **load)
    judge = Judge(backend, format="pandalm")
    orders = [(item, order) for item in items for order in ("AB", "BA")]
    prompts = [list(judge._assemble_pairwise(item, order).fitted.tokens) for item, order in orders]
    tokens = sum(map(len, prompts))
    where = f"{args.gpu_layers} GPU layers" if args.gpu_layers else f"CPU, {args.threads} threads"
    print(f"{path.name} ({backend.info.file_type}{', synthetic' if backend.info.synthetic else ''}), {where}, "
          f"{platform.processor() or platform.machine()}; {len(items)} pairs, {len(orders)} orders, "
          f"{tokens} prompt tokens (mean {tokens / len(orders):.0f})\n")

    llm = backend._llm  # the raw library object: llama.cpp's own evaluation, nothing of judgedesk around it
    rows: list[tuple[str, int, float]] = []

    def measure(name: str, count: int, run: Callable[[], object]) -> float:
        llm.reset()  # every phase starts from an empty cache: none inherits the prefix the one before left
        started = time.perf_counter()
        run()
        seconds = time.perf_counter() - started
        rows.append((name, count, seconds))
        print(f"  {name:<44} {count:>4} orders  {seconds / count:8.2f} s/order", flush=True)
        return seconds / count

    def raw() -> None:
        # The token counts the fast path evaluates: on the CPU it keeps the prefix a prompt shares with the one
        # before (the two orders of a pair share the instruction), less the two tokens it always evaluates again.
        previous: list[int] = []
        for prompt in prompts:
            kept = 0
            if not args.gpu_layers:
                limit = min(len(previous), len(prompt) - 2)
                while kept < limit and previous[kept] == prompt[kept]:
                    kept += 1
            llm.reset()
            llm.n_tokens = kept
            llm.eval(prompt[kept:])
            previous = prompt

    def generate(count: int, limit: int) -> Callable[[], None]:
        def run() -> None:
            for prompt in prompts[:count]:
                for produced, _ in enumerate(llm.generate(prompt, reset=True, temp=0.0), start=1):
                    if produced == limit:  # exactly `limit` tokens: a random judge's end-of-text is not a verdict
                        break
        return run

    # Raw and fast alternate for --rounds rounds and each keeps its fastest, so that a neighbour's load on a shared
    # machine slows both alike instead of whichever happened to run during it.
    wide = {n: create_backend("llama.cpp", **load, n_seq=n) for n in args.sequences if n > 1}
    wide_judges = {n: Judge(backend, format="pandalm", owns_backend=False) for n, backend in wide.items()}
    # The winners the wider passes must give (a whole fast pass: only when there are wider passes to check).
    winners = [v.winner for v in judge.compare_many(orders)] if wide_judges else []  # type: ignore[union-attr]

    def fast() -> None:
        judge.compare_many(orders)

    fastest: dict[str, float] = {}
    for round_number in range(1, args.rounds + 1):
        print(f"  round {round_number}")
        phases: list[tuple[str, Callable[[], object]]] = [("raw prompt evaluation (llama.cpp)", raw),
                                                          ("fast verdicts, 1 sequence", fast)]
        phases += [(f"fast verdicts, {n} sequences per pass", lambda j=j: j.compare_many(orders))
                   for n, j in wide_judges.items()]
        for name, run in phases:
            fastest[name] = min(fastest.get(name, float("inf")), measure(name, len(orders), run))
    for n, wide_judge in wide_judges.items():
        same = [v.winner for v in wide_judge.compare_many(orders)] == winners  # type: ignore[union-attr]
        print(f"  {n} sequences per pass: winners equal to 1 sequence: {same}")
        wide[n].close()
    raw_s, fast_s = fastest["raw prompt evaluation (llama.cpp)"], fastest["fast verdicts, 1 sequence"]
    fast_by_sequences = {n: fastest[f"fast verdicts, {n} sequences per pass"] for n in wide}
    gen_orders = len(orders) if args.gen_orders is None else min(args.gen_orders, len(orders))
    generated = {}
    for limit, what in ((args.gen_tokens, "PandaLM-7B's mean"), (args.budget, "published budget")):
        if gen_orders:
            generated[limit] = measure(f"generate {limit} tokens ({what})", gen_orders, generate(gen_orders, limit))

    print(f"\n  {'':<44} {'pairs/min':>10} {'ratio':>8}")
    print(f"  {'raw prompt evaluation':<44} {PAIRS / raw_s:>10.2f} {'':>8}")
    print(f"  {'fast, 1 sequence':<44} {PAIRS / fast_s:>10.2f} {raw_s / fast_s:>7.2f}x raw (goal >= 0.9)")
    for n_seq, seconds in fast_by_sequences.items():
        print(f"  {f'fast, {n_seq} sequences':<44} {PAIRS / seconds:>10.2f} {fast_s / seconds:>7.2f}x fast, 1 seq")
    for limit, seconds in generated.items():
        print(f"  {f'generate {limit} tokens':<44} {PAIRS / seconds:>10.2f} "
              f"{fast_s / seconds:>7.3f}x fast (fast is {seconds / fast_s:.1f}x faster)")
    if args.gpu_layers:
        _gpu_memory(path, args.ctx)
    backend.close()
    return 0


def _gpu_memory(path: Path, ctx: int) -> None:
    """GPU memory in use now (the judge still loaded), by NVML, against the planner and a 24 GiB card."""
    from judge_memory import CARD, _gpu_used
    from judgedesk.quantize import plan_memory

    plan = plan_memory(path, n_ctx=ctx, budget_gib=24.0)
    planned = plan.row(plan.file_type or "").total_bytes
    used = _gpu_used()
    print(f"\n  GPU memory in use: {used / GIB:.2f} GiB (NVML); planner {planned / GIB:.2f} GiB; "
          f"{'fits' if used <= CARD else 'does NOT fit'} 24 GiB")


if __name__ == "__main__":
    sys.exit(main())
