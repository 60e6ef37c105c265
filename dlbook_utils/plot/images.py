"""Image grids: ``show_images`` draws a batch or a list of images with titles.

Explained in: Part 2, lesson 01_datasets_transforms.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from dlbook_utils.plot.base import (
    FIGSIZE,
    axes_grid,
    imshow_pixels,
    is_pil_image,
    to_image_array,
)

__all__ = ["show_images"]


def _split_batch(images: Any) -> list[Any]:
    if isinstance(images, (list, tuple)):
        return list(images)
    if is_pil_image(images):
        return [images]
    if isinstance(images, (torch.Tensor, np.ndarray)):
        if images.ndim in (3, 4):
            return list(images)  # (N, C, H, W), (N, H, W, C) or (N, H, W)
        if images.ndim == 2:
            return [images]
    raise ValueError(
        f"images must be a batch (N, C, H, W), (N, H, W, C) or (N, H, W), or a list of images; "
        f"got {type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))}."
    )


def show_images(
    images: Any,
    titles: Sequence[Any] | None = None,
    ncols: int = 8,
    mean: Sequence[float] | float | None = None,
    std: Sequence[float] | float | None = None,
    cmap: str | None = None,
    layout: str = "auto",
    figsize: tuple[float, float] | None = None,
    suptitle: str | None = None,
) -> Figure:
    """Draw images in a grid with a title over each.

    Explained in: Part 2, lesson 01_datasets_transforms.

    Args:
        images: a batch tensor/array (N, C, H, W) or (N, H, W, C), a 3-D batch (N, H, W) of
            gray images, or a list of single images of any kind :func:`to_image_array` accepts.
        titles: N titles (strings, numbers, or a tensor of labels), or None.
        ncols: images per row; the last row is padded with hidden axes.
        mean, std: un-normalise every image (see :func:`to_image_array`).
        cmap: colour map for one-channel images (default gray, drawn on a fixed 0–1 scale).
        layout: ``"auto"``, ``"chw"`` or ``"hwc"`` for every image.
        figsize: overrides the default (about 1.5 inch per image, at most 6 inches wide).
        suptitle: a title over the whole grid.

    Returns:
        The Figure; its first N axes hold the images, the rest are hidden.

    Raises:
        ValueError: no images, ``ncols < 1``, a wrong number of titles, or a bad image.
    """
    items = _split_batch(images)
    if not items:
        raise ValueError("images is empty: nothing to show.")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}.")
    if isinstance(titles, (torch.Tensor, np.ndarray)):
        titles = titles.tolist()
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"Got {len(titles)} titles for {len(items)} images.")
    arrays = [to_image_array(im, mean, std, layout) for im in items]
    cols = min(ncols, len(items))
    fig, axes = axes_grid(len(items), cols, min(1.5, FIGSIZE[0] / cols),
                      0.25 if titles is not None else 0.0, figsize)
    for i, (ax, arr) in enumerate(zip(axes, arrays)):
        imshow_pixels(ax, arr, cmap)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig
