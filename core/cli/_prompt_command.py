"""`judgedesk prompt`: the exact prompt the judge is given for one item, as its own tokenizer writes it.

The judge and the item are given as to `judgedesk compare` (or `grade`, with --task single), or the item is taken
from a data set by its id (--data PATH --id ID), so a conversation's later turn ("81:turn2") can be shown with the
turns before it. The prompt goes to stdout byte for byte as the judge reads it, with nothing added (redirect it to a
file and it is the prompt); the details (token count, cut, chat template, options) go to stderr, or everything to
stdout as JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from .._errors import InputError
from .._prompt_preview import PromptPreview
from .._records import EvalItem
from ..datasets import Dataset, GradeTask, PairTask, load_dataset
from ..formats import Task
from ._arguments import read_text_argument
from ._commands import judge_from_args

__all__ = ["add_prompt_parser", "run_prompt"]

_LISTED_IDS = 5
"""Item ids named in the error for an id the data set does not have."""


def add_prompt_parser(commands: argparse._SubParsersAction, formats: list[str], *,
                      judge_options: Callable[[argparse.ArgumentParser, list[str]], None], text_help: str) -> None:
    """Add the `prompt` subcommand to `commands`, with the judge options (`judge_options`) every judging command
    takes and `text_help` for its TEXT|@FILE options, so it reads as compare does."""
    prompt = commands.add_parser(
        "prompt", help="show exactly what the judge is given for one item (text and special tokens)",
        description="Print the prompt the judge evaluates for one item, exactly as the judge's tokenizer writes it: "
                    "special tokens spelled out (<|im_start|>...), the responses in the order shown and as cut to "
                    "fit the context, any prefill at the end. Nothing else goes to stdout (redirect it to a file to "
                    "keep the prompt); the token count, the cut, whether the chat template was used and the verdict "
                    "options go to stderr, or all of it to stdout as JSON with --json. Takes the judge and the item "
                    "as `compare` does, or an item of a data set with --data and --id (an MT-bench turn 2, "
                    "'81:turn2', shows the whole conversation).")
    item = prompt.add_argument_group("the item (as for compare, or from a data set)")
    item.add_argument("--instruction", metavar="TEXT|@FILE", help=text_help)
    item.add_argument("--input", metavar="TEXT|@FILE", help="optional context for the instruction")
    item.add_argument("--a", metavar="TEXT|@FILE", help="response A (pairwise): " + text_help)
    item.add_argument("--b", metavar="TEXT|@FILE", help="response B (pairwise): " + text_help)
    item.add_argument("--response", metavar="TEXT|@FILE", help="the response to grade (--task single)")
    item.add_argument("--reference", metavar="TEXT|@FILE", help="reference answer (prometheus)")
    item.add_argument("--data", type=Path, metavar="PATH",
                      help="take the item from this pairs file or outputs folder instead (with --id)")
    item.add_argument("--id", metavar="ID", help="the item's id in --data, e.g. '81:turn2' for MT-bench turn 2")
    item.add_argument("--model", action="append", metavar="NAME",
                      help="with --data: the pair of these models (give one or two), or the graded model's "
                           "response; default the first the data set lists for --id")
    shown = prompt.add_argument_group("what is shown")
    shown.add_argument("--task", choices=["pairwise", "single"], default="pairwise",
                       help="the prompt of a comparison (default) or of grading one response")
    shown.add_argument("--order", choices=["AB", "BA"],
                       help="pairwise: AB shows response A first (default), BA shows B first")
    shown.add_argument("--generate", action="store_true",
                       help="as compare --generate: room is kept for the generated verdict, which can change the cut")
    shown.add_argument("--explain", action="store_true",
                       help="as compare --explain: room is kept for the reason, which can change the cut")
    judge_options(prompt, formats)


def run_prompt(args: argparse.Namespace) -> int:
    task: Task = args.task
    if task == "single" and args.order is not None:
        raise InputError("--order is for a pairwise prompt; grading shows one response", field="order")
    item = _item_from_data(args, task) if args.data is not None or args.id is not None else _typed_item(args, task)
    with judge_from_args(args, fast=not args.generate) as judge:
        preview = judge.prompt_preview(item, task=task, order=args.order or "AB")
        judge_line = f"judge: {judge.backend.info.file_name}, format {judge.format.name}"
    if args.json:
        print(json.dumps(preview.to_dict(), indent=2, ensure_ascii=False))
        return 0
    _write_exactly(preview)
    print(judge_line, file=sys.stderr)
    print(preview.describe(), file=sys.stderr)
    return 0


def _write_exactly(preview: PromptPreview) -> None:
    """The prompt on stdout with nothing added; on a terminal the line is ended on stderr, so a redirected stdout
    still holds the prompt byte for byte."""
    sys.stdout.write(preview.text)
    sys.stdout.flush()
    if sys.stdout.isatty() and not preview.text.endswith("\n"):
        print(file=sys.stderr)


def _text(value: str | None, field: str) -> str:
    return read_text_argument(value, field) or ""


def _typed_item(args: argparse.Namespace, task: Task) -> EvalItem:
    """The item from --instruction and the responses, refused as compare and grade refuse it."""
    if args.model:
        raise InputError("--model picks an item of --data; give --data and --id", field="model")
    if args.instruction is None:
        raise InputError("give the item: --instruction with --a and --b (or --response with --task single), "
                         "or --data PATH --id ID", field="instruction")
    instruction = _text(args.instruction, "instruction")
    if not instruction.strip():
        raise InputError("the instruction is empty", field="instruction")
    if task == "single":
        if args.a is not None or args.b is not None:
            raise InputError("--task single grades one response: give it with --response", field="response")
        responses: tuple[str, ...] = (_text(args.response, "response"),)
        if not responses[0].strip():
            raise InputError("the response to grade is empty (give it with --response)", field="response")
    else:
        if args.response is not None:
            raise InputError("--response is the graded response of --task single; a comparison takes --a and --b",
                             field="response")
        responses = (_text(args.a, "a"), _text(args.b, "b"))
        for field, text in zip(("a", "b"), responses, strict=True):
            if not text.strip():  # as for compare: on the command line an empty response is almost always a mistake
                raise InputError(f"response {field.upper()} is empty (give it with --{field})", field=field)
    return EvalItem(id="cli", instruction=instruction, responses=responses, input=_text(args.input, "input"),
                    reference=read_text_argument(args.reference, "reference"))


def _item_from_data(args: argparse.Namespace, task: Task) -> EvalItem:
    """The item `--id` of `--data`: its pair (pairwise) or one model's response (single)."""
    if args.data is None or args.id is None:
        raise InputError("an item from a data set needs both --data PATH and --id ID",
                         field="data" if args.data is None else "id")
    typed = [f"--{name}" for name in ("instruction", "input", "a", "b", "response", "reference")
             if getattr(args, name) is not None]
    if typed:
        raise InputError(f"the item comes from --data; leave out {', '.join(typed)}", field="data")
    dataset = load_dataset(args.data)
    wanted = set(args.model or ())
    if len(wanted) > (2 if task == "pairwise" else 1):
        raise InputError(f"--model names {'two models of a pair' if task == 'pairwise' else 'the graded model'} "
                         "at most", field="model")
    tasks: list[PairTask] | list[GradeTask]
    if task == "pairwise":
        tasks = [p for p in dataset.pairs if _has_id(p.item, args.id) and wanted <= {p.model_a, p.model_b}]
    else:
        tasks = [g for g in dataset.grades if _has_id(g.item, args.id) and wanted <= {g.model}]
    if not tasks:
        raise InputError(_missing(dataset, args.id, task, wanted), path=args.data, item=args.id)
    chosen = tasks[0]
    if len(tasks) > 1:
        print(f"note: {len(tasks)} {'pairs' if task == 'pairwise' else 'responses'} of {args.data} have id "
              f"{args.id!r}; showing {_models(chosen)} (choose with --model)", file=sys.stderr)
    return chosen.item


