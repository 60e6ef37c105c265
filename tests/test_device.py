"""get_device honours DLBOOK_DEVICE; CUDA without a GPU is one clear sentence; seeding repeats."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from dlbook_utils import get_device, seed_everything
from dlbook_utils.device import DeviceUnavailableError

HAS_CUDA = torch.cuda.is_available()


def test_cpu_always_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLBOOK_DEVICE", raising=False)
    assert get_device("cpu") == torch.device("cpu")


def test_auto_follows_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBOOK_DEVICE", "cpu")
    assert get_device("auto") == torch.device("cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.delenv("DLBOOK_DEVICE")
    assert get_device("auto").type == ("cuda" if HAS_CUDA else "cpu")


def test_explicit_argument_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBOOK_DEVICE", "cuda")
    assert get_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a GPU")
@pytest.mark.parametrize("how", ["argument", "environment"])
def test_cuda_without_gpu_is_one_sentence(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if how == "environment":
        monkeypatch.setenv("DLBOOK_DEVICE", "cuda")
        call = lambda: get_device("auto")  # noqa: E731
    else:
        monkeypatch.delenv("DLBOOK_DEVICE", raising=False)
        call = lambda: get_device("cuda")  # noqa: E731
    with pytest.raises(DeviceUnavailableError) as info:
        call()
    msg = str(info.value)
    assert msg.count(". ") == 0 and msg.endswith(".")  # one sentence
    assert "dlbook-cpu" in msg and "no usable CUDA GPU" in msg


def test_cuda_with_gpu_mocked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device("cuda") == torch.device("cuda")
    assert get_device("cuda:1") == torch.device("cuda:1")
    monkeypatch.setenv("DLBOOK_DEVICE", "auto")
    assert get_device().type == "cuda"


@pytest.mark.parametrize("bad", ["gpu", "cpu:0", "tpu", "cuda:x:y"])
def test_unknown_device_is_value_error(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(ValueError, match="Unknown device"):
        get_device(bad)


def test_unknown_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBOOK_DEVICE", "gpu")
    with pytest.raises(ValueError, match="DLBOOK_DEVICE"):
        get_device()


def test_seed_everything_repeats_every_generator() -> None:
    def draw() -> tuple[float, float, list[float], list[float]]:
        g = seed_everything(123)
        return (random.random(), float(np.random.rand()), torch.rand(3).tolist(),
                torch.rand(2, generator=g).tolist())

    a, b = draw(), draw()
    assert a == b
    seed_everything(124)
    assert torch.rand(3).tolist() != a[2]
