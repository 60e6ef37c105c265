"""Board diagrams: what a teacher draws next to the code — grids of numbers, graphs, pipelines.

Explained in: Part 4, lesson 01_convolution_pooling (``draw_grid``: the sliding window and its
worked sum), Part 1, lesson 04_autograd (``draw_graph``: a computation graph), Part 4, lesson
03_lenet and Part 2, lesson 04_train_eval_predict (``draw_chain``: an architecture or a
pipeline as boxes and arrows). Later parts reuse them for blocks, anchors and attention.

Each function draws on one axes (``ax=``, or a new small figure), hides the axes' ticks and
frame, and returns the ``Figure``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.textpath import TextToPath

from dlbook_utils.plot.base import DPI, as_numpy

__all__ = ["Window", "draw_grid", "Node", "draw_graph", "draw_chain", "NODE_COLORS"]

# Fill colours of node kinds (colour-blind safe, light enough for black text).
NODE_COLORS: dict[str, str] = {
    "data": "#dbe9f6",  # tensors flowing through: inputs, activations
    "param": "#d9f0d3",  # learnable weights
    "op": "#fde0c5",  # operations
    "loss": "#f6c8c8",  # the scalar being minimised
    "file": "#eeeeee",  # files on disk (scripts, checkpoints)
    "plain": "white",
}


@dataclass(frozen=True)
class Window:
    """A rectangle of cells to highlight in :func:`draw_grid`: rows ``r0 .. r0+h-1``, columns
    ``c0 .. c0+w-1``, drawn with edge ``color`` (and a light fill of that colour)."""

    r0: int
    c0: int
    h: int
    w: int
    color: str = "tab:blue"
    label: str | None = None


def _frame_off(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.grid(False)


def draw_grid(
    values: Any,
    ax: Axes | None = None,
    windows: Sequence[Window] = (),
    title: str | None = None,
    fmt: str = "g",
    pad: int = 0,
    cmap: str | None = None,
    fontsize: float = 9,
    xlabel: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Draw a small matrix as a grid of cells with its numbers written in, and windows on top.

    Explained in: Part 4, lesson 01_convolution_pooling (input, kernel and output of a 2-D
    cross-correlation, with the window of one output shaded).

    Args:
        values: a 2-D tensor, array or nested list (at most about 12×12 to stay readable).
        ax: draw here instead of on a new figure.
        windows: rectangles of cells to highlight (:class:`Window`).
        title: the axes title.
        fmt: format of each number (``"g"``, ``".1f"``, …); ``""`` writes nothing.
        pad: the outer ``pad`` rows and columns are padding: drawn grey, numbers in grey.
        cmap: colour the cells by value with this colour map (None: white cells).
        fontsize: size of the numbers.
        xlabel: a caption under the grid (e.g. ``"input 3×3"``).
        vmin, vmax: the colour scale of ``cmap`` (default: this grid's own range); give
            several grids the same values to share one scale.

    Returns:
        The Figure.

    Raises:
        ValueError: ``values`` is not 2-D, or a window lies outside the grid.
    """
    m = np.asarray(as_numpy(values), dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"values must be a 2-D matrix, got shape {tuple(m.shape)}.")
    rows, cols = m.shape
    for w in windows:
        if w.r0 < 0 or w.c0 < 0 or w.r0 + w.h > rows or w.c0 + w.w > cols or w.h < 1 or w.w < 1:
            raise ValueError(f"{w} lies outside the {rows}×{cols} grid.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(1.2, 0.42 * cols), max(1.2, 0.42 * rows + 0.4)),
                               dpi=DPI, layout="constrained")
    else:
        fig = ax.figure  # type: ignore[assignment]
    if cmap:
        ax.imshow(m, cmap=cmap, extent=(0, cols, rows, 0), alpha=0.55, vmin=vmin, vmax=vmax)
    for r in range(rows):
        for c in range(cols):
            is_pad = pad > 0 and (r < pad or c < pad or r >= rows - pad or c >= cols - pad)
            if is_pad or not cmap:
                ax.add_patch(Rectangle((c, r), 1, 1, facecolor="0.88" if is_pad else "white",
                                       edgecolor="none", zorder=0))
            if fmt:
                ax.text(c + 0.5, r + 0.5, format(m[r, c], fmt), ha="center", va="center",
                        fontsize=fontsize, color="0.45" if is_pad else "black", zorder=3)
    for k in range(rows + 1):
        ax.plot([0, cols], [k, k], color="0.3", linewidth=0.8, zorder=2)
    for k in range(cols + 1):
        ax.plot([k, k], [0, rows], color="0.3", linewidth=0.8, zorder=2)
    for w in windows:
        ax.add_patch(Rectangle((w.c0, w.r0), w.w, w.h, facecolor=w.color, alpha=0.22,
                               edgecolor="none", zorder=1))
        ax.add_patch(Rectangle((w.c0, w.r0), w.w, w.h, facecolor="none", edgecolor=w.color,
                               linewidth=2.2, zorder=4))
        if w.label:
            ax.text(w.c0 + w.w, w.r0 - 0.08, w.label, ha="right", va="bottom", fontsize=8,
                    color=w.color, zorder=4)
    ax.set_xlim(-0.05, cols + 0.05)
    ax.set_ylim(rows + 0.05, -0.05)
    ax.set_aspect("equal")
    _frame_off(ax)
    if title:
        ax.set_title(title, fontsize=9)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=8)
    return fig


