"""Annotations drawn on images: bounding boxes with labels and scores, segmentation masks.

Explained in: Part 7, lesson 01_boxes_iou_anchors (boxes; first used in Part 3, lesson 01_hog),
Part 8, lesson 01_segmentation_metrics (masks, the VOC palette and its 255 "ignore" value).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.colors as mcolors
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from dlbook_utils.plot.base import (
    as_numpy,
    image_figsize,
    imshow_pixels,
    new_axes,
    to_image_array,
)

__all__ = ["draw_boxes", "overlay_mask"]

_IGNORE_COLOR = (224 / 255, 224 / 255, 192 / 255)  # VOC draws its 255 "ignore" pixels in cream


def _name_of(label: Any, class_names: Sequence[str] | Mapping[int, str] | None) -> str:
    if class_names is None or isinstance(label, str):
        return str(label)
    try:
        return str(class_names[int(label)])
    except (IndexError, KeyError):
        raise ValueError(
            f"label {label} has no entry in class_names ({len(class_names)} names)."
        ) from None


def draw_boxes(
    image: Any,
    boxes: torch.Tensor | np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[Any] | torch.Tensor | None = None,
    scores: Sequence[float] | torch.Tensor | None = None,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    ax: Axes | None = None,
    colors: Any = None,
    title: str | None = None,
    mean: Sequence[float] | float | None = None,
    std: Sequence[float] | float | None = None,
) -> Figure:
    """Draw boxes with their label and score on an image.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        image: one image of any kind :func:`to_image_array` accepts (un-normalised with
            ``mean``/``std`` when given), H × W pixels.
        boxes (Tensor[N, 4] or array): ``(x1, y1, x2, y2)`` in pixel coordinates, x1 <= x2 and
            y1 <= y2; N may be 0. Boxes reaching outside the image widen the view to show them.
        labels: N class indices (looked up in ``class_names``) or N strings.
        scores: N confidences, printed with two decimals after the label.
        class_names: names indexed by class (a list, or a dict ``{index: name}``).
        ax: draw here instead of on a new figure.
        colors: one colour for every box, or N colours; by default one colour per class
            (tab10, by class index or by order of first appearance for strings), or red
            when there are no labels.
        title: the axes title.

    Returns:
        The Figure. Each box is a ``Rectangle`` patch with ``xy=(x1, y1)``, width ``x2 - x1``
        and height ``y2 - y1`` (in the order of ``boxes``); its text sits inside the top-left
        corner.

    Raises:
        ValueError: boxes not of shape (N, 4), not finite, or with x2 < x1 or y2 < y1 (e.g. a
            (cx, cy, w, h) box passed by mistake); a labels/scores/colors length that is not N.
    """
    img = to_image_array(image, mean, std)
    b = np.asarray(as_numpy(boxes), dtype=np.float64)
    if b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) as (x1, y1, x2, y2), got {tuple(b.shape)}.")
    if not np.isfinite(b).all():
        raise ValueError(f"boxes contain non-finite values: {b[~np.isfinite(b).all(1)].tolist()}.")
    bad = np.flatnonzero((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"box {i} = {b[i].tolist()} has x2 < x1 or y2 < y1: boxes must be (x1, y1, x2, y2); "
            "convert (cx, cy, w, h) or (x, y, w, h) boxes first."
        )
    n = len(b)
    labels = None if labels is None else list(as_numpy(labels).tolist()
                                              if isinstance(labels, (torch.Tensor, np.ndarray))
                                              else labels)
    scores = None if scores is None else [float(s) for s in as_numpy(scores).reshape(-1)]
    for name, seq in (("labels", labels), ("scores", scores)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"Got {len(seq)} {name} for {n} boxes.")
    if colors is None:
        if labels is None:
            box_colors = ["tab:red"] * n
        else:
            order = {lab: i for i, lab in enumerate(dict.fromkeys(labels))}
            box_colors = [f"C{int(lab) % 10}" if not isinstance(lab, str) else f"C{order[lab] % 10}"
                          for lab in labels]
    elif mcolors.is_color_like(colors):
        box_colors = [colors] * n
    else:
        box_colors = list(colors)
        if len(box_colors) != n:
            raise ValueError(f"Got {len(box_colors)} colors for {n} boxes; give one or N colours.")
    h, w = img.shape[:2]
    fig, ax = new_axes(ax, image_figsize(h, w))
    imshow_pixels(ax, img)
    for i, (x1, y1, x2, y2) in enumerate(b):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                               edgecolor=box_colors[i], linewidth=1.5))
        parts = [] if labels is None else [_name_of(labels[i], class_names)]
        if scores is not None:
            parts.append(f"{scores[i]:.2f}")
        if parts:
            ax.text(x1, y1, " ".join(parts), fontsize=7, color="white", va="top", ha="left",
                    bbox={"facecolor": box_colors[i], "edgecolor": "none", "pad": 1, "alpha": 0.8},
                    clip_on=True)
    x_lo, y_lo = min(0.0, b[:, 0].min(initial=0.0)), min(0.0, b[:, 1].min(initial=0.0))
    x_hi, y_hi = max(float(w), b[:, 2].max(initial=0.0)), max(float(h), b[:, 3].max(initial=0.0))
    # boxes sticking out of the image (anchors) widen the view, with a margin so that their
    # edges do not hide under the axes frame
    pad = 0.02 * max(w, h) if (x_lo, y_lo, x_hi, y_hi) != (0.0, 0.0, w, h) else 0.0
    ax.set_xlim(x_lo - pad, x_hi + pad)
    ax.set_ylim(y_hi + pad, y_lo - pad)
    if title:
        ax.set_title(title)
    return fig


def _voc_color(k: int) -> tuple[float, float, float]:
    """Colour of class ``k`` in the PASCAL VOC palette (0 black, 1 dark red, 2 green, …)."""
    r = g = bl = 0
    for shift in range(7, -1, -1):
        r |= ((k >> 0) & 1) << shift
        g |= ((k >> 1) & 1) << shift
        bl |= ((k >> 2) & 1) << shift
        k >>= 3
    return (r / 255, g / 255, bl / 255)


def overlay_mask(
    image: Any,
    mask: torch.Tensor | np.ndarray,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    alpha: float = 0.5,
    ignore_index: int | None = 255,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Colour a segmentation mask over its image, with a legend of the classes present.

    Explained in: Part 8, lesson 01_segmentation_metrics.

    Class ``k`` gets colour ``k`` of the PASCAL VOC palette (0 = background is black,
    1 dark red, 2 green, 3 olive, …), as VOC's own mask PNGs show them. Pixels equal to
    ``ignore_index`` (VOC's 255 on object borders) are drawn in VOC's cream colour, not left
    transparent, so the reader sees where the loss and the metrics ignore pixels; the legend
    calls them "ignore (255)". With ``ignore_index=None``, 255 is a class like any other.

    Args:
        image: the image under the mask (anything :func:`to_image_array` accepts), or None to
            draw the mask alone, opaque.
        mask (Tensor[H, W] or array, also [1, H, W]): integer class indices >= 0.
        class_names: legend names indexed by class (list or dict); the indices when None.
        alpha: opacity of the colours over the image, in [0, 1].
        ignore_index: the "ignore" value, or None.
        ax: draw here instead of on a new figure.
        title: the axes title.

    Returns:
        The Figure; the legend lists exactly the classes present in the mask, in increasing
        order, then "ignore (255)" if present.

    Raises:
        ValueError: a mask that is not 2-D integers >= 0, a class with no name in
            ``class_names``, a mask of another size than the image, or ``alpha`` outside [0, 1].
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    m = as_numpy(mask)
    while m.ndim > 2 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2 or m.size == 0:
        raise ValueError(f"mask must be (H, W) class indices, got shape {tuple(np.shape(m))}.")
    if not (np.issubdtype(m.dtype, np.integer) or m.dtype == np.bool_):
        if not (np.isfinite(m).all() and (m == np.round(m)).all()):
            raise ValueError(f"mask must hold integer class indices, got dtype {m.dtype}.")
    m = m.astype(np.int64)
    present = np.unique(m)
    if present[0] < 0:
        raise ValueError(f"mask holds negative class index {int(present[0])}.")
    h, w = m.shape
    img = None if image is None else to_image_array(image)
    if img is not None and img.shape[:2] != (h, w):
        raise ValueError(f"mask is {h}×{w} but the image is {img.shape[0]}×{img.shape[1]}.")
    is_ignore = [ignore_index is not None and int(k) == ignore_index for k in present]
    names = [f"ignore ({ignore_index})" if ign else _name_of(int(k), class_names)
             for k, ign in zip(present, is_ignore)]
    colors = np.array([_IGNORE_COLOR if ign else _voc_color(int(k))
                       for k, ign in zip(present, is_ignore)])
    rgba = np.empty((h, w, 4))
    rgba[..., :3] = colors[np.searchsorted(present, m)]  # (H, W, 3)
    rgba[..., 3] = alpha if img is not None else 1.0
    fig, ax = new_axes(ax, image_figsize(h, w, extra_width=1.5))
    if img is not None:
        imshow_pixels(ax, img)
    ax.imshow(rgba, extent=(0, w, h, 0), interpolation="nearest")
    order = sorted(range(len(present)), key=lambda i: is_ignore[i])  # classes, then "ignore"
    ax.legend(handles=[Patch(facecolor=colors[i], edgecolor="0.3", label=names[i]) for i in order],
              loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, title="class")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig
