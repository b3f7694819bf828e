"""The judgedesk exception hierarchy: one root, and subclasses that say what went wrong and where.

    JudgedeskError
    ├── InputError                 bad user input: a text, a file, a field, an option
    │   ├── ContextOverflowError   the prompt cannot fit the context even with the responses cut
    │   ├── DatasetError           a data file or folder unusable as a whole (judgedesk.core.datasets)
    │   ├── LabelPlanExistsError   a run already has a label plan: it is never replaced (judgedesk.core.runs)
    │   ├── LabelImportError       a labels file with bad rows, each named by line; nothing stored (core.runs)
    │   └── CheckpointError        a Hugging Face folder that cannot be converted (judgedesk.quantize)
    ├── ModelFileError             a judge file that is missing, not GGUF, empty or truncated
    ├── ModelLoadError             llama.cpp (or another backend) refused a file that looked valid
    ├── UnsupportedCpuError        the installed llama.cpp was compiled for instructions this CPU lacks
    ├── FormatError                an unknown judge format, or a task/language it does not support
    ├── BackendError               an unknown backend, or a missing optional dependency
    ├── GrammarError               a GBNF grammar the built-in matcher cannot enforce (judgedesk.core.backends)
    ├── NetworkBlockedError        an outbound connection refused by the offline guard
    ├── ServerError                an inference server (server backend) misbehaved
    │   ├── ServerUnavailableError no answer after every retry: the run stops, resumable
    │   └── ServerRequestError     the server refused one request (4xx): that judgement fails, the run goes on
    ├── QuantizeError              a conversion, quantization or fidelity step failed (judgedesk.quantize)
    └── Cancelled                  the user stopped long work (its `CancelFlag` was set, or Ctrl-C)
        ├── ImportCancelled        copying a judge into the library; nothing was added
        ├── RunInterrupted         a batch run; everything judged is saved (judgedesk.core.runs)
        └── QuantizeCancelled      converting, quantizing or a fidelity check; nothing written (judgedesk.quantize)

Every message names the path, item, line or field it is about, so the CLI can print it as is. Catch `Cancelled`
to tell "stopped because the user asked" from a failure: the desktop app stays quiet on it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BackendError",
    "Cancelled",
    "ContextOverflowError",
    "FormatError",
    "InputError",
    "JudgedeskError",
    "ModelFileError",
    "ModelLoadError",
    "NetworkBlockedError",
    "ServerError",
    "ServerRequestError",
    "ServerUnavailableError",
    "UnsupportedCpuError",
]


class JudgedeskError(Exception):
    """Root of every error judgedesk raises on purpose."""


class InputError(JudgedeskError):
    """Bad user input; the message names the file, line, item or field."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 item: str | None = None, field: str | None = None) -> None:
        where = []
        if path is not None:
            where.append(str(path) + (f":{line}" if line is not None else ""))
        if item is not None:
            where.append(f"item {item!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.path = None if path is None else Path(path)
        self.line = line
        self.item = item
        self.field = field


class ContextOverflowError(InputError):
    """The fixed part of the prompt alone exceeds the judge's context window."""


class ModelFileError(JudgedeskError):
    """A judge model file that cannot be used: missing, not GGUF, empty or truncated."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class ModelLoadError(JudgedeskError):
    """A backend failed to load a model file that passed judgedesk's own checks."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: could not load the model: {reason}")
        self.path = Path(path)


class UnsupportedCpuError(JudgedeskError):
    """The llama.cpp libraries cannot run on this CPU; raised before any of their code runs (no SIGILL)."""

    def __init__(self, library: str | Path, message: str) -> None:
        super().__init__(f"{library}: {message}")
        self.library = Path(library)


class FormatError(JudgedeskError):
    """An unknown judge format, or a task or language the format does not support."""


class BackendError(JudgedeskError):
    """An unknown backend name, or an optional dependency it needs is not installed."""


class NetworkBlockedError(JudgedeskError, ConnectionRefusedError):
    """judgedesk refused an outbound network connection: it runs offline by construction."""


class ServerError(JudgedeskError):
    """An inference server behind the server backend answered wrongly or not at all; the message names it."""


class ServerUnavailableError(ServerError):
    """The server gave no usable answer after every retry (down, timing out, or failing with 5xx).

    A batch stops on it instead of recording an error for every remaining item; what was judged is saved.
    """


class ServerRequestError(ServerError):
    """The server refused one request (4xx: a prompt too long for its context, an unknown model, ...)."""


class Cancelled(JudgedeskError):
    """Long work stopped because the user asked (its cancel flag was set); nothing half-written was left behind.

    Subclasses say what was stopped and what was kept (`ImportCancelled`, `RunInterrupted`, `QuantizeCancelled`).
    """
