"""`judgedesk batch`, `report` and `import-verdicts`: folders of outputs in, run folders and reports out."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from .._errors import InputError, ServerUnavailableError
from ..datasets import Dataset, JudgementFile, load_dataset, raise_if_problems, read_judgement_file
from ..formats import get_format
from ..reports import estimate_text, write_reports
from ..runs import (
    BatchOptions,
    RunInterrupted,
    RunStore,
    TerminalProgress,
    import_judgements,
    prepare_folder,
    run_batch,
)
from ..stats import AlpacaEvalRow, alpaca_eval_csv
from ._commands import judge_from_args

__all__ = ["headline", "run_batch_command", "run_import_verdicts", "run_report"]


def _load(args: argparse.Namespace) -> Dataset:
    dataset = load_dataset(args.path, baseline=args.baseline, pairing="baseline" if args.baseline else "all",
                           limit=args.limit)
    print(dataset.summary(), file=sys.stderr)
    if args.strict:
        raise_if_problems(dataset)
    return dataset


def run_batch_command(args: argparse.Namespace) -> int:
    dataset = _load(args)
    if args.dry_run:
        return 0
    tasks = dataset.pairs if args.mode == "pairwise" else dataset.grades
    if not tasks:
        raise InputError(f"nothing to judge in {args.mode} mode", path=args.path)
    options = BatchOptions(mode=args.mode, both_orders=not args.one_order, retry_unparsed=args.retry_unparsed)
    prepare_folder(args.out)  # an unusable --out is an error now, not after the judge has loaded
    if len(args.judge or ()) > 1 or args.jury:  # --judge given once per member of a jury
        from ._jury_command import run_jury_batch  # imported here: that module imports this one
        return run_jury_batch(args, dataset, options)
    args.judge = (args.judge or [None])[0]
    bar = TerminalProgress(unit="pairs" if args.mode == "pairwise" else "responses")
    with judge_from_args(args, fast=not args.generate) as judge:
        try:
            result = run_batch(args.out, dataset, judge, options, progress=bar)
        except RunInterrupted as stop:
            bar.close()
            print(f"judgedesk: {stop}", file=sys.stderr)
            return 130
        except ServerUnavailableError:
            bar.close()
            raise
    if result.already_done:
        print(f"resumed: {result.already_done} judgement(s) were already in {args.out}", file=sys.stderr)
    files, summary = write_reports(args.out, run_key=result.run_key, inconsistent_as_tie=args.inconsistent_as_tie,
                                   baseline=args.baseline)
    print(headline(summary))
    print(f"report: {files.report}\nverdicts: {files.verdicts}\npairs: {files.pairs}\n"
          f"pairs workbook: {files.pairs_workbook}\nsummary: {files.summary}"
          + (f"\nbattles: {files.battles}" if files.battles else ""))
    return 0


def headline(summary: dict[str, Any]) -> str:
    """A run's summary in a few lines for the terminal: progress, ratings, agreement, the ecosystem's figures."""
    progress = summary["progress"]
    lines = [f"{summary['run']['label']}: {progress['complete']}/{progress['tasks']} complete, "
             f"statuses {progress['statuses']}"]
    for warning in summary.get("warnings") or []:
        text = f"warning: {warning['title']}. {warning['meaning']} {warning['advice']}"
        lines += textwrap.wrap(text, width=110, initial_indent="  ", subsequent_indent="    ")
    ratings = summary.get("ratings") or {}
    for m in ratings.get("models", []):
        interval = (f"[{m['ci_low']:.0f}, {m['ci_high']:.0f}]" if m["ci_low"] is not None
                    else m.get("no_interval") or "")
        games = "" if "(n = " in interval else f" · n = {m['games']}"  # a reason may name its n already
        lines.append(f"  {m['model']:<24} {m['rating']:7.0f}  {interval}{games}")
    for m in ratings.get("unrated", []):
        lines.append(f"  {m['model']:<24} {'–':>7}  not rated: {m['reason']}")
    for m in (summary.get("grades") or {}).get("models", []):
        lines.append(f"  {m['model']:<24} mean {m['mean']:.2f} over {m['n']}")
    behaviour = summary.get("judge_behaviour")
    if behaviour and behaviour.get("position_consistency") is not None:
        lines.append(f"  position consistency {behaviour['position_consistency']:.1%} ({behaviour['consistent']} of "
                     f"{behaviour['both_orders']}), first-position preference "
                     f"{behaviour['first_position_preference'] or 0:.1%} ({behaviour['first_shown_won']} of "
                     f"{behaviour['order_verdicts']})")
    agreement = (summary.get("agreement") or {}).get("final_decision")
    if agreement:
        lines.append(f"  agreement with humans: accuracy {agreement['accuracy']:.1%} ({agreement['correct']} of "
                     f"{agreement['n']}), macro F1 {agreement['f1']:.3f}")
    return "\n".join(lines + _protocol_lines(summary))


def _protocol_lines(summary: dict[str, Any]) -> list[str]:
    """The ecosystem's figures and the agreement with other judges, one line each."""
    lines = []
    for row in summary.get("leaderboard") or []:
        lc = row["length_controlled_winrate"]
        lines.append(f"  AlpacaEval vs {row['baseline']}: {row['model']} win rate {row['win_rate']:.2f} "
                     f"± {row['standard_error'] or 0:.2f}, LC {'–' if lc is None else f'{lc:.2f}'}, "
                     f"n = {row['n_total']}")
    arena = summary.get("arena_hard") or {}
    styled = {m["model"]: m for m in ((arena.get("style_controlled") or {}).get("scores") or [])}
    for m in (arena.get("scores") or {}).get("scores") or []:
        interval = "" if m["ci_low"] is None else f" [{m['ci_low']:.1f}, {m['ci_high']:.1f}]"
        style = f", style-controlled {styled[m['model']]['score']:.1f}" if m["model"] in styled else ""
        lines.append(f"  Arena-Hard vs {arena['baseline']}: {m['model']} {m['score']:.1f}{interval}{style}")
    for m in (summary.get("mt_bench") or {}).get("scores") or []:
        turns = ", ".join(f"turn {turn} {score:.2f}" for turn, score in sorted(m["turns"].items()))
        average = "–" if m["average"] is None else f"{m['average']:.2f}"
        lines.append(f"  MT-bench: {m['model']} {turns}, average {average}")
    calibration = summary.get("calibration") or {}
    for pair in calibration.get("pairs") or []:
        parts = [f"{name} {estimate_text(pair[key])}" for name, key in
                 (("calibrated", "calibrated"), ("labels only", "labels_only"), ("judge only", "judge_only"))]
        lines.append(f"  calibrated by {pair['n']} labels of {pair['N']}: {pair['model_a']} over {pair['model_b']} "
                     + " · ".join(parts))
    for peer in summary.get("peer_agreement") or []:
        final = peer["final_decision"]
        kappa = "–" if final["kappa"] is None else f"{final['kappa']:.3f}"
        accuracy = "–" if final["accuracy"] is None else f"{final['accuracy']:.1%}"
        lines.append(f"  agreement with {peer['label']}: final decision {accuracy} ({final['correct']} of "
                     f"{final['n']}), Cohen's kappa {kappa}")
    return lines


