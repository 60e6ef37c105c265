"""check(): the printed line shows what was measured; a failure names claim, measured, expected.

The nbval sanitizer (tests/nbval_sanitize.cfg) must hide exactly the measured floats of a check
line, so that two devices agree on the rest of the line and nothing else is hidden.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from nbval.plugin import get_sanitize_patterns

from dlbook_utils import check, check_at_least, check_at_most, check_raises

SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")


def printed(capsys: pytest.CaptureFixture[str], fn, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    assert fn(*args, **kwargs) is None  # no Out[] in a notebook
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "args, kwargs, line",
    [
        (("HOG length", 3780, 3780), {}, "✓ HOG length: 3780"),
        (("arange(4)", torch.arange(4), [0, 1, 2, 3]), {}, "✓ arange(4): [0, 1, 2, 3]"),
        (("shape", torch.zeros(3, 1).add(torch.zeros(1, 2)).shape, (3, 2)), {}, "✓ shape: (3, 2)"),
        (("numpy shape", np.zeros((4, 3)).shape, [4, 3]), {}, "✓ numpy shape: (4, 3)"),
        (("dtype", str(torch.zeros(1).dtype), "torch.float32"), {}, "✓ dtype: torch.float32"),
        (("parameters", 61_100_840, 61_100_840), {"ref": "torchvision's"},
         "✓ parameters: 61,100,840 = torchvision's"),
        (("loops == unfold", torch.ones(3, 5), torch.ones(3, 5)), {}, "✓ loops == unfold: all 15 values equal"),
        (("state_dict outputs", torch.ones(20), torch.ones(20)), {"ref": "torchvision's"},
         "✓ state_dict outputs: all 20 values equal to torchvision's"),
        (("backward raised", True), {}, "✓ backward raised"),
        (("float equal", 0.5, 0.5), {}, "✓ float equal: 0.5"),
        (("whole float", 3.0, 3), {}, "✓ whole float: 3"),
        (("prices", [127500, 106000], [127500, 106000]), {}, "✓ prices: [127500, 106000]"),
        (("tensors in a list", [torch.tensor(2), np.int64(3)], [2, 3]), {},
         "✓ tensors in a list: [2, 3]"),
    ],
)
def test_equality_prints_the_measured_value(capsys, args, kwargs, line) -> None:  # type: ignore[no-untyped-def]
    assert printed(capsys, check, *args, **kwargs) == line + "\n"


def test_close_prints_the_measured_value_and_the_bound(capsys: pytest.CaptureFixture[str]) -> None:
    assert printed(capsys, check, "pi", 3.14159, 3.1416, tol=1e-3) == "✓ pi: 3.142, within 0.001 of 3.1416\n"
    assert printed(capsys, check, "var", 63.71, 64, tol=4) == "✓ var: 63.71, within 4 of 64\n"
    out = printed(capsys, check, "ours vs skimage", torch.tensor([1.0, 2.0 + 3.1e-8], dtype=torch.float64), [1.0, 2.0], tol=1e-6)
    assert out == "✓ ours vs skimage: max |Δ| 3.1e-08 ≤ 1e-06\n"
    out = printed(capsys, check, "logits", torch.zeros(2, 3), torch.zeros(2, 3), tol=1e-5, ref="timm's")
    assert out == "✓ logits: max |Δ| 0 ≤ 1e-05 vs timm's\n"
    out = printed(capsys, check, "loss", 0.1234, 0.125, tol=0.01, ref="the formula's")
    assert out == "✓ loss: 0.1234, within 0.01 of the formula's 0.125\n"


def test_bounds_print_measured_then_bound(capsys: pytest.CaptureFixture[str]) -> None:
    assert printed(capsys, check_at_least, "held-out accuracy", torch.tensor(0.98317), 0.97) == (
        "✓ held-out accuracy: 0.9832 ≥ 0.97\n")
    assert printed(capsys, check_at_most, "final loss", 0.0121, 0.05) == "✓ final loss: 0.0121 ≤ 0.05\n"
    assert printed(capsys, check_at_least, "images per second", 12345, 10000) == (
        "✓ images per second: 12,345 ≥ 10,000\n")


@pytest.mark.parametrize(
    "fn, args, kwargs, message",
    [
        (check, ("claim", torch.tensor([1, 2, 3]), [1, 2, 4]), {},
         "Claim failed: claim: got [1, 2, 3], expected [1, 2, 4]. First difference at index (2,): 3 vs 4."),
        (check, ("claim", 3780, 3781), {}, "Claim failed: claim: got 3780, expected 3781."),
        (check, ("claim", np.int64(3780), 3781), {}, "Claim failed: claim: got 3780, expected 3781."),
        (check, ("claim", (3, 2), (2, 3)), {}, "Claim failed: claim: got (3, 2), expected (2, 3). First difference at index (0,): 3 vs 2."),
        (check, ("claim", [1, 2], [1, 2, 3]), {}, "Claim failed: claim: got shape (2,), expected shape (3,)."),
        (check, ("claim", "float64", "float32"), {}, "Claim failed: claim: got float64, expected float32."),
        (check, ("claim", False), {}, "Claim failed: claim (the condition is False)."),
        (check, ("claim", 0.1 + 0.2, 0.3), {}, "Claim failed: claim: got 0.3, expected 0.3."),
        (check, ("claim", 3.0, 3.1), {"tol": 0.05},
         "Claim failed: claim: got 3, expected 3.1 within 0.05 (off by 0.1)."),
        (check, ("claim", float("nan"), 0.0), {"tol": 1.0},
         "Claim failed: claim: got nan, expected 0 within 1 (off by NaN)."),
        (check, ("claim", torch.tensor([[0.0, 1.0], [2.0, 3.5]]), [[0, 1], [2, 3]]), {"tol": 0.1},
         "Claim failed: claim: max |Δ| 0.5 > 0.1 (at index (1, 1): got 3.5, expected 3)."),
        (check, ("claim", torch.zeros(2, 3), torch.zeros(3, 2)), {"tol": 0.1},
         "Claim failed: claim: got shape (2, 3), expected shape (3, 2)."),
        (check, ("claim", torch.tensor([0.0, float("nan")]), [0.0, 0.0]), {"tol": 1.0},
         "Claim failed: claim: max |Δ| 0 > 1 (at index (1,): got nan, expected 0)."),
        (check_at_least, ("accuracy", 0.91, 0.97), {}, "Claim failed: accuracy: got 0.91, expected ≥ 0.97."),
        (check_at_most, ("loss", 0.2, 0.05), {}, "Claim failed: loss: got 0.2, expected ≤ 0.05."),
        (check_at_least, ("accuracy", float("nan"), 0.5), {}, "Claim failed: accuracy: got nan, expected ≥ 0.5."),
    ],
)
def test_a_failure_names_claim_measured_and_expected(fn, args, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    assert str(info.value) == message


def test_check_raises_prints_the_exception_and_returns_it(capsys: pytest.CaptureFixture[str]) -> None:
    err = check_raises("torch.tensor() needs data", TypeError, torch.tensor)
    assert isinstance(err, TypeError)
    assert capsys.readouterr().out == "✓ torch.tensor() needs data: raises TypeError\n"
    check_raises("cat needs equal sizes", RuntimeError, torch.cat, [torch.zeros(2), torch.zeros(2, 2)],
                 match="dimension|Tensors must have same number of dimensions")
    with pytest.raises(AssertionError, match="expected ValueError, but nothing was raised"):
        check_raises("no error", ValueError, lambda: 1)
    with pytest.raises(AssertionError, match="expected ValueError, got TypeError") as info:
        check_raises("wrong error", ValueError, torch.tensor)
    assert isinstance(info.value.__cause__, TypeError)
    with pytest.raises(AssertionError, match="does not contain 'nope'"):
        check_raises("message", TypeError, torch.tensor, match="nope")


def test_misuse_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="tol must be a number >= 0"):
        check("x", 1.0, 1.0, tol=-1)
    with pytest.raises(ValueError, match="compares two numbers"):
        check_at_least("x", [1, 2], 0)


def sanitize(text: str) -> str:
    for regex, replace in get_sanitize_patterns(SANITIZE.read_text(encoding="utf-8")):
        text = re.sub(regex, replace, text)
    return text


def lines_of(capsys: pytest.CaptureFixture[str], value: float, delta: float) -> str:
    check("ours == torchvision's (a: 1)", torch.tensor([1.0, 1.0 + delta], dtype=torch.float64), [1.0, 1.0],
          tol=1e-5)
    check("variance ≈ d_k", value, 64.0, tol=4.0)
    check("ours vs the loop", value, value + delta, tol=1e-3, ref="the loop's")
    check_at_least("accuracy", value / 100, 0.5)
    check_at_most("loss", value / 1000, 0.5)
    check("count", 945, 945)
    check("shape", (2, 3), (2, 3))
    return capsys.readouterr().out


def test_the_sanitizer_hides_exactly_the_measured_floats(capsys: pytest.CaptureFixture[str]) -> None:
    gpu, cpu = lines_of(capsys, 63.7, 3e-8), lines_of(capsys, 62.9, 1e-7)
    assert gpu != cpu  # the raw lines differ in the measured digits ...
    assert sanitize(gpu) == sanitize(cpu)  # ... and agree once those are hidden
    assert sanitize(gpu).splitlines() == [
        "✓ ours == torchvision's (a: 1): max |Δ| … ≤ 1e-05",
        "✓ variance ≈ d_k: …, within 4 of …",
        "✓ ours vs the loop: …, within 0.001 of the loop's …",
        "✓ accuracy: … ≥ 0.5",
        "✓ loss: … ≤ 0.5",
        "✓ count: 945",
        "✓ shape: (2, 3)",
    ]


def test_the_sanitizer_leaves_other_text_alone() -> None:
    text = "epoch 3: loss 0.123 ≤ best\nx = 0.1234, within reach\n✓ count: 945\ntensor([1., 2.])\n"
    assert sanitize(text) == text
