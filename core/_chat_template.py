"""Rendering a model's own chat template into prompt segments.

A GGUF file's chat template is untrusted Jinja, so it runs in an immutable sandbox. The template's own text may
hold special tokens (`<|im_start|>`) that must be parsed as such, but the user's content must never be: a response
that contains "<|im_end|>" would otherwise close the message and inject instructions. So message contents are
rendered as sentinels, and the result is split into template segments (special tokens parsed) and content segments
(plain text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ._errors import FormatError, InputError

__all__ = ["ChatTemplateFile", "Segment", "read_chat_template_file", "render_chat"]

_SENTINEL = "\ue000{index}\ue001"
_SENTINEL_RE = re.compile("\ue000(\\d+)\ue001")


@dataclass(frozen=True)
class Segment:
    """A piece of prompt text and whether special-token strings in it are parsed as special tokens."""

    text: str
    """The text."""
    special: bool
    """True for template text written by the model's authors; False for anything from the user."""


class _Content(str):
    """A message content as the template sees it: a sentinel string that remembers which text it stands for.

    Templates commonly trim contents (Llama 3: `message['content'] | trim`); stripping the sentinel itself would
    change nothing, so strip/lstrip/rstrip return a new sentinel for the stripped text instead.
    """

    registry: list[str]

    def __new__(cls, text: str, registry: list[str]) -> _Content:
        registry.append(text)
        obj = super().__new__(cls, _SENTINEL.format(index=len(registry) - 1))
        obj.registry = registry
        return obj

    def _derived(self, text: str) -> _Content:
        return _Content(text, self.registry)

    def _text(self) -> str:
        return self.registry[int(_SENTINEL_RE.fullmatch(self).group(1))]  # type: ignore[union-attr]

    def strip(self, chars: str | None = None) -> _Content:
        return self._derived(self._text().strip(chars))

    def lstrip(self, chars: str | None = None) -> _Content:
        return self._derived(self._text().lstrip(chars))

    def rstrip(self, chars: str | None = None) -> _Content:
        return self._derived(self._text().rstrip(chars))


def _raise(message: str) -> None:
    raise TemplateError(message)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def render_chat(template: str, system: str | None, user: str, *, bos_token: str, eos_token: str,
                model_name: str) -> list[Segment]:
    """Render [system?, user] through `template` with a generation prompt, as segments.

    Templates that refuse a system role (some Mistral templates) get the system text merged into the user
    message, as chat front-ends do for them.
    """
    contents: list[str] = []

    def sentinel(text: str) -> str:
        return _Content(text, contents)

    env = _environment()
    try:
        compiled = env.from_string(template)
    except TemplateError as exc:
        raise FormatError(f"{model_name}: the model's chat template does not compile: {exc}") from exc

    def render(messages: Sequence[dict[str, str]]) -> str:
        return compiled.render(messages=list(messages), add_generation_prompt=True, bos_token=bos_token,
                               eos_token=eos_token)

    try:
        if system is not None:
            try:
                rendered = render([{"role": "system", "content": sentinel(system)},
                                   {"role": "user", "content": sentinel(user)}])
            except TemplateError:
                contents.clear()
                rendered = render([{"role": "user", "content": sentinel(f"{system}\n\n{user}")}])
        else:
            rendered = render([{"role": "user", "content": sentinel(user)}])
    except TemplateError as exc:
        raise FormatError(f"{model_name}: the model's chat template failed: {exc}") from exc
    except Exception as exc:  # a sandboxed template can still fail in arbitrary ways; never crash on it
        raise FormatError(f"{model_name}: the model's chat template failed: {type(exc).__name__}: {exc}") from exc

    segments: list[Segment] = []
    position = 0
    for match in _SENTINEL_RE.finditer(rendered):
        if match.start() > position:
            segments.append(Segment(rendered[position:match.start()], special=True))
        segments.append(Segment(contents[int(match.group(1))], special=False))
        position = match.end()
    if position < len(rendered):
        segments.append(Segment(rendered[position:], special=True))
    return segments


@dataclass(frozen=True)
class ChatTemplateFile:
    """A chat template given as a file, for a judge whose weights are not here (served by vLLM, say)."""

    template: str
    """The Jinja template."""
    bos_token: str | None = None
    """BOS text, when the file says (tokenizer_config.json does)."""
    eos_token: str | None = None
    """EOS text, when the file says."""


def read_chat_template_file(path: str | Path) -> ChatTemplateFile:
    """A Jinja template file, or a Hugging Face tokenizer_config.json (its chat_template, bos_token, eos_token)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=path, field="chat_template") from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=path, field="chat_template") from None
    if not path.suffix.lower() == ".json":
        if not text.strip():
            raise InputError("the template file is empty", path=path, field="chat_template")
        return ChatTemplateFile(text)
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise InputError(f"not JSON: {exc}", path=path, field="chat_template") from None
    template = config.get("chat_template") if isinstance(config, dict) else None
    if isinstance(template, list):  # several named templates: the one named "default"
        template = next((t.get("template") for t in template if isinstance(t, dict) and t.get("name") == "default"),
                        None)
    if not isinstance(template, str) or not template.strip():
        raise InputError("has no chat_template", path=path, field="chat_template")
    return ChatTemplateFile(template, _token_text(config.get("bos_token")), _token_text(config.get("eos_token")))


def _token_text(value: object) -> str | None:
    """tokenizer_config.json writes a special token as a string or as {"content": ...}."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None
