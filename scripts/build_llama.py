"""Build and install llama-cpp-python the way judgedesk needs it, with the wheel cached by everything that shapes it.

    python scripts/build_llama.py install                                  # native build into this environment
    python scripts/build_llama.py install --portable --target DIR          # portable build into a folder (bundles)
    python scripts/build_llama.py show [--portable]                        # the build this machine would make
    python scripts/build_llama.py server                                   # llama-server from the same source

`server` builds llama.cpp's own HTTP server (the C++ `llama-server`, the main target of judgedesk's server backend)
from the llama.cpp that the pinned sdist vendors, so the server and the in-process library are the same llama.cpp:
native, without AMX kernels, CPU only unless CMAKE_ARGS says otherwise (CMAKE_ARGS="-DGGML_CUDA=on" for a GPU node),
with nothing that reaches the network (no HTTPS, no download of the web UI). Only the llama-server target and what
it links are compiled; the binary (static llama.cpp libraries) is cached under cache_root()/server/<key> by the same
kind of key as the wheels, and the command prints its path. cmake and ninja come from PyPI into the running
environment when the machine has neither.

Two builds of the pinned sdist (the same llama.cpp source, checked by SHA-256):

- native: `GGML_NATIVE` (-march=native), the fastest build for the machine that builds it, and for that machine only.
- portable: what llama.cpp's release builds do (`GGML_BACKEND_DL` + `GGML_CPU_ALL_VARIANTS`): the CPU backend is
  compiled once per instruction-set level and the best one the running CPU supports is loaded at run time, so one
  build runs on every x86-64 CPU. judgedesk loads the variants from llama_cpp/lib itself (core/_llama_runtime.py).

Neither contains ggml's AMX kernels while AMX_KERNELS is False, the one switch for them: on CPUs with AMX (Xeon
Sapphire Rapids and later) they die with SIGILL in `tilezero`, because the tile configuration ggml writes on the
stack is optimised away and tile permission is requested on the main thread only (llama.cpp pull request 26954,
open). Once a fixed llama.cpp is pinned, set AMX_KERNELS = True and `make setup` rebuilds.

pip caches a wheel it builds from an sdist by the sdist alone, not by CMAKE_ARGS, so a wheel built with other flags
(or on another CPU) could silently come back. This script never uses pip's wheel cache: it keeps its own, keyed by
the sdist's hash, the build's CMake arguments (CMAKE_ARGS from the environment included), this script's patch, the
compiler and, for a native build, the CPU's feature flags. `install` records the key beside the libraries it
installs (llama_cpp/lib/judgedesk-build.json, with the libraries' hashes) and rebuilds or reinstalls whenever what
is installed is not what this machine would build, which also repairs a venv that holds a build made elsewhere.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PACKAGE = "llama-cpp-python"
VERSION = "0.3.36"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"

AMX_KERNELS = False
"""ggml's AMX kernels crash on CPUs with AMX (llama.cpp PR 26954). True compiles them in again, in both builds."""

NO_AMX_FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
"""Given before ggml's -march=native, these still win: GCC and Clang let explicit ISA flags override -march."""

BUILD_RECORD = "judgedesk-build.json"
"""Written into llama_cpp/lib of an installed build: which build it is, and the hashes of its libraries."""

_SCRIPT_REVISION = "1"  # bump when this script changes what it builds
_SERVER_REVISION = "1"  # bump when this script changes how it builds llama-server

SERVER_TARGET = "llama-server"

