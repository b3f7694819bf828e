"""What each `judgedesk` subcommand does, on the public engine API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .._doctor import diagnose
from .._engine import DecodingSettings, Judge
from .._errors import InputError
from .._judges import list_judges
from .._library import LibraryRecord, delete_judge, import_judge
from .._loading import ServerOptions, decoding_limits, load_judge
from .._records import EvalItem, Status, to_json
from .._sequence_choice import parse_sequences
from ..backends import Sampling
from ..formats import Task, check_format, get_format
from ._arguments import read_text_argument
from ._render import render_both_orders, render_grade, render_judges

__all__ = ["judge_from_args", "run_compare", "run_grade", "run_models", "run_parse"]


def judge_from_args(args: argparse.Namespace, *, fast: bool) -> Judge:
    """Load the judge the command-line options describe."""
    decoding = DecodingSettings(
        fast=fast, explain=getattr(args, "explain", False), constrained=not args.no_grammar,
        max_tokens=args.max_tokens, sampling=Sampling(temperature=args.temperature, seed=args.seed),
    )
    server = None
    if args.server:
        server = ServerOptions(url=args.server, model=args.server_model, max_in_flight=args.in_flight,
                               timeout_s=args.timeout, retries=args.retries, chat_template_file=args.chat_template,
                               api_key=os.environ.get("JUDGEDESK_SERVER_API_KEY") or None,
                               allow_cgnat=args.allow_cgnat)
    judge = load_judge(args.judge, format=args.format, lang=args.lang,
                       rubric=read_text_argument(args.rubric, "rubric"), decoding=decoding, n_ctx=args.ctx,
                       n_threads=args.threads, n_gpu_layers=args.gpu_layers, server=server,
                       sequences=parse_sequences(getattr(args, "sequences", "1")))
    if server is not None:
        _say_what_the_server_changed(judge, decoding)
    elif note := judge.backend.capabilities.offload_note:
        print(f"note: {note}", file=sys.stderr)
    if judge.backend.info.synthetic:
        print(f"warning: {judge.backend.info.file_name} is a SYNTHETIC judge with random weights (`judgedesk "
              "quantize synthetic`): its verdicts mean nothing; its figures measure speed and memory only",
              file=sys.stderr)
    return judge


def _say_what_the_server_changed(judge: Judge, asked: DecodingSettings) -> None:
    settings = judge.backend.settings()
    print(f"judging through {settings['endpoint']} ({settings['server']}, model {settings['server_model']}, "
          f"{judge.backend.capabilities.max_in_flight} in flight)", file=sys.stderr)
    # What the server lacks of what was asked (fewer slots, a smaller context per slot), and what judgedesk does
    notes = getattr(judge.backend, "notes", ())
    for reason in [*decoding_limits(asked, judge.decoding), *notes]:
        print(f"note: the server at {settings['endpoint']}: {reason}", file=sys.stderr)


def _text(value: str | None, field: str) -> str:
    return read_text_argument(value, field) or ""


def run_compare(args: argparse.Namespace) -> int:
    item = EvalItem(id="cli", instruction=_text(args.instruction, "instruction"),
                    responses=(_text(args.a, "a"), _text(args.b, "b")), input=_text(args.input, "input"),
                    reference=read_text_argument(args.reference, "reference"))
    if not item.instruction.strip():
        raise InputError("the instruction is empty", field="instruction")
    for field, text in zip(("a", "b"), item.responses, strict=True):
        if not text.strip():  # on the command line an empty response is almost always a mistake (a wrong @FILE)
            raise InputError(f"response {field.upper()} is empty", field=field)
    with judge_from_args(args, fast=not args.generate) as judge:
        result = judge.judge_both_orders(item, both=not args.one_order,
                                          inconsistent_as_tie=args.inconsistent_as_tie)
    print(to_json(result) if args.json else render_both_orders(result, explain=args.explain))
    return 0


def run_grade(args: argparse.Namespace) -> int:
    item = EvalItem(id="cli", instruction=_text(args.instruction, "instruction"),
                    responses=(_text(args.response, "response"),), input=_text(args.input, "input"),
                    reference=read_text_argument(args.reference, "reference"))
    with judge_from_args(args, fast=False) as judge:
        check_format(judge.format, "single", judge.lang)
        grade = judge.grade(item)
    print(to_json(grade) if args.json else render_grade(grade))
    return 0


def run_parse(args: argparse.Namespace) -> int:
    fmt = get_format(args.format)
    task: Task = args.task
    check_format(fmt, task, args.lang)
    problems = 0
    try:
        handle = args.file.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=args.file) from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                record, problem = _parse_line(fmt, task, args.lang, line, number)
                if problem:
                    problems += 1
                    print(f"judgedesk: {args.file}:{number}: {problem}", file=sys.stderr)
                print(json.dumps(record, ensure_ascii=False, sort_keys=True))
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start} of a line)", path=args.file) from None
    if problems:
        print(f"judgedesk: {problems} line(s) of {args.file} could not be read; see above", file=sys.stderr)
    return 1 if problems else 0


def _parse_line(fmt: Any, task: Task, lang: str, line: str, number: int) -> tuple[dict[str, Any], str | None]:
    out: dict[str, Any] = {"line": number}
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return {**out, "status": Status.ERROR, "error": f"not valid JSON: {exc.msg}"}, f"not valid JSON: {exc.msg}"
    if not isinstance(obj, dict) or not isinstance(obj.get("output"), str):
        problem = 'no "output" text field'
        return {**out, "status": Status.ERROR, "error": problem}, problem
    if "id" in obj:
        out["id"] = obj["id"]
    text = obj["output"]
    if task == "pairwise":
        verdict = fmt.parse_pairwise(text, lang)
        winner = {"1": "A", "2": "B", "tie": "tie"}.get(verdict.winner) if verdict.winner else None
        out.update(winner=winner, status=Status.OK if winner else Status.UNPARSED, reason=verdict.reason,
                   reference=verdict.reference, problem=verdict.problem)
    else:
        grade = fmt.parse_grade(text, lang)
        scale = fmt.output("single", lang).scale
        out.update(score=grade.score, scale=list(scale) if scale else None, critique=grade.critique,
                   status=Status.OK if grade.score is not None else Status.UNPARSED, problem=grade.problem)
    return out, None


def run_models(args: argparse.Namespace) -> int:
    action = getattr(args, "models_command", None)
    if action == "import":
        return _import_model(args)
    if action == "remove":
        return _remove_model(args)
    entries = list_judges()
    if args.json:
        rows = [{
            "name": e.name, "label": e.label, "path": str(e.path), "size_bytes": e.size_bytes,
            "quantization": e.header.file_type if e.header else None,
            "architecture": e.header.architecture if e.header else None,
            "model_name": e.header.name if e.header else None, "default_format": e.default_format,
            "referenced": e.referenced, "source": e.source, "imported_at": e.imported_at, "sha256": e.sha256,
            "problem": e.problem, "synthetic": bool(e.header and e.header.synthetic),
        } for e in entries]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        print(render_judges(entries))
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    report = diagnose()
    print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) if args.json else report.as_text())
    return 1 if report.problems else 0


def _import_model(args: argparse.Namespace) -> int:
    record = import_judge(args.path, name=args.name, copy=not args.reference, format=args.format)
    where = f"referenced at {record.path}" if record.referenced else f"copied to {record.path}"
    print(f"imported {record.name} ({where}; format {record.default_format}; SHA-256 {record.sha256})")
    if record.synthetic:
        print(f"warning: {record.name} is a SYNTHETIC judge with random weights (`judgedesk quantize synthetic`): "
              "for measuring speed and memory only", file=sys.stderr)
    return 0


def _remove_model(args: argparse.Namespace) -> int:
    removed = delete_judge(args.name)
    if isinstance(removed, LibraryRecord) and removed.referenced:
        print(f"removed {removed.name} from the library; its file stays at {removed.path}")
    else:
        print(f"deleted {args.name} ({removed.path if isinstance(removed, LibraryRecord) else removed})")
    return 0
