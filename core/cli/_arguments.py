"""Argument parsing for the `judgedesk` command: the subcommands and their shared option groups."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._errors import InputError
from .._version import __version__
from ..formats import format_names

__all__ = ["build_parser", "read_text_argument"]

_TEXT_HELP = "text, or @FILE to read it from a UTF-8 file (@@ for a literal leading @)"


def read_text_argument(value: str | None, field: str) -> str | None:
    """A TEXT|@FILE argument's text; errors name the option and the file."""
    if value is None:
        return None
    if value.startswith("@@"):
        return value[1:]
    if value.startswith("@") and len(value) > 1:
        path = Path(value[1:]).expanduser()
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError("no such file", path=path, field=field) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})", path=path, field=field) from None
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), path=path, field=field) from None
    return value


def _judge_options(parser: argparse.ArgumentParser, formats: list[str]) -> None:
    group = parser.add_argument_group("judge")
    group.add_argument("--judge", metavar="NAME|PATH", help="judge model: 'demo' (default), a library name, "
                                                             "or a .gguf path")
    group.add_argument("--format", choices=formats, help="judge format (default: the judge's own, else generic)")
    group.add_argument("--lang", choices=["en", "zh"], default="en", help="prompt language (zh: Auto-J only)")
    group.add_argument("--rubric", metavar="TEXT|@FILE", help="evaluation criteria (prometheus, generic)")
    runtime = parser.add_argument_group("runtime")
    runtime.add_argument("--ctx", type=int, default=4096, metavar="N", help="context window in tokens (4096)")
    runtime.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: cores - 1, at most 8)")
    runtime.add_argument("--gpu-layers", type=int, default=0, metavar="N",
                         help="layers to offload to a GPU (0 = CPU only, -1 = all)")
    decoding = parser.add_argument_group("decoding")
    decoding.add_argument("--seed", type=int, default=2023, help="sampler seed, passed on every call (2023)")
    decoding.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    decoding.add_argument("--max-tokens", type=int, metavar="N", help="output budget (default: the format's "
                                                                       "published budget)")
    decoding.add_argument("--no-grammar", action="store_true",
                          help="do not constrain the output; a verdict that does not parse is reported as unparsed")
    decoding.add_argument("--json", action="store_true", help="print the full record as JSON")


def build_parser() -> argparse.ArgumentParser:
    """The `judgedesk` argument parser."""
    formats = format_names()
    parser = argparse.ArgumentParser(
        prog="judgedesk",
        description="Offline LLM judge: compare or grade model outputs with a local judge model. Nothing leaves "
                    "this machine: outbound network connections are refused.",
    )
    parser.add_argument("--version", action="version", version=f"judgedesk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    compare = commands.add_parser("compare", help="which of two responses is better (both orders by default)",
                                  description="Judge two responses to one instruction, in both orders unless "
                                              "--one-order. Verdict-first formats (pandalm, generic) read the "
                                              "verdict from logits in one forward pass unless --generate.")
    compare.add_argument("--instruction", required=True, metavar="TEXT|@FILE", help=_TEXT_HELP)
    compare.add_argument("--input", metavar="TEXT|@FILE", help="optional context for the instruction")
    compare.add_argument("--a", required=True, metavar="TEXT|@FILE", help="response A: " + _TEXT_HELP)
    compare.add_argument("--b", required=True, metavar="TEXT|@FILE", help="response B: " + _TEXT_HELP)
    compare.add_argument("--reference", metavar="TEXT|@FILE", help="reference answer (prometheus)")
    compare.add_argument("--explain", action="store_true", help="also generate the reason (and reference)")
    compare.add_argument("--one-order", action="store_true", help="judge only with A shown first")
    compare.add_argument("--inconsistent-as-tie", action="store_true",
                         help="count contradicting orders as a tie (PandaLM's protocol) instead of 'inconsistent'")
    compare.add_argument("--generate", action="store_true",
                         help="generate the full verdict text instead of reading it from logits")
    _judge_options(compare, formats)

    grade = commands.add_parser("grade", help="grade one response on the format's scale",
                                description="Grade a single response: Auto-J 1-10, Prometheus 1-5 with a rubric, "
                                            "generic 1-10.")
    grade.add_argument("--instruction", required=True, metavar="TEXT|@FILE", help=_TEXT_HELP)
    grade.add_argument("--input", metavar="TEXT|@FILE", help="optional context for the instruction")
    grade.add_argument("--response", required=True, metavar="TEXT|@FILE", help=_TEXT_HELP)
    grade.add_argument("--reference", metavar="TEXT|@FILE", help="reference answer (prometheus)")
    _judge_options(grade, formats)

    parse = commands.add_parser("parse", help="parse judge outputs produced elsewhere (JSONL)",
                                description="Read one JSON object per line with the judge's raw text under "
                                            "'output'; write one JSON verdict or grade per line to stdout. Lines "
                                            "that cannot be read are reported on stderr with their line number.")
    parse.add_argument("file", type=Path, metavar="FILE.jsonl")
    parse.add_argument("--format", required=True, choices=[f for f in formats if f != "generic"] + ["generic"])
    parse.add_argument("--task", required=True, choices=["pairwise", "single"])
    parse.add_argument("--lang", choices=["en", "zh"], default="en")

    models = commands.add_parser("models", help="list the judge models known on this machine",
                                 description="The embedded demo judge and every .gguf in the judge library "
                                             "folder, with size, quantization, architecture and default format.")
    models.add_argument("--json", action="store_true", help="print JSON")
    return parser
