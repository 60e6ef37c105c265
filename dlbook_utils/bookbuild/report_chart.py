"""The build report's chart: time and peak memory of every lesson as bars, with the budgets.

Drawn as a plain SVG file at build time (no matplotlib, no script, no remote asset), so the
"Build report" page shows at a glance which lessons are slow, which are heavy, and which failed.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from dlbook_utils.bookbuild.runner import Result

__all__ = ["COLOURS", "chart_svg", "summary_line"]

COLOURS = {"ok": "#4c72b0", "hit": "#a3b5d9", "over": "#dd8452", "failed": "#c44e52"}
_ROW = 16  # px per lesson
_LABEL = 210  # px for the lesson names
_PANEL = 250  # px per panel
_GAP = 40
_TOP = 46  # titles and legend


def _nice_step(limit: float) -> float:
    """The smallest step of 1, 2 or 5 times a power of ten giving at most 7 ticks to ``limit``."""
    power = 1.0
    while True:
        for mantissa in (1, 2, 5):
            if limit / (mantissa * power) <= 7:
                return mantissa * power
        power *= 10


def _colour(r: Result, value: float | None, budget: float) -> str:
    if r.status != "ok":
        return COLOURS["failed"]
    if value is not None and value > budget:
        return COLOURS["over"]
    return COLOURS["hit"] if r.cache_hit else COLOURS["ok"]


def _panel(results: list[Result], x0: float, title: str, unit: str, budget: float,
           values: list[float | None]) -> list[str]:
    top = max([budget, *[v for v in values if v is not None]]) * 1.08
    scale = _PANEL / top
    y_end = _TOP + _ROW * len(results)
    out = [f'<text x="{x0}" y="14" class="title">{escape(title)}</text>']
    step = _nice_step(top)
    tick = 0.0
    while tick <= top:
        x = x0 + tick * scale
        out.append(f'<line x1="{x:.1f}" y1="{_TOP - 4}" x2="{x:.1f}" y2="{y_end}" class="grid"/>')
        out.append(f'<text x="{x:.1f}" y="{y_end + 13}" class="tick">{tick:g}</text>')
        tick += step
    for i, (r, v) in enumerate(zip(results, values)):
        y = _TOP + i * _ROW + 2
        name = escape(Path(r.lesson).stem)
        if v is None:
            out.append(f'<text x="{x0 + 3}" y="{y + 10}" class="note">{r.status}, no '
                       f'{unit} measured</text>')
            continue
        label = f"{name}: {v:.1f} {unit}" + ("" if r.status == "ok" else f" ({r.status})")
        out.append(f'<rect class="bar" x="{x0}" y="{y}" width="{max(v * scale, 1):.1f}" '
                   f'height="{_ROW - 4}" fill="{_colour(r, v, budget)}">'
                   f"<title>{label}</title></rect>")
    xb = x0 + budget * scale
    out.append(f'<line x1="{xb:.1f}" y1="{_TOP - 8}" x2="{xb:.1f}" y2="{y_end}" class="budget"/>')
    out.append(f'<text x="{xb - 3:.1f}" y="{_TOP - 10}" class="budget-label">budget '
               f'{budget:g} {unit}</text>')
    return out


def chart_svg(results: list[Result], budget_s: float, budget_mb: float) -> str:
    """One SVG with two bar panels (time in s, peak memory in MB), one row per lesson."""
    height = _TOP + _ROW * len(results) + 24
    width = _LABEL + 2 * (_PANEL + _GAP)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="Time and peak memory of '
           f'each lesson in the latest build, with the budgets">',
           "<style>text{font-family:sans-serif;font-size:11px;fill:#222}"
           ".title{font-size:13px;font-weight:bold}.tick{text-anchor:middle;fill:#555}"
           ".note{fill:#c44e52;font-style:italic}.grid{stroke:#ddd}"
           ".budget{stroke:#c44e52;stroke-dasharray:4 3;stroke-width:1.5}"
           ".budget-label{text-anchor:end;fill:#c44e52}.failed{fill:#c44e52;font-weight:bold}"
           "</style>"]
    for i, r in enumerate(results):
        y = _TOP + i * _ROW + 12
        cls = ' class="failed"' if r.status != "ok" else ""
        mark = " ✗" if r.status != "ok" else ""
        out.append(f'<text x="{_LABEL - 6}" y="{y}" text-anchor="end"{cls}>'
                   f"{escape(Path(r.lesson).stem)}{mark}</text>")
    out += _panel(results, _LABEL, "time per lesson (s)", "s", budget_s,
                  [r.wall_s for r in results])
    out += _panel(results, _LABEL + _PANEL + _GAP, "peak memory per lesson (MB)", "MB",
                  budget_mb, [r.peak_rss_mb for r in results])
    legend = [("executed", COLOURS["ok"]), ("cache hit", COLOURS["hit"]),
              ("over budget", COLOURS["over"]), ("failed", COLOURS["failed"])]
    x = 4.0
    for text, colour in legend:
        out.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 14}" y="33">{text}</text>')
        x += 20 + 7 * len(text)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def summary_line(results: list[Result], budget_s: float, budget_mb: float) -> str:
    """The totals shown above the chart."""
    timed = [r for r in results if r.wall_s is not None]
    total = sum(r.wall_s or 0 for r in timed)
    slow = max(timed, key=lambda r: r.wall_s or 0, default=None)
    heavy = max(results, key=lambda r: r.peak_rss_mb or 0, default=None)
    over = [Path(r.lesson).stem for r in results
            if (r.wall_s or 0) > budget_s or (r.peak_rss_mb or 0) > budget_mb]
    parts = [f"**{len(results)} lessons**", f"summed execution time **{total:.0f} s**"]
    if slow is not None:
        parts.append(f"slowest **{Path(slow.lesson).stem}** ({slow.wall_s:.1f} s)")
    if heavy is not None and heavy.peak_rss_mb is not None:
        parts.append(f"largest peak memory **{Path(heavy.lesson).stem}** "
                     f"({heavy.peak_rss_mb:.0f} MB)")
    parts.append(f"over budget: **{', '.join(over)}**" if over else "none over budget")
    return "; ".join(parts) + "."
