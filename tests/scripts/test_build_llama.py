"""scripts/build_llama.py: what decides a llama.cpp build, and the build installed here has no AMX kernels."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_script():
    spec = importlib.util.spec_from_file_location("build_llama", ROOT / "scripts" / "build_llama.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_llama"] = module
    spec.loader.exec_module(module)
    return module


build_llama = _load_script()


def test_native_build_has_no_amx_and_user_flags_are_merged_not_replacing_ours(monkeypatch) -> None:
    monkeypatch.setattr(build_llama, "is_x86_64", lambda: True)
    args = build_llama.cmake_args(False, "-DGGML_CUDA=on -DCMAKE_C_FLAGS=-O3")
    assert "-DGGML_NATIVE=ON" in args and "-DGGML_CUDA=on" in args
    assert "-DCMAKE_C_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16 -O3" in args
    assert "-DCMAKE_CXX_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" in args
    portable = build_llama.cmake_args(True, "")
    assert {"-DGGML_NATIVE=OFF", "-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON"} <= set(portable)


def test_the_portable_build_drops_the_amx_variant() -> None:
    edits = build_llama.portable_patch()
    assert any("sapphirerapids" in old and "AMX" in old and new == "" for old, new in edits)


def test_the_cache_key_changes_with_the_flags_the_cpu_and_the_compiler(monkeypatch) -> None:
    base = build_llama.build_key(build_llama.build_spec(False))
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_CUDA=on")
    with_cuda = build_llama.build_key(build_llama.build_spec(False))
    monkeypatch.delenv("CMAKE_ARGS")
    monkeypatch.setattr(build_llama, "cpu_flags", lambda: "fpu sse2 avx2 amx_tile amx_int8")
    other_cpu = build_llama.build_key(build_llama.build_spec(False))
    monkeypatch.setattr(build_llama, "compiler_identity", lambda: "gcc 99")
    other_compiler = build_llama.build_key(build_llama.build_spec(False))
    assert len({base, with_cuda, other_cpu, other_compiler}) == 4
    assert build_llama.build_key(build_llama.build_spec(True)) != base


def test_a_build_whose_libraries_changed_is_not_taken_for_ours(tmp_path: Path) -> None:
    lib = tmp_path / "libllama.so"
    lib.write_bytes(b"one")
    record = {"key": "k1", "libraries": build_llama.library_hashes(tmp_path)}
    (tmp_path / build_llama.BUILD_RECORD).write_text(json.dumps(record))
    assert build_llama.installed_key(tmp_path) == "k1"
    lib.write_bytes(b"reinstalled by plain pip")
    assert build_llama.installed_key(tmp_path) is None
    (tmp_path / build_llama.BUILD_RECORD).unlink()
    assert build_llama.installed_key(tmp_path) is None


def test_install_rebuilds_when_the_installed_build_is_not_this_machines(tmp_path, monkeypatch) -> None:
    """A venv holding someone else's build (another key, or none) is repaired: the wanted wheel is installed."""
    target = tmp_path / "site"
    (target / "llama_cpp" / "lib").mkdir(parents=True)
    (target / "llama_cpp" / "lib" / "libllama.so").write_bytes(b"native build with AMX")
    wheel_dir = tmp_path / "cache"
    wheel_dir.mkdir()
    wheel = wheel_dir / "llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(b"")
    key = build_llama.build_key(build_llama.build_spec(False))
    (wheel_dir / build_llama.BUILD_RECORD).write_text(json.dumps({"key": key}))
    built, installed = [], []
    monkeypatch.setattr(build_llama, "build_wheel", lambda spec, key: built.append(key) or wheel)
    monkeypatch.setattr(build_llama, "compiled_isa", lambda spec: ["__AVX2__"])

    def fake_pip(command, what, env=None):
        installed.append(command)
        lib = target / "llama_cpp" / "lib"
        lib.mkdir(parents=True, exist_ok=True)
        (lib / "libllama.so").write_bytes(b"the wanted build")

    monkeypatch.setattr(build_llama, "_run", fake_pip)
    build_llama.install(False, target)
    assert built == [key] and str(wheel) in installed[0] and "--target" in installed[0]
    record = json.loads((target / "llama_cpp" / "lib" / build_llama.BUILD_RECORD).read_text())
    assert record["compiled_isa"] == ["__AVX2__"] and record["key"] == key
    build_llama.install(False, target)  # up to date now: nothing is built or installed again
    assert len(built) == 1 and len(installed) == 1
