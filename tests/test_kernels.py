"""The dlbook-cpu and dlbook-cuda kernel specs: where they go, their environment, and that it reaches code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel

from dlbook_utils.bookbuild.kernels import (
    KERNELS,
    install_kernels,
    kernel_dir,
    kernel_for_device,
)


def test_install_writes_both_specs_under_the_prefix(tmp_path: Path) -> None:
    paths = install_kernels(prefix=tmp_path, python="/some/python")
    assert sorted(p.parent.name for p in paths) == ["dlbook-cpu", "dlbook-cuda"]
    cpu = json.loads((kernel_dir("dlbook-cpu", tmp_path) / "kernel.json").read_text())
    cuda = json.loads((kernel_dir("dlbook-cuda", tmp_path) / "kernel.json").read_text())
    assert cpu["env"] == {"DLBOOK_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    assert cuda["env"] == {"DLBOOK_DEVICE": "cuda"}
    assert cpu["argv"][:3] == ["/some/python", "-m", "ipykernel_launcher"]
    assert "{connection_file}" in cpu["argv"]
    # reinstalling replaces, never duplicates
    install_kernels(prefix=tmp_path, python="/other/python")
    assert json.loads((kernel_dir("dlbook-cpu", tmp_path) / "kernel.json").read_text())["argv"][0] == "/other/python"


def test_venv_kernels_are_found_by_jupyter() -> None:
    specs = KernelSpecManager().find_kernel_specs()
    for name in KERNELS:
        assert name in specs, f"{name} missing: run `dlbook kernels install`"
        assert Path(specs[name]).is_relative_to(Path(sys.prefix)), "kernels must live inside the venv"


@pytest.mark.parametrize("name, device, cuda_hidden", [("dlbook-cpu", "cpu", True), ("dlbook-cuda", "cuda", False)])
def test_kernel_environment_reaches_the_code(name: str, device: str, cuda_hidden: bool) -> None:
    km, kc = start_new_kernel(kernel_name=name)
    try:
        code = ("import os, json; print(json.dumps([os.environ.get('DLBOOK_DEVICE'), "
                "os.environ.get('CUDA_VISIBLE_DEVICES')]))")
        out: list[str] = []
        kc.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(m["content"].get("text", "")))
        env_device, visible = json.loads("".join(out))
        assert env_device == device
        assert (visible == "") is cuda_hidden
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_kernel_for_device() -> None:
    assert kernel_for_device("cpu") == "dlbook-cpu" and kernel_for_device("cuda") == "dlbook-cuda"
    with pytest.raises(ValueError, match="'tpu'"):
        kernel_for_device("tpu")
