"""The house rules the build enforces: the layers (import-linter) and the size of modules and functions."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "moderation", "consent_registry", "workers")
CHECKED = (*PACKAGES, "tests", "benchmarks", "tools")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 500, 60
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _sources():
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_no_module_is_longer_than_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in _sources() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_is_longer_than_60_lines():
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = length
    assert long == {}


def _lint_copy(tmp_path: Path, module: str = "", line: str = "") -> subprocess.CompletedProcess:
    """lint-imports on a copy of the packages, with one import line added to one module."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    if module:
        path = tmp_path / (module.replace(".", "/") + ".py")
        path.write_text(path.read_text() + f"\n{line}\n")
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}, timeout=300)


def test_the_layers_hold(tmp_path):
    result = _lint_copy(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, line, imported, contract", [
    ("moderation.findings", "import flask", "flask", "Domain imports no web or queue library"),
    ("consent_registry.matching", "import rq", "rq", "Domain imports no web or queue library"),
    ("moderation.lifecycle", "from gateway.services import queueing", "gateway.services.queueing", "Layers"),
    ("gateway.core.crypto", "from moderation import findings", "moderation.findings", "Layers"),
    ("gateway.platforms.base", "from gateway.web import util", "gateway.web.util", "Layers"),
])
def test_lint_imports_fails_when_a_module_imports_against_the_layers(tmp_path, module, line, imported, contract):
    result = _lint_copy(tmp_path, module, line)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout
    assert f"{module} -> {imported} (l." in result.stdout
