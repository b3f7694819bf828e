"""The public surface and the package layout: `__all__`, light imports, no Qt in the logic, packaging."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import judgedesk.core
import pytest

ROOT = Path(__file__).resolve().parents[2]
LOGIC_FOLDERS = ("core", "quantize")
PACKAGE_FOLDERS = ("core", "quantize", "desktop")


def _ruff_order(name: str) -> tuple[int, str]:
    """ruff's RUF022 (isort-style) order: CONSTANTS, then Classes, then everything else, each alphabetical."""
    group = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return group, name


def _core_modules() -> list[str]:
    """Every module of judgedesk.core, except `cli.__main__`, which runs the CLI when imported."""
    names = ["judgedesk.core"]
    for info in pkgutil.walk_packages(judgedesk.core.__path__, "judgedesk.core."):
        if not info.name.endswith(".__main__"):
            names.append(info.name)
    return names


def _run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd="/tmp", capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- __all__ ------------------------------------------------------------------------------------------------


def test_every_public_name_exists() -> None:
    missing = [name for name in judgedesk.core.__all__ if not hasattr(judgedesk.core, name)]
    assert missing == []


def test_public_names_are_sorted_and_unique() -> None:
    names = list(judgedesk.core.__all__)
    assert len(set(names)) == len(names)
    assert names == sorted(names, key=_ruff_order)


@pytest.mark.parametrize("module_name", _core_modules())
def test_every_module_all_is_unique_and_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(getattr(module, "__all__", ()))
    assert len(set(names)) == len(names)
    assert [name for name in names if not hasattr(module, name)] == []


@pytest.mark.parametrize("package_name",
                         ["judgedesk.core.formats", "judgedesk.core.backends", "judgedesk.core.cli"])
def test_subpackage_public_names_are_sorted(package_name: str) -> None:
    names = list(importlib.import_module(package_name).__all__)
    assert names == sorted(names, key=_ruff_order)


def test_core_reexports_the_engine_api() -> None:
    for name in ("Judge", "EvalItem", "PairwiseVerdict", "Grade", "load_judge", "read_gguf_header",
                 "create_backend", "get_format", "JudgedeskError", "__version__"):
        assert name in judgedesk.core.__all__


def test_errors_share_one_root() -> None:
    errors = [getattr(judgedesk.core, name) for name in judgedesk.core.__all__ if name.endswith("Error")]
    assert len(errors) >= 8
    assert all(issubclass(error, judgedesk.core.JudgedeskError) for error in errors)


# -- imports ------------------------------------------------------------------------------------------------


