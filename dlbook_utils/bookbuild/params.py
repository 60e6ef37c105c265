"""Lesson parameters: the names a lesson's parameters cell assigns, and values checked against them.

``dlbook run/build -p NAME VALUE`` is checked here before any kernel starts: an unknown name or
a value of another type than the default's is one sentence (a :class:`ProjectError`).
"""

from __future__ import annotations

import ast
from typing import Any

import nbformat

from dlbook_utils.bookbuild.project import ProjectError

__all__ = ["lesson_parameters", "check_parameter"]

_NO_DEFAULT = object()


def lesson_parameters(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """The names the parameters cell assigns, each with its literal default.

    A default that is not a literal (an expression, a call) maps to ``_NO_DEFAULT``: any value
    is accepted for it. A notebook without a parameters cell has no parameters.
    """
    cell = next((c for c in nb.cells if c.cell_type == "code"
                 and "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        return {}
    out: dict[str, Any] = {}
    for node in ast.parse(cell.source).body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else [])
        for t in targets:
            if isinstance(t, ast.Name):
                try:
                    out[t.id] = ast.literal_eval(node.value)  # type: ignore[union-attr]
                except ValueError:
                    out[t.id] = _NO_DEFAULT
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a bool (true or false)"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list ([a, b, …])"
    if isinstance(value, dict):
        return "a mapping ({key: value})"
    return f"a {type(value).__name__}"


def check_parameter(lesson: str, name: str, default: Any, value: Any, raw: str) -> Any:
    """``value`` (parsed from the command line's ``raw`` text) checked against ``default``.

    Returns the value to inject: ``raw`` itself for a string parameter given a number or a
    bool (``-p MODEL 18``). Raises ProjectError when the types disagree (int: an int, not a
    bool; float: an int or a float; bool; str; list/tuple: a list; None or a non-literal
    default: anything).
    """
    if default is None or default is _NO_DEFAULT:
        return value
    if isinstance(default, str):
        return value if isinstance(value, str) else raw
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    }
    test = ok.get(type(default))
    if test is None and isinstance(default, (list, tuple)):
        test = lambda v: isinstance(v, (list, tuple))  # noqa: E731
    if test is None or test(value):
        return float(value) if isinstance(default, float) else value
    raise ProjectError(
        f"Parameter {name} of {lesson} is {_kind(default)} (default {default!r}), but "
        f"-p {name} {raw} gives {_kind(value)}."
    )
