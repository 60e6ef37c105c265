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

import nbformat

from dlbook_utils.bookbuild import gallery
from dlbook_utils.bookbuild.project import atomic_write_text, read_toc
from dlbook_utils.bookbuild.report_chart import chart_svg, summary_line
from dlbook_utils.bookbuild.runner import Result

__all__ = ["BUDGET_S", "BUDGET_MB", "report_rows", "report_table", "report_markdown",
           "write_report", "stage", "build_html"]

BUDGET_S = 60.0
BUDGET_MB = 2560.0
REPORT_MARKER = "<!-- dlbook:report -->"
CHART_FILE = "build_report_chart.svg"  # beside build_report.md in the stage
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
    for r, row in zip(results, report_rows(results)):
        if r.status != "ok":  # a failed lesson's row stands out, its name and status in bold
            row = [f"**{row[0]}**", f"**{row[1]}**", *row[2:]]
        lines.append("| " + " | ".join(esc(c) for c in row) + " |")
    head = [summary_line(results, BUDGET_S, BUDGET_MB), "",
            f"![Time and peak memory of each lesson, with the budgets]({CHART_FILE})", ""]
    bad = [Path(r.lesson).stem for r in results if r.status != "ok"]
    if bad:
        head = [f"**{len(bad)} lesson(s) failed in this build: {', '.join(bad)}.** Their pages "
                "carry a banner saying which cell failed and which outputs they show.", "",
                *head]
    lines = [*head, *lines,
             "", f"Budgets: {BUDGET_S:.0f} s and {BUDGET_MB / 1024:.1f} GB per lesson on a "
             "2-core CPU. Times are those of the run that produced each notebook (a cache hit "
             "reuses it)."]
    return "\n".join(lines)


def write_report(build: Path, results: list[Result]) -> Path:
    """Save the report as ``<build>/report.json`` (atomically); return its path."""
    path = build / "report.json"
    atomic_write_text(path, json.dumps([asdict(r) for r in results], indent=1, default=str))
    return path


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to the project root when it lies below it."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _sync_bytes(data: bytes, dst: Path) -> None:
    if dst.is_file() and dst.read_bytes() == data:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(dst)


def _notebook_problem(data: bytes) -> str | None:
    """Why ``data`` is not a notebook Jupyter Book can read, in a few words; None if it is."""
    try:
        json.loads(data.decode("utf-8"))
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    except nbformat.ValidationError as exc:
        return f"it is JSON but not a valid notebook ({str(exc.message)[:200]})"
    except Exception as exc:  # noqa: BLE001 - any unreadable notebook becomes one sentence
        return f"it cannot be read as a notebook ({type(exc).__name__}: {str(exc)[:200]})"
    return None


def _placeholder(rel: str, shown: str, problem: str) -> bytes:
    """A one-page notebook that says why the lesson's page could not be built."""
    title = Path(rel).stem.replace("_", " ")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(
        f"# {title}\n\n"
        f"```{{error}}\nThis page could not be built: the notebook to show, `{shown}`, is "
        f"damaged: {problem}. Run `dlbook build` again to execute `{rel}` afresh.\n```\n")]
    return nbformat.writes(nb).encode("utf-8")


def _banner(result: Result) -> str:
    """The notice at the top of a page whose lesson failed in the latest build."""
    err = result.error or {}
    cell = f" in cell {err['cell']}" if err.get("cell") else ""
    what = f"{err.get('ename', 'an error')}: {str(err.get('evalue', '')).splitlines()[0][:200]}" \
        if err.get("evalue") else err.get("ename", "an error")
    if result.stale_output:
        when = f" on {result.produced_at}" if result.produced_at else ""
        shown = (f"The outputs below are those of the last successful run{when}, not of the "
                 "current source.")
    else:
        shown = "The outputs below are those of the failed run and stop where it failed."
    return (f"```{{warning}}\n**This lesson failed in the latest build**{cell} "
            f"({what.rstrip('.')}). {shown} The build report lists the failure.\n```")


def _with_banner(data: bytes, result: Result) -> bytes:
    """``data`` (a valid notebook) with the failure banner after its title cell."""
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    first_md = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    cell = nbformat.v4.new_markdown_cell(_banner(result), metadata={"tags": ["dlbook-banner"]})
    nb.cells.insert(first_md + 1, cell)
    return nbformat.writes(nb).encode("utf-8")


def stage(root: Path, build: Path, notebooks: dict[str, Path], results: list[Result] | None,
          problems: list[str] | None = None) -> Path:
    """Assemble the book source under ``<build>/stage``; return that folder.

    Every notebook is validated first: one that is not a valid notebook is replaced by a
    placeholder page naming the problem (and the problem appended to ``problems``), so the
    other pages still build. The page of a lesson that failed in this build carries a banner.

    Args:
        root: project root.
        build: build folder.
        notebooks: lesson path relative to root (``lessons/…/x.md``) → the ``.ipynb`` to show.
        results: rows for the build-report page (``None`` leaves the placeholder text).
        problems: receives one sentence per notebook that could not be shown.
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
    failed = {r.lesson: r for r in results or [] if r.status != "ok"}
    valid: dict[str, bytes] = {}  # the notebooks shown whole, for the front page's gallery
    for rel, nb in notebooks.items():
        try:
            data = nb.read_bytes()
        except OSError as exc:
            data, problem = b"", f"it cannot be read ({exc.strerror})"
        else:
            problem = _notebook_problem(data)
        shown = _relative(nb, root)
        if problem is not None:
            data = _placeholder(rel, shown, problem)
            if problems is not None:
                problems.append(f"{shown} is damaged: {problem}; its page {rel} is a "
                                "placeholder that says so.")
        else:
            valid[rel] = data
            if rel in failed:
                data = _with_banner(data, failed[rel])
        wanted[st / Path(rel).with_suffix(".ipynb")] = data
    report_page = st / "book" / "build_report.md"
    if report_page in wanted and results is not None:
        text = wanted[report_page].decode("utf-8")
        table = report_markdown(results)
        text = text.replace(REPORT_MARKER, table) if REPORT_MARKER in text else text + "\n" + table
        wanted[report_page] = text.encode("utf-8")
        wanted[report_page.with_name(CHART_FILE)] = chart_svg(
            results, BUDGET_S, BUDGET_MB).encode("utf-8")
    _add_gallery(root, st, wanted, valid)
    for dst, data in wanted.items():
        _sync_bytes(data, dst)
    if st.exists():
        for path in sorted(st.rglob("*"), reverse=True):
            if path.is_file() and path not in wanted:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return st


def _add_gallery(root: Path, st: Path, wanted: dict[Path, bytes], shown: dict[str, bytes]) -> None:
    """Replace the gallery marker of the book's pages with thumbnails of the lessons' figures."""
    pages = [p for p, data in wanted.items() if p.suffix == ".md"
             and p.parent == st / "book" and gallery.GALLERY_MARKER.encode() in data]
    if not pages:
        return
    toc = read_toc(root)
    entries, files = gallery.entries_for(shown, gallery.toc_captions(toc))
    for name, data in files.items():
        wanted[st / name] = data
    wanted[st / "_static" / "gallery.css"] = gallery.GALLERY_CSS.encode()
    grid = gallery.gallery_html(entries).encode()
    for page in pages:
        wanted[page] = wanted[page].replace(gallery.GALLERY_MARKER.encode(), grid)


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
