"""``check``: the visible, executed claims of every lesson (see "How to read a lesson").

``check("HOG length of a 64×128 window", feats.size, 3780)`` prints
``✓ HOG length of a 64×128 window = 3780`` and raises ``AssertionError`` on a mismatch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["check"]


def _to_python(x: Any) -> Any:
    """Turn tensors and arrays into numbers or nested lists; leave the rest alone."""
    if isinstance(x, torch.Size):
        return tuple(x)
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return x.item() if x.numel() == 1 and x.dim() == 0 else x.tolist()
    if isinstance(x, np.ndarray):
        return x.item() if x.ndim == 0 else x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def _close(actual: Any, expected: Any, tol: float) -> bool:
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(actual) == len(expected) and all(
            _close(a, e, tol) for a, e in zip(actual, expected)
        )
    if isinstance(actual, (list, tuple)) or isinstance(expected, (list, tuple)):
        return False
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual == expected
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        if math.isnan(actual) or math.isnan(expected):
            return False
        return abs(actual - expected) <= tol
    return actual == expected


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, (list, tuple)) and len(x) > 12:
        return f"{type(x).__name__} of {len(x)} items"
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    if isinstance(x, tuple):
        inner = ", ".join(_fmt(v) for v in x)
        return "(" + inner + ("," if len(x) == 1 else "") + ")"
    return str(x)


def check(claim: str, actual: Any, expected: Any = True, tol: float | None = None) -> None:
    """Assert a claim of the notes and print it with a tick.

    The printed line shows the *expected* value (and the tolerance), so it is the same on
    every device; a boolean claim (``expected=True``) prints just ``✓ claim``.

    Args:
        claim: what is being claimed, in words (printed).
        actual: the value the code computed: a number, bool, string, tuple, ``torch.Size``,
            tensor or array (tensors and arrays are compared element by element).
        expected: the value the claim states. Defaults to ``True`` for boolean claims.
        tol: absolute tolerance for numbers (and elementwise for sequences); ``None`` means
            exact equality. Choose it from what the claim needs, not from the result.

    Returns:
        ``None``, so a check on the last line of a cell adds no ``Out[]`` to the notebook.

    Raises:
        AssertionError: naming the claim, the actual and the expected value.
    """
    a, e = _to_python(actual), _to_python(expected)
    if isinstance(a, tuple) and isinstance(e, list):
        a = list(a)
    if isinstance(e, tuple) and isinstance(a, list):
        e = list(e)
    ok = _close(a, e, tol) if tol is not None else _close(a, e, 0.0) if _numeric(a, e) else a == e
    if not ok:
        shown = f" (tolerance {tol:g})" if tol is not None else ""
        raise AssertionError(
            f"Claim failed: {claim}: got {_fmt(a)}, expected {_fmt(e)}{shown}."
        )
    # The expected value is printed, not the computed one, so the line is identical on every
    # device and thread count (nbval compares it).
    if e is True and isinstance(a, bool):
        print(f"✓ {claim}")
    else:
        suffix = f" (±{tol:g})" if tol is not None else ""
        print(f"✓ {claim} = {_fmt(e)}{suffix}")


def _numeric(a: Any, e: Any) -> bool:
    """True when both sides are (nested) numbers, so that 3 == 3.0 and [1, 2] == (1, 2)."""
    def is_num(x: Any) -> bool:
        if isinstance(x, (list, tuple)):
            return all(is_num(v) for v in x)
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    return is_num(a) and is_num(e)
