"""``check``: the visible, executed claims of every lesson (see "How to read a lesson").

A check line shows what was *measured* next to what was claimed, then raises
``AssertionError`` if the claim does not hold::

    check("HOG length of a 64×128 window", feats.size, 3780)
    ✓ HOG length of a 64×128 window: 3780
    check("parameters", count(ours), count(theirs), ref="torchvision's")
    ✓ parameters: 61,100,840 = torchvision's
    check("our HOG vs skimage", ours, theirs, tol=1e-6)
    ✓ our HOG vs skimage: max |Δ| 3.1e-08 ≤ 1e-06
    check("variance of q·k grows like d_k", var, 64.0, tol=4.0)
    ✓ variance of q·k grows like d_k: 63.71, within 4 of 64
    check_at_least("held-out accuracy", acc, 0.97)
    ✓ held-out accuracy: 0.983 ≥ 0.97
    check_at_most("final training loss", loss, 0.05)
    ✓ final training loss: 0.0121 ≤ 0.05
    check("the graph is freed after backward", raised)
    ✓ the graph is freed after backward
    err = check_raises("torch.tensor() needs data", TypeError, torch.tensor)
    ✓ torch.tensor() needs data: raises TypeError

Measured floats (a ``max |Δ|``, a value within a tolerance, a value against a bound) depend
on the device and the thread count. nbval compares the printed text of cells marked
``# NBVAL_CHECK_OUTPUT``; ``tests/nbval_sanitize.cfg`` replaces exactly those measured numbers
by ``…`` on both sides before comparing, so the rest of the line is still checked and a
different last digit on a GPU is not a failure. Exact values (counts, shapes, equal tensors)
are printed as they are and compared in full.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["check", "check_at_least", "check_at_most", "check_raises"]

_SHORT = 12  # sequences up to this length are printed in full


def _to_python(x: Any) -> Any:
    """Tensors, arrays and sizes → numbers, tuples or nested lists (also inside lists and
    tuples); leave the rest alone."""
    if isinstance(x, torch.Size):
        return tuple(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_to_python(v) for v in x)
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.numel() > _SHORT:  # compared as an array: no Python list of a million floats
            return (x.float() if x.dtype in (torch.bfloat16, torch.float16) else x).numpy()
        return x.item() if x.dim() == 0 else x.tolist()
    if isinstance(x, np.ndarray):
        if x.size > _SHORT:
            return x
        return x.item() if x.ndim == 0 else x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_numeric(x: Any) -> bool:
    """A number, a numeric array, or a (nested) list/tuple of numbers."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biuf"
    if isinstance(x, (list, tuple)):
        return all(_is_numeric(v) for v in x)
    return _is_number(x)


def _num(x: Any, digits: int = 4, grouping: bool = True) -> str:
    """A number as the book prints it: measured values with 4 significant digits, claimed
    values (``digits=6``) as written; large integers with thousands separators unless inside
    a sequence (``grouping=False``), where a comma would read as another item."""
    if isinstance(x, bool) or not _is_number(x):
        return str(x)
    group = "," if grouping else ""
    if isinstance(x, int):
        return f"{x:{group}}" if abs(x) >= 10_000 else str(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):{group}}" if abs(x) >= 10_000 else f"{x:g}"
    return f"{x:.{digits}g}"


def _claimed(x: Any) -> str:
    return _num(x, digits=6)


def _delta(x: float) -> str:
    """A difference: 0, or two significant digits in scientific notation."""
    return "0" if x == 0 else f"{x:.2g}" if 1e-3 <= x < 1e3 else f"{x:.1e}"


def _fmt(x: Any, inside: bool = False) -> str:
    """A value as the book prints it: numbers, short sequences in full, long ones by length."""
    if isinstance(x, np.ndarray):
        return f"list of {len(x)} items" if x.ndim else _num(x.item())
    if isinstance(x, (list, tuple)) and _size(x) > _SHORT:
        return f"{type(x).__name__} of {len(x)} items"
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v, True) for v in x) + "]"
    if isinstance(x, tuple):
        inner = ", ".join(_fmt(v, True) for v in x)
        return "(" + inner + ("," if len(x) == 1 else "") + ")"
    return _num(x, grouping=not inside)