# The portable build's CPU backend variants. llama.cpp's list (ggml/src/CMakeLists.txt) has 14 for x86-64; these are
# the generic floor (x64: SSE2, runs anywhere, slowly) and every AVX2-and-later level, without the pre-AVX2 levels
# (they cost build time for CPUs older than 2013) and without sapphirerapids, the one that compiles AMX in.
_X86_VARIANTS_UPSTREAM = """\
        ggml_add_cpu_backend_variant(x64)
        ggml_add_cpu_backend_variant(sse42              SSE42)
        ggml_add_cpu_backend_variant(sandybridge        SSE42 AVX)
        if (NOT MSVC)
            # __FMA__ and __F16C__ are not defined in MSVC, however they are implied with AVX2/AVX512
            ggml_add_cpu_backend_variant(ivybridge      SSE42 AVX F16C)
            ggml_add_cpu_backend_variant(piledriver     SSE42 AVX F16C FMA)
        endif()
"""
_X86_VARIANTS_KEPT = """\
        ggml_add_cpu_backend_variant(x64)
"""
_AMX_VARIANT_UPSTREAM = ("            ggml_add_cpu_backend_variant(sapphirerapids SSE42 AVX F16C FMA AVX2 BMI2 AVX512 "
                         "AVX512_VBMI AVX512_VNNI AVX512_BF16 AMX_TILE AMX_INT8)\n")
_VARIANTS_FILE = "vendor/llama.cpp/ggml/src/CMakeLists.txt"


class BuildError(RuntimeError):
    """The build cannot go on; the message says why and what to do."""


def cache_root() -> Path:
    if override := os.environ.get("JUDGEDESK_BUILD_CACHE"):
        return Path(override)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "judgedesk" / "llama-cpp-python"


def is_x86_64() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64")


# --- what decides the build ------------------------------------------------------------------------------------------


def cmake_args(portable: bool, user_args: str) -> list[str]:
    """The CMake arguments of the build: judgedesk's, then the user's CMAKE_ARGS (their C/C++ flags get ours merged)."""
    # LLAVA_BUILD=OFF: the multimodal library (mtmd) is imported by llama-cpp-python only for image chat handlers,
    # which judgedesk never uses; leaving it out saves a fifth of the build.
    args = ["-DLLAVA_BUILD=OFF"]
    # The CPU variants are CMake MODULE libraries installed to CMAKE_INSTALL_BINDIR, which would put them in the
    # wheel's top-level bin/; beside libllama they travel with the package (and into the bundle).
    args += ["-DGGML_NATIVE=OFF", "-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON",
             "-DCMAKE_INSTALL_BINDIR=llama_cpp/lib"] if portable else ["-DGGML_NATIVE=ON"]
    flags = NO_AMX_FLAGS if is_x86_64() and not AMX_KERNELS else ""
    user = shlex.split(user_args)
    for language in ("C", "CXX"):
        name = f"-DCMAKE_{language}_FLAGS="
        theirs = [arg for arg in user if arg.startswith(name)]
        user = [arg for arg in user if not arg.startswith(name)]
        merged = " ".join(part for part in [flags] + [arg[len(name):] for arg in theirs] if part)
        if merged:
            args.append(name + merged)
    return args + user


def portable_patch() -> list[tuple[str, str]]:
    """Edits to the vendored CMake list of CPU variants (old text, new text); empty when nothing needs editing."""
    edits = [(_X86_VARIANTS_UPSTREAM, _X86_VARIANTS_KEPT)]
    if not AMX_KERNELS:
        edits.append((_AMX_VARIANT_UPSTREAM, ""))
    return edits


def compiler_identity() -> str:
    compiler = os.environ.get("CC") or "cc"
    try:
        done = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"no C compiler ({compiler}: {exc}); on Debian: apt-get install build-essential") from exc
    return done.stdout.splitlines()[0] if done.stdout else compiler


