"""Calibrated (prediction-powered) win rates against labels-only and judge-only, simulated on PandaLM's test set.

PandaLM's human-labelled test set gives three annotators per pair; the majority label is taken as the truth for
every item (items with a three-way split are left out), so the "all-items human win rate" of response1 over
response2 is known exactly. Each draw labels a uniform random n of the items, as an analyst would, and the three
estimators of `judgedesk.core.stats.calibrated_win_rate` give their 95% intervals:
- judge-only: the judge's mean score over all items (CLT), blind to its bias;
- labels-only: the mean of the n labels (CLT with the finite-population correction);
- calibrated: PPI++, the n labels plus the judge's scores on every item.
For each the table prints how often the interval covers the all-items human win rate and its mean width; the
calibrated row also gives the mean power-tuning λ and the mean effective sample size gain (labels-only variance /
calibrated variance).

Judges: synthetic ones of chosen accuracy and bias (an error goes to one of the two other labels, or, for a biased
judge, to "A" when it can), and the embedded demo judge's real verdicts on the first `--items` usable pairs (fast
mode, pandalm format, both orders), scored two ways: by decision (an inconsistent pair 1/2) and by the mean over
orders of P(A) + P(tie)/2 from the option probabilities; an unparsed pair is left out. The demo judge's verdicts
and probabilities are cached in build/calibration-verdicts-<judge sha256>.json, so a rerun judges nothing.

Usage: python bench/calibration.py [--draws 1000] [--items 300] [--seed 0] [--threads N] [--no-real]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
from judgedesk.core import DecodingSettings, EvalItem, decide, demo_judge_path, load_judge
from judgedesk.core.stats import calibrated_win_rate, judge_score

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "tests" / "data" / "pandalm-testset-v1.json"
CACHE_DIR = ROOT / "build"
# PandaLM's annotator codes, as core/datasets reads them: 0 tie, 1 response1, 2 response2.
CODE_SCORE = {0: 0.5, 1: 1.0, 2: 0.0}
SCORES = np.array([1.0, 0.0, 0.5])  # label index 0 A, 1 B, 2 tie


def human_truth(path: Path) -> list[tuple[dict, float]]:
    """Every pair with a majority label among its annotators, and that label as response1's score."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    labelled = []
    for row in rows:
        votes = [row[key] for key in sorted(k for k in row if k.startswith("annotator"))]
        code, count = Counter(votes).most_common(1)[0]
        if 2 * count > len(votes) and code in CODE_SCORE:
            labelled.append((row, CODE_SCORE[code]))
    return labelled


def synthetic_judge(truth: np.ndarray, accuracy: float, bias_to_a: float, rng: np.random.Generator) -> np.ndarray:
    """Scores of a judge right with probability `accuracy`; of its errors, a share `bias_to_a` says A (when A is
    wrong), the rest pick one of the two wrong labels at random."""
    index = np.select([truth == 1.0, truth == 0.0], [0, 1], 2)
    wrong = rng.random(len(truth)) >= accuracy
    other = (index + rng.integers(1, 3, size=len(truth))) % 3
    to_a = (rng.random(len(truth)) < bias_to_a) & (index != 0)
    said = np.where(wrong, np.where(to_a, 0, other), index)
    return SCORES[said]


def demo_verdicts(labelled: list[tuple[dict, float]], count: int, threads: int | None) -> dict[str, dict]:
    """The demo judge's decision and each order's option probabilities per item id, on the first `count` usable
    pairs; from the cache when it has them."""
    usable = [row for row, _ in labelled
              if all(isinstance(row[k], str) and row[k].strip() for k in ("response1", "response2"))][:count]
    judge = load_judge(demo_judge_path(), format="pandalm", decoding=DecodingSettings(fast=True), n_threads=threads)
    try:
        cache_path = CACHE_DIR / f"calibration-verdicts-{judge.backend.info.sha256}.json"
        cache: dict[str, dict] = (json.loads(cache_path.read_text(encoding="utf-8")) if cache_path.is_file() else {})
        todo = [row for row in usable if str(row["idx"]) not in cache]
        start = time.perf_counter()
        for done, row in enumerate(todo, 1):
            item = EvalItem(id=str(row["idx"]), instruction=row["instruction"], input=row["input"],
                            responses=(row["response1"], row["response2"]))
            result = judge.judge_both_orders(item)
            orders = [result.ab, result.ba] if result.ba is not None else [result.ab]
            cache[item.id] = {"decision": decide(result.ab, result.ba),
                              "probabilities": [None if v.probabilities is None else dict(v.probabilities)
                                                for v in orders]}
            if done % 25 == 0 or done == len(todo):
                CACHE_DIR.mkdir(exist_ok=True)
                cache_path.write_text(json.dumps(cache, indent=0, sort_keys=True), encoding="utf-8")
                print(f"  judged {done}/{len(todo)} pairs ({time.perf_counter() - start:.0f} s)", flush=True)
    finally:
        judge.close()
    return {str(row["idx"]): cache[str(row["idx"])] for row in usable}


