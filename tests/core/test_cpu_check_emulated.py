"""The build/CPU check on a real foreign CPU: this machine's build run under qemu-user emulating a Haswell.

qemu's `-cpu Haswell` executes AVX2 and FMA but not AVX-512, and its CPUID says so, while /proc/cpuinfo still
describes the host: the check reads CPUID (core/_cpu_features.py), so under emulation it sees the Haswell.
qemu-user emulates only the process it starts: a child that process starts runs natively, so everything checked
here happens in that first process.
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

from tests.llama_build import LIB_DIR

pytestmark = pytest.mark.slow

QEMU = shutil.which("qemu-x86_64")
HASWELL = ["-cpu", "Haswell"]


def emulated(arguments: list[str], tmp_path: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run this environment's Python on an emulated Haswell; qemu's warnings about host-only features dropped."""
    if QEMU is None:
        pytest.fail("qemu-x86_64 (Debian package qemu-user, installed by `make setup`) is needed")
    env = os.environ | {"JUDGEDESK_HOME": str(tmp_path / "home")}
    done = subprocess.run([QEMU, *HASWELL, sys.executable, *arguments], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=tmp_path)
    done.stderr = "\n".join(line for line in done.stderr.splitlines() if "TCG doesn't support" not in line)
    return done


def _needs_more_than_haswell() -> list[str]:
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
    return CpuFeatures(frozenset(json.loads(done.stdout)), "qemu Haswell", "cpuid")


def test_the_emulated_cpu_is_a_haswell_whatever_the_host_is() -> None:
    cpu = emulated_cpu()
    assert {"__AVX2__", "__FMA__", "__F16C__", "__BMI2__"} <= cpu.macros
    assert not any("AVX512" in macro for macro in cpu.macros)
    if any("AVX512" in macro for macro in running_cpu_features().macros):
        assert cpu.macros != running_cpu_features().macros  # CPUID, not the host's /proc/cpuinfo


def test_compare_on_a_cpu_the_build_does_not_fit_is_a_one_line_error(tmp_path: Path) -> None:
    missing = _needs_more_than_haswell()
    done = emulated(["-m", "judgedesk.core.cli", "compare", "--instruction", "2+2?", "--a", "4", "--b", "5"],
                    tmp_path)
    if not missing:  # a build this CPU can run (the host has no AVX-512): it judges
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 0 and done.stderr.startswith("judgedesk: error: ")
    assert "libggml-cpu" in done.stderr and "make setup" in done.stderr
    assert all(name in done.stderr for name in missing)


def test_without_the_check_the_same_build_dies_of_sigill(tmp_path: Path) -> None:
    """The negative control: llama.cpp used directly, as judgedesk did before the check, on the same CPU."""
    if not _needs_more_than_haswell():
        pytest.skip("this machine's build runs on a Haswell: there is no mismatch to show")
    code = ("import llama_cpp; from judgedesk.core import demo_judge_path; "
            "llm = llama_cpp.Llama(model_path=str(demo_judge_path()), n_ctx=256, verbose=False); "
            "llm.eval(llm.tokenize(b'2+2?')); print('evaluated')")
    done = emulated(["-c", code], tmp_path)
    assert done.returncode in (-4, 132), (done.returncode, done.stdout, done.stderr)
    assert "evaluated" not in done.stdout
