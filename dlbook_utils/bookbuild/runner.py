"""Cached, parallel, atomic execution of lessons with papermill.

Each lesson runs in a worker process (:mod:`.worker`) on a Jupyter kernel. An executed notebook
is reused when the hash of everything that can change its output matches: the lesson source,
the parameters, the kernel, the source of ``dlbook_utils`` (the helpers lessons import, not
this build machinery) and the lock file. Results move into ``<build>/executed`` only on
success; a failed run goes to ``<build>/failed`` and the last good notebook stays in place.
A cache hit is served only if the notebook's SHA-256 still equals the one recorded when it was
written; a notebook changed or damaged since is deleted and the lesson executed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from dlbook_utils.bookbuild.project import atomic_write_text

__all__ = ["Job", "Result", "cache_key", "run_jobs", "executed_path", "failed_path", "RUNNER_VERSION"]

RUNNER_VERSION = "2"
_PKG = Path(__file__).resolve().parents[1]


@dataclass
class Job:
    """One lesson to execute.

    Attributes:
        source: the lesson's ``.md`` (absolute path).
        rel: its path relative to the project root, used for output paths and reports.
        parameters: papermill parameters (NAME → value) overriding the parameters cell.
        kernel: Jupyter kernel name (``dlbook-cpu`` or ``dlbook-cuda``).
    """

    source: Path
    rel: str
    parameters: dict[str, Any] = field(default_factory=dict)
    kernel: str = "dlbook-cpu"


@dataclass
class Result:
    """What happened to one job; one row of the build report."""

    lesson: str
    status: str  # "ok" | "failed"
    cache_hit: bool
    wall_s: float | None
    peak_rss_mb: float | None
    device: str | None
    kernel: str
    parameters: dict[str, Any]
    key: str
    error: dict[str, Any] | None = None
    stale_output: bool = False  # failed, but an older good notebook is kept and shown
    nb_sha256: str | None = None  # hash of the executed notebook, checked on every cache hit
    produced_at: str | None = None  # when the notebook shown was executed (UTC, ISO 8601)


_CLI_FOLDER = Path(__file__).parent.name  # "bookbuild"


def _package_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(_PKG.rglob("*.py")):
        if path.relative_to(_PKG).parts[0] == _CLI_FOLDER:
            continue  # the build tool itself cannot change a lesson's output
        h.update(str(path.relative_to(_PKG)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(root: Path, job: Job) -> str:
    """Hash of everything that can change a lesson's executed output."""
    h = hashlib.sha256()
    h.update(f"runner={RUNNER_VERSION}\n".encode())
    h.update(job.source.read_bytes())
    h.update(json.dumps(job.parameters, sort_keys=True, default=str).encode())
    h.update(job.kernel.encode())
    h.update(_package_digest().encode())
    lock = root / "requirements" / "lock.txt"
    if lock.is_file():
        h.update(lock.read_bytes())
    return h.hexdigest()


def executed_path(build: Path, rel: str) -> Path:
    return build / "executed" / Path(rel).with_suffix(".ipynb")


def failed_path(build: Path, rel: str) -> Path:
    return build / "failed" / Path(rel).with_suffix(".ipynb")


def _file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _utc_now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _meta_path(nb_path: Path) -> Path:
    return nb_path.with_name(nb_path.name + ".json")


def _cached(build: Path, job: Job, key: str) -> Result | None:
    nb, meta = executed_path(build, job.rel), _meta_path(executed_path(build, job.rel))
    if not (nb.is_file() and meta.is_file()):
        return None
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("key") != key:
        return None
    if data.get("nb_sha256") != _file_sha256(nb):
        # The notebook changed or broke after it was cached (truncated, edited, a disk
        # error): never serve it. Remove both files so the lesson is executed again.
        nb.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)
        return None
    data.update(cache_hit=True, status="ok", error=None, stale_output=False)
    return Result(**{k: data.get(k) for k in Result.__dataclass_fields__})


class _Pool:
    """Tracks worker processes so Ctrl-C can stop them all and clean up."""

    def __init__(self) -> None:
        self.procs: set[subprocess.Popen[bytes]] = set()
        self.lock = threading.Lock()
        self.stopping = False

    def kill_all(self) -> None:
        self.stopping = True
        with self.lock:
            for p in list(self.procs):
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
            deadline = time.monotonic() + 5
            for p in list(self.procs):
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass


