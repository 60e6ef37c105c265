"""Stage the executed notebooks beside the book's pages and build the HTML with Jupyter Book.

The stage (``<build>/stage``) mirrors the source tree: ``_config.yml``, ``_toc.yml``, ``book/``,
lesson assets, and one ``.ipynb`` per lesson taken from the executed (or golden) notebooks.
Files are rewritten only when their bytes change, so Sphinx rebuilds only what changed.
The build report is rendered into ``book/build_report.md`` of the stage, never of the source.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from dlbook_utils.bookbuild.project import atomic_write_text
from dlbook_utils.bookbuild.runner import Result

__all__ = ["BUDGET_S", "BUDGET_MB", "report_rows", "report_table", "report_markdown",
           "write_report", "stage", "build_html"]

BUDGET_S = 60.0
BUDGET_MB = 2560.0
REPORT_MARKER = "<!-- dlbook:report -->"
_HEAD = ["lesson", "status", "time (s)", "peak RSS (MB)", "device", "parameters", "cache"]


def _fmt_num(x: float | None, budget: float) -> str:
    if x is None:
        return "–"
    return f"{x:.1f}" + (" ⚠ over budget" if x > budget else "")


def report_rows(results: list[Result]) -> list[list[str]]:
    """One row of strings per lesson, in the order given."""
    rows = []
    for r in results:
        status = r.status
        if r.status == "failed" and r.error:
            cell = r.error.get("cell")
            where = f" in cell {cell}" if cell else ""
            status = f"FAILED{where}: {r.error.get('ename', '')}"
            if r.stale_output:
                status += " (showing the last good run)"
        params = ", ".join(f"{k}={v!r}" for k, v in sorted(r.parameters.items())) or "defaults"
        rows.append([
            Path(r.lesson).stem, status, _fmt_num(r.wall_s, BUDGET_S),
            _fmt_num(r.peak_rss_mb, BUDGET_MB), r.device or "–", params,
            "hit" if r.cache_hit else "executed",
        ])
    return rows


def report_table(results: list[Result]) -> str:
    """The report as a plain-text table for the terminal."""
    rows = [_HEAD] + report_rows(results)
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEAD))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report_markdown(results: list[Result]) -> str:
    """The report as a Markdown table for the book's build-report page."""
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in report_rows(results)]
    total = sum(r.wall_s or 0 for r in results)
    worst = max((r.peak_rss_mb or 0 for r in results), default=0)
    lines += ["", f"{len(results)} lessons; summed execution time {total:.1f} s; largest peak "
              f"memory {worst:.0f} MB. Budgets: {BUDGET_S:.0f} s and {BUDGET_MB / 1024:.1f} GB "
              "per lesson on a 2-core CPU. Times are those of the run that produced each "
              "notebook (a cache hit reuses it)."]
    return "\n".join(lines)


def write_report(build: Path, results: list[Result]) -> Path:
    """Save the report as ``<build>/report.json`` (atomically); return its path."""
    path = build / "report.json"
    atomic_write_text(path, json.dumps([asdict(r) for r in results], indent=1, default=str))
    return path


def _sync_bytes(data: bytes, dst: Path) -> None:
    if dst.is_file() and dst.read_bytes() == data:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(dst)


def stage(root: Path, build: Path, notebooks: dict[str, Path], results: list[Result] | None) -> Path:
    """Assemble the book source under ``<build>/stage``; return that folder.

    Args:
        root: project root.
        build: build folder.
        notebooks: lesson path relative to root (``lessons/…/x.md``) → the ``.ipynb`` to show.
        results: rows for the build-report page (``None`` leaves the placeholder text).
    """
    st = build / "stage"
    wanted: dict[Path, bytes] = {}
    for name in ("_config.yml", "_toc.yml"):
        wanted[st / name] = (root / name).read_bytes()
    for path in sorted((root / "book").rglob("*")):
        if path.is_file():
            wanted[st / path.relative_to(root)] = path.read_bytes()
    for path in sorted((root / "lessons").rglob("*")):
        if path.is_file() and path.suffix not in (".md", ".ipynb") and "__pycache__" not in path.parts:
            wanted[st / path.relative_to(root)] = path.read_bytes()
    for rel, nb in notebooks.items():
        wanted[st / Path(rel).with_suffix(".ipynb")] = nb.read_bytes()
    report_page = st / "book" / "build_report.md"
    if report_page in wanted and results is not None:
        text = wanted[report_page].decode("utf-8")
        table = report_markdown(results)
        text = text.replace(REPORT_MARKER, table) if REPORT_MARKER in text else text + "\n" + table
        wanted[report_page] = text.encode("utf-8")
    for dst, data in wanted.items():
        _sync_bytes(data, dst)
    if st.exists():
        for path in sorted(st.rglob("*"), reverse=True):
            if path.is_file() and path not in wanted:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return st


def build_html(stage_dir: Path, build: Path, quiet: bool = True) -> tuple[int, Path]:
    """Run Jupyter Book (Sphinx, ``-W --keep-going``) on the stage into ``<build>/html``.

    Returns:
        (exit code, path of index.html). Warnings are errors: a non-zero code means the book
        has a warning or error, printed above by Sphinx.
    """
    from jupyter_book.sphinx import build_sphinx

    out = build / "html"
    result = build_sphinx(
        str(stage_dir),
        str(out),
        noconfig=True,
        path_config=str(stage_dir / "_config.yml"),
        confoverrides={"latex_individualpages": False},
        doctreedir=str(build / ".doctrees"),
        builder="html",
        warningiserror=True,
        keep_going=True,
        quiet=quiet,
    )
    code = result if isinstance(result, int) else 1
    if not isinstance(result, int):
        print(f"Jupyter Book failed: {result}")
    return code, out / "index.html"


def clear_html(build: Path) -> None:
    """Remove the HTML output and Sphinx's environment (a full rebuild next time)."""
    shutil.rmtree(build / "html", ignore_errors=True)
    shutil.rmtree(build / ".doctrees", ignore_errors=True)
