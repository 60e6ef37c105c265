"""Download the wheels tests/cuda_check.sh installs on the GPU machine (online; `make cuda-wheels`).

The lent GPU machine runs Python 3.12 with PyTorch and many packages but no Jupyter stack, and
it reaches no registry. This resolves papermill, nbval, ipykernel, jupytext and pycocotools with
their dependencies for CPython 3.12 on x86-64 Linux, then drops the wheels of packages the
machine already has (so its numpy and friends are not shadowed), and checks the total against
the 64 MiB a device call may carry.

    python tests/cuda_wheels.py [DEST]      (default _build/cuda_wheels)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

WANTED = ["papermill", "nbval", "nbclient", "nbformat", "ipykernel", "jupytext", "pycocotools"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64"]
LIMIT = 64 * 2**20
# Read off the GPU image (the device tool's KINDS.md, 2026-11-17): packages it already holds.
ON_IMAGE = set("""
absl-py aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs certifi
charset-normalizer click cloudpickle colorama contourpy coverage cycler execnet filelock
fonttools frozenlist fsspec h11 httpcore httpx idna imageio iniconfig jinja2 joblib kiwisolver
lazy-loader markdown markdown-it-py markupsafe matplotlib mdurl multidict numpy packaging pandas
pillow pip pluggy propcache protobuf psutil pygments pyparsing pytest pytest-xdist
python-dateutil pyyaml regex requests rich safetensors scikit-image scikit-learn scipy setuptools
six sympy tabulate tensorboard threadpoolctl tifffile timm torch torchvision tqdm
typing-extensions urllib3 wheel wrapt yarl zipp
""".split())


def project(wheel: Path) -> str:
    return re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()


def main(dest: str = "_build/cuda_wheels") -> int:
    out = Path(dest)
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
           "--python-version", "3.12", "--implementation", "cp", "-d", str(out)]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    subprocess.run(cmd + WANTED, check=True)
    for wheel in out.glob("*.whl"):
        if project(wheel) in ON_IMAGE:
            wheel.unlink()
    wheels = sorted(out.glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels)
    print(f"{len(wheels)} wheels, {size / 2**20:.1f} MiB in {out} (a device call carries 64 MiB)")
    if size > LIMIT:
        print("too large to carry: drop what the GPU image already has", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