def cpu_flags() -> str:
    """The CPU's feature flags as the kernel reports them: a native build is only valid for this set."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def build_spec(portable: bool) -> dict[str, object]:
    """Everything that decides what the build contains; its hash is the cache key."""
    spec: dict[str, object] = {
        "package": f"{PACKAGE}=={VERSION}",
        "sdist_sha256": SDIST_SHA256,
        "flavour": "portable" if portable else "native",
        "cmake_args": cmake_args(portable, os.environ.get("CMAKE_ARGS", "")),
        "amx_kernels": AMX_KERNELS,
        "compiler": compiler_identity(),
        "python": f"{sys.implementation.name}{sys.version_info.major}.{sys.version_info.minor}",
        "platform": f"{sys.platform}-{platform.machine()}",
        "script_revision": _SCRIPT_REVISION,
    }
    if portable:
        spec["patch"] = hashlib.sha256(repr(portable_patch()).encode()).hexdigest()
    else:
        spec["cpu_flags"] = hashlib.sha256(cpu_flags().encode()).hexdigest()
    return spec


def server_cmake_args(user_args: str) -> list[str]:
    """CMake arguments of llama-server, for llama.cpp's own CMake project (not llama-cpp-python's).

    The native build's (GGML_NATIVE, the AMX switch, the user's CMAKE_ARGS last so they win) after the server's:
    static libraries so the cached binary stands alone; no tests, examples or unified app; no OpenSSL (judgedesk
    talks plain HTTP to 127.0.0.1 or a trusted node; HTTPS belongs to a proxy in front); no web UI, neither built
    with npm nor its prebuilt assets downloaded at build time (the build must not reach the network).
    """
    server = ["-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TOOLS=ON",
              "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
              "-DLLAMA_BUILD_APP=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF"]
    # LLAVA_BUILD is llama-cpp-python's option; llama-server links llama.cpp's mtmd library whatever it says.
    return server + [arg for arg in cmake_args(False, user_args) if arg != "-DLLAVA_BUILD=OFF"]


def server_spec() -> dict[str, object]:
    """Everything that decides the llama-server binary; like build_spec, less the Python it never loads."""
    spec = build_spec(portable=False)
    del spec["python"]
    return spec | {"flavour": "server", "cmake_args": server_cmake_args(os.environ.get("CMAKE_ARGS", "")),
                   "target": SERVER_TARGET, "server_revision": _SERVER_REVISION}


def build_key(spec: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


def compiled_isa(spec: dict[str, object]) -> list[str]:
    """The instruction-set macros (__AVX2__, __AVX512F__...) the compiler enabled for ggml's CPU code.

    judgedesk compares them with the running CPU before llama.cpp runs (core/_llama_runtime.py). A native build
    compiles its CPU backend with -march=native after our flags; a portable build's base libraries have none (its
    CPU variants are chosen at run time by ggml, which checks each against the CPU itself).
    """
    if spec["flavour"] != "native" or not is_x86_64():
        return []
    flags: list[str] = []
    for arg in spec["cmake_args"]:  # type: ignore[union-attr]
        if arg.startswith("-DCMAKE_C_FLAGS="):
            flags = shlex.split(arg.split("=", 1)[1])
    compiler = os.environ.get("CC") or "cc"
    done = subprocess.run([compiler, *flags, "-march=native", "-dM", "-E", "-x", "c", os.devnull],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"{compiler} could not list the macros of -march=native: {done.stderr.strip()}")
    macros = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("#define __")}
    return sorted(name for name in macros if name.endswith("__") and _is_isa_macro(name))


def _is_isa_macro(name: str) -> bool:
    """Instruction-set macros, told from the compiler's other predefined macros (__GNUC__, __SIZEOF_INT__...)."""
    stem = name.strip("_")
    prefixes = ("SSE", "SSSE", "AVX", "AMX", "FMA", "F16C", "BMI", "POPCNT", "LZCNT", "MOVBE", "AES", "PCLMUL",
                "SHA", "GFNI", "VAES", "VPCLMULQDQ", "ADX", "XOP", "MMX")
    return stem.startswith(prefixes) and "MATH" not in stem


# --- building --------------------------------------------------------------------------------------------------------


def sdist() -> Path:
    """The pinned sdist, downloaded once into the cache and checked against its SHA-256."""
    folder = cache_root() / "sdist"
    path = folder / f"{PACKAGE.replace('-', '_')}-{VERSION}.tar.gz"
    if path.is_file() and _sha256(path) == SDIST_SHA256:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
              "--dest", tmp, f"{PACKAGE}=={VERSION}"], "downloading the llama-cpp-python sdist")
        found = list(Path(tmp).glob("*.tar.gz"))
        if len(found) != 1:
            raise BuildError(f"pip download gave {[p.name for p in Path(tmp).iterdir()]}, not one sdist")
        digest = _sha256(found[0])
        if digest != SDIST_SHA256:
            raise BuildError(f"{found[0].name} has SHA-256 {digest}, not the pinned {SDIST_SHA256}: refusing to build")
        os.replace(found[0], path)
    return path


