"""The C++ runtime enters the global symbol scope when judgedesk.core is imported, before llama.cpp can load.

On a CUDA build whose ggml backend exports its own copies of libstdc++'s locale facet ids, loading a model after
`import numpy` segfaulted in the tokenizer (see core/_llama_runtime.py). The crash needs such a build; what these tests
hold everywhere is the order that prevents it: after numpy, libstdc++ is loaded but not global; after importing
judgedesk.core it is global, and llama_cpp is still not loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from judgedesk.core import _llama_runtime

# std::locale::classic(), a libstdc++ symbol; looking it up through dlopen(NULL) searches only the global scope.
_PROBE = """
import ctypes, json, sys
def in_global_scope():
    return hasattr(ctypes.CDLL(None), "_ZNSt6locale7classicEv")
def loaded():
    with open("/proc/self/maps") as maps:
        return any("libstdc++" in line for line in maps)
import numpy
seen = {"numpy": [loaded(), in_global_scope()]}
import judgedesk.core
seen["judgedesk.core"] = [loaded(), in_global_scope(), "llama_cpp" in sys.modules]
print(json.dumps(seen))
"""


def _run(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="symbol scopes of the ELF dynamic linker")
def test_importing_core_makes_the_cxx_runtime_global_before_llama_cpp_loads():
    done = _run(_PROBE)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    # numpy leaves libstdc++ in a local scope (the state the crash needs), or does not load it at all.
    assert seen["numpy"][1] is False
    assert seen["judgedesk.core"] == [True, True, False]


def test_promotion_is_skipped_off_linux(monkeypatch):
    monkeypatch.setattr(_llama_runtime.sys, "platform", "darwin")
    assert _llama_runtime.promote_cxx_runtime() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="symbol scopes of the ELF dynamic linker")
def test_a_system_without_libstdcxx_is_not_an_error(monkeypatch):
    monkeypatch.setattr(_llama_runtime, "_CXX_RUNTIME", "libjudgedesk-no-such-runtime.so.0")
    assert _llama_runtime.promote_cxx_runtime() is False


@pytest.mark.real_model
def test_numpy_first_then_judging_on_the_demo_judge():
    """The device crash's shape, end to end: numpy imported before judgedesk, then a real model load and a verdict."""
    code = """
import numpy
from judgedesk.core import EvalItem, Judge, create_backend, demo_judge_path
with create_backend("llama.cpp", path=demo_judge_path(), n_ctx=2048) as backend:
    verdict = Judge(backend, format="pandalm").compare(
        EvalItem(id="q1", instruction="Name a primary colour.", responses=("Red.", "Banana.")))
print(verdict.winner, verdict.status)
"""
    done = _run(code, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    winner, status = done.stdout.split()
    assert winner in {"A", "B", "tie"} and status == "ok"