def _size(x: Any) -> int:
    """Number of scalars in a nested list/tuple or an array."""
    if isinstance(x, np.ndarray):
        return int(x.size)
    if isinstance(x, (list, tuple)):
        return sum(_size(v) for v in x)
    return 1


def _shape(x: Any) -> tuple[int, ...] | None:
    """Shape of a rectangular nested list (None when ragged)."""
    try:
        return tuple(np.asarray(x, dtype=np.float64).shape)
    except (ValueError, TypeError):
        return None


def _fail(message: str) -> None:
    raise AssertionError(f"Claim failed: {message}")


def check(
    claim: str,
    actual: Any,
    expected: Any = True,
    *,
    tol: float | None = None,
    ref: str | None = None,
) -> None:
    """Assert a claim, and print it with a tick and the value that was measured.

    Three forms, chosen by the arguments:

    - ``check(claim, condition)``: a boolean claim; prints ``✓ claim``.
    - ``check(claim, actual, expected)``: exact equality (numbers, strings, tuples, shapes,
      tensors and arrays element by element; ``3 == 3.0`` and ``(2, 3) == [2, 3]``). Prints the
      measured value, ``✓ claim: 3780``, or for more than 12 elements ``✓ claim: all 945
      values equal``; with ``ref="torchvision's"`` it adds ``= torchvision's``.
    - ``check(claim, actual, expected, tol=t)``: closeness, ``|actual − expected| ≤ t``
      elementwise. A single number prints ``✓ claim: 63.71, within 4 of 64``; tensors, arrays
      and sequences print the largest difference, ``✓ claim: max |Δ| 3.1e-08 ≤ 1e-06``.

    Args:
        claim: what is being claimed, in words (printed).
        actual: the value the code measured: a number, bool, string, tuple, ``torch.Size``,
            tensor (any device) or array.
        expected: what the claim states, an independent formula's value or a reference
            implementation's output — never the same expression as ``actual``. ``True`` for
            boolean claims.
        tol: absolute tolerance; ``None`` means exact equality. Choose it from what the claim
            needs, not from the result.
        ref: a name for the expected side (``"torchvision's"``), printed after the value.

    Returns:
        ``None``, so a check on the last line of a cell adds no ``Out[]`` to the notebook.

    Raises:
        AssertionError: ``Claim failed: …`` naming the claim, what was measured and what was
            expected (and, for tensors, where the largest difference is).
        ValueError: ``tol`` negative, or ``tol`` given for a boolean claim.
    """
    if tol is not None and (not _is_number(tol) or tol < 0):
        raise ValueError(f"tol must be a number >= 0, got {tol!r}.")
    a, e = _to_python(actual), _to_python(expected)
    if e is True and tol is None and ref is None and isinstance(a, bool):
        if not a:
            _fail(f"{claim} (the condition is False).")
        print(f"✓ {claim}")
        return
    if isinstance(a, bool) and isinstance(e, bool) and tol is not None:
        raise ValueError(f"tol makes no sense for the boolean claim {claim!r}.")
    versus = f" = {ref}" if ref else ""
    if tol is None:
        _check_equal(claim, a, e, versus)
    else:
        _check_close(claim, a, e, float(tol), ref)


