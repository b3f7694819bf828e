"""Quantize judges: Hugging Face weights to GGUF K-quants and GPTQ, memory planning, fidelity checks.

Nothing here imports Qt; torch, transformers and GPTQModel are imported only by the steps that need them
(`pip install judgedesk[hf]`).
"""

from __future__ import annotations

from ._calibration import calibration_prompts
from ._checkpoint import SUPPORTED_ARCHITECTURES, Checkpoint, ModelConfig, inspect_checkpoint, read_model_config
from ._convert import OUTTYPES, ConvertResult, convert_to_gguf
from ._errors import CheckpointError, QuantizeCancelled, QuantizeError
from ._gptq import GPTQ_BITS, import_autogptq, quantize_gptq
from ._kquant import QUANT_TYPES, QuantizeProgress, quantize_gguf, read_imatrix
from ._kquant_worker import run_kquant_worker
from ._plan import BUDGET_PRESETS, MemoryPlan, PlanRow, plan_memory, sequences_that_fit
from ._synthetic import SYNTHETIC_SHAPES, SyntheticResult, synthetic_shape, write_synthetic_gguf
from ._system_memory import GpuMemory, SystemMemory, detect_memory
from ._verify import FidelityReport, FlippedVerdict, verify_fidelity

__all__ = [
    "BUDGET_PRESETS",
    "GPTQ_BITS",
    "OUTTYPES",
    "QUANT_TYPES",
    "SUPPORTED_ARCHITECTURES",
    "SYNTHETIC_SHAPES",
    "Checkpoint",
    "CheckpointError",
    "ConvertResult",
    "FidelityReport",
    "FlippedVerdict",
    "GpuMemory",
    "MemoryPlan",
    "ModelConfig",
    "PlanRow",
    "QuantizeCancelled",
    "QuantizeError",
    "QuantizeProgress",
    "SyntheticResult",
    "SystemMemory",
    "calibration_prompts",
    "convert_to_gguf",
    "detect_memory",
    "import_autogptq",
    "inspect_checkpoint",
    "plan_memory",
    "quantize_gguf",
    "quantize_gptq",
    "read_imatrix",
    "read_model_config",
    "run_kquant_worker",
    "sequences_that_fit",
    "synthetic_shape",
    "verify_fidelity",
    "write_synthetic_gguf",
]
