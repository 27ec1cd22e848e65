"""The domain imports only eventsourcing.domain, its own modules and the standard library.

import-linter cannot forbid one submodule of an external package while allowing another,
so this test reads the imports itself.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "cardservice" / "domain"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_domain_imports_only_allowed_modules() -> None:
    offenders = {}
    for path in DOMAIN.glob("*.py"):
        for name in imported_modules(path):
            top = name.split(".")[0]
            allowed = (
                name == "eventsourcing.domain"
                or name.startswith("cardservice.domain")
                or top in sys.stdlib_module_names
                or top == "__future__"
            )
            if not allowed:
                offenders.setdefault(path.name, []).append(name)
    assert offenders == {}
