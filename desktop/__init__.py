"""The judgedesk desktop app (PySide6): compare, batch folders, results with charts, the judge library, settings.

Built on the public API of judgedesk.core and judgedesk.quantize; Qt is imported only here, never by them.
`judgedesk-desktop` (or `python -m judgedesk.desktop`) starts it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="judgedesk-desktop", description="judgedesk: the offline LLM judge app.")
    parser.add_argument("--data", metavar="PATH", help="a data file or folder to open in the Batch view")
    parser.add_argument("--judge", metavar="NAME", help="the judge to load at start (a library name or a .gguf "
                        "path; default: the Settings view's default judge, at first the demo judge)")
    parser.add_argument("--view", choices=["compare", "batch", "results", "judges", "settings"],
                        help="the view to show first")
    parser.add_argument("--selftest", action="store_true",
                        help="headless check: load the demo judge (or --judge), judge one pair in both orders, exit 0 "
                        "(used by the bundle test)")
    # The frozen app runs its own executable as the K-quant worker process (a bundle has no python -m).
    parser.add_argument("--judgedesk-quantize-worker", action="store_true", help=argparse.SUPPRESS)
    # ... and as the child that loads a judge file it has not loaded before (judgedesk.core.run_load_probe).
    parser.add_argument("--judgedesk-load-probe", metavar="FILE", help=argparse.SUPPRESS)
    return parser


def _has_display() -> bool:
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    """Start the app; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.judgedesk_quantize_worker:
        from ._frozen import run_quantize_worker

        return run_quantize_worker()
    if args.judgedesk_load_probe:
        from judgedesk.core import run_load_probe

        return run_load_probe(args.judgedesk_load_probe)
    if args.selftest:
        from ._selftest import run_selftest

        return run_selftest(judge=args.judge)
    if not _has_display():
        print("judgedesk-desktop: no display (DISPLAY and WAYLAND_DISPLAY are unset). Run it in a desktop session, "
              "or use the command line: `judgedesk --help`.", file=sys.stderr)
        return 2
    from ._app import run_app

    status = run_app(data=args.data, judge=args.judge, view=args.view)
    # The window is closed, its work cancelled, the model freed and every file written. Skipping the interpreter's
    # final cleanup avoids a PySide6 6.12 abort while it tears down Qt wrappers ("none_dealloc"), which would
    # turn a clean exit into a crash report.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