def _clean_stale_tmp(build: Path) -> None:
    """Remove temporary folders of builds that are no longer running (an interrupted build)."""
    tmp = build / "tmp"
    if not tmp.is_dir():
        return
    for folder in tmp.iterdir():
        pid = folder.name.split("-", 1)[0]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)
    try:
        tmp.rmdir()
    except OSError:
        pass  # another build is using it


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _execute(
    root: Path, build: Path, job: Job, key: str, threads: int, timeout: float | None, pool: _Pool,
    tmpdir: Path,
) -> Result:
    work = Path(tempfile.mkdtemp(prefix="run-", dir=tmpdir))
    out = work / "out.ipynb"
    spec = {
        "source": str(job.source),
        "rel": job.rel,
        "output": str(out),
        "parameters": job.parameters,
        "kernel": job.kernel,
        "cwd": str(work),
        "timeout": timeout,
        "result": str(work / "result.json"),
    }
    (work / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        OPENBLAS_NUM_THREADS=str(threads),
        DLBOOK_PROGRESS="0",
        DLBOOK_ROOT=str(root),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    # Idle OpenMP threads sleep instead of spinning: on a busy machine, spinning threads of
    # one lesson steal the cores another lesson's threads are computing on (a small training
    # loop measured 30x slower with two spinning threads than with one).
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        with pool.lock:
            if pool.stopping:
                raise KeyboardInterrupt
            proc = subprocess.Popen(
                [sys.executable, "-m", "dlbook_utils.bookbuild.worker", str(work / "spec.json")],
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            pool.procs.add(proc)
        _, stderr = proc.communicate()
        with pool.lock:
            pool.procs.discard(proc)
        if pool.stopping:
            raise KeyboardInterrupt
        rfile = work / "result.json"
        if rfile.is_file():
            res = json.loads(rfile.read_text(encoding="utf-8"))
        else:
            tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            res = {"status": "failed", "wall_s": None,
                   "error": {"cell": None, "cell_first_line": "", "ename": "WorkerError",
                             "evalue": tail[0][:500]}}
        result = Result(
            lesson=job.rel, status=res["status"], cache_hit=False, wall_s=res.get("wall_s"),
            peak_rss_mb=res.get("peak_rss_mb"), device=res.get("device"), kernel=job.kernel,
            parameters=job.parameters, key=key, error=res.get("error"),
        )
        if result.status == "ok" and out.is_file():
            result.nb_sha256, result.produced_at = _file_sha256(out), _utc_now()
            target = executed_path(build, job.rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(out, target)
            atomic_write_text(_meta_path(target), json.dumps(asdict(result), indent=1))
            failed_path(build, job.rel).unlink(missing_ok=True)
        else:
            result.status = "failed"
            if out.is_file():
                target = failed_path(build, job.rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(out, target)
            result.stale_output = executed_path(build, job.rel).is_file()
            if result.stale_output:  # when the notebook still shown was produced
                try:
                    old = json.loads(_meta_path(executed_path(build, job.rel)).read_text(
                        encoding="utf-8"))
                    result.produced_at = old.get("produced_at")
                except (OSError, ValueError):
                    pass
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_jobs(
    root: Path,
    build: Path,
    jobs: list[Job],
    workers: int = 1,
    use_cache: bool = True,
    timeout: float | None = 600,
    on_done: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run ``jobs`` (cache first), ``workers`` at a time, torch threads split between them.

    Returns one :class:`Result` per job, in the order of ``jobs``. Raises ``KeyboardInterrupt``
    after stopping every worker and removing their temporary files when interrupted.
    """
    _clean_stale_tmp(build)
    results: dict[int, Result] = {}
    todo: list[tuple[int, Job, str]] = []
    for i, job in enumerate(jobs):
        key = cache_key(root, job)
        hit = _cached(build, job, key) if use_cache else None
        if hit is not None:
            results[i] = hit
            if on_done:
                on_done(hit)
        else:
            todo.append((i, job, key))
    if todo:
        workers = max(1, min(workers, len(todo)))
        threads = max(1, (os.cpu_count() or 1) // workers)
        pool = _Pool()
        # One temporary folder per build process, so concurrent builds never touch each other's.
        tmpdir = build / "tmp" / f"{os.getpid()}-{time.time_ns()}"
        tmpdir.mkdir(parents=True)
        ex = ThreadPoolExecutor(max_workers=workers)
        try:
            futures = {
                ex.submit(_execute, root, build, job, key, threads, timeout, pool, tmpdir): i
                for i, job, key in todo
            }
            for fut in as_completed(futures):
                res = fut.result()
                results[futures[fut]] = res
                if on_done:
                    on_done(res)
        except BaseException:
            pool.kill_all()
            ex.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            ex.shutdown(wait=True)
            shutil.rmtree(tmpdir, ignore_errors=True)
            _clean_stale_tmp(build)
    return [results[i] for i in range(len(jobs))]
