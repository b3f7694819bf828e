"""Errors of the quantize pipeline, rooted in judgedesk's error tree so the CLI and the app print them as is.

    JudgedeskError
    ├── InputError
    │   └── CheckpointError   a Hugging Face folder unusable for conversion: not a folder, no config.json,
    │                         an unsupported architecture, a missing tokenizer or weights, pickle weights
    ├── QuantizeError         a conversion or quantization step that failed (the output is never left half-written)
    └── Cancelled             core's "the user asked to stop"
        └── QuantizeCancelled the user cancelled; nothing was written
"""

from __future__ import annotations

from judgedesk.core import Cancelled, InputError, JudgedeskError

__all__ = ["CheckpointError", "QuantizeCancelled", "QuantizeError"]


class CheckpointError(InputError):
    """A Hugging Face checkpoint folder that cannot be converted; the message names the folder and the file."""


class QuantizeError(JudgedeskError):
    """A conversion, quantization or fidelity step failed; the message says which file and why."""


class QuantizeCancelled(Cancelled):
    """The user cancelled a conversion or quantization; no output file was left behind."""
