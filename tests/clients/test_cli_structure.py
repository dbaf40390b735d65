"""The CLI is a package whose root imports its children and never the reverse: no
module below ``clients/cli/__init__.py`` imports the root, and the modules of the
package import one another without a cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

PACKAGE = "clients.cli"
CLI_DIR = Path(__file__).resolve().parents[2] / "clients" / "cli"
TOP_LEVEL_COMMANDS = ["admin", "bench", "serve", "sign", "timestamp", "verify"]


def _module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def _imports(path: Path) -> set[str]:
    """Every module of the package that ``path`` imports, at any depth of the file
    (lazy imports inside functions count too)."""
    modules = {_module_name(p) for p in CLI_DIR.glob("*.py")}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this package
                base = PACKAGE if node.level == 1 else PACKAGE.rsplit(".", node.level - 1)[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # `from clients.cli import keys` imports clients.cli (the root's __init__
            # runs) and, if it names a submodule, that module too.
            names = [target, *(f"{target}.{a.name}" for a in node.names)]
        else:
            continue
        for name in names:
            while name and name not in modules and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in modules:
                found.add(name)
    found.discard(_module_name(path))
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(CLI_DIR.glob("*.py"))}


def test_no_child_imports_the_root() -> None:
    offenders = sorted(m for m, deps in _graph().items() if m != PACKAGE and PACKAGE in deps)
    assert offenders == [], f"these modules import the root {PACKAGE}: {offenders}"


def test_the_package_import_graph_is_acyclic() -> None:
    graph = _graph()
    assert len(graph) > 2, f"no modules found in {CLI_DIR}"
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module):], module]
            pytest.fail(f"import cycle in {PACKAGE}: {' -> '.join(cycle)}")
        if module in done:
            return
        for dep in sorted(graph.get(module, ())):
            visit(dep, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])


def test_top_level_commands_unchanged() -> None:
    kyso = Path(sys.executable).parent / "kyso"
    r = subprocess.run([str(kyso), "--help"], capture_output=True, text=True, check=True)
    listed = r.stdout.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]  # not the epilog
    commands = [line.split()[0] for line in listed.splitlines()
                if line.startswith("  ") and not line.startswith("   ")]
    assert commands == TOP_LEVEL_COMMANDS
