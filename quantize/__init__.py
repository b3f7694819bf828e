"""Quantize judges: Hugging Face weights to GGUF K-quants and GPTQ, memory planning, fidelity checks.

Nothing here imports Qt; torch, transformers and GPTQModel are imported only by the steps that need them
(`pip install judgedesk[hf]`).
"""

from __future__ import annotations

from ._errors import CheckpointError, QuantizeCancelled, QuantizeError
from ._verify import FidelityReport, FlippedVerdict, open_judge_backend, verify_fidelity

__all__ = [
    "CheckpointError",
    "FidelityReport",
    "FlippedVerdict",
    "QuantizeCancelled",
    "QuantizeError",
    "open_judge_backend",
    "verify_fidelity",
]
