"""The book's look and what every drawing helper shares: style, array conversion, axes.

Explained in: front matter, book/how_to_read (the style), Part 2, lesson 01_datasets_transforms
(``to_image_array``: layouts CHW/HWC, dtypes, un-normalising).

The other modules of :mod:`dlbook_utils.plot` build on these; lessons use ``use_book_style`` and
``to_image_array`` directly. Images are drawn with ``extent=(0, W, H, 0)``: pixel ``(row i,
column j)`` covers ``[j, j+1) × [i, i+1)``, so a box ``(0, 0, W, H)`` frames the whole image, as
in torchvision.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "FIGSIZE",
    "DPI",
    "use_book_style",
    "to_image_array",
    "as_numpy",
    "is_pil_image",
    "imshow_pixels",
    "new_axes",
    "image_figsize",
    "axes_grid",
    "annotate_cells",
    "set_tick_labels",
]

FIGSIZE = (6.0, 3.5)  # inches; the book's default figure
DPI = 100
_CHANNELS = (1, 3, 4)  # gray, RGB, RGBA

_BOOK_RC: dict[str, Any] = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.figsize": FIGSIZE,
    "figure.autolayout": True,  # tight layout for figures the lessons make themselves
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_book_style() -> None:
    """Set matplotlib's rcParams to the book's look.

    Explained in: front matter, book/how_to_read ("How to read a lesson").

    100 dpi, 6 × 3.5 inch figures, 8–10 pt fonts, a light grid, no top/right spines and tight
    layout. Calling it again changes nothing (it sets fixed values); ``plt.rcdefaults()`` undoes it.
    """
    plt.rcParams.update(_BOOK_RC)


def is_pil_image(img: Any) -> bool:
    """True for a PIL image (without importing PIL)."""
    return type(img).__module__.startswith("PIL.") and hasattr(img, "getbands")


def as_numpy(x: Any) -> np.ndarray:
    """Tensor (any device, any float dtype), PIL image or array-like → numpy array."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        if t.is_floating_point() and t.dtype != torch.float64:
            t = t.float()  # numpy has no bfloat16
        return t.numpy()
    if is_pil_image(x):
        if x.mode not in ("L", "RGB", "RGBA"):
            bands = x.getbands()
            alpha = "A" in bands or "transparency" in x.info
            x = x.convert("RGBA" if alpha else "L" if len(bands) == 1 and x.mode != "P" else "RGB")
        return np.asarray(x)
    return np.asarray(x)


def _per_channel(value: Any, channels: int, name: str) -> np.ndarray:
    v = np.asarray(as_numpy(value), dtype=np.float64).reshape(-1)
    if v.size == 1:
        return np.full(channels, v.item())
    if v.size != channels:
        raise ValueError(
            f"{name} has {v.size} values {v.tolist()} but the image has {channels} channel(s); "
            f"give one {name} per channel (or a single number)."
        )
    return v


