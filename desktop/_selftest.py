"""`judgedesk-desktop --selftest`: prove, headless, that an installed or bundled app can do its job.

It checks what a PyInstaller bundle is most likely to lose: Qt's platform plugin, the demo data, the embedded
demo judge and llama.cpp's shared libraries. It then judges one pair in both orders and prints a short report
that ends in `selftest passed`; any failure prints the reason and the exit code is 1. No window is created, so
it runs on a machine without a display (the offscreen platform unless QT_QPA_PLATFORM says otherwise).

`--selftest --judge NAME` judges the pair with that judge (a library name or a .gguf path) instead of the demo
judge: whether this installation loads and runs a user's own judge file. The demo judge's file is still checked.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import TYPE_CHECKING, TextIO

from ._synthetic_mark import SYNTHETIC_MARK

if TYPE_CHECKING:
    from judgedesk.core import PairwiseVerdict

__all__ = ["SELFTEST_ITEM", "run_selftest"]

_PREFIX = 12


SELFTEST_ITEM = ("What is the capital of France? Answer in one sentence.", "The capital of France is Paris.",
                 "The capital of France is Lyon, which is also its largest city.")
"""The pair the selftest judges: instruction, response A, response B."""


def run_selftest(out: TextIO | None = None, judge: str | None = None) -> int:
    """Run the selftest, printing the report to `out` (stdout); 0 when everything worked, else 1.

    judge: the judge that judges the pair (a library name or a .gguf path); None for the demo judge."""
    out = out or sys.stdout
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        _check(out, judge)
    except Exception as exc:  # the report is the product: any failure is printed, never raised
        from judgedesk.core import UnsupportedCpuError

        print(f"selftest FAILED: {type(exc).__name__}: {exc}", file=out)
        if not isinstance(exc, UnsupportedCpuError):  # that one is about the machine: a stack would only distract
            traceback.print_exc(file=sys.stderr)
        return 1
    print("selftest passed", file=out)
    out.flush()
    return 0


def _check(out: TextIO, judge_name: str | None) -> None:
    # Imported here, not at the top: a bundle that lost a library must still print why.
    import judgedesk.core as core
    import PySide6
    from PySide6.QtCore import qVersion
    from PySide6.QtWidgets import QApplication

    def line(text: str) -> None:
        print(text, file=out)
        out.flush()

    line(f"judgedesk {core.__version__} selftest ({'bundle' if getattr(sys, 'frozen', False) else 'source'})")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "judgedesk"])
    platform = app.platformName()  # type: ignore[attr-defined]
    if not platform:
        raise RuntimeError("no Qt platform plugin was loaded")
    line(f"Qt: {qVersion()} (PySide6 {PySide6.__version__}), platform plugin: {platform}")
    if not core.guard_installed():
        raise RuntimeError("the offline guard is not installed")
    line("offline guard: installed (outbound network access is refused in this process)")
    line(f"demo data: {core.demo_data_path()}")
    cpu = core.running_cpu_features()
    line(f"cpu: {cpu.model} (read with {cpu.source}): {' '.join(cpu.names())}")
    core.load_llama_cpp()  # the build/CPU check: a one-line error here, where llama.cpp would die of SIGILL
    line(f"llama.cpp: {_cpu_line(core.system_info())}")
    demo = core.demo_judge_path()
    if not demo.is_file():
        raise RuntimeError(f"the demo judge is missing: {demo}")
    judge = core.load_judge(judge_name)
    try:
        info = judge.backend.info
        synthetic = f" {SYNTHETIC_MARK}" if info.synthetic else ""
        line(f"judge: {info.path}{synthetic} (sha256 {info.sha256[:_PREFIX]}), format {judge.format.name}")
        instruction, a, b = SELFTEST_ITEM
        result = judge.judge_both_orders(core.EvalItem(id="selftest", instruction=instruction, responses=(a, b)))
    finally:
        judge.close()
    if result.decision == "unparsed":
        raise RuntimeError(f"the judge's verdict could not be parsed: {result.ab.raw_output!r}")
    orders = ", ".join(f"{v.order}: {v.winner}{_probability(v)}" for v in (result.ab, result.ba) if v is not None)
    line(f"verdict: {result.decision} ({orders})")


def _probability(verdict: PairwiseVerdict) -> str:
    probs = verdict.probabilities
    if not probs or verdict.winner not in probs:
        return ""
    return f" p={probs[verdict.winner]:.2f}"


def _cpu_line(system_info: str) -> str:
    """The CPU part of llama.cpp's system info: the instruction sets of the CPU code that was loaded."""
    for part in system_info.split("CPU :")[1:2]:
        return "CPU :" + part.split("\n")[0].rstrip(" |")
    return system_info.splitlines()[0] if system_info else "(no system info)"
