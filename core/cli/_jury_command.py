"""`judgedesk jury` (runs of one folder combined into a jury run) and `judgedesk batch --judge A --judge B ...`
(each judge its own resumable run, one after another, then their jury)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._errors import InputError, ServerUnavailableError
from ..datasets import Dataset
from ..reports import jury_figures, load_peer_results, load_results, write_reports
from ..runs import JURY_METHODS, BatchOptions, JuryResult, RunInterrupted, TerminalProgress, build_jury, run_batch
from ._batch_commands import headline
from ._commands import judge_from_args

__all__ = ["add_jury_parser", "jury_lines", "run_jury", "run_jury_batch"]


def add_jury_parser(commands: argparse._SubParsersAction, batch: argparse.ArgumentParser) -> None:
    """The `jury` command, and `batch`'s --jury option (its --judge is repeatable)."""
    batch.add_argument("--jury", choices=JURY_METHODS,
                       help="with --judge given several times: how their jury decides (default: majority)")
    jury = commands.add_parser(
        "jury", help="combine several judges' runs of the same items into a jury run",
        description="Combine runs already in DIR (batch runs by different judges or formats, imported judgements) "
                    "into a jury run stored beside them: its tasks are the runs' common tasks (matched by content), "
                    "its verdict per task and order is the majority of the members' winners (a tie when the most "
                    "votes are shared) or, with --method average, the argmax of their mean option probabilities. "
                    "A member whose verdict did not parse abstains; when all abstain the jury's verdict is unparsed. "
                    "Running it again refreshes the jury from what the members hold now. Writes the jury's reports "
                    "and prints Fleiss' kappa and each member's agreement with the jury (and with humans).")
    jury.add_argument("folder", type=Path, metavar="DIR")
    jury.add_argument("--runs", nargs="+", required=True, metavar="KEY",
                      help="two or more run keys (unique prefixes; `judgedesk report DIR --list` shows them)")
    jury.add_argument("--method", choices=JURY_METHODS, default="majority", help="how the jury decides (majority)")
    jury.add_argument("--name", help="the jury's label (default: 'jury (METHOD) of ...' with the members' labels)")
    jury.add_argument("--inconsistent-as-tie", action="store_true",
                      help="count contradicting orders as ties (PandaLM's protocol) in the figures")


def run_jury(args: argparse.Namespace) -> int:
    result = build_jury(args.folder, args.runs, method=args.method, name=args.name)
    return _report(args.folder, result, inconsistent_as_tie=args.inconsistent_as_tie)


def run_jury_batch(args: argparse.Namespace, dataset: Dataset, options: BatchOptions) -> int:
    """Judge `dataset` with each --judge in turn, each into its own run of --out (the judge closed before the next
    loads, so one model is in memory at a time), then build their jury. Stopped, it resumes: every member continues
    where it stopped and the jury is rebuilt."""
    judges: list[str | None] = list(args.judge or [None])
    if len(judges) < 2:
        raise InputError("a jury needs at least two judges: give --judge once per judge", field="judge")
    if options.mode != "pairwise":
        raise InputError("a jury combines pairwise verdicts: leave out --mode single", field="jury")
    keys = []
    for number, name in enumerate(judges, 1):
        print(f"judge {number} of {len(judges)}: {name or 'demo'}", file=sys.stderr)
        member = argparse.Namespace(**{**vars(args), "judge": name})
        bar = TerminalProgress(unit="pairs")
        with judge_from_args(member, fast=not args.generate) as judge:
            try:
                result = run_batch(args.out, dataset, judge, options, progress=bar)
            except RunInterrupted as stop:
                bar.close()
                print(f"judgedesk: {stop} (judge {number} of {len(judges)}; the jury is built when all are done)",
                      file=sys.stderr)
                return 130
            except ServerUnavailableError:
                bar.close()
                raise
        if result.already_done:
            print(f"resumed: {result.already_done} judgement(s) were already in {args.out}", file=sys.stderr)
        if result.run_key in keys:
            raise InputError(f"judge {number} ({name or 'demo'}) is the same judge, format and settings as an "
                             f"earlier one (run {result.run_key[:12]}): a jury needs different judges",
                             field="judge")
        keys.append(result.run_key)
    jury = build_jury(args.out, keys, method=args.jury or "majority")
    return _report(args.out, jury, inconsistent_as_tie=args.inconsistent_as_tie)


def _report(folder: Path, result: JuryResult, *, inconsistent_as_tie: bool) -> int:
    print(f"jury run {result.run_key[:16]} ({result.method}) of {len(result.members)} runs: {result.tasks} common "
          f"task(s), {result.verdicts} verdict(s)"
          + (f", {result.abstained} where every member abstained (unparsed)" if result.abstained else "")
          + (f", {result.pending} still pending in a member (run the jury again when it is done)"
             if result.pending else ""), file=sys.stderr)
    files, summary = write_reports(folder, run_key=result.run_key, inconsistent_as_tie=inconsistent_as_tie)
    results = load_results(folder, result.run_key)
    figures = jury_figures(results, load_peer_results(results), inconsistent_as_tie=inconsistent_as_tie)
    print(headline(summary))
    print("\n".join(jury_lines(figures)))
    print(f"report: {files.report}")
    return 0


def jury_lines(figures: dict[str, Any]) -> list[str]:
    """A jury's figures (`jury_figures`), one line each, for the terminal."""
    if not figures:
        return []
    fleiss = figures.get("fleiss") or {}
    kappa = fleiss.get("kappa")
    lines = [f"  Fleiss' kappa between the {len(figures['members'])} judges: "
             f"{'–' if kappa is None else f'{kappa:.3f}'} over {fleiss.get('n_items', 0)} item(s)"
             + (f" ({fleiss['left_out']} left out: a judge's decision unparsed or pending)"
                if fleiss.get("left_out") else "")]
    for member in figures["members"]:
        parts = []
        for title, entry in (("with the jury", member["agreement_with_jury"]),
                             ("with humans", member["agreement_with_humans"])):
            if entry and entry["n"]:
                kappa = "–" if entry["kappa"] is None else f"{entry['kappa']:.3f}"
                parts.append(f"{title} {entry['accuracy']:.1%} (kappa {kappa}, n = {entry['n']})")
        lines.append(f"  {member['name']}: " + ("; ".join(parts) or "nothing to compare yet"))
    humans = figures.get("jury_agreement_with_humans")
    if humans and humans["n"]:
        kappa = "–" if humans["kappa"] is None else f"{humans['kappa']:.3f}"
        lines.append(f"  the jury with humans: {humans['accuracy']:.1%} (kappa {kappa}, n = {humans['n']})")
    return lines