def test_importing_core_stays_light() -> None:
    code = (
        "import json, sys\n"
        "import judgedesk.core\n"
        "heavy = ('PySide6', 'torch', 'transformers', 'llama_cpp')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    assert json.loads(_run_python(code)) == []


def test_importing_quantize_stays_light() -> None:
    # The quantize pipeline must import on a core-only install: torch and friends load only in the steps needing them.
    code = (
        "import json, sys\n"
        "import judgedesk.quantize\n"
        "heavy = ('PySide6', 'torch', 'transformers', 'gptqmodel', 'llama_cpp')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    assert json.loads(_run_python(code)) == []


def test_cli_import_stays_light() -> None:
    code = (
        "import json, sys\n"
        "import judgedesk.core.cli\n"
        "heavy = ('PySide6', 'torch', 'llama_cpp')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    assert json.loads(_run_python(code)) == []


def _qt_imports(source: str) -> list[str]:
    """PySide6 modules a source imports: import statements, and import_module / __import__ by name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "PySide6"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "PySide6":
            found.append(node.module)
        elif isinstance(node, ast.Constant) and str(node.value).startswith("PySide6"):
            found.append(str(node.value))
    return found


def test_qt_import_detector() -> None:
    source = (
        "import os, PySide6.QtCore\n"
        "from PySide6 import QtWidgets\n"
        "def later():\n"
        "    import importlib\n"
        "    return importlib.import_module('PySide6.QtGui')\n"
    )
    assert _qt_imports(source) == ["PySide6.QtCore", "PySide6", "PySide6.QtGui"]
    assert _qt_imports("import numpy\nfrom qtpy import QtCore\n") == []


def test_nothing_in_the_logic_packages_imports_pyside6() -> None:
    sources = [path for folder in LOGIC_FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]
    assert sources, "no sources found"
    offenders = [f"{path.relative_to(ROOT)}: {name}" for path in sources
                 for name in _qt_imports(path.read_text(encoding="utf-8"))]
    assert offenders == []


@pytest.mark.parametrize("name", ["core", "quantize", "desktop"])
def test_source_folders_are_not_top_level_modules(name: str) -> None:
    code = f"import importlib.util, judgedesk.core\nprint(importlib.util.find_spec({name!r}) is None)\n"
    assert _run_python(code).strip() == "True"


def test_judgedesk_core_comes_from_the_core_folder() -> None:
    assert Path(judgedesk.core.__file__).resolve() == (ROOT / "core" / "__init__.py").resolve()


# -- packaging ----------------------------------------------------------------------------------------------


def _setuptools_config() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["tool"]["setuptools"]  # type: ignore[no-any-return]


def test_pyproject_packages_cover_every_package_folder() -> None:
    config = _setuptools_config()
    package_dir: dict[str, str] = config["package-dir"]  # type: ignore[assignment]
    folder_to_package = {folder: package for package, folder in package_dir.items()}
    expected = set()
    for folder in PACKAGE_FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            expected.add(".".join([folder_to_package[folder], *relative.parts]))
    declared = set(config["packages"])  # type: ignore[arg-type]
    assert expected - declared == set(), "package folders missing from [tool.setuptools] packages"
    assert declared - expected == set(), "packages declared without an __init__.py"


def test_package_dir_maps_the_three_folders() -> None:
    package_dir = _setuptools_config()["package-dir"]
    assert package_dir == {"judgedesk.core": "core", "judgedesk.quantize": "quantize",
                           "judgedesk.desktop": "desktop"}


# -- `_` means private ----------------------------------------------------------------------------------------


def _private_imports(path: Path) -> list[str]:
    """Imports in the package source `path` that reach another package's private parts.

    Private: a module named `_x` inside another top-level package (judgedesk.core, .quantize, .desktop) or inside
    a sibling subpackage (core/cli importing core/runs/_runner), and any imported name `_x` (a private function).
    A package's own private modules (`from ._engine import`, a subpackage's `from .._errors import`) are its own.
    """
    relative = path.relative_to(ROOT).with_suffix("")
    own_package = relative.parts[0]
    here = list(relative.parts[:-1])  # the package this module is in, as folders
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = node.module.split(".") if node.module else []
                if target[:1] != ["judgedesk"]:
                    continue
                target = target[1:]
            private_at = [i for i, part in enumerate(target) if part.startswith("_")]
            if private_at:
                owner = target[:private_at[0]]  # the package whose private module this is
                if here[:len(owner)] != owner or (owner and owner[0] != own_package):
                    found.append(f"{relative}: from {'.' * node.level}{node.module or ''}")
            if node.module is not None:  # `from . import _module` names a module of this package, not a private name
                found += [f"{relative}: {alias.name}" for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "judgedesk" and any(p.startswith("_") for p in parts[2:]) and parts[1] != own_package:
                    found.append(f"{relative}: import {alias.name}")
    return found


def test_private_import_detector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    module = tmp_path / "core" / "cli" / "_mod.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from .._errors import InputError\n"             # core's own private module: fine
        "from . import _render\n"                         # this package's module: fine
        "from ._render import verdict_lines\n"            # fine
        "from ..runs import prepare_folder\n"             # a sibling's public API: fine
        "from ..runs._runner import prepare_folder\n"     # a sibling's private module
        "from ..runs import _task_rows\n"                 # a private name
        "from judgedesk.quantize._plan import plan\n"     # another package's private module
        "from judgedesk.core.backends._server import S\n"  # a sibling subpackage's private module, absolute
        "import judgedesk.quantize._kquant_worker\n",
        encoding="utf-8")
    assert _private_imports(module) == [
        "core/cli/_mod: from ..runs._runner",
        "core/cli/_mod: _task_rows",
        "core/cli/_mod: from judgedesk.quantize._plan",
        "core/cli/_mod: from judgedesk.core.backends._server",
        "core/cli/_mod: import judgedesk.quantize._kquant_worker",
    ]


def test_no_package_imports_another_packages_private_parts() -> None:
    sources = [path for folder in PACKAGE_FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]
    assert sources, "no sources found"
    offenders = [found for path in sources for found in _private_imports(path)]
    assert offenders == []
