"""The front page's gallery (dlbook_utils.bookbuild.gallery)."""

from __future__ import annotations

import base64
import io
import json

from PIL import Image

from dlbook_utils.bookbuild.gallery import (entries_for, gallery_html, lesson_title,
                                            representative_png, thumbnail, toc_captions)


def _png(w: int, h: int, colour: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="PNG")
    return buf.getvalue()


def _cell(pngs: list[bytes], tags: list[str] | None = None) -> dict:
    return {"cell_type": "code", "metadata": {"tags": tags or []}, "source": "",
            "outputs": [{"output_type": "display_data",
                         "data": {"image/png": base64.b64encode(p).decode()}} for p in pngs]}


def _nb(*cells: dict) -> dict:
    return {"cells": [{"cell_type": "markdown", "source": ["Intro\n", "# The Title（中文）\n"]},
                      *cells]}


def test_the_tagged_figure_wins_else_the_largest() -> None:
    small, big, tagged = _png(10, 10), _png(300, 200, "blue"), _png(20, 20, "green")
    assert representative_png(_nb(_cell([small]), _cell([big]))) == big
    assert representative_png(_nb(_cell([big]), _cell([tagged], ["gallery"]))) == tagged
    assert representative_png(_nb({"cell_type": "code", "outputs": []})) is None


def test_title_is_the_first_level_one_heading() -> None:
    assert lesson_title(_nb(), "x") == "The Title（中文）"
    assert lesson_title({"cells": []}, "fallback") == "fallback"


def test_thumbnails_shrink_to_the_width_and_never_grow() -> None:
    big = Image.open(io.BytesIO(thumbnail(_png(1000, 500), width=320)))
    assert big.size == (320, 160)
    small = Image.open(io.BytesIO(thumbnail(_png(100, 50), width=320)))
    assert small.size == (100, 50)


def test_entries_link_pages_and_local_thumbnails_and_skip_lessons_without_figures() -> None:
    nbs = {"lessons/01_part/01_a.md": json.dumps(_nb(_cell([_png(50, 40)]))).encode(),
           "lessons/01_part/02_b.md": json.dumps(_nb()).encode(),  # no figure
           "lessons/02_part/01_c.md": b"{not json"}  # damaged: skipped, not fatal
    toc = {"parts": [{"caption": "Part 1 — Basics",
                      "chapters": [{"file": "lessons/01_part/01_a"}, {"file": "lessons/01_part/02_b"}]}]}
    entries, files = entries_for(nbs, toc_captions(toc))
    assert entries == [("Part 1", "The Title（中文）", "../lessons/01_part/01_a.html",
                        "../_static/gallery/01_part_01_a.png")]
    assert list(files) == ["_static/gallery/01_part_01_a.png"]
    html = gallery_html(entries)
    assert html.count("<a href=") == 1 and "http" not in html
    assert 'src="../_static/gallery/01_part_01_a.png"' in html