def build_wheel(spec: dict[str, object], key: str) -> Path:
    """The wheel for `spec`, from the cache or built now (several minutes; the portable build about twice that)."""
    folder = cache_root() / "wheels" / key
    wheels = sorted(folder.glob("*.whl"))
    if wheels and (folder / BUILD_RECORD).is_file():
        return wheels[0]
    source = sdist()
    portable = spec["flavour"] == "portable"
    with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp:
        with tarfile.open(source) as archive:
            archive.extractall(tmp, filter="data")
        tree = Path(tmp) / f"{PACKAGE.replace('-', '_')}-{VERSION}"
        if portable:
            _patch(tree / _VARIANTS_FILE, portable_patch())
        out = Path(tmp) / "wheel"
        env = os.environ | {"CMAKE_ARGS": shlex.join(spec["cmake_args"])}  # type: ignore[arg-type]
        print(f"building {PACKAGE} {VERSION} ({spec['flavour']}, CMAKE_ARGS={env['CMAKE_ARGS']}): several minutes",
              flush=True)
        started = time.monotonic()
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-cache-dir", "--wheel-dir",
              str(out), str(tree)], "building llama-cpp-python", env=env)
        built = list(out.glob("*.whl"))
        if len(built) != 1:
            raise BuildError(f"the build made {[p.name for p in out.iterdir()]}, not one wheel")
        staging = folder.with_name(folder.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copy2(built[0], staging / built[0].name)
        record = spec | {"key": key, "build_seconds": round(time.monotonic() - started)}
        (staging / BUILD_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    print(f"built in {record['build_seconds']} s, cached in {folder}", flush=True)
    return folder / built[0].name


def build_server(spec: dict[str, object], key: str) -> Path:
    """The llama-server binary for `spec`, from the cache or built now (several minutes on two cores)."""
    folder = cache_root() / "server" / key
    binary = folder / SERVER_TARGET
    if binary.is_file() and (folder / BUILD_RECORD).is_file():
        return binary
    source = sdist()
    cmake, generator = _build_tools()
    with tempfile.TemporaryDirectory(prefix="llama-server-build-") as tmp:
        with tarfile.open(source) as archive:
            archive.extractall(tmp, filter="data")
        tree = Path(tmp) / f"{PACKAGE.replace('-', '_')}-{VERSION}" / "vendor" / "llama.cpp"
        out = Path(tmp) / "build"
        print(f"building {SERVER_TARGET} from {PACKAGE} {VERSION}'s llama.cpp "
              f"({shlex.join(spec['cmake_args'])}): several minutes", flush=True)  # type: ignore[arg-type]
        started = time.monotonic()
        _run([cmake, "-S", str(tree), "-B", str(out), *generator, *spec["cmake_args"]],  # type: ignore[misc]
             "configuring llama-server")
        # --parallel without a number defers to CMAKE_BUILD_PARALLEL_LEVEL (the Makefile sets it to nproc).
        _run([cmake, "--build", str(out), "--target", SERVER_TARGET, "--parallel"], "building llama-server")
        built = out / "bin" / SERVER_TARGET
        if not built.is_file():
            raise BuildError(f"the build finished without {built}")
        staging = folder.with_name(folder.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copy2(built, staging / SERVER_TARGET)
        record = spec | {"key": key, "build_seconds": round(time.monotonic() - started),
                         "sha256": _sha256(staging / SERVER_TARGET)}
        (staging / BUILD_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    print(f"built in {record['build_seconds']} s, cached in {folder}", flush=True)
    return binary


def _build_tools() -> tuple[str, list[str]]:
    """cmake, and the Ninja generator when ninja is there; both installed from PyPI when the machine lacks them."""
    scripts = Path(sys.executable).parent  # the venv's bin/, where pip puts the cmake and ninja launchers
    search = os.pathsep.join([str(scripts), os.environ.get("PATH", "")])
    missing = [tool for tool in ("cmake", "ninja") if shutil.which(tool, path=search) is None]
    if missing:
        print(f"installing {' and '.join(missing)} from PyPI into {sys.prefix}", flush=True)
        _run([sys.executable, "-m", "pip", "install", "--quiet", *missing], f"installing {' and '.join(missing)}")
    cmake = shutil.which("cmake", path=search)
    ninja = shutil.which("ninja", path=search)
    if cmake is None:
        raise BuildError("cmake is still not on PATH after pip install cmake")
    return cmake, ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"] if ninja else []


def server_binary() -> Path:
    """This machine's llama-server, built now unless the cache has it."""
    spec = server_spec()
    return build_server(spec, build_key(spec))


def _patch(path: Path, edits: list[tuple[str, str]]) -> None:
    text = path.read_text()
    for old, new in edits:
        if text.count(old) != 1:
            raise BuildError(f"{path}: the text to edit was not found exactly once (has the pinned sdist "
                             f"changed?):\n{old}")
        text = text.replace(old, new)
    path.write_text(text)


# --- installing ------------------------------------------------------------------------------------------------------


def installed_lib_dir(target: Path | None) -> Path:
    """llama_cpp/lib of the environment (or --target folder) this script installs into; it may not exist."""
    if target is not None:
        return target / "llama_cpp" / "lib"
    import sysconfig

    return Path(sysconfig.get_paths()["platlib"]) / "llama_cpp" / "lib"


def library_hashes(lib_dir: Path) -> dict[str, str]:
    suffixes = (".so", ".dylib", ".dll")
    return {path.name: _sha256(path) for path in sorted(lib_dir.iterdir())
            if path.is_file() and (path.suffix in suffixes or ".so." in path.name)}


def installed_key(lib_dir: Path) -> str | None:
    """The key of the build installed in lib_dir, if it is one of ours and its libraries are the ones recorded."""
    try:
        record = json.loads((lib_dir / BUILD_RECORD).read_text())
    except (OSError, ValueError):
        return None
    if record.get("libraries") != library_hashes(lib_dir):
        return None  # reinstalled or changed since: not what the record describes
    return record.get("key")


def install(portable: bool, target: Path | None) -> Path:
    spec = build_spec(portable)
    key = build_key(spec)
    lib_dir = installed_lib_dir(target)
    if lib_dir.is_dir() and installed_key(lib_dir) == key:
        return lib_dir
    if lib_dir.is_dir():
        print(f"llama-cpp-python in {lib_dir.parent} is not this machine's {spec['flavour']} build: replacing it",
              flush=True)
    wheel = build_wheel(spec, key)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-cache-dir", "--force-reinstall"]
    if target is not None:
        shutil.rmtree(target, ignore_errors=True)
        command += ["--target", str(target)]
    _run(command + [str(wheel)], "installing the llama-cpp-python wheel")
    record = json.loads((wheel.parent / BUILD_RECORD).read_text()) | {
        "compiled_isa": compiled_isa(spec), "libraries": library_hashes(lib_dir)}
    (lib_dir / BUILD_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    print(f"installed llama-cpp-python {VERSION} ({spec['flavour']} build {key}) into {lib_dir.parent}", flush=True)
    return lib_dir


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, env=env)
    if done.returncode != 0:
        raise BuildError(f"{what} failed (exit {done.returncode}): {shlex.join(command)}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("install", "show", "server"),
                        help="install llama-cpp-python; show the build; build llama-server and print its path")
    parser.add_argument("--portable", action="store_true",
                        help="the run-anywhere build (CPU variants loaded at run time)")
    parser.add_argument("--target", type=Path, help="install into this folder instead of the running environment")
    args = parser.parse_args(argv)
    try:
        if args.action == "server":
            print(server_binary())
        elif args.action == "show":
            spec = build_spec(args.portable)
            print(json.dumps(spec | {"key": build_key(spec), "cache": str(cache_root())}, indent=2))
        else:
            install(args.portable, args.target)
    except BuildError as exc:
        print(f"build_llama: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
