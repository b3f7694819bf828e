"""Fast verdicts from logits versus full generation, on the embedded demo judge, in one run.

The first 50 usable pairs of PandaLM's human-labelled test set, both orders, PandaLM format.
Three ways to the same verdict:
- fast: one forward pass over the prompt, verdict options scored from logits (judgedesk's default);
- generate (constrained): greedy generation of the whole PandaLM output under its grammar (`--generate`);
- generate (published): greedy generation without a grammar, up to 512 new tokens, PandaLM's published budget.
Prints pairs per minute for each and the ratios against the published-budget baseline measured in the same run,
and how often the fast winner equals the constrained greedy winner.

Usage: python bench/verdict_speed.py [--pairs 50] [--data tests/data/pandalm-testset-v1.json] [--threads N]
       [--gpu-layers N]   (-1 offloads every layer, with a CUDA build of llama-cpp-python)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from judgedesk.core import DecodingSettings, EvalItem, Judge, create_backend, demo_judge_path

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pandalm-testset-v1.json"


def load_pairs(path: Path, count: int) -> list[EvalItem]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    # A few test-set responses are empty (or not text); judgedesk refuses to judge those, as the importer does.
    usable = [r for r in rows if all(isinstance(r[k], str) and r[k].strip() for k in ("response1", "response2"))]
    usable = usable[:count]
    return [EvalItem(id=str(r["idx"]), instruction=r["instruction"], input=r["input"],
                     responses=(r["response1"], r["response2"])) for r in usable]


def timed(judge: Judge, items: list[EvalItem]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    decisions = []
    for item in items:
        result = judge.judge_both_orders(item)
        decisions.append(f"{result.ab.winner}/{result.ba.winner if result.ba else '-'}")
    return time.perf_counter() - start, decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--gpu-layers", type=int, default=0, help="layers to offload to a GPU (-1: all)")
    args = parser.parse_args()
    items = load_pairs(args.data, args.pairs)
    backend = create_backend("llama.cpp", path=demo_judge_path(), n_ctx=4096, n_threads=args.threads,
                             n_gpu_layers=args.gpu_layers)
    settings = backend.settings()
    print(f"judge: {backend.info.name} ({backend.info.file_type}), {settings}")
    print(f"{len(items)} pairs from {args.data.name}, both orders, format pandalm\n")
    runs = {
        "fast (logits)": DecodingSettings(fast=True),
        "generate, constrained": DecodingSettings(fast=False, max_tokens=512),
        "generate, published (no grammar, 512)": DecodingSettings(fast=False, constrained=False, max_tokens=512),
    }
    results: dict[str, tuple[float, list[str]]] = {}
    for name, decoding in runs.items():
        # Judges share the loaded model; the backend is closed once, below.
        results[name] = timed(Judge(backend, format="pandalm", decoding=decoding), items)
        seconds = results[name][0]
        print(f"{name:40s} {seconds:8.1f} s  {len(items) / seconds * 60:8.1f} pairs/min")
    backend.close()
    baseline = results["generate, published (no grammar, 512)"][0]
    constrained = results["generate, constrained"][0]
    fast_time, fast_decisions = results["fast (logits)"]
    print(f"\nspeed-up of fast verdicts vs published-budget generation: {baseline / fast_time:.1f}x")
    print(f"speed-up of fast verdicts vs constrained generation:      {constrained / fast_time:.1f}x")
    same = sum(a == b for a, b in zip(fast_decisions, results["generate, constrained"][1], strict=True))
    print(f"fast winner == constrained greedy winner, both orders: {same}/{len(items)} pairs")


if __name__ == "__main__":
    main()
