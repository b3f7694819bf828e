"""No AMX kernels in the installed llama.cpp: on CPUs with AMX they die of SIGILL (llama.cpp PR 26954).

The libraries are inspected, not run, so the test holds on a machine without AMX too.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.llama_build import LIB_DIR, amx_instructions


def _libraries() -> list[Path]:
    found = sorted(path for path in LIB_DIR.iterdir() if path.suffix == ".so" or ".so." in path.name)
    assert found, f"no libraries in {LIB_DIR}"
    return found


def test_no_library_of_the_installed_build_holds_an_amx_instruction() -> None:
    found = {path.name: counts for path in _libraries() if (counts := amx_instructions(path))}
    assert found == {}, f"AMX instructions in {found}: rebuild with `make setup` (scripts/build_llama.py)"


def test_the_inspection_finds_amx_code_where_there_is_some(tmp_path: Path) -> None:
    """The negative control: a library made of one AMX kernel is caught."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("a C compiler is needed (it also builds llama.cpp)")
    source = tmp_path / "amx.c"
    source.write_text("#include <immintrin.h>\nvoid zero_tile(const void *config) {\n"
                      "    _tile_loadconfig(config);\n    _tile_zero(4);\n    _tile_release();\n}\n")
    library = tmp_path / "libamx.so"
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-mamx-tile", "-mamx-int8", str(source), "-o", str(library)],
                   check=True, capture_output=True)
    assert amx_instructions(library) == {"ldtilecfg": 1, "tilezero": 1, "tilerelease": 1}
