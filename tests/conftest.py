"""Shared fixtures: the project root, a scratch copy of the mini fixture book, a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MINI = Path(__file__).resolve().parent / "fixtures" / "mini"


def run_cli(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run ``dlbook ARGS`` with this interpreter; capture text output."""
    return subprocess.run(
        [sys.executable, "-m", "dlbook_utils.bookbuild.cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    """A fresh copy of tests/fixtures/mini (two tiny lessons) to build in."""
    dst = tmp_path / "mini"
    shutil.copytree(MINI, dst, ignore=shutil.ignore_patterns("_build"))
    return dst


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
