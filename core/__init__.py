"""judgedesk core: the judge engine.

Judge formats with their exact published prompts (PandaLM, Auto-J, Prometheus 2, MT-bench, Arena-Hard, generic),
constrained and parse-proof verdicts, both response orders, reproducible manifests, backends (llama.cpp, mock),
and the CLI.
Importing this package puts the process offline: Hugging Face libraries are told so, and outbound connections
are refused before any packet is sent.
"""

from __future__ import annotations

from ._interrupts import quiet_interrupts_while_starting

quiet_interrupts_while_starting()  # Ctrl-C while the `judgedesk` script still imports: one line, not a traceback

from ._cpu_features import CpuFeatures, running_cpu_features  # noqa: E402
from ._llama_runtime import load_llama_cpp, promote_cxx_runtime, system_info  # noqa: E402

promote_cxx_runtime()  # before numpy loads: see _llama_runtime for the CUDA-build crash this prevents

from ._offline import allow_endpoint, allow_loopback, allowed_endpoints, guard_installed, install_offline_guard  # noqa: E402

install_offline_guard()

from ._chat_template import render_chat  # noqa: E402
from ._cost_estimate import CostEstimate, estimate_comparison_cost  # noqa: E402
from ._engine import DecodingSettings, Judge, constrained_option_probabilities  # noqa: E402
from ._errors import (  # noqa: E402
    BackendError,
    Cancelled,
    ContextOverflowError,
    FormatError,
    InputError,
    JudgedeskError,
    ModelFileError,
    ModelLoadError,
    NetworkBlockedError,
    ServerError,
    ServerRequestError,
    ServerUnavailableError,
    UnsupportedCpuError,
)
from ._gguf_file import JUDGEDESK_FORMAT_KEY, JUDGEDESK_SYNTHETIC_KEY, GGUFHeader, GGUFTensor, read_gguf_header  # noqa: E402
from ._judges import (  # noqa: E402
    DEMO_JUDGE,
    JudgeEntry,
    demo_judge_path,
    judge_sha256,
    list_judges,
    recorded_format,
    resolve_judge,
)
from ._library import (  # noqa: E402
    ImportCancelled,
    LibraryRecord,
    delete_judge,
    import_judge,
    library_file,
    read_library,
    validate_judge_name,
)
from ._load_probe import run_load_probe  # noqa: E402
from ._loading import (  # noqa: E402
    ServerOptions,
    decoding_for_backend,
    decoding_limits,
    judge_with_backend,
    load_judge,
    open_judge_backend,
)
from ._owner_only import copy_owner_only, make_owner_only_folder, open_owner_only  # noqa: E402
from ._paths import data_dir, demo_data_path  # noqa: E402
from ._progress import CancelFlag, Progress  # noqa: E402
from ._prompt_preview import PromptPreview  # noqa: E402
from ._records import (  # noqa: E402
    BothOrdersResult,
    Decision,
    EvalItem,
    Grade,
    Label,
    Manifest,
    PairwiseVerdict,
    PriorTurn,
    Status,
    Strength,
    decide,
    strength_winner,
    swap_strength,
    to_json,
    winner_probabilities,
)
from ._server_endpoint import ServerEndpoint, parse_server_url  # noqa: E402
from ._version import __version__  # noqa: E402
from .backends import (  # noqa: E402
    Backend,
    BackendCapabilities,
    Generation,
    ModelInfo,
    Sampling,
    backend_names,
    create_backend,
    register_backend,
)
from .formats import JudgeFormat, choose_format, default_format_for, format_names, get_format, register_format  # noqa: E402

__all__ = [
    "DEMO_JUDGE",
    "JUDGEDESK_FORMAT_KEY",
    "JUDGEDESK_SYNTHETIC_KEY",
    "Backend",
    "BackendCapabilities",
    "BackendError",
    "BothOrdersResult",
    "CancelFlag",
    "Cancelled",
    "ContextOverflowError",
    "CostEstimate",
    "CpuFeatures",
    "Decision",
    "DecodingSettings",
    "EvalItem",
    "FormatError",
    "GGUFHeader",
    "GGUFTensor",
    "Generation",
    "Grade",
    "ImportCancelled",
    "InputError",
    "Judge",
    "JudgeEntry",
    "JudgeFormat",
    "JudgedeskError",
    "Label",
    "LibraryRecord",
    "Manifest",
    "ModelFileError",
    "ModelInfo",
    "ModelLoadError",
    "NetworkBlockedError",
    "PairwiseVerdict",
    "PriorTurn",
    "Progress",
    "PromptPreview",
    "Sampling",
    "ServerEndpoint",
    "ServerError",
    "ServerOptions",
    "ServerRequestError",
    "ServerUnavailableError",
    "Status",
    "Strength",
    "UnsupportedCpuError",
    "__version__",
    "allow_endpoint",
    "allow_loopback",
    "allowed_endpoints",
    "backend_names",
    "choose_format",
    "constrained_option_probabilities",
    "copy_owner_only",
    "create_backend",
    "data_dir",
    "decide",
    "decoding_for_backend",
    "decoding_limits",
    "default_format_for",
    "delete_judge",
    "demo_data_path",
    "demo_judge_path",
    "estimate_comparison_cost",
    "format_names",
    "get_format",
    "guard_installed",
    "import_judge",
    "install_offline_guard",
    "judge_sha256",
    "judge_with_backend",
    "library_file",
    "list_judges",
    "load_judge",
    "load_llama_cpp",
    "make_owner_only_folder",
    "open_judge_backend",
    "open_owner_only",
    "parse_server_url",
    "read_gguf_header",
    "read_library",
    "recorded_format",
    "register_backend",
    "register_format",
    "render_chat",
    "resolve_judge",
    "run_load_probe",
    "running_cpu_features",
    "strength_winner",
    "swap_strength",
    "system_info",
    "to_json",
    "validate_judge_name",
    "winner_probabilities",
]
