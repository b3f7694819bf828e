"""`judgedesk label-plan`: draw, show, export and import the uniform random sample of tasks an analyst labels."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._errors import InputError
from ..runs import (
    LABEL_PLAN_NOTE,
    LabelledSample,
    LabelPlanExistsError,
    draw_label_plan,
    export_label_plan,
    import_labels,
    load_label_plan,
)

__all__ = ["add_label_plan_parser", "run_label_plan"]


def add_label_plan_parser(commands: argparse._SubParsersAction) -> None:
    """Register `label-plan` with the `judgedesk` parser."""
    plan = commands.add_parser(
        "label-plan", help="draw a uniform random sample of a run's tasks for an analyst to label, and track it",
        description="Calibrated figures need human labels on a uniform random sample of the run's tasks, not on "
                    "tasks someone picked. --n N draws N of the run's tasks with numpy's default_rng(SEED) from "
                    "the tasks in their stored order and stores the plan (seed, order, time) in DIR/run.sqlite, so "
                    "the draw can be reproduced and audited. Without --n it shows the plan: each task's position, "
                    "item, models and label. A plan is never replaced: --extend --n M draws M more, uniformly, "
                    "from the tasks not yet planned (the union is still a uniform sample, provided you decide to "
                    "extend without looking at the labels). Labels are stored as the analyst's overrides (note "
                    f"'{LABEL_PLAN_NOTE}'), so they show wherever overrides show: the Results view, verdicts.csv, "
                    "report.html and `judgedesk report --apply-overrides`. Label in the desktop app (Results, "
                    "'Label a sample…') or in a spreadsheet: --export FILE.csv, fill the label column, --import "
                    "FILE.csv.")
    plan.add_argument("folder", type=Path, metavar="DIR", help="a run folder")
    plan.add_argument("--run", metavar="KEY", help="a run key (prefix) when the folder holds several (default: latest)")
    plan.add_argument("--n", type=int, metavar="N", help="draw N tasks (with --extend: N more)")
    plan.add_argument("--seed", type=int, metavar="S", help="seed of the draw (default: a fresh random seed, printed "
                                                            "and stored)")
    plan.add_argument("--extend", action="store_true", help="add --n more tasks to an existing plan")
    files = plan.add_mutually_exclusive_group()
    files.add_argument("--export", type=Path, metavar="FILE.csv",
                       help="write the planned tasks (instruction, input, both responses, an empty label column) "
                            "for labelling outside the app")
    files.add_argument("--import", dest="import_file", type=Path, metavar="FILE.csv",
                       help="store the labels of an exported file: A, B or tie per row (a number for a grading "
                            "run), matched by item id and content; every bad row is reported with its line and "
                            "then nothing is stored; only planned tasks are accepted")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")


def run_label_plan(args: argparse.Namespace) -> int:
    if args.extend and args.n is None:
        raise InputError("--extend needs --n: how many more tasks to draw", field="n")
    if args.seed is not None and args.n is None:
        raise InputError("--seed is the seed of a draw: give --n too", field="seed")
    if args.n is not None:
        try:
            sample = draw_label_plan(args.folder, args.n, run_key=args.run, seed=args.seed, extend=args.extend)
        except LabelPlanExistsError:
            existing = load_label_plan(args.folder, args.run)
            if existing is not None and not args.json:
                print(_plan_text(existing))
            raise
        draw = sample.plan.draws[-1]
        print(f"drew {len(draw.contents)} of {draw.population} tasks with seed {draw.seed}"
              + (f" (plan now {sample.plan.n} tasks)" if len(sample.plan.draws) > 1 else ""), file=sys.stderr)
    else:
        found = load_label_plan(args.folder, args.run)
        if found is None:
            raise InputError("the run has no label plan yet: draw one with --n N", path=args.folder)
        sample = found
    if args.export is not None:
        path = export_label_plan(args.folder, args.export, run_key=sample.info.run_key)
        print(f"wrote {sample.plan.n} planned tasks to {path}; fill the label column (A, B or tie) and read it "
              f"back with --import", file=sys.stderr)
    if args.import_file is not None:
        result = import_labels(args.folder, args.import_file, run_key=sample.info.run_key)
        print(f"stored {result.stored} label(s) from {args.import_file}"
              + (f"; {result.blank} row(s) left blank" if result.blank else ""), file=sys.stderr)
        sample = result.sample
    print(json.dumps(sample.to_dict(), indent=2, ensure_ascii=False) if args.json else _plan_text(sample))
    return 0


def _plan_text(sample: LabelledSample) -> str:
    plan = sample.plan
    draws = ", ".join(f"{len(d.contents)} with seed {d.seed} on {d.created}" for d in plan.draws)
    lines = [f"label plan of run {sample.info.run_key[:16]} ({sample.info.label}): {plan.n} of {plan.population} "
             f"tasks, drawn {draws}",
             f"{'#':>4}  {'item':<24} {'models':<36} label"]
    for item in sample.items:
        task = item.task
        models = "(no longer in the run)" if task is None else (
            task.model_a if task.model_b is None else f"{task.model_a} vs {task.model_b}")
        label = "–" if item.label is None else (f"{item.label:g}" if isinstance(item.label, float) else item.label)
        lines.append(f"{item.position:>4}  {(task.item_id if task else item.content[:12]):<24} {models:<36} {label}")
    lines.append(f"{sample.labelled} of {plan.n} labelled")
    return "\n".join(lines)