@dataclass(frozen=True)
class Node:
    """A box of :func:`draw_graph` centred at ``xy`` (data coordinates), with a ``label``
    (may hold ``\\n``) and a ``kind``: one of ``NODE_COLORS`` (data, param, op, loss, file,
    plain). ``op`` nodes are drawn round, the others as rounded rectangles."""

    xy: tuple[float, float]
    label: str
    kind: str = "data"


_TEXT = TextToPath()


def _box_size(label: str, fontsize: float) -> tuple[float, float]:
    """Width and height of a node box, in data units of about an inch: the label's measured
    width (font metrics) plus padding, and its lines' height."""
    lines = label.split("\n")
    prop = FontProperties(size=fontsize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph missing from the font is measured as a box
        width_pt = max(_TEXT.get_text_width_height_descent(s or " ", prop, ismath=False)[0]
                       for s in lines)
    return (width_pt / 72 + 0.3, 0.23 * fontsize / 9 * len(lines) + 0.17)


def draw_graph(
    nodes: Mapping[str, Node],
    edges: Sequence[tuple[str, str] | tuple[str, str, str] | tuple[str, str, str, str]],
    ax: Axes | None = None,
    title: str | None = None,
    fontsize: float = 9,
    figsize: tuple[float, float] | None = None,
    edge_color: str = "0.25",
) -> Figure:
    """Draw a directed graph of labelled boxes and arrows (a computation graph, a block).

    Explained in: Part 1, lesson 04_autograd (the graph of ``y = 2xᵀx``, forward arrows black,
    gradients flowing back). Coordinates are data units: one unit is about the width of 13
    characters at the default font size, so lay nodes out on a grid of about 1.5 × 1.

    Args:
        nodes: name → :class:`Node`.
        edges: ``(from, to)``, ``(from, to, label)`` or ``(from, to, label, colour)``; the
            label is written beside the middle of the arrow (above a horizontal one, right of
            a vertical one), the colour overrides ``edge_color`` for that arrow.
        ax: draw here instead of on a new figure.
        figsize: the new figure's size; by default one data unit is about an inch (at most 9
            inches wide, the labels shrunk to fit), so lay nodes about 1.5 units apart.
        title: the axes title.
        fontsize: size of the labels.
        edge_color: colour of the arrows (e.g. ``"tab:red"`` for a backward pass).

    Returns:
        The Figure.

    Raises:
        ValueError: an edge names an unknown node, or a node has an unknown kind.
    """
    for name, node in nodes.items():
        if node.kind not in NODE_COLORS:
            raise ValueError(
                f"Node {name!r} has kind {node.kind!r}; use one of {', '.join(NODE_COLORS)}."
            )
    for edge in edges:
        missing = [n for n in edge[:2] if n not in nodes]
        if missing:
            raise ValueError(f"Edge {edge!r} names unknown node(s) {missing}; nodes: {list(nodes)}.")
    text_in = {name: _box_size(n.label, fontsize) for name, n in nodes.items()}  # inches

    def boxes(scale: float) -> tuple[dict[str, tuple[float, float]], float, float]:
        """Box sizes in data units at ``scale`` inches per unit, and the x and y extents."""
        sz = {k: ((w - 0.3) / scale + 0.3, (h - 0.17) / scale + 0.17) for k, (w, h) in
              text_in.items()}
        xs = [n.xy[0] + d * sz[k][0] / 2 for k, n in nodes.items() for d in (-1, 1)]
        ys = [n.xy[1] + d * sz[k][1] / 2 for k, n in nodes.items() for d in (-1, 1)]
        return sz, max(xs) - min(xs) + 0.3, max(ys) - min(ys) + 0.3  # + the margins

    title_in = 0.35 if title else 0.05
    sizes, width, height = boxes(1.0)  # one data unit = one inch
    if ax is None:
        if figsize is None:  # at most 9 inches wide
            figsize = (min(9.0, width), min(9.0, width) / width * height + title_in)
        fig, ax = plt.subplots(figsize=figsize, dpi=DPI, layout="constrained")
        ax_w, ax_h = figsize[0], figsize[1] - title_in
    else:
        fig = ax.figure  # type: ignore[assignment]
        fw, fh = fig.get_size_inches()
        pos = ax.get_position()
        ax_w, ax_h = pos.width * fw, pos.height * fh - title_in
    # Where the drawing must shrink to fit, the labels shrink with it (never below 5 pt), so
    # the picture looks like its one-inch-per-unit version, scaled.
    scale = min(1.0, ax_w / width, ax_h / height)
    if scale < 1.0:
        scale *= 0.95  # the layout's own padding takes a little of the axes
        fontsize = max(5.0, fontsize * scale)
        text_in = {name: _box_size(n.label, fontsize) for name, n in nodes.items()}
        sizes, _, _ = boxes(scale)
    for name, n in nodes.items():
        w, h = sizes[name]
        style = "round,pad=0.02,rounding_size=0.25" if n.kind == "op" else "round,pad=0.02"
        ax.add_patch(FancyBboxPatch((n.xy[0] - w / 2, n.xy[1] - h / 2), w, h, boxstyle=style,
                                    facecolor=NODE_COLORS[n.kind], edgecolor="0.3",
                                    linewidth=1.0, zorder=2))
        ax.text(*n.xy, n.label, ha="center", va="center", fontsize=fontsize, zorder=3)
    for edge in edges:
        a, b = nodes[edge[0]], nodes[edge[1]]
        (wa, ha), (wb, hb) = sizes[edge[0]], sizes[edge[1]]
        start, end = _border_point(a.xy, b.xy, wa, ha), _border_point(b.xy, a.xy, wb, hb)
        color = edge[3] if len(edge) > 3 and edge[3] else edge_color
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12,
                                     color=color, linewidth=1.2, zorder=1))
        if len(edge) > 2 and edge[2]:
            mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
            horizontal = abs(end[0] - start[0]) >= abs(end[1] - start[1])
            ax.text(mx + (0 if horizontal else 0.06), my + (0.05 if horizontal else 0),
                    edge[2], ha="center" if horizontal else "left",
                    va="bottom" if horizontal else "center", fontsize=fontsize - 1,
                    color=color, zorder=4)
    xs = [n.xy[0] + d * sizes[k][0] / 2 for k, n in nodes.items() for d in (-1, 1)]
    ys = [n.xy[1] + d * sizes[k][1] / 2 for k, n in nodes.items() for d in (-1, 1)]
    ax.set_xlim(min(xs) - 0.15, max(xs) + 0.15)  # room for the rounded corners
    ax.set_ylim(min(ys) - 0.15, max(ys) + 0.15)
    ax.set_aspect("equal")
    _frame_off(ax)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def _border_point(
    centre: tuple[float, float], towards: tuple[float, float], w: float, h: float
) -> tuple[float, float]:
    """Where the segment from ``centre`` to ``towards`` leaves a w×h box around ``centre``."""
    dx, dy = towards[0] - centre[0], towards[1] - centre[1]
    if dx == 0 and dy == 0:
        return centre
    scale = min(w / 2 / abs(dx) if dx else np.inf, h / 2 / abs(dy) if dy else np.inf)
    return centre[0] + dx * scale * 1.04, centre[1] + dy * scale * 1.04


