"""A pytest plugin (``-p dlbook_utils.bookbuild.pytest_plugin`` in pyproject's addopts).

nbval on the ``dlbook-cuda`` kernel without a usable GPU would report every cell that touches
the device as a failure. This stops the run before collection with the one sentence that
``dlbook --device cuda`` gives.
"""

from __future__ import annotations

import pytest

from dlbook_utils.bookbuild.kernels import kernel_for_device

__all__ = ["pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    try:
        kernel = config.getoption("nbval_kernel_name")
    except ValueError:  # nbval not installed: nothing to guard
        return
    if kernel != kernel_for_device("cuda"):
        return
    from dlbook_utils.device import DeviceUnavailableError, get_device

    try:
        get_device("cuda")
    except DeviceUnavailableError as exc:
        pytest.exit(f"nbval with --nbval-kernel-name {kernel}: {exc}", returncode=2)
