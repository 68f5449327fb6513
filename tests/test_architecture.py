"""Only desktop/ imports Qt, and the core never imports the desktop layer (the import-linter contract,
checked here too so that a plain `pytest` run enforces it)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QT = {"PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ["datasets", "forecasting", "optimization"])
def test_core_packages_import_no_qt_and_no_desktop(package):
    files = list((REPO / package).rglob("*.py"))
    assert files, f"{package} has no modules"
    for f in files:
        bad = imported_modules(f) & (QT | {"desktop"})
        assert not bad, f"{f.relative_to(REPO)} imports {sorted(bad)}"


def test_checker_sees_a_qt_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from PySide6 import QtWidgets\nimport pyqtgraph as pg\n")
    assert imported_modules(f) >= {"PySide6", "pyqtgraph"}


def test_cli_does_not_import_qt_for_core_commands():
    import subprocess
    import sys

    code = (
        "import sys; from desktop.cli import build_parser; build_parser(); "
        "import datasets.importers.csv, datasets.synthetic, datasets.metrics; "
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'pyqtgraph', 'shiboken6'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_packaging_folder_is_not_a_python_package():
    # an __init__.py there would shadow the `packaging` library that pip and statsmodels import
    assert not (REPO / "packaging" / "__init__.py").exists()