def draw_chain(
    stages: Sequence[str | tuple[str, str]],
    ax: Axes | None = None,
    title: str | None = None,
    notes: Sequence[str] | None = None,
    fontsize: float = 8,
    per_row: int = 6,
) -> Figure:
    """Draw a pipeline or an architecture as a chain of boxes joined by arrows.

    Explained in: Part 4, lesson 03_lenet (the layers of LeNet with the tensor shape on each
    arrow) and Part 2, lesson 04_train_eval_predict (model.py → train.py → weights → predict.py).
    Long chains wrap after ``per_row`` boxes and come back the other way (a snake), so every
    arrow joins neighbours.

    Args:
        stages: one entry per box: a label, or ``(label, kind)`` with a kind of
            ``NODE_COLORS`` (default ``"op"`` for layers, use ``"data"``/``"file"`` for the rest).
        ax: draw here instead of on a new figure.
        title: the axes title.
        notes: ``len(stages) - 1`` texts written on the arrows (e.g. tensor shapes), or None.
        fontsize: size of the labels.
        per_row: boxes per row.

    Returns:
        The Figure.

    Raises:
        ValueError: no stages, or a wrong number of notes.
    """
    if not stages:
        raise ValueError("stages is empty: nothing to draw.")
    if notes is not None and len(notes) != len(stages) - 1:
        raise ValueError(f"Got {len(notes)} notes for {len(stages) - 1} arrows.")
    items = [(s, "op") if isinstance(s, str) else (s[0], s[1]) for s in stages]
    dx, dy = 1.9, 1.3
    nodes, edges = {}, []
    for i, (label, kind) in enumerate(items):
        row, col = divmod(i, per_row)
        if row % 2:
            col = per_row - 1 - col
        nodes[str(i)] = Node((col * dx, -row * dy), label, kind)
        if i:
            edges.append((str(i - 1), str(i), notes[i - 1] if notes else ""))
    return draw_graph(nodes, edges, ax=ax, title=title, fontsize=fontsize)
