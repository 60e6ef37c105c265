"""The two Jupyter kernels of the book, installed inside the virtual environment.

``dlbook-cpu`` hides every GPU (``CUDA_VISIBLE_DEVICES=""``, ``DLBOOK_DEVICE=cpu``);
``dlbook-cuda`` asks for the GPU (``DLBOOK_DEVICE=cuda``), so
:func:`dlbook_utils.get_device` stops with one sentence on a machine without one.
Notebooks themselves keep ``kernelspec: python3`` so Colab and plain Jupyter open them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

__all__ = ["KERNELS", "kernel_dir", "install_kernels", "kernel_for_device"]

KERNELS: dict[str, dict[str, object]] = {
    "dlbook-cpu": {
        "display_name": "dlbook (CPU)",
        "env": {"DLBOOK_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": ""},
    },
    "dlbook-cuda": {
        "display_name": "dlbook (CUDA)",
        "env": {"DLBOOK_DEVICE": "cuda"},
    },
}


def kernel_dir(name: str, prefix: Path | None = None) -> Path:
    """Where the spec of kernel ``name`` lives: ``<prefix>/share/jupyter/kernels/<name>``."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / name


def kernel_for_device(device: str) -> str:
    """``"cpu"`` → ``dlbook-cpu``, ``"cuda"`` → ``dlbook-cuda``; anything else is a ValueError."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"Unknown device {device!r}; use 'cpu' or 'cuda'.")
    return f"dlbook-{device}"


def install_kernels(prefix: Path | None = None, python: str | None = None) -> list[Path]:
    """Write both kernel specs under ``prefix`` (default: this interpreter's ``sys.prefix``).

    Args:
        prefix: environment prefix; the default keeps the venv self-contained (``--sys-prefix``).
        python: interpreter the kernel runs; defaults to ``sys.executable``.

    Returns:
        The kernel.json paths written.
    """
    written = []
    for name, spec in KERNELS.items():
        folder = kernel_dir(name, prefix)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        kernel_json = {
            "argv": [python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": spec["display_name"],
            "language": "python",
            "env": spec["env"],
            "metadata": {"debugger": True},
        }
        path = folder / "kernel.json"
        path.write_text(json.dumps(kernel_json, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written
