"""The build/CPU check: llama.cpp compiled for instructions this CPU lacks is a one-line error, never a SIGILL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from judgedesk.core import CpuFeatures, JudgedeskError, UnsupportedCpuError, running_cpu_features
from judgedesk.core import _cpu_features as cpu_features
from judgedesk.core import _llama_runtime as runtime
from judgedesk.core.cli import main

from tests.simulated_cpu import AVX512_BUILD, HASWELL, simulate_cpu


@pytest.fixture
def simulated_cpu(monkeypatch: pytest.MonkeyPatch):
    """Run the check again, against a CPU of the test's choosing; the real check is restored afterwards."""
    return lambda cpu, record=None: simulate_cpu(monkeypatch, cpu, record)


# -- the running CPU ------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="compares CPUID with Linux's /proc/cpuinfo")
def test_cpuid_agrees_with_the_kernel_on_this_machine() -> None:
    cpu = running_cpu_features()
    kernel = cpu_features._from_proc_cpuinfo(Path("/proc/cpuinfo"))
    assert cpu.source == "cpuid" and kernel.known
    # The vector extensions must agree; a hypervisor or kernel may hide a rarer flag from one of the two.
    vector = {"__SSE3__", "__SSSE3__", "__SSE4_1__", "__SSE4_2__", "__AVX__", "__AVX2__", "__FMA__", "__F16C__",
              "__AVX512F__", "__AVX512BW__", "__AVX512VL__", "__AVX512VNNI__"}
    assert cpu.macros & vector == kernel.macros & vector
    assert "__SSE3__" in cpu.macros and cpu.model


def test_a_vector_extension_the_os_does_not_save_is_not_usable() -> None:
    found = {"__AVX__", "__AVX2__", "__FMA__", "__AVX512F__", "__AVX512VNNI__", "__AMX_TILE__", "__SSE4_2__"}
    assert cpu_features._usable(set(found), 0x7) == {"__AVX__", "__AVX2__", "__FMA__", "__SSE4_2__"}
    assert cpu_features._usable(set(found), 0x3) == {"__SSE4_2__"}
    assert cpu_features._usable(set(found), 0x600E7) == found


def test_proc_cpuinfo_is_read_by_linux_flag_names(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu pni ssse3 avx avx2 avx512f avx512_vnni\n")
    cpu = cpu_features._from_proc_cpuinfo(info)
    assert cpu.model == "Some CPU" and cpu.source == str(info)
    assert cpu.names() == ["AVX", "AVX2", "AVX512F", "AVX512VNNI", "SSE3", "SSSE3"]
    assert cpu_features._from_proc_cpuinfo(tmp_path / "missing").source == "unknown"


def test_missing_names_what_the_cpu_lacks() -> None:
    assert HASWELL.missing(frozenset(AVX512_BUILD["compiled_isa"])) == ["AVX512BW", "AVX512F", "AVX512VNNI"]
    assert HASWELL.missing(frozenset(HASWELL.macros)) == []
    assert CpuFeatures(frozenset(), "?", "unknown").missing(frozenset({"__AVX512F__"})) == []  # unknown: no check


# -- the check ------------------------------------------------------------------------------------------------------


def test_the_installed_build_passes_on_this_cpu_and_records_what_it_was_compiled_for() -> None:
    import llama_cpp

    lib_dir = Path(llama_cpp.__file__).resolve().parent / "lib"
    record = runtime.read_build_record(lib_dir)
    assert record is not None, "llama-cpp-python was not installed by scripts/build_llama.py (run make setup)"
    assert record["amx_kernels"] is False
    compiled = frozenset(record["compiled_isa"])
    assert not running_cpu_features().missing(compiled)
    assert runtime.load_llama_cpp() is llama_cpp


def test_a_build_for_a_newer_cpu_is_a_one_line_error_naming_the_library_and_the_fix(simulated_cpu) -> None:
    simulated_cpu(HASWELL, AVX512_BUILD)
    with pytest.raises(UnsupportedCpuError) as caught:
        runtime.load_llama_cpp()
    message = str(caught.value)
    assert "\n" not in message
    assert "ggml-cpu" in message and "AVX512F" in message and "Haswell" in message and "make setup" in message


@pytest.mark.real_model
def test_the_command_line_exits_1_with_the_message_before_llama_cpp_runs(simulated_cpu, capsys) -> None:
    simulated_cpu(HASWELL, AVX512_BUILD)
    status = main(["compare", "--instruction", "2+2?", "--a", "4", "--b", "5"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1 and err.startswith("judgedesk: error: ") and "AVX512F" in err


def test_doctor_reports_the_mismatch_and_everything_else(simulated_cpu, capsys) -> None:
    simulated_cpu(HASWELL, AVX512_BUILD)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM: " in out and "AVX512F" in out and "demo judge:" in out and "data folder:" in out


def test_doctor_on_this_machine_is_ready(capsys) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    labels = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in out.splitlines()}
    for label in ("judgedesk", "cpu", "llama.cpp", "build", "compiled for", "cpu check", "system info",
                  "gpu offload", "demo judge", "data folder", "verdict"):
        assert label in labels, label
    assert labels["cpu check"].startswith("ok") and labels["verdict"].startswith("ready")


def test_a_build_made_elsewhere_is_probed_in_a_child(tmp_path: Path) -> None:
    library = tmp_path / "libggml-cpu.so"

    def died(*args, **kwargs):
        return subprocess.CompletedProcess(args, -4, "", "")

    def reported(*args, **kwargs):
        return subprocess.CompletedProcess(args, 0, "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | OPENMP = 1 |", "")

    with pytest.raises(UnsupportedCpuError, match="illegal instruction"):
        runtime.probe_compiled_isa(library, run=died)
    compiled = runtime.probe_compiled_isa(library, run=reported)
    assert compiled == {"__SSE3__", "__AVX2__", "__AVX512F__"}
    assert HASWELL.missing(compiled) == ["AVX512F"]


def test_the_probe_really_runs_the_installed_build_in_a_child() -> None:
    compiled = runtime.probe_compiled_isa(Path("libggml-cpu.so"))
    assert "__AVX2__" in compiled or "__SSE3__" in compiled
    assert not running_cpu_features().missing(compiled)


def test_unsupported_cpu_is_a_judgedesk_error() -> None:
    assert issubclass(UnsupportedCpuError, JudgedeskError)
    assert UnsupportedCpuError("/x/libggml-cpu.so", "why").library == Path("/x/libggml-cpu.so")


def test_the_check_works_in_a_fresh_process() -> None:
    code = ("import judgedesk.core as c, sys; c.load_llama_cpp(); "
            "print(c.running_cpu_features().source)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("cpuid", "/proc/cpuinfo")
