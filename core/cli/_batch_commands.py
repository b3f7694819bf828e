"""`judgedesk batch`, `report` and `import-verdicts`: folders of outputs in, run folders and reports out."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from .._errors import InputError, ServerUnavailableError
from .._hashing import file_sha256
from .._records import Status
from ..datasets import Dataset, load_dataset, raise_if_problems
from ..formats import get_format
from ..reports import write_reports
from ..runs import (
    BatchOptions,
    RunFolderLock,
    RunInfo,
    RunInterrupted,
    RunStore,
    TerminalProgress,
    prepare_folder,
    run_batch,
    task_rows,
)
from ._commands import judge_from_args

__all__ = ["run_batch_command", "run_import_verdicts", "run_report"]


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
    print(_headline(summary))
    print(f"report: {files.report}\nverdicts: {files.verdicts}\npairs: {files.pairs}\n"
          f"pairs workbook: {files.pairs_workbook}\nsummary: {files.summary}"
          + (f"\nbattles: {files.battles}" if files.battles else ""))
    return 0


def _headline(summary: dict[str, Any]) -> str:
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
    return "\n".join(lines)


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
    print(_headline(summary))
    print(f"report: {files.report}")
    return 0


def run_import_verdicts(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.data)
    print(dataset.summary(), file=sys.stderr)
    fmt = get_format(args.format) if args.format else None
    by_id = {pair.item.id: pair for pair in dataset.pairs}
    tasks = task_rows(dataset, "pairwise")
    content_of = {t.item_id: t.content for t in tasks}
    records: list[tuple[str, str, Status, dict[str, Any]]] = []
    problems = 0
    try:
        lines = args.file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", path=args.file) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            item_id = str(row["id"])
            order = str(row.get("order", "AB"))
            if order not in ("AB", "BA"):
                raise ValueError(f"order {order!r} is not AB or BA")
            if item_id not in by_id:
                raise ValueError(f"item {item_id!r} is not in {args.data}")
            record = _imported_record(row, fmt, args.lang, item_id, order)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            problems += 1
            print(f"judgedesk: {args.file}:{number}: {exc}", file=sys.stderr)
            continue
        records.append((content_of[item_id], order, record["status"], record))
    if not records:
        raise InputError("no judgement could be imported", path=args.file)
    orders = ("AB", "BA") if any(r[1] == "BA" for r in records) else ("AB",)
    settings = {"imported_from": str(args.file), "file_sha256": file_sha256(args.file), "judge_name": args.name,
                "format": args.format, "mode": "pairwise", "orders": list(orders), "seed": None,
                "decoding": {"mode": "imported"}}
    run_key = "import-" + file_sha256(args.file)[:40]
    prepare_folder(args.out)
    with RunFolderLock(args.out), RunStore(args.out) as store:
        store.ensure_run(RunInfo(run_key, f"{args.name} (imported)", "pairwise", orders, settings, str(args.data)))
        store.touch_run(run_key)
        store.replace_tasks(run_key, tasks)
        store.replace_problems(run_key, [(p.path, p.line, p.reason, p.item) for p in dataset.problems])
        for content, order, status, record in records:
            store.put_verdict(run_key, content, order, status, record)
    print(f"imported {len(records)} judgement(s) as run {run_key[:16]}"
          + (f"; {problems} line(s) skipped, see above" if problems else ""), file=sys.stderr)
    files, summary = write_reports(args.out, run_key=run_key)
    print(_headline(summary))
    print(f"report: {files.report}")
    return 1 if problems else 0


def _imported_record(row: dict[str, Any], fmt: Any, lang: str, item_id: str, order: str) -> dict[str, Any]:
    if "winner" in row:
        value = str(row["winner"]).strip()
        winner = {"a": "A", "b": "B", "tie": "tie"}.get(value.lower())
        if winner is None:
            raise ValueError(f"winner {value!r} is not A, B or tie")
        return {"item_id": item_id, "order": order, "winner": winner, "status": Status.OK,
                "raw_output": str(row.get("output", "")), "reason": row.get("reason")}
    if "output" not in row or fmt is None:
        raise ValueError("needs 'winner', or 'output' together with --format")
    parsed = fmt.parse_pairwise(str(row["output"]), lang)
    labels = {"1": "A", "2": "B", "tie": "tie"} if order == "AB" else {"1": "B", "2": "A", "tie": "tie"}
    winner = labels[parsed.winner] if parsed.winner else None
    return {"item_id": item_id, "order": order, "winner": winner,
            "status": Status.OK if winner else Status.UNPARSED,
            "raw_output": str(row["output"]), "reason": parsed.reason}