def run_report(args: argparse.Namespace) -> int:
    if args.list:
        if not (args.folder / "run.sqlite").exists():
            raise InputError("not a judgedesk run folder (no run.sqlite)", path=args.folder)
        with RunStore(args.folder) as store:
            for info in store.runs():
                print(f"{info.run_key[:16]}  {info.mode:<8} {info.label}  ({store.count_verdicts(info.run_key)} "
                      f"judgements)  {info.source}")
        return 0
    files, summary = write_reports(args.folder, run_key=args.run, inconsistent_as_tie=args.inconsistent_as_tie,
                                   baseline=args.baseline, apply_overrides=args.apply_overrides)
    if args.leaderboard:
        if not summary.get("leaderboard"):
            raise InputError("this run has no AlpacaEval leaderboard: it needs pairs against a baseline (give "
                             "--baseline MODEL if the run pairs every model with every other)", path=args.folder)
        sys.stdout.write(alpaca_eval_csv(AlpacaEvalRow(**row) for row in summary["leaderboard"]))
        return 0
    print(headline(summary))
    print(f"report: {files.report}")
    return 0


_LISTED_IMPORT_PROBLEMS = 50


def _import_dataset(path: Any, files: list[JudgementFile]) -> Dataset:
    """The data set the files judged, with their baseline (AlpacaEval's generator_1, Arena-Hard's baseline) as
    every pair's model_b when they name one that the data set has."""
    baselines = {baseline for file in files for baseline in file.baselines}
    baseline = next(iter(baselines)) if len(baselines) == 1 else None
    try:
        return load_dataset(path, baseline=baseline)
    except InputError as exc:
        if baseline is None or exc.field != "baseline":
            raise
    return load_dataset(path)


def run_import_verdicts(args: argparse.Namespace) -> int:
    fmt = get_format(args.format) if args.format else None
    files = [read_judgement_file(path, judge_format=fmt, lang=args.lang) for path in args.files]
    if all(file.protocol is None for file in files):
        reasons = "\n".join(f"  {problem}" for file in files for problem in file.problems[:3])
        raise InputError(f"no file holds judgements:\n{reasons}")
    judges = list(dict.fromkeys(judge for file in files for judge in file.judges))
    name = args.name or ", ".join(judges)
    if not name:
        raise InputError("the files do not name their judge: give it with --name", field="name")
    dataset = _import_dataset(args.data, files)
    print(dataset.summary(), file=sys.stderr)
    for file in files:
        if file.protocol is not None:
            named = f" by {', '.join(file.judges)}" if file.judges else ""
            print(f"{file.shown}: {file.protocol} {file.mode} layout, {file.count} judgement(s){named}",
                  file=sys.stderr)
    result = import_judgements(args.out, dataset, files, name=name, judge_format=args.format)
    for problem in result.problems[:_LISTED_IMPORT_PROBLEMS]:
        print(f"judgedesk: {problem}", file=sys.stderr)
    if len(result.problems) > _LISTED_IMPORT_PROBLEMS:
        print(f"judgedesk: ... and {len(result.problems) - _LISTED_IMPORT_PROBLEMS} more", file=sys.stderr)
    print(f"imported {result.judgements} judgement(s) of {result.tasks} task(s) as run {result.run_key[:16]}"
          + (f" ({result.unparsed} without a verdict)" if result.unparsed else "")
          + (f"; {len(result.problems)} problem(s), see above" if result.problems else ""), file=sys.stderr)
    reports, summary = write_reports(args.out, run_key=result.run_key)
    print(headline(summary))
    print(f"report: {reports.report}")
    return 1 if result.problems else 0
