"""`judgedesk quantize ...`: the command-line face of judgedesk.quantize.

judgedesk.quantize is imported inside each command, so `judgedesk compare` never pays for it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TextIO

__all__ = ["run_quantize"]


class StepProgress:
    """progress(done, total, name) sink: one redrawn line on a terminal, a line every few seconds in a log."""

    def __init__(self, label: str, stream: TextIO | None = None, *, log_every: float = 5.0) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self._interactive = self.stream.isatty()
        self._log_every = log_every
        self._last = 0.0

    def __call__(self, done: int, total: int, name: str = "") -> None:
        text = f"{self.label}: {done}/{total} {name}".rstrip()
        if self._interactive:
            self.stream.write("\r\033[K" + text[:150] + ("\n" if done >= total else ""))
            self.stream.flush()
            return
        now = time.monotonic()
        if done >= total or now - self._last >= self._log_every:
            self._last = now
            print(text, file=self.stream, flush=True)


def run_quantize(args: argparse.Namespace) -> int:
    step = args.quantize_command
    return _STEPS[step](args)


def _convert(args: argparse.Namespace) -> int:
    from judgedesk.quantize import convert_to_gguf

    result = convert_to_gguf(args.folder, args.out, outtype=args.outtype, judge_format=args.format,
                             allow_pickle=args.allow_pickle, progress=StepProgress("converting"))
    print(f"wrote {result.path} ({_size(result.path)}, {args.outtype})")
    return 0


def _gguf(args: argparse.Namespace) -> int:
    from judgedesk.quantize import quantize_gguf

    out = quantize_gguf(args.source, args.out, qtype=args.qtype, imatrix=args.imatrix, threads=args.threads,
                        allow_requantize=args.allow_requantize, progress=StepProgress(f"quantizing to {args.qtype}"))
    print(f"wrote {out} ({_size(out)}, {args.qtype})")
    return 0


def _gptq(args: argparse.Namespace) -> int:
    from judgedesk.quantize import calibration_prompts, quantize_gptq

    calibration_format = args.format or "pandalm"
    prompts = calibration_prompts(calibration_format, count=args.calibration)
    # fmt only when given: quantize_gptq then records it in config.json, as it records a format the input recorded.
    out = quantize_gptq(args.folder, args.out, bits=args.bits, group_size=args.group_size, calibration=prompts,
                        fmt=args.format, progress=StepProgress("GPTQ"))
    print(f"wrote {out} (GPTQ {args.bits}-bit, group size {args.group_size}, {len(prompts)} calibration prompts "
          f"in the {calibration_format} format)")
    return 0


def _import_gptq(args: argparse.Namespace) -> int:
    from judgedesk.quantize import import_autogptq

    out = import_autogptq(args.folder, args.out)
    print(f"wrote {out}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from judgedesk.quantize import plan_memory

    plan = plan_memory(args.path, budget_gib=args.budget, n_ctx=args.ctx, cache_type=args.cache_type,
                       device="cpu" if args.cpu else "gpu", sequences=args.sequences)
    if args.json:
        print(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(plan.format_table())
    return 0


def _synthetic(args: argparse.Namespace) -> int:
    from judgedesk.quantize import write_synthetic_gguf

    result = write_synthetic_gguf(args.shape, args.out, qtype=args.qtype, context_length=args.context,
                                  seed=args.seed, progress=StepProgress(f"writing synthetic {args.shape}"))
    print(f"wrote {result.path} ({_size(result.path)}, {result.qtype}, {result.tensor_count} tensors, "
          f"context {result.context_length})")
    print(f"warning: {result.path.name} is a SYNTHETIC judge with random weights, for measuring speed and memory "
          "only; its verdicts mean nothing", file=sys.stderr)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from judgedesk.quantize import verify_fidelity

    report = verify_fidelity(args.reference, args.candidate, data=args.data, fmt=args.format, limit=args.limit,
                             both_orders=not args.one_order, n_ctx=args.ctx, n_threads=args.threads,
                             device=args.device, progress=StepProgress("judging"))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.format_text())
    return 0


def _size(path) -> str:
    size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return f"{size / 2**20:,.1f} MiB"


_STEPS = {"convert": _convert, "gguf": _gguf, "gptq": _gptq, "import-gptq": _import_gptq, "plan": _plan,
          "synthetic": _synthetic, "verify": _verify}
