"""bench/ imports only tests.support, and tests.support imports no test module (tests/support/__init__.py)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_tests_modules(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            found.setdefault(path.name, set()).update(n for n in names if n.split(".")[0] == "tests")
    return found


def test_bench_imports_nothing_from_tests_but_tests_support() -> None:
    offending = {
        name: sorted(m for m in modules if not m.startswith("tests.support"))
        for name, modules in _imported_tests_modules(ROOT / "bench").items()
    }
    assert {name: modules for name, modules in offending.items() if modules} == {}


def test_tests_support_imports_only_itself() -> None:
    offending = {
        name: sorted(m for m in modules if not m.startswith("tests.support"))
        for name, modules in _imported_tests_modules(ROOT / "tests" / "support").items()
    }
    assert {name: modules for name, modules in offending.items() if modules} == {}
