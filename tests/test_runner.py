"""The runner on the mini fixture book: cache, parameters, failure isolation, atomicity, CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import torch
from conftest import run_cli

from dlbook_utils.bookbuild import runner
from dlbook_utils.bookbuild.runner import Job, cache_key

OK = "lessons/01_part/01_ok"
PARAMS = "lessons/01_part/02_params"


def executed(project: Path, rel: str) -> Path:
    return project / "_build" / "executed" / f"{rel}.ipynb"


def stdout_of(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")


def snapshot(project: Path) -> dict[str, tuple[int, bytes]]:
    out = {}
    for p in (project / "_build" / "executed").rglob("*"):
        if p.is_file():
            out[str(p)] = (p.stat().st_mtime_ns, p.read_bytes())
    return out


def test_build_executes_caches_and_reports(mini: Path) -> None:
    first = run_cli("build", "--no-html", cwd=mini)
    assert first.returncode == 0, first.stderr
    out = stdout_of(executed(mini, OK))
    assert "N = 3 device env = cpu" in out  # the dlbook-cpu kernel's environment
    report = json.loads((mini / "_build" / "report.json").read_text())
    assert [r["status"] for r in report] == ["ok", "ok"]
    assert [r["cache_hit"] for r in report] == [False, False]
    assert all(0 < r["peak_rss_mb"] < 2560 and r["wall_s"] > 0 for r in report)
    assert {r["device"] for r in report} == {"cpu"}
    # the report cell the runner appends never reaches the notebook
    assert "DLBOOK_REPORT" not in executed(mini, OK).read_text()

    before = snapshot(mini)
    second = run_cli("build", "--no-html", cwd=mini)
    assert second.returncode == 0
    report = json.loads((mini / "_build" / "report.json").read_text())
    assert [r["cache_hit"] for r in report] == [True, True]
    assert snapshot(mini) == before  # a no-op rebuild writes no notebook


def test_parameters_are_injected_and_change_the_key(mini: Path) -> None:
    assert run_cli("build", "--no-html", cwd=mini).returncode == 0
    res = run_cli("build", "--no-html", "-p", "N", "7", cwd=mini)
    assert res.returncode == 0, res.stderr
    assert "N = 7" in stdout_of(executed(mini, OK))
    report = json.loads((mini / "_build" / "report.json").read_text())
    assert report[0]["parameters"] == {"N": 7} and report[0]["cache_hit"] is False


def test_cache_key_covers_source_parameters_kernel_helpers_and_lock(mini: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = mini / f"{OK}.md"
    job = Job(source=src, rel=f"{OK}.md")
    base = cache_key(mini, job)
    assert cache_key(mini, job) == base
    assert cache_key(mini, Job(source=src, rel=job.rel, parameters={"N": 4})) != base
    assert cache_key(mini, Job(source=src, rel=job.rel, kernel="dlbook-cuda")) != base
    (mini / "requirements").mkdir()
    (mini / "requirements" / "lock.txt").write_text("torch==2.14.1\n")
    with_lock = cache_key(mini, job)
    assert with_lock != base
    monkeypatch.setattr(runner, "_package_digest", lambda: "changed helpers")
    assert cache_key(mini, job) != with_lock
    monkeypatch.undo()
    src.write_text(src.read_text() + "\n<!-- edit -->\n")
    assert cache_key(mini, job) != with_lock


def test_failing_lesson_is_isolated_named_and_keeps_last_good(mini: Path) -> None:
    assert run_cli("build", "--no-html", cwd=mini).returncode == 0
    good = executed(mini, PARAMS).read_bytes()
    res = run_cli("build", "-p", "FAIL", "true", cwd=mini)
    assert res.returncode == 1
    assert f"Lesson {PARAMS}.md failed in cell 4 (`if FAIL:`): RuntimeError: asked to fail." in res.stderr
    assert executed(mini, PARAMS).read_bytes() == good  # the last good output is kept
    assert (mini / "_build" / "failed" / f"{PARAMS}.ipynb").is_file()
    report = json.loads((mini / "_build" / "report.json").read_text())
    assert [r["status"] for r in report] == ["ok", "failed"]  # the other lesson still ran
    assert report[1]["error"]["cell"] == 4 and report[1]["stale_output"] is True
    # ... and the book was still built, showing the last good run
    assert (mini / "_build" / "html" / "index.html").is_file()
    page = (mini / "_build" / "html" / "lessons" / "01_part" / "02_params.html").read_text()
    assert re.search(r"threads: \d", page) and "Traceback" not in page


def test_raises_exception_tag_is_not_a_failure(mini: Path) -> None:
    res = run_cli("run", "01_ok", cwd=mini)
    assert res.returncode == 0, res.stderr
    nb = nbformat.read(executed(mini, OK), as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert [e["ename"] for e in errors] == ["ZeroDivisionError"]
    assert all(c.cell_type != "markdown" or "An Exception was encountered" not in c.source for c in nb.cells)


def test_threads_are_split_between_workers(mini: Path) -> None:
    res = run_cli("build", "--no-html", "-j", "2", cwd=mini)
    assert res.returncode == 0, res.stderr
    expected = max(1, (os.cpu_count() or 1) // 2)
    assert f"threads: {expected}" in stdout_of(executed(mini, PARAMS))


def _cmdline(p: psutil.Process) -> list[str]:
    """A process's command line, or [] once it has exited (or is a zombie) while we look."""
    try:
        return p.cmdline()
    except psutil.NoSuchProcess:  # ZombieProcess is one
        return []


