"""Pairs per minute in-process versus through local inference servers, in one run.

Pairs from PandaLM's human-labelled test set, both orders, PandaLM format, fast verdicts, on the demo judge, each
configuration as a full `run_batch` into its own run folder:
1. in-process: the llama.cpp backend in this process (the baseline);
2. llama-cpp-python's `python -m llama_cpp.server` on 127.0.0.1 serving the same file (started here, with the same
   thread count), judged through the server backend with 1, 2 and 4 requests in flight;
3. llama.cpp's C++ `llama-server` (scripts/build_llama.py server: the same pinned llama.cpp) started with 1, 2 and
   4 slots (--parallel N, 2048 tokens of context per slot, the same thread count), N requests in flight.
Prints pairs per minute, the ratio to the in-process baseline, and whether every winner matches the baseline's.

What to expect on a CPU-only machine: llama-cpp-python's server runs one request at a time (an async lock), and it
returns logprobs only with --logits_all true, which computes the output layer for every prompt position. So it is
slower than in-process and gains nothing from more requests in flight; the client's concurrency pays off against a
server that batches requests (llama.cpp's llama-server --parallel N, vLLM), on a GPU node. With more than one in
flight against a one-slot server, the orders of different pairs interleave, so the server's prompt cache (the two
orders of a pair share their instruction) is reused less, and throughput drops further.

llama-server's slots are decoded together, one batch per step, so on a GPU (or many cores) N slots judge up to
N orders for little more than the price of one. On a CPU with 2 cores there is no idle compute for them to use:
the threads are busy with one sequence already, so more slots cannot add throughput, and they do not. Measured on
2 cores without a GPU, shared with other jobs (`--pairs 16 --in-flight`, i.e. llama-server only; see the README):

    16 pairs, both orders, pandalm fast verdicts, demo judge, 2 threads, n_ctx 2048
    configuration                         seconds  pairs/min  vs in-process  winners
    in-process (llama.cpp backend)           17.4       55.2          1.00x  same
    llama-server, 1 slot                     32.3       29.7          0.54x  same
    llama-server, 2 slots                    34.2       28.1          0.51x  same
    llama-server, 4 slots                    33.7       28.5          0.52x  same

llama-server is slower than in-process here also because judgedesk asks it to evaluate every prompt whole
(`cache_prompt: false`, for exact verdicts), while the in-process backend reuses the prefix the two orders share.

Usage: python bench/server_throughput.py [--pairs 16] [--threads 2] [--in-flight 1 2 4] [--slots 1 2 4]
                                         [--data tests/data/pandalm-testset-v1.json]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/local_server.py starts and stops the local server

from judgedesk.core import ServerOptions, demo_judge_path, load_judge  # noqa: E402
from judgedesk.core.datasets import load_dataset  # noqa: E402
from judgedesk.core.runs import run_batch  # noqa: E402

from tests.local_server import LlamaServer, LocalServer  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pandalm-testset-v1.json"
N_CTX = 2048


def _winners(folder: Path) -> dict[tuple[str, str], str | None]:
    with sqlite3.connect(folder / "run.sqlite") as db:
        rows = db.execute("SELECT content, side, record FROM verdicts")
        return {(content, side): json.loads(record).get("winner") for content, side, record in rows}


def _timed_run(folder: Path, data: Path, **load: object) -> tuple[float, int]:
    with load_judge(str(demo_judge_path()), format="pandalm", n_ctx=N_CTX, **load) as judge:  # type: ignore[arg-type]
        start = time.perf_counter()
        result = run_batch(folder, load_dataset(data), judge)
        seconds = time.perf_counter() - start
    assert result.errors == 0 and result.unparsed == 0, result
    return seconds, result.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--in-flight", type=int, nargs="*", default=[1, 2, 4],
                        help="requests in flight against llama-cpp-python's server (none: leave it out)")
    parser.add_argument("--slots", type=int, nargs="*", default=[1, 2, 4],
                        help="llama-server's --parallel, as many requests in flight (none: leave it out)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = json.loads(args.data.read_text(encoding="utf-8"))[:args.pairs]
        data = Path(tmp) / "slice.json"
        data.write_text(json.dumps(rows), encoding="utf-8")

        baseline_s, pairs = _timed_run(Path(tmp) / "in-process", data, n_threads=args.threads)
        baseline = _winners(Path(tmp) / "in-process")
        table = [("in-process (llama.cpp backend)", baseline_s, True)]
        if args.in_flight:
            with LocalServer(demo_judge_path(), n_ctx=N_CTX, threads=args.threads,
                             log=Path(tmp) / "server.log") as server:
                for in_flight in args.in_flight:
                    folder = Path(tmp) / f"server-{in_flight}"
                    seconds, _ = _timed_run(folder, data,
                                            server=ServerOptions(url=server.url, max_in_flight=in_flight))
                    table.append((f"llama_cpp.server, {in_flight} in flight", seconds, _winners(folder) == baseline))
        for slots in args.slots:
            folder = Path(tmp) / f"llama-server-{slots}"
            with LlamaServer(demo_judge_path(), parallel=slots, n_ctx_per_slot=N_CTX, threads=args.threads,
                             log=Path(tmp) / f"llama-server-{slots}.log") as server:
                seconds, _ = _timed_run(folder, data, server=ServerOptions(url=server.url, max_in_flight=slots))
            table.append((f"llama-server, {slots} slot{'s' if slots > 1 else ''}", seconds,
                          _winners(folder) == baseline))

    print(f"{pairs} pairs, both orders, pandalm fast verdicts, demo judge, {args.threads} threads, n_ctx {N_CTX}")
    print(f"{'configuration':36} {'seconds':>8} {'pairs/min':>10} {'vs in-process':>14}  winners")
    for name, seconds, same in table:
        print(f"{name:36} {seconds:8.1f} {pairs / seconds * 60:10.1f} {baseline_s / seconds:13.2f}x  "
              f"{'same' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
