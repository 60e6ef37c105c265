"""Device selection and seeding (explained in Part 2, "Devices and parallel training").

Lessons never call ``.cuda()``: they ask :func:`get_device`, which honours the environment
variable ``DLBOOK_DEVICE`` set by the ``dlbook-cpu`` / ``dlbook-cuda`` kernels, so the same
notebook runs unchanged on either kernel.
"""

from __future__ import annotations

import os
import random
import re

import numpy as np
import torch

__all__ = ["get_device", "seed_everything", "DeviceUnavailableError", "DEVICE_ENV"]

DEVICE_ENV = "DLBOOK_DEVICE"


class DeviceUnavailableError(RuntimeError):
    """Raised when CUDA is requested on a machine that has no usable CUDA GPU."""


def get_device(requested: str | None = None) -> torch.device:
    """Return the torch device a lesson should use.

    Args:
        requested: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. ``None`` or ``"auto"``
            defers to the ``DLBOOK_DEVICE`` environment variable; when that is unset or
            ``"auto"`` too, CUDA is used if available, else the CPU.

    Returns:
        A ``torch.device``.

    Raises:
        ValueError: ``requested`` (or ``DLBOOK_DEVICE``) is not one of the choices above.
        DeviceUnavailableError: CUDA was asked for and ``torch.cuda.is_available()`` is False.
    """
    choice = (requested or "auto").strip().lower()
    source = "the argument"
    if choice == "auto":
        env = os.environ.get(DEVICE_ENV, "").strip().lower()
        if env:
            choice, source = env, f"{DEVICE_ENV}"
    base = choice.split(":", 1)[0]
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", choice):
        raise ValueError(
            f"Unknown device {choice!r} from {source}; use one of 'auto', 'cpu', 'cuda' or 'cuda:N'."
        )
    if base == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"CUDA was requested (device {choice!r} from {source}) but this machine has no usable "
            "CUDA GPU: run on the CPU instead (kernel dlbook-cpu, DEVICE='cpu', or "
            "`dlbook build --device cpu`), or install a CUDA build of torch on a machine with an "
            "NVIDIA GPU."
        )
    return torch.device(choice)


def seed_everything(seed: int = 0, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and every GPU) so a lesson's output repeats.

    Args:
        seed: the seed for every generator.
        deterministic: also ask cuDNN and torch for deterministic algorithms where they exist
            (``warn_only`` so an op without one still runs).

    Returns:
        A ``torch.Generator`` seeded with ``seed``, for DataLoaders and samplers.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
