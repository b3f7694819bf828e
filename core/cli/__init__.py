"""The `judgedesk` command line: compare, grade, prompt, parse, models, batch, report, import-verdicts, quantize,
doctor.

Errors are printed as one line naming the file, item or field, without a traceback, and exit non-zero.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .._errors import JudgedeskError
from .._interrupts import INTERRUPTED_EXIT_STATUS, interrupts_remembered, raise_if_interrupted
from ._arguments import build_parser
from ._batch_commands import run_batch_command, run_import_verdicts, run_report
from ._commands import run_compare, run_doctor, run_grade, run_models, run_parse
from ._jury_command import run_jury
from ._label_commands import run_label_plan
from ._prompt_command import run_prompt
from ._quantize_commands import run_quantize

__all__ = ["main"]

_COMMANDS = {
    "compare": run_compare, "grade": run_grade, "prompt": run_prompt, "parse": run_parse, "models": run_models,
    "batch": run_batch_command, "jury": run_jury, "report": run_report, "import-verdicts": run_import_verdicts,
    "quantize": run_quantize, "doctor": run_doctor, "label-plan": run_label_plan,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        with interrupts_remembered():
            status = _COMMANDS[args.command](args)
            raise_if_interrupted()  # pressed where native code swallowed it: the command still did not finish
            return status
    except JudgedeskError as exc:
        print(f"judgedesk: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("judgedesk: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT_STATUS
    except BrokenPipeError:  # `judgedesk ... | head` closed the pipe: not an error worth a traceback
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