def to_image_array(
    img: Any,
    mean: Sequence[float] | float | None = None,
    std: Sequence[float] | float | None = None,
    layout: str = "auto",
) -> np.ndarray:
    """Turn one image of any kind (tensor, array, PIL) into what ``imshow`` wants.

    Explained in: Part 2, lesson 01_datasets_transforms.

    Layout rule (``layout="auto"``): a 3-D input whose first dim is in {1, 3, 4} and whose last
    dim is not is read as CHW (torch); every other 3-D input as HWC (PIL, numpy, OpenCV). So an
    ambiguous shape such as ``(3, 4, 3)`` is read as HWC: pass ``layout="chw"`` to override.

    Args:
        img: a tensor, numpy array or PIL image of shape (H, W), (C, H, W) or (H, W, C) with
            C in {1, 3, 4}, or a batch of one (1, C, H, W). Integer (uint8) values are read on the
            0–255 scale, floats on 0–1, bools as 0/1. PIL modes other than L/RGB/RGBA are
            converted to one of those.
        mean: per-channel mean (or one number) that ``transforms.Normalize`` subtracted.
        std: per-channel std (or one number) it divided by. With either given, the image is
            un-normalised, ``x * std + mean``, before clipping; a missing one counts as 0 / 1.
        layout: ``"auto"``, ``"chw"`` or ``"hwc"``.

    Returns:
        float32 array in [0, 1] (values outside are clipped), shape (H, W, C) with C in {3, 4},
        or (H, W) for one channel.

    Raises:
        ValueError: unsupported shape, channel count, dtype, layout or mean/std length.
    """
    if layout not in ("auto", "chw", "hwc"):
        raise ValueError(f"layout must be 'auto', 'chw' or 'hwc', got {layout!r}.")
    arr = as_numpy(img)
    shape = tuple(arr.shape)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 2:
        arr = arr[:, :, None]
    elif arr.ndim == 3:
        chw = arr.shape[0] in _CHANNELS and arr.shape[-1] not in _CHANNELS
        if layout == "chw" or (layout == "auto" and chw):
            arr = arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    else:
        raise ValueError(
            f"Cannot draw an image of shape {shape}: expected (H, W), (C, H, W) or (H, W, C) with "
            "C in 1, 3, 4, or a batch of one (1, C, H, W); use show_images for a batch."
        )
    if arr.shape[-1] not in _CHANNELS:
        raise ValueError(
            f"Cannot draw an image of shape {shape}: read as HWC it has {arr.shape[-1]} channels, "
            "but only 1, 3 or 4 can be drawn; pass layout='chw' or 'hwc' if the guess was wrong."
        )
    if arr.dtype == np.bool_:
        x = arr.astype(np.float64)
    elif np.issubdtype(arr.dtype, np.integer):
        x = arr.astype(np.float64) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        x = arr.astype(np.float64)
    else:
        raise ValueError(f"Cannot draw an image of dtype {arr.dtype}: use integers or floats.")
    if mean is not None or std is not None:
        c = x.shape[-1]
        m = _per_channel(0.0 if mean is None else mean, c, "mean")
        s = _per_channel(1.0 if std is None else std, c, "std")
        x = x * s + m  # undo Normalize: (x - mean) / std
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    return x[:, :, 0] if x.shape[-1] == 1 else x


def imshow_pixels(ax: Axes, img: np.ndarray, cmap: str | None = None) -> None:
    """Draw an image from ``to_image_array`` with pixel edges on integer coordinates."""
    h, w = img.shape[:2]
    if img.ndim == 2:
        ax.imshow(img, cmap=cmap or "gray", vmin=0.0, vmax=1.0, extent=(0, w, h, 0))
    else:
        ax.imshow(img, extent=(0, w, h, 0))
    ax.grid(False)


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``(figure, ax)`` for a given ``ax``, or a new constrained-layout figure of ``figsize``."""
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig, ax = plt.subplots(figsize=figsize, dpi=DPI, layout="constrained")
    return fig, ax


def image_figsize(h: int, w: int, extra_width: float = 0.0) -> tuple[float, float]:
    """Figure size (inches) that fits an ``h``×``w`` image into the book's default figure."""
    scale = min(FIGSIZE[0] / w, FIGSIZE[1] / h)
    return (max(w * scale, 2.0) + extra_width, max(h * scale, 2.0))


def axes_grid(
    n: int, ncols: int, cell: float, title_space: float, figsize: tuple[float, float] | None
) -> tuple[Figure, list[Axes]]:
    """A grid of ``n`` axes (extra ones hidden), ``ncols`` wide."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    size = figsize or (cell * ncols, (cell + title_space) * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, dpi=DPI, squeeze=False,
                             layout="constrained")
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def annotate_cells(ax: Axes, matrix: np.ndarray, fmt: str) -> None:
    """Write each value in its cell, white on dark cells."""
    lo, hi = float(np.nanmin(matrix)), float(np.nanmax(matrix))
    mid = (lo + hi) / 2
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=7,
                color="white" if v > mid else "black")


def set_tick_labels(ax: Axes, labels: Sequence[Any] | None, size: int, axis: str) -> None:
    """Label the ``size`` ticks of ``axis`` ("x" or "y"), rotating long x labels."""
    if labels is None:
        return
    labels = [str(s) for s in labels]
    if len(labels) != size:
        raise ValueError(f"Got {len(labels)} {axis}_labels for {size} {axis} positions.")
    if axis == "x":
        if size > 12:
            ax.set_xticks(range(size), labels, rotation=90)
        elif size > 6 or max(map(len, labels), default=0) > 4:
            ax.set_xticks(range(size), labels, rotation=45, ha="right", rotation_mode="anchor")
        else:
            ax.set_xticks(range(size), labels)
    else:
        ax.set_yticks(range(size), labels)