def _check_equal(claim: str, a: Any, e: Any, versus: str) -> None:
    numeric = _is_numeric(a) and _is_numeric(e)
    if numeric and (isinstance(a, np.ndarray) or isinstance(e, np.ndarray)):
        xa, xe = np.asarray(a), np.asarray(e)
        if xa.shape != xe.shape:
            _fail(f"{claim}: got shape {xa.shape}, expected shape {xe.shape}.")
        if not np.array_equal(xa, xe):  # NaN is never equal
            _fail(f"{claim}: got {_fmt(a)}, expected {_fmt(e)}{versus}.{_first_diff(xa, xe)}")
        print(f"✓ {claim}: all {_num(int(xa.size))} values equal{versus.replace(' = ', ' to ')}")
        return
    if numeric and isinstance(a, (list, tuple)) and isinstance(e, (list, tuple)):
        sa, se = _shape(a), _shape(e)
        if sa is not None and se is not None and sa != se:
            _fail(f"{claim}: got shape {sa}, expected shape {se}.")
        ok = _nested_equal(a, e)
    elif numeric and not isinstance(a, (list, tuple)) and not isinstance(e, (list, tuple)):
        ok = a == e and not (isinstance(a, float) and math.isnan(a))
    else:
        ok = _loose_equal(a, e)
    if not ok:
        _fail(f"{claim}: got {_fmt(a)}, expected {_fmt(e)}{versus}.{_first_diff(a, e)}")
    if isinstance(a, (list, tuple)) and _size(a) > _SHORT:
        print(f"✓ {claim}: all {_num(_size(a))} values equal{versus.replace(' = ', ' to ')}")
    else:
        print(f"✓ {claim}: {_fmt(a)}{versus}")


def _loose_equal(a: Any, e: Any) -> bool:
    """Equality where a tuple equals a list with the same items (shapes, sizes)."""
    if isinstance(a, (list, tuple)) and isinstance(e, (list, tuple)):
        return len(a) == len(e) and all(_loose_equal(x, y) for x, y in zip(a, e))
    return a == e


