"""The front page's gallery: one thumbnail per lesson, taken from its executed notebook.

At build time ``book.stage`` picks each lesson's representative figure (a code cell tagged
``gallery``, else the largest PNG the lesson draws), scales it down, stores it under the stage's
``_static/gallery/`` and replaces the marker ``<!-- dlbook:gallery -->`` of a book page with a grid
of linked thumbnails. Everything is local files: no script, no remote asset.
"""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path
from typing import Any

__all__ = ["GALLERY_MARKER", "GALLERY_CSS", "representative_png", "lesson_title", "thumbnail",
           "gallery_html", "entries_for", "toc_captions"]

GALLERY_MARKER = "<!-- dlbook:gallery -->"
GALLERY_CSS = """.dlbook-gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));
gap:14px;margin:1em 0}
.dlbook-gallery a{display:block;border:1px solid #ddd;border-radius:6px;padding:6px;
text-decoration:none;font-size:0.85em;line-height:1.25}
.dlbook-gallery a:hover{border-color:#4c72b0}
.dlbook-gallery img{width:100%;height:110px;object-fit:contain;background:#fff;display:block;
margin-bottom:4px}
.dlbook-gallery .part{display:block;color:#666;font-size:0.85em}
"""


def _pngs(cell: dict[str, Any]) -> list[bytes]:
    out = []
    for o in cell.get("outputs", []):
        data = o.get("data", {}).get("image/png") if isinstance(o, dict) else None
        if isinstance(data, list):
            data = "".join(data)
        if isinstance(data, str):
            out.append(base64.b64decode(data))
    return out


def representative_png(nb: dict[str, Any]) -> bytes | None:
    """The figure of a cell tagged ``gallery``, else the largest PNG output; None if none."""
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    for c in cells:
        if "gallery" in c.get("metadata", {}).get("tags", []):
            pngs = _pngs(c)
            if pngs:
                return pngs[0]
    pngs = [p for c in cells for p in _pngs(c)]
    return max(pngs, key=len) if pngs else None


def lesson_title(nb: dict[str, Any], fallback: str) -> str:
    """The text of the first ``# `` heading of the notebook's markdown cells."""
    for c in nb.get("cells", []):
        if c.get("cell_type") != "markdown":
            continue
        src = c.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        for line in src.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return fallback


def thumbnail(png: bytes, width: int = 320) -> bytes:
    """The PNG scaled down to at most ``width`` pixels wide (never up), as PNG bytes."""
    from PIL import Image  # only when a gallery is built

    with Image.open(io.BytesIO(png)) as im:
        im = im.convert("RGBA") if im.mode not in ("RGB", "RGBA") else im
        if im.width > width:
            im = im.resize((width, max(1, round(im.height * width / im.width))),
                           Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def gallery_html(entries: list[tuple[str, str, str, str]]) -> str:
    """A grid of links: each entry is (part caption, title, page href, image src)."""
    items = [f'<a href="{escape(href)}"><img src="{escape(src)}" alt="" loading="lazy">'
             f'<span class="part">{escape(part)}</span>{escape(title)}</a>'
             for part, title, href, src in entries]
    return '<div class="dlbook-gallery">\n' + "\n".join(items) + "\n</div>"


def entries_for(notebooks: dict[str, bytes], captions: dict[str, str],
                page_dir: str = "book") -> tuple[list[tuple[str, str, str, str]],
                                                 dict[str, bytes]]:
    """Gallery entries and thumbnail files (stage-relative path → bytes) for valid notebooks.

    ``notebooks`` maps a lesson path (``lessons/…/x.md``) to its notebook bytes, in toc order;
    a lesson without a figure, or whose notebook cannot be read, gets no entry.
    """
    up = "../" * len(Path(page_dir).parts)
    entries, files = [], {}
    for rel, data in notebooks.items():
        try:
            nb = json.loads(data)
            png = representative_png(nb)
            thumb = thumbnail(png) if png is not None else None
        except Exception:  # a damaged notebook or image: no thumbnail, the page says why
            continue
        if thumb is None:
            continue
        stem = Path(rel).stem
        name = f"_static/gallery/{Path(rel).parent.name}_{stem}.png"
        files[name] = thumb
        href = up + str(Path(rel).with_suffix(".html"))
        entries.append((captions.get(rel, ""), lesson_title(nb, stem), href, up + name))
    return entries, files


def toc_captions(toc: dict[str, Any]) -> dict[str, str]:
    """Lesson path (``lessons/…/x.md``) → the short caption of its part ("Part 7")."""
    out = {}
    for part in toc.get("parts", []) or []:
        caption = str(part.get("caption", "")).split(" — ")[0].strip('"')
        for chapter in part.get("chapters", []) or []:
            if isinstance(chapter, dict) and "file" in chapter:
                out[str(Path(chapter["file"]).with_suffix(".md"))] = caption
    return out
