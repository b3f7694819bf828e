"""Backends: model runtimes behind one protocol, registered by name through lazy factories.

A factory imports its runtime inside the function, so `import judgedesk.core` stays light and a missing optional
runtime is an error naming the `pip install` to run, raised only when that backend is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._errors import BackendError
from .._llama_log import captured_llama_log, llama_failure_reason
from ._hf_folder import HFFolder, quiet_hf_warnings, read_hf_folder
from ._protocol import Backend, BackendCapabilities, Generation, ModelInfo, Sampling, served_model_of

__all__ = [
    "Backend",
    "BackendCapabilities",
    "Generation",
    "HFFolder",
    "ModelInfo",
    "Sampling",
    "backend_names",
    "captured_llama_log",
    "create_backend",
    "llama_failure_reason",
    "quiet_hf_warnings",
    "read_hf_folder",
    "register_backend",
    "served_model_of",
]

BackendFactory = Callable[..., Backend]
_FACTORIES: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Register `factory(**options) -> Backend` under `name`."""
    _FACTORIES[name] = factory


def create_backend(name: str, **options: Any) -> Backend:
    """Create the backend registered as `name` with `options` (e.g. path, n_ctx, n_threads)."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise BackendError(f"unknown backend {name!r}; known backends: {', '.join(backend_names())}") from None
    return factory(**options)


def backend_names() -> list[str]:
    """Names of the registered backends."""
    return sorted(_FACTORIES)


def _llamacpp(**options: Any) -> Backend:
    try:
        from ._llamacpp import LlamaCppBackend
    except ImportError as exc:  # pragma: no cover - part of the core install
        raise BackendError("the llama.cpp backend needs llama-cpp-python: pip install llama-cpp-python==0.3.36") \
            from exc
    return LlamaCppBackend(**options)


def _transformers(**options: Any) -> Backend:
    # The module imports torch and transformers only when a backend is created, and names `pip install
    # judgedesk[hf]` when they are missing; the folder is checked first, so a wrong path is reported as such.
    from ._transformers import TransformersBackend

    return TransformersBackend(**options)


def _server(**options: Any) -> Backend:
    # Standard library only (http.client): nothing optional to be missing.
    from ._server import ServerBackend

    return ServerBackend(**options)


def _mock(**options: Any) -> Backend:
    from ._mock import MockBackend

    return MockBackend(**options)


register_backend("llama.cpp", _llamacpp)
register_backend("mock", _mock)
register_backend("server", _server)
register_backend("transformers", _transformers)