def _has_id(item: EvalItem, item_id: str) -> bool:
    """Whether `item_id` names `item`: its own id, or the data set's id of the item it was paired or graded on (a
    folder's pair is '81:turn2|model-a|model-b', its item '81:turn2')."""
    return item_id in (item.id, item.metadata.get("item"))


def _models(task: PairTask | GradeTask) -> str:
    return f"{task.model_a} (A) vs {task.model_b} (B)" if isinstance(task, PairTask) else task.model


def _missing(dataset: Dataset, item_id: str, task: Task, wanted: set[str]) -> str:
    """Why no item was found, with what the data set does hold, so the analyst can correct the command."""
    found = dataset.pairs if task == "pairwise" else dataset.grades
    if wanted and any(_has_id(t.item, item_id) for t in found):
        return f"no {'pair' if task == 'pairwise' else 'response'} of model(s) {', '.join(sorted(wanted))} has this id"
    skipped = [str(p) for p in dataset.problems if p.item is not None and item_id in (p.item, p.item.split("|")[0])]
    if skipped:
        return "this item was not read: " + "; ".join(skipped[:3])
    ids = list(dict.fromkeys(str(t.item.metadata.get("item", t.item.id)) for t in found))
    if not ids:
        return f"the data set has no {'pairs' if task == 'pairwise' else 'responses'} at all"
    listed = ", ".join(repr(i) for i in ids[:_LISTED_IDS]) + (", ..." if len(ids) > _LISTED_IDS else "")
    return f"the data set has no such item ({len(ids)} item id(s): {listed})"
