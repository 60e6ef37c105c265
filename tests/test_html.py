"""The HTML book built from the golden notebooks: complete, offline, and math renders in Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from install_browser import find_browser

from dlbook_utils.bookbuild.project import toc_files

REMOTE = re.compile(r"""^(https?:)?//""", re.I)
TAG = re.compile(r"<(script|link|img|iframe|source|embed)\b[^>]*>", re.I)
URL_ATTR = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)
CSS_URL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])([^"')]+)""", re.I)


@pytest.fixture(scope="module")
def html(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("book")
    res = run_cli("build", "--from-golden", "--build-dir", str(build), cwd=root, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return build / "html"


def _remote_assets(html_dir: Path) -> list[str]:
    """Every remote script, stylesheet, font, image or frame the pages or CSS would load.

    Plain ``<a href>`` links and ``<link rel="canonical|alternate">`` metadata load nothing.
    """
    found = []
    for page in html_dir.rglob("*.html"):
        for m in TAG.finditer(page.read_text(encoding="utf-8")):
            tag, text = m.group(1).lower(), m.group(0)
            url = URL_ATTR.search(text)
            if not url or not REMOTE.match(url.group(1)):
                continue
            if tag == "link" and not re.search(r"rel=[\"'][^\"']*(stylesheet|preload|icon|modulepreload)", text, re.I):
                continue
            found.append(f"{page.relative_to(html_dir)}: {text[:160]}")
    for css in html_dir.rglob("*.css"):
        for url in CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace")):
            if REMOTE.match(url.strip()):
                found.append(f"{css.relative_to(html_dir)}: url({url})")
    return found


def test_every_toc_page_is_built(root: Path, html: Path) -> None:
    for doc in toc_files(root):
        assert (html / f"{doc}.html").is_file(), doc


def test_no_page_loads_a_remote_script_stylesheet_or_font(html: Path) -> None:
    assert _remote_assets(html) == []
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_the_scanner_would_catch_remote_assets(tmp_path: Path) -> None:
    """The offline test must be able to fail: a page with CDN assets is reported."""
    (tmp_path / "a.html").write_text(
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>'
        '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Lato">'
        '<script src="_static/local.js"></script>')
    (tmp_path / "b.css").write_text("@font-face{src:url(https://fonts.gstatic.com/x.woff2)}")
    assert len(_remote_assets(tmp_path)) == 3


CELL = re.compile(r'<div class="cell( [^"]*)? docutils container"')
FIGURE = re.compile(r'<img [^>]*src="[^"]*_images/[^"]+\.(png|svg|jpg)"')


def cells_with_traceback(page: str) -> list[tuple[int, bool]]:
    """(cell number, tagged raises-exception) for every cell whose output shows a traceback."""
    starts = [(m.start(), "tag_raises-exception" in (m.group(1) or "")) for m in CELL.finditer(page)]
    found = []
    for i, (pos, tagged) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(page)
        if 'class="output traceback' in page[pos:end]:
            found.append((i, tagged))
    return found


def test_lessons_show_checks_and_figures(root: Path, html: Path) -> None:
    for doc in toc_files(root):
        if doc.startswith("lessons/"):
            page = (html / f"{doc}.html").read_text(encoding="utf-8")
            assert "✓" in page, f"{doc} shows no executed check"
            assert FIGURE.search(page), f"{doc} shows no figure"
            stray = [i for i, tagged in cells_with_traceback(page) if not tagged]
            assert not stray, f"{doc}: tracebacks outside raises-exception cells: cells {stray}"


def test_the_page_scanner_would_catch_a_stray_traceback() -> None:
    page = ('<div class="cell tag_raises-exception docutils container">'
            '<div class="output traceback highlight-ipythontb">ZeroDivisionError</div></div>'
            '<div class="cell docutils container"><div class="output stream">ok</div></div>'
            '<div class="cell docutils container"><div class="output traceback x">KeyError</div>')
    assert cells_with_traceback(page) == [(0, True), (2, False)]
    assert not FIGURE.search('<img alt="Colab logo" src="../_static/images/logo_colab.png">')


@pytest.fixture(scope="module")
def browser() -> str:
    path = find_browser()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing on CI: tests/install_browser.py should have installed it.")
        pytest.skip("Chromium is not installed (run `python tests/install_browser.py` as root).")
    return path


def _dump_dom(browser: str, page: Path | str, tmp: Path) -> str:
    uri = page.as_uri() if isinstance(page, Path) else page
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--allow-file-access-from-files", f"--user-data-dir={tmp}", "--virtual-time-budget=20000",
           "--dump-dom", uri]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@pytest.mark.parametrize("doc", ["lessons/01_foundations/03_pandas_preprocessing", "lessons/01_foundations/04_autograd"])
def test_math_is_rendered_in_chromium(browser: str, html: Path, doc: str, tmp_path: Path) -> None:
    dom = _dump_dom(browser, html / f"{doc}.html", tmp_path / "profile")
    assert "<mjx-container" in dom, f"MathJax did not typeset {doc}"
    assert "<mjx-merror" not in dom, f"MathJax reported a TeX error on {doc}"
    assert "$$" not in dom.split("<body", 1)[-1].split("<script", 1)[0], "raw TeX left on the page"


def test_a_screenshot_can_be_taken(browser: str, html: Path, tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'p'}", "--virtual-time-budget=10000", "--window-size=1200,900",
           f"--screenshot={out}", (html / "lessons/01_foundations/02_tensors.html").as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120)
    assert out.is_file() and out.stat().st_size > 10_000
    shutil.copy(out, html.parent / "screenshot_02_tensors.png")


def test_search_works_offline_from_file_urls(browser: str, html: Path, tmp_path: Path) -> None:
    # the search box submits to search.html?q=...; the index is the local searchindex.js
    url = (html / "search.html").as_uri() + "?q=receptive+field"
    dom = _dump_dom(browser, url, tmp_path / "profile")
    results = dom.split('id="search-results"', 1)[-1]
    assert "Search finished, found" in results, "the search did not finish"
    assert 'href="lessons/04_convolutional_networks/02_cnn_vs_dnn_receptive_field.html' in results
    nothing = _dump_dom(browser, (html / "search.html").as_uri() + "?q=zzqxjv", tmp_path / "p2")
    assert "did not match any documents" in nothing.split('id="search-results"', 1)[-1]


def test_front_page_gallery_has_a_local_thumbnail_per_lesson(root: Path, html: Path) -> None:
    page = (html / "book" / "intro.html").read_text(encoding="utf-8")
    assert "dlbook:gallery" not in page, "the gallery marker was not replaced"
    grid = page.split('class="dlbook-gallery"', 1)[1].split("</div>", 1)[0]
    links = re.findall(r'<a href="\.\./(lessons/[^"]+\.html)"><img src="\.\./(_static/gallery/[^"]+)"',
                       grid)
    lessons = [f for f in toc_files(root) if f.startswith("lessons/")]
    assert len(links) == len(lessons)  # every lesson of the book draws at least one figure
    for href, src in links:
        assert (html / href).is_file() and (html / src).is_file(), (href, src)
    assert (html / "_static" / "gallery.css").is_file() and "gallery.css" in page
