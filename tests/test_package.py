"""The helper package stays a house a newcomer can walk: small modules, no import circles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dlbook_utils"
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Module → the dlbook_utils modules it imports (at any depth, lazily or not)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if t in mods and t != name:
                    graph[name].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]], ignore_packages: bool = True) -> list[str] | None:
    """One import circle as a list of modules, or None.

    A package's ``__init__`` re-exporting its own submodules is not a circle: edges from a
    package to a module inside it are ignored (``ignore_packages``).
    """
    def edges(m: str) -> set[str]:
        return {t for t in graph[m] if not (ignore_packages and t.startswith(m + "."))}

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges(m)):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state and (c := visit(t)):
                return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_no_import_circle() -> None:
    assert find_cycle(import_graph()) is None


def test_the_circle_finder_can_fail() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"p": {"p.x"}, "p.x": set()}) is None


@pytest.mark.parametrize("name", sorted(_modules()))
def test_module_is_small_and_declares_its_names(name: str) -> None:
    path = _modules()[name]
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES, f"{name} has over {MAX_LINES} lines: split it"
    tree = ast.parse(text)
    assert ast.get_docstring(tree), f"{name} has no module docstring"
    if path.name != "__main__.py" and any(
        isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")
        for n in tree.body
    ):
        assert "__all__" in text, f"{name} defines public names but has no __all__"


def test_no_private_name_is_imported_across_modules() -> None:
    bad = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dlbook_utils"):
                bad += [f"{name}: {node.module}.{a.name}" for a in node.names
                        if a.name.startswith("_") and a.name != "__version__"]
    assert bad == []
