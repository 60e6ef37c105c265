"""tests/cuda_check.sh in its dry-run mode: the GPU machine's steps, on this CPU, for one lesson.

The real run (every lesson and nbval on the dlbook-cuda kernel) needs the lent GPU machine; the
dry run proves the script's steps work: kernels, the project's runner with its report, nbval on
the golden notebook with the sanitizer, the summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

LESSON = "03_pandas_preprocessing"


def test_dry_run_executes_the_lesson_and_nbval_and_writes_the_reports(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "cuda_check"
    env = dict(os.environ, PYTHON=sys.executable)
    res = subprocess.run([str(root / "tests" / "cuda_check.sh"), "--dry-run", "--jobs", "1",
                          "--out", str(out), LESSON], cwd=root, env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    report = json.loads((out / "report_cpu.json").read_text())
    assert [(Path(r["lesson"]).stem, r["status"], r["device"]) for r in report] == [(LESSON, "ok", "cpu")]
    suite = ET.parse(out / "nbval_cpu.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert int(suite.get("tests")) > 5 and int(suite.get("failures")) == int(suite.get("errors")) == 0
    assert (out / "summary_cpu.txt").read_text().startswith("device cpu: 1/1 lessons ran")


def test_bad_arguments_are_one_sentence(root: Path) -> None:
    res = subprocess.run([str(root / "tests" / "cuda_check.sh"), "--frobnicate"], cwd=root,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stderr.strip() == "cuda_check: unknown option --frobnicate (see --help)"
    res = subprocess.run([str(root / "tests" / "cuda_check.sh"), "--wheels", "/nonexistent"], cwd=root,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "make cuda-wheels" in res.stderr
