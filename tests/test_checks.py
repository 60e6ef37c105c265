"""check(): prints the expected value with a tick, raises naming claim, actual and expected."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook_utils import check


def test_prints_tick_and_expected(capsys: pytest.CaptureFixture[str]) -> None:
    assert check("arange(4)", torch.arange(4), [0, 1, 2, 3]) is None  # no Out[] in a notebook
    assert capsys.readouterr().out == "✓ arange(4) = [0, 1, 2, 3]\n"


def test_boolean_claim_prints_claim_only(capsys: pytest.CaptureFixture[str]) -> None:
    check("grad is None before backward", True)
    assert capsys.readouterr().out == "✓ grad is None before backward\n"


def test_shapes_sizes_and_tuples_compare_equal(capsys: pytest.CaptureFixture[str]) -> None:
    check("broadcast shape", torch.zeros(3, 1).add(torch.zeros(1, 2)).shape, (3, 2))
    check("numpy shape", np.zeros((4, 3)).shape, [4, 3])
    assert capsys.readouterr().out.splitlines() == ["✓ broadcast shape = (3, 2)", "✓ numpy shape = [4, 3]"]


def test_tolerance_prints_expected_not_actual(capsys: pytest.CaptureFixture[str]) -> None:
    check("pi", 3.14159, 3.1416, tol=1e-3)
    check("vector", torch.tensor([0.1 + 1e-9, 0.2]), [0.1, 0.2], tol=1e-6)
    assert capsys.readouterr().out.splitlines() == ["✓ pi = 3.1416 (±0.001)", "✓ vector = [0.1, 0.2] (±1e-06)"]


@pytest.mark.parametrize(
    "actual, expected, tol",
    [
        (torch.tensor([1, 2, 3]), [1, 2, 4], None),
        (3.0, 3.1, 0.05),
        (float("nan"), 0.0, 1.0),
        ((3, 2), (2, 3), None),
        ([1, 2], [1, 2, 3], None),
        ("float64", "float32", None),
        (False, True, None),
    ],
)
def test_mismatch_raises_naming_everything(actual: object, expected: object, tol: float | None) -> None:
    with pytest.raises(AssertionError) as info:
        check("the claim", actual, expected, tol=tol)
    msg = str(info.value)
    assert "the claim" in msg and "got" in msg and "expected" in msg


def test_exact_integers_are_not_approximate() -> None:
    with pytest.raises(AssertionError):
        check("no silent tolerance", 3780, 3781)
    with pytest.raises(AssertionError, match="expected 3781"):
        check("numpy scalar", np.int64(3780), 3781)