def simulate(predictions: np.ndarray, truth: np.ndarray, n: int, draws: int, seed: int) -> dict[str, list[float]]:
    """Per estimator: coverage, mean width, and (calibrated) mean λ and mean gain over `draws` labelled samples."""
    rng = np.random.default_rng(seed)
    target = float(truth.mean())
    hits: dict[str, list[float]] = {"judge-only": [], "labels-only": [], "calibrated": []}
    widths: dict[str, list[float]] = {name: [] for name in hits}
    lams, gains = [], []
    for _ in range(draws):
        labels: list[float | None] = [None] * len(truth)
        for index in rng.choice(len(truth), size=n, replace=False):
            labels[index] = float(truth[index])
        result = calibrated_win_rate(predictions.tolist(), labels)
        for name, estimate in (("judge-only", result.judge_only), ("labels-only", result.labels_only),
                               ("calibrated", result.calibrated)):
            if estimate.ci_low is None or estimate.ci_high is None:
                continue
            hits[name].append(estimate.ci_low <= target <= estimate.ci_high)
            widths[name].append(estimate.ci_high - estimate.ci_low)
        lams.append(result.calibrated.lam)
        if result.calibrated.sample_size_gain is not None:
            gains.append(result.calibrated.sample_size_gain)
    out = {name: [float(np.mean(hits[name])) if hits[name] else float("nan"),
                  float(np.mean(widths[name])) if widths[name] else float("nan"), float(len(hits[name]))]
           for name in hits}
    out["calibrated"] += [float(np.mean(lams)), float(np.mean(gains)) if gains else float("nan")]
    return out


def print_table(title: str, predictions: np.ndarray, truth: np.ndarray, draws: int, seed: int) -> None:
    agree = float(np.mean(np.abs(predictions - truth) < 0.25))  # the judge's score rounds to the human's label
    # A judge that scores every item alike (the demo judge: every pair inconsistent) has no correlation at all.
    correlation = float(np.corrcoef(predictions, truth)[0, 1]) if np.std(predictions) > 0 else float("nan")
    print(f"\n{title}: N = {len(truth)}, human win rate {truth.mean():.3f}, judge's {predictions.mean():.3f}, "
          f"agreement with humans {agree:.1%}, correlation {correlation:.2f}")
    print(f"  {'n':>4s}  {'estimator':12s} {'coverage':>9s} {'mean width':>11s} {'width / labels-only':>20s}"
          f"  {'mean λ':>7s} {'gain':>6s}")
    for n in (50, 100):
        rows = simulate(predictions, truth, n, draws, seed)
        base = rows["labels-only"][1]
        for name, values in rows.items():
            extra = f"  {values[3]:7.2f} {values[4]:6.2f}" if name == "calibrated" else ""
            if not values[2]:
                print(f"  {n:4d}  {name:12s} {'no interval in any draw (the scores do not vary)':>41s}{extra}")
                continue
            note = "" if values[2] == draws else f"  ({int(values[2])} of {draws} draws had an interval)"
            print(f"  {n:4d}  {name:12s} {values[0]:9.1%} {values[1]:11.3f} {values[1] / base:20.2f}{extra}{note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--items", type=int, default=300, help="pairs the demo judge judges (cached)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-real", action="store_true", help="skip the demo judge's real verdicts")
    args = parser.parse_args()
    labelled = human_truth(args.data)
    truth = np.array([score for _, score in labelled])
    print(f"{args.data.name}: {len(truth)} pairs with a majority label; {args.draws} draws per row, seed {args.seed}")
    rng = np.random.default_rng(args.seed)
    for name, accuracy, bias in (("synthetic judge, 80% accurate", 0.8, 0.0),
                                 ("synthetic judge, 60% accurate", 0.6, 0.0),
                                 ("synthetic judge, 70% accurate, errors biased to A", 0.7, 0.8),
                                 ("synthetic judge, 34% accurate (chance)", 1 / 3, 0.0)):
        print_table(name, synthetic_judge(truth, accuracy, bias, rng), truth, args.draws, args.seed)
    if args.no_real:
        return
    verdicts = demo_verdicts(labelled, args.items, args.threads)
    by_id = {str(row["idx"]): score for row, score in labelled}
    counts = Counter(verdict["decision"] for verdict in verdicts.values())
    print(f"\ndemo judge ({demo_judge_path().name}), fast, pandalm, both orders, {len(verdicts)} pairs: "
          f"{dict(sorted(counts.items()))}; unparsed pairs left out")
    for title, soft in (("demo judge, real verdicts (decision: A 1, B 0, tie or inconsistent 1/2)", False),
                        ("demo judge, real verdicts (mean over orders of P(A) + P(tie)/2)", True)):
        kept = [(judge_score(verdict["decision"], probabilities=verdict["probabilities"] if soft else None),
                 by_id[item]) for item, verdict in verdicts.items()]
        scored = [(f, y) for f, y in kept if f is not None]
        print_table(title, np.array([f for f, _ in scored]), np.array([y for _, y in scored]), args.draws,
                    args.seed)

if __name__ == "__main__":
    main()
