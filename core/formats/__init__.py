"""Judge formats: the published prompts, output grammars and parsers of PandaLM, Auto-J, Prometheus 2, MT-bench
(FastChat), Arena-Hard-Auto, and generic.

Formats live in a registry by name; `get_format("pandalm")` returns one, `register_format` adds a new one.
"""

from __future__ import annotations

from .._errors import FormatError
from ._arenahard import ArenaHardFormat
from ._autoj import AutoJFormat
from ._base import (
    JudgeFormat,
    JudgePrompt,
    OutputSpec,
    ParsedGrade,
    ParsedVerdict,
    PromptFields,
    Task,
    gbnf_literal,
    hash_texts,
)
from ._choice import choose_format, default_format_for
from ._generic import DEFAULT_GENERIC_RUBRIC, GenericFormat
from ._mtbench import MTBenchFormat
from ._pandalm import PandaLMFormat, clean_pandalm_response
from ._prometheus import DEFAULT_PROMETHEUS_RUBRIC, PrometheusFormat

__all__ = [
    "DEFAULT_GENERIC_RUBRIC",
    "DEFAULT_PROMETHEUS_RUBRIC",
    "ArenaHardFormat",
    "AutoJFormat",
    "GenericFormat",
    "JudgeFormat",
    "JudgePrompt",
    "MTBenchFormat",
    "OutputSpec",
    "PandaLMFormat",
    "ParsedGrade",
    "ParsedVerdict",
    "PrometheusFormat",
    "PromptFields",
    "Task",
    "check_format",
    "choose_format",
    "clean_pandalm_response",
    "default_format_for",
    "format_names",
    "gbnf_literal",
    "get_format",
    "hash_texts",
    "register_format",
]

_REGISTRY: dict[str, JudgeFormat] = {}


def register_format(fmt: JudgeFormat) -> None:
    """Add a format under its name (replacing one of the same name)."""
    _REGISTRY[fmt.name] = fmt


def get_format(name: str) -> JudgeFormat:
    """The format registered under `name`."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise FormatError(f"unknown judge format {name!r}; known formats: {', '.join(format_names())}") from None


def format_names() -> list[str]:
    """Names of the registered formats."""
    return sorted(_REGISTRY)


def check_format(fmt: JudgeFormat, task: Task, lang: str) -> None:
    """Raise `FormatError` unless `fmt` supports `task` in `lang`."""
    if task not in fmt.tasks:
        kinds = " and ".join(sorted(fmt.tasks))
        raise FormatError(f"format {fmt.name!r} does not do {task} judging (it does {kinds})")
    if lang not in fmt.languages:
        raise FormatError(f"format {fmt.name!r} has no {lang!r} prompt (languages: {', '.join(sorted(fmt.languages))})")


for _fmt in (PandaLMFormat(), AutoJFormat(), PrometheusFormat(), GenericFormat(), MTBenchFormat(), ArenaHardFormat()):
    register_format(_fmt)
