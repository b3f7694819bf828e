"""The cost of the batch path (import, run store, progress, statistics, reports) over the bare engine, in one run.

Pairs from PandaLM's human-labelled test set, both orders, PandaLM format, fast verdicts, on the demo judge:
1. bare engine: `judge.judge_both_orders(item)` in a loop over the same items;
2. batch path: `load_dataset` + `run_batch` (SQLite commit per order, progress callback) + `write_reports`
   (statistics with 1000-round bootstraps, HTML, CSV, JSON).
Both share one loaded model. Prints pairs per minute for each and the overhead of the batch path (goal: < 5%).

Usage: python bench/batch_throughput.py [--pairs 200] [--data tests/data/pandalm-testset-v1.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from judgedesk.core import Judge, create_backend, demo_judge_path
from judgedesk.core.datasets import load_dataset
from judgedesk.core.reports import write_reports
from judgedesk.core.runs import run_batch

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pandalm-testset-v1.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # The same rows for both paths: the first N of the test set, written as their own file.
        rows = json.loads(args.data.read_text(encoding="utf-8"))[:args.pairs]
        data = Path(tmp) / "slice.json"
        data.write_text(json.dumps(rows), encoding="utf-8")
        backend = create_backend("llama.cpp", path=demo_judge_path(), n_ctx=4096)
        judge = Judge(backend, format="pandalm")
        print(f"judge: {backend.info.name} ({backend.info.file_type}), {dict(backend.settings())}")

        start = time.perf_counter()
        dataset = load_dataset(data)
        items = [pair.item for pair in dataset.pairs]
        load_seconds = time.perf_counter() - start
        start = time.perf_counter()
        for item in items:
            judge.judge_both_orders(item)
        bare = time.perf_counter() - start

        start = time.perf_counter()
        dataset = load_dataset(data)
        result = run_batch(Path(tmp) / "run", dataset, judge, progress=lambda event: None)
        judged = time.perf_counter()
        write_reports(Path(tmp) / "run")
        batch = time.perf_counter() - start
        reports = time.perf_counter() - judged
        backend.close()

    n = len(items)
    print(f"{n} pairs ({result.judged_now} judgements), both orders, format pandalm, fast verdicts\n")
    print(f"bare engine          {bare:8.1f} s  {n / bare * 60:7.1f} pairs/min  (+{load_seconds:.2f} s to import)")
    print(f"batch path           {batch:8.1f} s  {n / batch * 60:7.1f} pairs/min  (of which reports {reports:.1f} s)")
    print(f"\nbatch overhead over the bare engine: {(batch / bare - 1) * 100:+.1f}% (goal: under 5%)")


if __name__ == "__main__":
    main()
