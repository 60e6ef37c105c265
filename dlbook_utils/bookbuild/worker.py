"""Execute one lesson in its own process: ``python -m dlbook_utils.bookbuild.worker SPEC.json``.

The spec names the lesson source, the parameters, the kernel, the working directory and the
temporary output path. The worker converts the MyST source with jupytext, appends a short
report cell (peak RSS of the kernel, device), runs papermill, removes the report cell and
writes the notebook to the temporary path; it prints one JSON line with the outcome. The parent
(:mod:`.runner`) moves the file into place, so an interrupted run never leaves a half-written
notebook where a good one was.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import nbformat

__all__ = ["run", "main"]

REPORT_TAG = "dlbook-report"
# Peak memory of the kernel: VmHWM (Linux; ru_maxrss would carry the launcher's peak across
# fork+exec), else ru_maxrss; and the largest child the kernel waited for (torchrun workers).
REPORT_SOURCE = r'''
import json as _j, resource as _r, sys as _s
_scale = 1 if _s.platform == "darwin" else 1024
_peak = _r.getrusage(_r.RUSAGE_SELF).ru_maxrss * _scale
try:
    with open("/proc/self/status") as _f:
        _peak = next(int(l.split()[1]) * 1024 for l in _f if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
_peak = max(_peak, _r.getrusage(_r.RUSAGE_CHILDREN).ru_maxrss * _scale)
_dev = "cpu"
if "torch" in _s.modules and _s.modules["torch"].cuda.is_available():
    _dev = "cuda (" + _s.modules["torch"].cuda.get_device_name(0) + ")"
print("DLBOOK_REPORT " + _j.dumps({"peak_rss_mb": _peak / 2**20, "device": _dev}))
'''.strip()

def _error_of(nb: nbformat.NotebookNode) -> dict[str, Any] | None:
    """The first error output: which code cell of the source (1-based), its name and message."""
    n = 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code" or "injected-parameters" in tags:
            continue
        n += 1
        if "raises-exception" in tags:
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                return {
                    "cell": n,
                    "cell_first_line": first[:80],
                    "ename": out.get("ename", ""),
                    "evalue": str(out.get("evalue", ""))[:500],
                }
    return None


def _raise_for_errors(nb: nbformat.NotebookNode, output_path: str) -> None:
    """papermill's error check, minus cells tagged ``raises-exception`` and the banner cells.

    papermill 2.x treats the error output of a cell tagged ``raises-exception`` as a failure
    (nbclient ran on, as the tag asks) and inserts marker cells into the output; a lesson that
    demonstrates an error on purpose must count as a success, and a real failure is reported by
    cell from the output notebook itself.
    """
    from papermill.exceptions import PapermillExecutionError
    from papermill.iorw import write_ipynb

    for index, cell in enumerate(nb.cells):
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "error" and not (
                out.ename == "SystemExit" and out.evalue in ("", "0")
            ):
                write_ipynb(nb, output_path)
                raise PapermillExecutionError(
                    cell_index=index, exec_count=cell.execution_count, source=cell.source,
                    ename=out.ename, evalue=out.evalue, traceback=out.traceback,
                )


# A kernel that dies before its first reply has run none of the lesson: two kernels started
# at the same moment can pick the same free port (jupyter_client probes ports, then frees
# them), and one of them dies at startup. Such a start is retried; a lesson's own failures
# never are.
START_FAILURES = ("Kernel died before replying to kernel_info", "Kernel didn't respond")
START_ATTEMPTS = 3


def _execute_with_start_retries(pm: Any, spec: dict[str, Any], tmp_in: Path, out: Path) -> Any:
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return pm.execute_notebook(
                str(tmp_in),
                str(out),
                parameters=spec.get("parameters") or {},
                kernel_name=spec["kernel"],
                cwd=spec["cwd"],
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                execution_timeout=spec.get("timeout"),
            )
        except RuntimeError as exc:
            if attempt == START_ATTEMPTS or not any(m in str(exc) for m in START_FAILURES):
                raise
            out.unlink(missing_ok=True)
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def run(spec: dict[str, Any]) -> dict[str, Any]:
    import papermill as pm

    from dlbook_utils.bookbuild.project import ProjectError, read_lesson
    import papermill.execute

    papermill.execute.raise_for_execution_errors = _raise_for_errors

    src = Path(spec["source"])
    out = Path(spec["output"])
    try:
        nb = read_lesson(src, spec.get("rel"))
    except ProjectError as exc:  # the file, the line, what is wrong: reported, not raised
        return {"status": "failed", "wall_s": 0.0, "error": {
            "cell": None, "cell_first_line": "", "ename": "LessonSourceError",
            "evalue": str(exc)}}
    report = nbformat.v4.new_code_cell(REPORT_SOURCE, metadata={"tags": [REPORT_TAG]})
    nb.cells.append(report)
    tmp_in = out.with_name(out.name + ".in.ipynb")
    nbformat.write(nb, tmp_in)
    t0 = time.perf_counter()
    result: dict[str, Any] = {"status": "ok", "error": None}
    try:
        executed = _execute_with_start_retries(pm, spec, tmp_in, out)
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
        result["status"] = "failed"
        executed = nbformat.read(out, as_version=4) if out.exists() else None
        err = _error_of(executed) if executed is not None else None
        result["error"] = err or {
            "cell": None,
            "cell_first_line": "",
            "ename": type(exc).__name__,
            "evalue": str(exc).splitlines()[0][:500] if str(exc) else "",
        }
    finally:
        tmp_in.unlink(missing_ok=True)
    result["wall_s"] = time.perf_counter() - t0
    if executed is not None:
        executed = nbformat.from_dict(executed)
        cells = []
        for cell in executed.cells:
            if REPORT_TAG in cell.metadata.get("tags", []):
                for o in cell.get("outputs", []):
                    text = o.get("text", "") if o.get("output_type") == "stream" else ""
                    for line in text.splitlines():
                        if line.startswith("DLBOOK_REPORT "):
                            result.update(json.loads(line.split(" ", 1)[1]))
                continue
            cells.append(cell)
        executed.cells = cells
        nbformat.write(executed, out)
    return result


def _stop(signum: int, frame: object) -> None:
    """On SIGTERM (Ctrl-C in the parent): end the kernel and its children, then exit."""
    import psutil

    me = psutil.Process()
    kids = me.children(recursive=True)
    for kid in kids:
        try:
            kid.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(kids, timeout=3)
    for kid in alive:
        try:
            kid.kill()
        except psutil.Error:
            pass
    os._exit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _stop)
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    result = run(spec)
    Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