def _inherit(disposition: signal.Handlers):  # type: ignore[no-untyped-def]
    """A preexec_fn giving the child this SIGINT disposition, whatever the test runner has."""
    return lambda: signal.signal(signal.SIGINT, disposition)


# SIG_IGN is what a background job of a non-interactive shell inherits (`dlbook build &` in a
# script); the CLI must stop on SIGINT either way.
@pytest.mark.parametrize("inherited", [signal.SIG_DFL, signal.SIG_IGN], ids=["default", "ignored"])
def test_interrupt_leaves_no_half_written_file(mini: Path, inherited: signal.Handlers) -> None:
    assert run_cli("build", "--no-html", cwd=mini).returncode == 0
    before = snapshot(mini)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlbook_utils.bookbuild.cli", "build", "--no-html", "-j", "1",
         "-p", "SLEEP", "60"], cwd=mini, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_inherit(inherited))
    tmp = mini / "_build" / "tmp"
    deadline = time.monotonic() + 60
    kernel_seen = False
    while time.monotonic() < deadline and not kernel_seen:
        time.sleep(0.5)
        kids = psutil.Process(proc.pid).children(recursive=True)
        kernel_seen = any("ipykernel_launcher" in " ".join(_cmdline(k)) for k in kids)
    assert kernel_seen, "the kernel never started"
    kids = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err
    assert not tmp.exists()
    assert snapshot(mini) == before
    assert not list((mini / "_build").rglob("*.tmp"))
    _, alive = psutil.wait_procs(kids, timeout=10)
    assert not alive, f"processes left running: {[p.cmdline() for p in alive]}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_request_without_gpu_stops_before_executing(mini: Path) -> None:
    res = run_cli("build", "--device", "cuda", cwd=mini)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no usable CUDA GPU" in lines[0]
    assert not (mini / "_build" / "executed").exists()


def test_unknown_lesson_lists_the_known_ones(mini: Path) -> None:
    res = run_cli("run", "99_nope", cwd=mini)
    assert res.returncode == 2
    assert "'99_nope' is not a lesson; lessons in _toc.yml: 01_ok, 02_params." in res.stderr


def test_html_build_renders_report_page(mini: Path) -> None:
    res = run_cli("build", cwd=mini)
    assert res.returncode == 0, res.stdout + res.stderr
    html = mini / "_build" / "html"
    assert (html / "index.html").is_file()
    page = (html / "book" / "build_report.html").read_text()
    assert "01_ok" in page and "02_params" in page and "peak RSS" in page
    assert "build_report_chart.svg" in page and "**2 lessons**" not in page  # rendered bold
    assert "<strong>2 lessons</strong>" in page
    charts = list(html.rglob("build_report_chart*.svg"))
    assert charts and "01_ok" in charts[0].read_text() and "budget 60 s" in charts[0].read_text()
    assert "dlbook:report" not in (mini / "_build" / "stage" / "book" / "build_report.md").read_text()
    # the source tree is never modified by a build
    assert "<!-- dlbook:report -->" in (mini / "book" / "build_report.md").read_text()
    assert not list((mini / "lessons").rglob("*.ipynb"))


def test_stale_temporary_folders_are_removed_but_live_ones_kept(tmp_path: Path) -> None:
    build = tmp_path / "_build"
    dead = build / "tmp" / "999999999-1"  # no such pid: left by an interrupted build
    live = build / "tmp" / f"{os.getpid()}-2"  # a concurrent build still running
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / "out.ipynb").write_text("{}")
    runner.run_jobs(tmp_path, build, [])
    assert not dead.exists() and live.exists()


class _FlakyStart:
    """papermill stand-in whose kernel dies at startup ``fails`` times, then runs."""

    def __init__(self, fails: int, message: str) -> None:
        self.fails, self.message, self.calls = fails, message, 0

    def execute_notebook(self, *args: object, **kwargs: object) -> str:
        self.calls += 1
        if self.calls <= self.fails:
            raise RuntimeError(self.message)
        return "executed"


def test_a_kernel_that_dies_at_startup_is_started_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dlbook_utils.bookbuild import worker

    monkeypatch.setattr(worker.time, "sleep", lambda s: None)
    spec = {"kernel": "python3", "cwd": str(tmp_path)}
    pm = _FlakyStart(2, "Kernel died before replying to kernel_info")
    assert worker._execute_with_start_retries(pm, spec, tmp_path / "in", tmp_path / "out") == "executed"
    assert pm.calls == 3
    pm = _FlakyStart(5, "Kernel died before replying to kernel_info")  # gives up, names the cause
    with pytest.raises(RuntimeError, match="kernel_info"):
        worker._execute_with_start_retries(pm, spec, tmp_path / "in", tmp_path / "out")
    assert pm.calls == worker.START_ATTEMPTS
    pm = _FlakyStart(1, "asked to fail.")  # any other error is the lesson's, never retried
    with pytest.raises(RuntimeError, match="asked to fail"):
        worker._execute_with_start_retries(pm, spec, tmp_path / "in", tmp_path / "out")
    assert pm.calls == 1
