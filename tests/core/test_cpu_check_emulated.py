"""The build/CPU check on a real foreign CPU: this machine's build run under qemu-user emulating an older CPU.

The emulated CPU is the newest qemu model that lacks SIMD the build's kernels use: a Haswell (AVX2 and FMA, no
AVX-512) when the host has AVX-512, a Sandy Bridge (AVX, no AVX2, FMA or F16C) when it has only AVX2, as this
project's CI machines do. Either way a build made here cannot run there, and qemu's CPUID says so while
/proc/cpuinfo still describes the host: the check reads CPUID (core/_cpu_features.py), so under emulation it sees
the emulated CPU. qemu-user emulates only the process it starts: a child that process starts runs natively, so
everything checked here happens in that first process.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from judgedesk.core import CpuFeatures, running_cpu_features
from judgedesk.core import _llama_runtime as runtime

from tests.emulated_cpu import KERNEL_SIMD, emulated_model
from tests.llama_build import LIB_DIR

pytestmark = pytest.mark.slow

QEMU = shutil.which("qemu-x86_64")


def emulated(arguments: list[str], tmp_path: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run this environment's Python on the emulated CPU; qemu's warnings about host-only features dropped."""
    if QEMU is None:
        pytest.fail("qemu-x86_64 (Debian package qemu-user, installed by `make setup`) is needed")
    env = os.environ | {"JUDGEDESK_HOME": str(tmp_path / "home")}
    done = subprocess.run([QEMU, "-cpu", emulated_model(), sys.executable, *arguments], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=tmp_path)
    done.stderr = "\n".join(line for line in done.stderr.splitlines() if "TCG doesn't support" not in line)
    return done


def _needs_more_than_the_emulated_cpu() -> list[str]:
    record = runtime.read_build_record(LIB_DIR)
    assert record is not None
    return emulated_cpu().missing(frozenset(record["compiled_isa"]))


@functools.cache
def emulated_cpu() -> CpuFeatures:
    """The CPU features judgedesk reads inside the emulator."""
    code = "import judgedesk.core as c, json; print(json.dumps(sorted(c.running_cpu_features().macros)))"
    with tempfile.TemporaryDirectory() as tmp:
        done = emulated(["-c", code], Path(tmp))
    assert done.returncode == 0, done.stderr
    return CpuFeatures(frozenset(json.loads(done.stdout)), f"qemu {emulated_model()}", "cpuid")


def test_the_emulated_cpu_is_the_one_asked_for_whatever_the_host_is() -> None:
    cpu = emulated_cpu()
    assert not any("AVX512" in macro for macro in cpu.macros)
    if emulated_model() == "Haswell":
        assert {"__AVX2__", "__FMA__", "__F16C__", "__BMI2__"} <= cpu.macros
    elif emulated_model() == "SandyBridge":
        assert "__AVX__" in cpu.macros and not {"__AVX2__", "__FMA__", "__F16C__"} & cpu.macros
    else:
        assert "__SSE4_2__" in cpu.macros and "__AVX__" not in cpu.macros
    assert cpu.macros != running_cpu_features().macros  # CPUID, not the host's /proc/cpuinfo


def test_the_build_uses_simd_the_emulated_cpu_lacks() -> None:
    """What makes the two tests below mean something on any host."""
    missing = _needs_more_than_the_emulated_cpu()
    assert any(name in KERNEL_SIMD or name.startswith("AVX512") for name in missing), missing


def test_compare_on_a_cpu_the_build_does_not_fit_is_a_one_line_error(tmp_path: Path) -> None:
    missing = _needs_more_than_the_emulated_cpu()
    done = emulated(["-m", "judgedesk.core.cli", "compare", "--instruction", "2+2?", "--a", "4", "--b", "5"],
                    tmp_path)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 0 and done.stderr.startswith("judgedesk: error: ")
    assert "libggml-cpu" in done.stderr and "make setup" in done.stderr
    assert all(name in done.stderr for name in missing)


def test_without_the_check_the_same_build_dies_of_sigill(tmp_path: Path) -> None:
    """The negative control: llama.cpp used directly, as judgedesk did before the check, on the same CPU."""
    code = ("import llama_cpp; from judgedesk.core import demo_judge_path; "
            "llm = llama_cpp.Llama(model_path=str(demo_judge_path()), n_ctx=256, verbose=False); "
            "llm.eval(llm.tokenize(b'2+2?')); print('evaluated')")
    done = emulated(["-c", code], tmp_path)
    assert done.returncode in (-4, 132), (done.returncode, done.stdout, done.stderr)
    assert "evaluated" not in done.stdout