def _nested_equal(a: Any, e: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(e, (list, tuple)):
        return len(a) == len(e) and all(_nested_equal(x, y) for x, y in zip(a, e))
    if isinstance(a, (list, tuple)) or isinstance(e, (list, tuple)):
        return False
    return a == e and not (isinstance(a, float) and math.isnan(a))


def _first_diff(a: Any, e: Any) -> str:
    """' First difference at index (i, j): 3 vs 4.' for nested sequences, else ''."""
    if not (isinstance(a, (list, tuple, np.ndarray)) and isinstance(e, (list, tuple, np.ndarray))):
        return ""
    try:
        xa, xe = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
    except (ValueError, TypeError):
        return ""
    if xa.shape != xe.shape or xa.size == 0:
        return ""
    bad = np.argwhere(~(xa == xe))
    if not len(bad):
        return ""
    idx = tuple(int(i) for i in bad[0])
    return f" First difference at index {idx}: {_num(xa[idx].item())} vs {_num(xe[idx].item())}."


def _check_close(claim: str, a: Any, e: Any, tol: float, ref: str | None) -> None:
    if _is_number(a) and _is_number(e):
        diff = abs(a - e)
        if not diff <= tol:  # also False for NaN
            _fail(f"{claim}: got {_num(a)}, expected {_claimed(e)} within {_claimed(tol)} "
                  f"(off by {_delta(diff) if not math.isnan(diff) else 'NaN'}).")
        target = f"{ref} {_claimed(e)}" if ref else _claimed(e)
        print(f"✓ {claim}: {_num(a)}, within {_claimed(tol)} of {target}")
        return
    if not (_is_numeric(a) and _is_numeric(e)):
        _fail(f"{claim}: cannot compare {_fmt(a)} with {_fmt(e)} within a tolerance; "
              "both sides must be numbers, tensors or arrays.")
    xa, xe = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
    if xa.shape != xe.shape:
        _fail(f"{claim}: got shape {xa.shape}, expected shape {xe.shape}.")
    if xa.size == 0:
        print(f"✓ {claim}: both empty")
        return
    diff = np.abs(xa - xe)
    worst = float(np.nanmax(diff)) if not np.isnan(diff).all() else math.nan
    if np.isnan(diff).any() or not worst <= tol:
        idx = tuple(int(i) for i in np.unravel_index(
            int(np.argmax(np.where(np.isnan(diff), np.inf, diff))), diff.shape))
        _fail(f"{claim}: max |Δ| {_delta(worst) if not math.isnan(worst) else 'NaN'} > "
              f"{_claimed(tol)} (at index {idx}: got {_num(xa[idx].item())}, expected "
              f"{_num(xe[idx].item())}).")
    suffix = f" vs {ref}" if ref else ""
    print(f"✓ {claim}: max |Δ| {_delta(worst)} ≤ {_claimed(tol)}{suffix}")


def _bound(claim: str, actual: Any, bound: Any, sign: str) -> None:
    a, b = _to_python(actual), _to_python(bound)
    if not (_is_number(a) and _is_number(b)):
        raise ValueError(
            f"check_at_{'least' if sign == '≥' else 'most'} compares two numbers; got "
            f"{_fmt(a)} and {_fmt(b)} for {claim!r}."
        )
    ok = a >= b if sign == "≥" else a <= b
    if not ok:  # also for NaN
        _fail(f"{claim}: got {_num(a)}, expected {sign} {_claimed(b)}.")
    print(f"✓ {claim}: {_num(a)} {sign} {_claimed(b)}")


def check_at_least(claim: str, actual: Any, bound: Any) -> None:
    """Assert ``actual >= bound`` and print ``✓ claim: 0.983 ≥ 0.97`` (measured, then bound).

    For learning results (accuracy, AP, speed-ups) and other claims with a floor.

    Raises:
        AssertionError: ``Claim failed: claim: got 0.91, expected ≥ 0.97.`` (also for NaN).
        ValueError: either side is not a single number.
    """
    _bound(claim, actual, bound, "≥")


def check_at_most(claim: str, actual: Any, bound: Any) -> None:
    """Assert ``actual <= bound`` and print ``✓ claim: 0.0121 ≤ 0.05`` (measured, then bound).

    For losses, errors, times and other claims with a ceiling.

    Raises:
        AssertionError: ``Claim failed: claim: got 0.2, expected ≤ 0.05.`` (also for NaN).
        ValueError: either side is not a single number.
    """
    _bound(claim, actual, bound, "≤")


def check_raises(
    claim: str,
    exception: type[BaseException] | tuple[type[BaseException], ...],
    fn: Any,
    *args: Any,
    match: str | None = None,
    **kwargs: Any,
) -> BaseException:
    """Assert that ``fn(*args, **kwargs)`` raises ``exception``; print ``✓ claim: raises Name``.

    For the wrong call of a pitfall box, where the failure itself is the claim (a cell tagged
    ``raises-exception`` shows the traceback; this shows that it happens, and keeps the lesson
    running). The message is not printed (it changes between versions); ``match`` checks it.

    Args:
        claim: what is claimed, in words.
        exception: the exception class (or a tuple of them) the call must raise.
        fn: the callable; ``args`` and ``kwargs`` are passed to it.
        match: a regular expression the message must contain (``re.search``), or None.

    Returns:
        The exception raised, so the lesson can print or inspect it.

    Raises:
        AssertionError: nothing was raised, another exception was, or the message does not
            match; the unexpected exception is chained.
    """
    import re

    names = (exception.__name__ if isinstance(exception, type)
             else " or ".join(e.__name__ for e in exception))
    try:
        fn(*args, **kwargs)
    except exception as err:
        if match is not None and not re.search(match, str(err)):
            _fail(f"{claim}: {type(err).__name__} was raised, but its message {str(err)!r} "
                  f"does not contain {match!r}.")
        print(f"✓ {claim}: raises {type(err).__name__}")
        return err
    except BaseException as err:  # noqa: BLE001 - reported, with the original chained
        raise AssertionError(
            f"Claim failed: {claim}: expected {names}, got {type(err).__name__}: {err}"
        ) from err
    _fail(f"{claim}: expected {names}, but nothing was raised.")
    raise AssertionError  # unreachable: _fail raises

