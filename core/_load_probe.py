"""The first load of an unknown judge file runs in a child process, so that a native abort cannot take judgedesk
down with it.

core/_gguf_checks.py refuses what llama.cpp is known to assert on, but llama.cpp has more asserts than any list
(every architecture reads keys of its own). So before this process loads a file it has not loaded before, a child
does: `python -m judgedesk.core._load_probe FILE` loads the model on the CPU, builds a small context and decodes one
token, with llama.cpp's log on its stderr. If the child dies (GGML_ASSERT, a segfault), or llama.cpp refuses the
file, the load becomes a `ModelLoadError` naming the file and quoting llama.cpp's own line.

The cost is a Python start, a load and one decode: about a second for the demo judge on 2 cores; for a 7B file,
one read of its weights, which the real load then finds in the page cache. It is paid once per file: a file that
loaded is remembered by SHA-256 and llama-cpp-python version in the cache folder. The embedded demo judge, which
ships with judgedesk and is loaded by its selftest, is trusted without a probe. The child runs on the CPU only: GPU
offload changes where tensors live, not what llama.cpp asserts on reading the file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ._errors import ModelFileError, ModelLoadError
from ._judges import demo_judge_path
from ._llama_log import llama_failure_reason
from ._owner_only import write_owner_only
from ._paths import cache_dir

__all__ = ["PROBE_FLAG", "check_first_load"]

PROBE_FLAG = "--judgedesk-load-probe"
"""The argument a frozen judgedesk app is started with to act as the probe (a bundle has no `python -m`)."""

_STARTED = "judgedesk-load-probe: started"
_LOADED = "judgedesk-load-probe: loaded"
_REFUSED = "judgedesk-load-probe: refused"
_NO_VERDICT = "judgedesk-load-probe: could not run"
_TIMEOUT_S = 900  # generous: a 70B file on a slow disk; a probe that says nothing by then gives no verdict
_PROBE_CTX = 64
_LOCK = threading.Lock()


def check_first_load(path: Path, sha256: str, runtime: str) -> None:
    """Load `path` in a child process first unless a file with this `sha256` already loaded with llama-cpp-python
    `runtime`; raise `ModelLoadError` with llama.cpp's reason when the child fails."""
    if _is_demo_judge(path) or _known(sha256, runtime):
        return
    try:
        done = subprocess.run([*_probe_command(), str(path)], capture_output=True, text=True, errors="replace",
                              timeout=_TIMEOUT_S, env={**os.environ, "GGML_NO_BACKTRACE": "1"})
    except (OSError, subprocess.TimeoutExpired):
        return  # no verdict either way: the load goes ahead in this process, as it did before the probe existed
    output = done.stdout.splitlines()
    if _STARTED not in output or any(line.startswith(_NO_VERDICT) for line in output):
        # The probe could not start (a bundle whose entry point does not know PROBE_FLAG, say) or stopped on a
        # Python error (an unsupported CPU): this process meets the same error, or loads as it always did.
        return
    if _LOADED in output:
        _remember(sha256, runtime)
        return
    reason = llama_failure_reason(done.stderr.splitlines()) or "no reason given"
    if _REFUSED in output:
        raise ModelLoadError(path, f"llama.cpp refused it: {reason}")
    raise ModelLoadError(path, f"llama.cpp crashes on this file ({_how_it_ended(done.returncode)}): {reason}")


def _how_it_ended(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"stopped by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"stopped by signal {-returncode}"
    return f"exit code {returncode}"


def _probe_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, PROBE_FLAG]
    return [sys.executable, "-m", __name__]


def _is_demo_judge(path: Path) -> bool:
    try:
        return path.resolve() == demo_judge_path().resolve()
    except ModelFileError:
        return False


# -- the files that loaded ---------------------------------------------------------------------------------------

def _cache_file() -> Path:
    return cache_dir() / "loaded-judges.json"


def _entry(sha256: str, runtime: str) -> str:
    return f"{sha256} llama-cpp-python {runtime}"


def _load() -> set[str]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {item for item in data if isinstance(item, str)} if isinstance(data, list) else set()


def _known(sha256: str, runtime: str) -> bool:
    with _LOCK:
        return _entry(sha256, runtime) in _load()


def _remember(sha256: str, runtime: str) -> None:
    with _LOCK:
        entries = _load() | {_entry(sha256, runtime)}
        target = _cache_file()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_owner_only(target, json.dumps(sorted(entries), indent=0))  # like every cache of the user's files
        except OSError:
            pass  # a read-only cache only costs another probe next time


# -- the child ---------------------------------------------------------------------------------------------------

def run_load_probe(path: str) -> int:
    """Load `path` as the parent will, on the CPU, and decode one token; print the outcome on stdout.

    Exit status 0 when it loaded, 1 when llama.cpp refused it or the probe could not run; a crash leaves the
    outcome unprinted.
    """
    print(_STARTED, flush=True)
    try:
        return _load_and_decode(path)
    except Exception as exc:  # a Python-level failure is not the file's fault: the parent will meet it itself
        print(_NO_VERDICT, f"{type(exc).__name__}: {exc}", flush=True)
        return 1


def _load_and_decode(path: str) -> int:
    from ._llama_runtime import default_threads, load_llama_cpp

    llama_cpp = load_llama_cpp()
    llama_cpp.llama_backend_init()
    model_params = llama_cpp.llama_model_default_params()
    model_params.n_gpu_layers = 0
    model = llama_cpp.llama_model_load_from_file(os.fsencode(path), model_params)
    if not model:
        print(_REFUSED, flush=True)
        return 1
    context_params = llama_cpp.llama_context_default_params()
    context_params.n_ctx = context_params.n_batch = context_params.n_ubatch = _PROBE_CTX
    context_params.n_threads = context_params.n_threads_batch = default_threads()
    context = llama_cpp.llama_init_from_model(model, context_params)
    if not context:
        llama_cpp.llama_model_free(model)
        print(_REFUSED, flush=True)
        return 1
    # One decode runs the graph's kernels, which assert on shapes the loader let through.
    bos = llama_cpp.llama_vocab_bos(llama_cpp.llama_model_get_vocab(model))
    token = (llama_cpp.llama_token * 1)(max(bos, 0))
    status = llama_cpp.llama_decode(context, llama_cpp.llama_batch_get_one(token, 1))
    llama_cpp.llama_free(context)
    llama_cpp.llama_model_free(model)
    print(_LOADED if status == 0 else _REFUSED, flush=True)
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(run_load_probe(sys.argv[1]))
