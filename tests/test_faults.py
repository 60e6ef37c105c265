"""Bad input and faults, tried as a user would: each gives one clear sentence and loses nothing.

A misspelt or mistyped parameter is refused before any kernel starts; a lesson whose header
does not parse is named with its line; a damaged cached notebook is never served; a damaged
notebook at the HTML stage becomes one placeholder page while the others build; nbval on the
CUDA kernel without a GPU stops at once; a page built from a failed lesson's last good output
says so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from conftest import ROOT, run_cli

from dlbook_utils.bookbuild.params import check_parameter
from dlbook_utils.bookbuild.project import ProjectError

OK = "lessons/01_part/01_ok"
PARAMS = "lessons/01_part/02_params"


def executed(project: Path, rel: str) -> Path:
    return project / "_build" / "executed" / f"{rel}.ipynb"


def one_sentence(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in lines[0] and ".." not in lines[0], lines[0]
    return lines[0]


def test_misspelt_parameter_is_refused_before_running(mini: Path) -> None:
    res = run_cli("run", "01_ok", "-p", "NN", "3", cwd=mini)
    assert res.returncode == 2
    msg = one_sentence(res.stderr)
    assert "Lesson 01_ok has no parameter NN (did you mean N?)" in msg
    assert "its parameters are DEVICE, N" in msg
    assert not (mini / "_build" / "executed").exists()  # no kernel was started


def test_parameter_of_no_lesson_is_refused_by_build(mini: Path) -> None:
    res = run_cli("build", "--no-html", "-p", "FAILL", "true", cwd=mini)
    assert res.returncode == 2
    assert "No lesson of this build has a parameter FAILL (did you mean FAIL?)" in \
        one_sentence(res.stderr)
    assert not (mini / "_build" / "executed").exists()


def test_each_lesson_gets_only_its_own_parameters(mini: Path) -> None:
    res = run_cli("build", "--no-html", "-p", "N", "5", cwd=mini)
    assert res.returncode == 0, res.stderr
    report = json.loads((mini / "_build" / "report.json").read_text())
    assert [r["parameters"] for r in report] == [{"N": 5}, {}]


def test_wrong_type_is_refused_before_running(mini: Path) -> None:
    res = run_cli("run", "01_ok", "-p", "N", "banana", cwd=mini)
    assert res.returncode == 2
    assert one_sentence(res.stderr) == ("dlbook: Parameter N of 01_ok is an int (default 3), "
                                        "but -p N banana gives a string.")
    assert not (mini / "_build" / "executed").exists()


@pytest.mark.parametrize(("default", "value", "raw", "expected"), [
    (3, 7, "7", 7),
    (0.5, 1, "1", 1.0),  # an int is a float
    (False, True, "true", True),
    ("auto", "cpu", "cpu", "cpu"),
    ("resnet", 18, "18", "18"),  # a string parameter keeps what was typed
    (None, 4, "4", 4),
    ([1, 2], [3], "[3]", [3]),
])
def test_values_of_the_defaults_type_are_accepted(default: object, value: object, raw: str,
                                                   expected: object) -> None:
    got = check_parameter("x", "P", default, value, raw)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(("default", "value", "raw", "kind"), [
    (3, "banana", "banana", "a string"),
    (3, True, "true", "a bool (true or false)"),  # a bool is not an int here
    (3, 2.5, "2.5", "a float"),
    (0.5, "x", "x", "a string"),
    (False, 1, "1", "an int"),
    ([1, 2], 3, "3", "an int"),
])
def test_values_of_another_type_are_refused(default: object, value: object, raw: str,
                                            kind: str) -> None:
    with pytest.raises(ProjectError, match=re.escape(f"but -p P {raw} gives {kind}.")):
        check_parameter("x", "P", default, value, raw)


def test_header_that_does_not_parse_is_named_with_its_line(mini: Path) -> None:
    src = mini / f"{OK}.md"
    text = src.read_text()
    src.write_text(text.replace("    extension: .md", "    extension: [.md", 1))
    res = run_cli("run", "01_ok", cwd=mini)
    assert res.returncode == 2
    msg = one_sentence(res.stderr)
    assert f"{OK}.md, line 5: the header (between the --- lines) is not valid YAML: " in msg
    assert "(in the flow sequence that starts on line 4)." in msg  # the unclosed [
    # in a whole build it is one named failure; the other lesson still runs
    res = run_cli("build", "--no-html", cwd=mini)
    assert res.returncode == 1
    assert "WorkerError" not in res.stderr and f"{OK}.md, line 5" in res.stderr
    report = json.loads((mini / "_build" / "report.json").read_text())
    assert [r["status"] for r in report] == ["failed", "ok"]


def test_damaged_cached_notebook_is_executed_again(mini: Path) -> None:
    assert run_cli("build", "--no-html", cwd=mini).returncode == 0
    nb = executed(mini, OK)
    nb.write_bytes(nb.read_bytes()[:100])  # truncated, as by a full disk
    res = run_cli("build", "--no-html", cwd=mini)
    assert res.returncode == 0, res.stderr
    report = json.loads((mini / "_build" / "report.json").read_text())
    assert [r["cache_hit"] for r in report] == [False, True]  # never served; re-executed
    nbformat.validate(nbformat.read(nb, as_version=4))
    # an edit that keeps the JSON valid is caught as well
    doc = json.loads(nb.read_text())
    doc["cells"][-1]["outputs"] = []
    nb.write_text(json.dumps(doc))
    assert run_cli("build", "--no-html", cwd=mini).returncode == 0
    report = json.loads((mini / "_build" / "report.json").read_text())
    assert report[0]["cache_hit"] is False


def test_damaged_notebook_at_the_html_stage_is_one_named_failure(mini: Path) -> None:
    assert run_cli("build", "--no-html", cwd=mini).returncode == 0
    for rel in (OK, PARAMS):  # golden copies from the executed notebooks
        shutil.copy(executed(mini, rel), mini / f"{rel}.ipynb")
    (mini / f"{OK}.ipynb").write_bytes((mini / f"{OK}.ipynb").read_bytes()[:100])
    res = run_cli("build", "--from-golden", cwd=mini)
    assert res.returncode == 1
    assert f"{OK}.ipynb is damaged: it is not valid JSON" in res.stderr
    assert "please report this bug" not in res.stdout + res.stderr
    html = mini / "_build" / "html" / "lessons" / "01_part"
    assert "could not be built" in (html / "01_ok.html").read_text()
    assert "threads:" in (html / "02_params.html").read_text()  # the other page is whole


def test_page_of_a_failed_lesson_says_it_shows_the_last_good_run(mini: Path) -> None:
    assert run_cli("build", "--no-html", cwd=mini).returncode == 0
    res = run_cli("build", "-p", "FAIL", "true", cwd=mini)
    assert res.returncode == 1
    page = (mini / "_build" / "html" / "lessons" / "01_part" / "02_params.html").read_text()
    assert "This lesson failed in the latest build" in page
    assert "in cell 4" in page and "RuntimeError: asked to fail" in page
    assert "last successful run on 20" in page and " UTC" in page  # when it was produced
    ok_page = (mini / "_build" / "html" / "lessons" / "01_part" / "01_ok.html").read_text()
    assert "failed in the latest build" not in ok_page
    report = (mini / "_build" / "html" / "book" / "build_report.html").read_text()
    assert "1 lesson(s) failed in this build: 02_params." in report
    assert "<strong>02_params</strong>" in report


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_nbval_on_the_cuda_kernel_without_gpu_stops_with_one_sentence() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-kernel-name", "dlbook-cuda",
         "lessons/01_foundations/01_ml_components.ipynb"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    out = (res.stdout + res.stderr).strip()
    assert "Exit: nbval with --nbval-kernel-name dlbook-cuda: CUDA was requested" in out
    assert "no usable CUDA GPU" in out and "failed" not in out and "passed" not in out


def test_check_names_a_doc_link_to_a_page_not_in_the_toc(mini: Path) -> None:
    src = mini / f"{OK}.md"
    src.write_text(src.read_text() + "\nSee {doc}`the next one </lessons/01_part/03_next>` and "
                   "{doc}`02_params`.\n")
    res = run_cli("check", cwd=mini)
    assert res.returncode != 0
    assert (f"{OK}.md: {{doc}} links to /lessons/01_part/03_next, which is not in _toc.yml"
            in res.stdout + res.stderr)
    assert "links to 02_params" not in res.stdout + res.stderr  # a relative link that exists


def test_two_builds_at_once_in_one_checkout_both_finish_whole(mini: Path) -> None:
    cmd = [sys.executable, "-m", "dlbook_utils.bookbuild.cli", "build", "--no-html"]
    procs = [subprocess.Popen(cmd, cwd=mini, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    for rel in (OK, PARAMS):  # whichever finished last, the notebook is whole
        nbformat.validate(nbformat.read(executed(mini, rel), as_version=4))
    report = json.loads((mini / "_build" / "report.json").read_text())
    assert [r["status"] for r in report] == ["ok", "ok"]
    assert not list((mini / "_build").glob("**/*.tmp"))  # no half-written file is left
    res = run_cli("build", "--no-html", cwd=mini)  # and the cache serves what they wrote
    assert res.returncode == 0
    report = json.loads((mini / "_build" / "report.json").read_text())
    assert [r["cache_hit"] for r in report] == [True, True]


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to drop root")
def test_read_only_data_folder_as_a_non_root_user_is_one_sentence() -> None:
    import os
    import tempfile

    ro = Path(tempfile.mkdtemp(prefix="dlbook-ro-"))
    try:
        ro.chmod(0o555)
        cmd = [sys.executable, str(ROOT / "data_scripts" / "prepare.py"), "shapes_detection",
               "--root", str(ro / "data"), "--no-progress"]
        if os.geteuid() == 0:  # root ignores permissions: run as nobody
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        res = subprocess.run(cmd, cwd="/", capture_output=True, text=True, timeout=120)
        if "Permission denied" in res.stderr and "python" in res.stderr.lower():
            pytest.skip("the interpreter is not readable by an unprivileged user here")
        assert res.returncode == 1
        assert one_sentence(res.stderr) == (
            f"prepare.py: Cannot write under {ro / 'data'}: permission denied; pass a writable "
            "folder as root (--root on the command line).")
        assert not (ro / "data").exists()
    finally:
        ro.chmod(0o755)
        shutil.rmtree(ro, ignore_errors=True)
