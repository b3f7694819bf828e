"""What portability costs: fast verdicts with the portable llama.cpp (the bundle's) against this machine's native build.

The fast-verdict workload of bench/verdict_speed.py (PandaLM's test set, PandaLM format, both orders, the demo
judge) runs in child processes, one per build, alternating native / portable for several rounds so that a noisy
neighbour slows both alike; each child loads the judge, warms up on one pair, then times the rest. Prints pairs per
minute for each round and build, the portable/native ratio of the medians, which CPU variant the portable build
loaded, and whether both builds gave the same winners.

The portable build is the one `make bundle` ships, installed by
`python scripts/build_llama.py install --portable --target build/llama-portable` (this script runs that; cached).

Usage: python bench/portable_speed.py [--pairs 30] [--rounds 3] [--threads N] [--data FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTABLE = ROOT / "build" / "llama-portable"
DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pandalm-testset-v1.json"


def worker(pairs: int, threads: int | None, data: Path) -> None:
    """One build's run (the build is whichever llama_cpp this process imports); prints one JSON line."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from judgedesk.core import DecodingSettings, Judge, create_backend, demo_judge_path, system_info
    from verdict_speed import load_pairs, timed

    items = load_pairs(data, pairs + 1)
    backend = create_backend("llama.cpp", path=demo_judge_path(), n_ctx=4096, n_threads=threads)
    judge = Judge(backend, format="pandalm", decoding=DecodingSettings(fast=True))
    timed(judge, items[:1])  # warm-up: first-touch page faults, thread pool start
    seconds, decisions = timed(judge, items[1:])
    backend.close()
    cpu_line = next((line for line in system_info().splitlines() if "CPU :" in line), "")
    print(json.dumps({"seconds": seconds, "decisions": decisions, "cpu": cpu_line.strip()}))


def run_child(build: str, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    if build == "portable":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PORTABLE), env.get("PYTHONPATH")]))
    command = [sys.executable, __file__, "--worker", "--pairs", str(args.pairs), "--data", str(args.data)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {build} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.pairs, args.threads, args.data)
        return
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_llama.py"), "install", "--portable", "--target",
                    str(PORTABLE)], check=True)
    rates: dict[str, list[float]] = {"native": [], "portable": []}
    results: dict[str, dict] = {}
    print(f"{args.pairs} pairs, both orders, PandaLM format, fast verdicts, demo judge; {args.rounds} rounds\n")
    started = time.monotonic()
    for round_number in range(1, args.rounds + 1):
        for build in ("native", "portable"):
            results[build] = run_child(build, args)
            rates[build].append(args.pairs / results[build]["seconds"] * 60)
            print(f"round {round_number}  {build:8s} {rates[build][-1]:8.1f} pairs/min   {results[build]['cpu']}",
                  flush=True)
    native, portable = statistics.median(rates["native"]), statistics.median(rates["portable"])
    print(f"\nmedian pairs/min: native {native:.1f}, portable {portable:.1f}")
    print(f"portable / native: {portable / native:.3f}  (cost of portability: {(1 - portable / native) * 100:+.1f}%)")
    same = sum(a == b for a, b in zip(results["native"]["decisions"], results["portable"]["decisions"], strict=True))
    print(f"same winners, both orders: {same}/{args.pairs} pairs   ({time.monotonic() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
