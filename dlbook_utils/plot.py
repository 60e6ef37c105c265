"""Drawing helpers the lessons share: curves, image grids, boxes, masks, attention, feature maps,
confusion matrices and activation functions; each function names the lesson that explains it.

Every function draws with matplotlib, returns the ``Figure`` (or a small dataclass holding it and
the numbers it drew) so that a lesson can adjust or check it, and never calls ``plt.show()``:
Jupyter shows the figure at the end of the cell. Assign the result (``fig = show_images(...)``) so
Jupyter does not display it twice. Functions that draw on one axes take ``ax=`` so a lesson can
draw into a grid of its own. New figures are small (about 6 × 3.5 inches) at 100 dpi.

Images are drawn with ``extent=(0, W, H, 0)``: pixel ``(row i, column j)`` covers
``[j, j+1) × [i, i+1)``, so a box ``(0, 0, W, H)`` frames the whole image, as in torchvision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from torch import nn

__all__ = [
    "use_book_style",
    "to_image_array",
    "show_images",
    "plot_history",
    "draw_boxes",
    "overlay_mask",
    "plot_attention",
    "capture_output",
    "plot_feature_maps",
    "confusion_matrix",
    "plot_confusion_matrix",
    "ConfusionMatrixPlot",
    "plot_function_and_derivative",
    "FunctionPlot",
]

FIGSIZE = (6.0, 3.5)  # inches; the book's default figure
DPI = 100
_CHANNELS = (1, 3, 4)  # gray, RGB, RGBA
_IGNORE_COLOR = (224 / 255, 224 / 255, 192 / 255)  # VOC draws its 255 "ignore" pixels in cream
_SPLIT_COLORS = {"train": "C0", "val": "C1", "valid": "C1", "test": "C2"}

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


# ----------------------------------------------------------------------------- images


def _is_pil(img: Any) -> bool:
    return type(img).__module__.startswith("PIL.") and hasattr(img, "getbands")


def _as_numpy(x: Any) -> np.ndarray:
    """Tensor (any device, any float dtype), PIL image or array-like → numpy array."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        if t.is_floating_point() and t.dtype != torch.float64:
            t = t.float()  # numpy has no bfloat16
        return t.numpy()
    if _is_pil(x):
        if x.mode not in ("L", "RGB", "RGBA"):
            bands = x.getbands()
            alpha = "A" in bands or "transparency" in x.info
            x = x.convert("RGBA" if alpha else "L" if len(bands) == 1 and x.mode != "P" else "RGB")
        return np.asarray(x)
    return np.asarray(x)


def _per_channel(value: Any, channels: int, name: str) -> np.ndarray:
    v = np.asarray(_as_numpy(value), dtype=np.float64).reshape(-1)
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
    arr = _as_numpy(img)
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


def _imshow(ax: Axes, img: np.ndarray, cmap: str | None = None) -> None:
    """Draw an image from ``to_image_array`` with pixel edges on integer coordinates."""
    h, w = img.shape[:2]
    if img.ndim == 2:
        ax.imshow(img, cmap=cmap or "gray", vmin=0.0, vmax=1.0, extent=(0, w, h, 0))
    else:
        ax.imshow(img, extent=(0, w, h, 0))
    ax.grid(False)


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig, ax = plt.subplots(figsize=figsize, dpi=DPI, layout="constrained")
    return fig, ax


def _image_figsize(h: int, w: int, extra_width: float = 0.0) -> tuple[float, float]:
    scale = min(FIGSIZE[0] / w, FIGSIZE[1] / h)
    return (max(w * scale, 2.0) + extra_width, max(h * scale, 2.0))


def _grid(n: int, ncols: int, cell: float, title_space: float, figsize: tuple[float, float] | None
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


def _split_batch(images: Any) -> list[Any]:
    if isinstance(images, (list, tuple)):
        return list(images)
    if _is_pil(images):
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
    fig, axes = _grid(len(items), cols, min(1.5, FIGSIZE[0] / cols),
                      0.25 if titles is not None else 0.0, figsize)
    for i, (ax, arr) in enumerate(zip(axes, arrays)):
        _imshow(ax, arr, cmap)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


# ----------------------------------------------------------------------------- curves


def _split_key(key: str) -> tuple[str | None, str]:
    """``"val_loss"`` → ``("val", "loss")``; ``"lr"`` → ``(None, "lr")``."""
    for split in ("train", "valid", "val", "test"):
        if key.startswith(split + "_"):
            return split, key[len(split) + 1:]
    return None, key


def _history_dict(history: Any) -> dict[str, list[Any]]:
    if callable(getattr(history, "as_dict", None)):  # dlbook_utils.train.History
        history = history.as_dict()
    if isinstance(history, Mapping):
        return {str(k): list(v) if isinstance(v, (list, tuple, np.ndarray, torch.Tensor)) else v
                for k, v in history.items()}
    if isinstance(history, Sequence) and history and all(isinstance(r, Mapping) for r in history):
        keys = list(dict.fromkeys(k for r in history for k in r))  # union, in order of appearance
        return {str(k): [r.get(k, math.nan) for r in history] for k in keys}
    raise ValueError(
        "history must be a dict of per-epoch lists, e.g. {'train_loss': [...], 'val_loss': [...]}, "
        f"a list of per-epoch dicts or a History; got {type(history).__name__}."
    )


def _numbers(values: Any) -> np.ndarray | None:
    """Per-epoch values as floats, or None when they are not numbers."""
    if not isinstance(values, list):
        return None
    try:
        return np.array([float(_as_numpy(v)) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None


def plot_history(
    history: Mapping[str, Sequence[float]] | Sequence[Mapping[str, float]] | Any,
    metrics: Sequence[str] | None = None,
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Training curves, one subplot per metric family.

    Explained in: Part 4, lesson 03_lenet (with :class:`dlbook_utils.train.History`).

    A key's split prefix (``train_``, ``val_``, ``valid_``, ``test_``) is the line's label and the
    rest is its family: ``train_loss`` and ``val_loss`` share the "loss" subplot. The loss family
    comes first, then accuracy, then the others in order of appearance. An ``"epoch"`` key, if
    present, gives the x values; otherwise epochs are numbered 1, 2, ….

    Args:
        history: ``{"train_loss": [...], "val_loss": [...], "train_acc": [...], ...}`` with one
            number (or 0-d tensor) per epoch, a list of per-epoch dicts, or anything with an
            ``as_dict()`` method such as ``fit``'s ``History``. Keys whose values are not
            non-empty lists of numbers (e.g. an empty ``val_loss``) are skipped.
        metrics: keys or family names to draw (e.g. ``["loss", "lr"]`` or ``["val_acc"]``). When
            None: every key with a split prefix, so bookkeeping such as ``lr`` or
            ``epoch_time`` is left out (or every numeric key, if none has a prefix).
        figsize: overrides the default (6 × 3.5 inches for up to two families).
        title: a title over the whole figure.

    Returns:
        The Figure, one axes per family, titled with the family name, x labelled "epoch".

    Raises:
        ValueError: a bad ``history``, a name in ``metrics`` that matches no key, or nothing
            to draw.
    """
    hist = _history_dict(history)
    x_all = _numbers(hist.get("epoch"))
    series = {k: v for k, v in ((k, _numbers(v)) for k, v in hist.items() if k != "epoch")
              if v is not None and v.size}
    if metrics is not None:
        chosen: set[str] = set()
        for name in metrics:
            hits = [k for k in series if k == name or _split_key(k)[1] == name]
            if not hits:
                raise ValueError(
                    f"metric {name!r} matches no numeric key of history; keys: {sorted(series)}."
                )
            chosen.update(hits)
        series = {k: series[k] for k in series if k in chosen}
    elif any(_split_key(k)[0] for k in series):
        series = {k: v for k, v in series.items() if _split_key(k)[0]}
    if not series:
        raise ValueError(f"history has no per-epoch numbers to draw; keys: {sorted(hist)}.")
    families: dict[str, list[str]] = {}
    for key in series:
        families.setdefault(_split_key(key)[1], []).append(key)
    order = sorted(families, key=lambda f: (0 if "loss" in f else 1 if "acc" in f else 2))
    ncols = min(len(order), 3)
    nrows = math.ceil(len(order) / ncols)
    size = figsize or ((FIGSIZE[0] if len(order) <= 2 else 2.8 * ncols),
                       FIGSIZE[1] if nrows == 1 else 2.8 * nrows)
    fig, axes = _grid(len(order), ncols, 0.0, 0.0, size)
    for ax, family in zip(axes, order):
        for i, key in enumerate(families[family]):
            y = series[key]
            x = x_all if x_all is not None and x_all.size == y.size else np.arange(1, y.size + 1)
            split = _split_key(key)[0]
            ax.plot(x, y, label=split or key, color=_SPLIT_COLORS.get(split or "", f"C{3 + i}"),
                    marker="o" if y.size <= 30 else None, markersize=3)
        ax.set_title(family)
        ax.set_xlabel("epoch")
        ax.set_ylabel(family)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------- boxes and masks


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
    b = np.asarray(_as_numpy(boxes), dtype=np.float64)
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
    labels = None if labels is None else list(_as_numpy(labels).tolist()
                                              if isinstance(labels, (torch.Tensor, np.ndarray))
                                              else labels)
    scores = None if scores is None else [float(s) for s in _as_numpy(scores).reshape(-1)]
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
    fig, ax = _new_axes(ax, _image_figsize(h, w))
    _imshow(ax, img)
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
    m = _as_numpy(mask)
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
    fig, ax = _new_axes(ax, _image_figsize(h, w, extra_width=1.5))
    if img is not None:
        _imshow(ax, img)
    ax.imshow(rgba, extent=(0, w, h, 0), interpolation="nearest")
    order = sorted(range(len(present)), key=lambda i: is_ignore[i])  # classes, then "ignore"
    ax.legend(handles=[Patch(facecolor=colors[i], edgecolor="0.3", label=names[i]) for i in order],
              loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, title="class")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


# ----------------------------------------------------------------------------- matrices


def _annotate(ax: Axes, matrix: np.ndarray, fmt: str) -> None:
    """Write each value in its cell, white on dark cells."""
    lo, hi = float(np.nanmin(matrix)), float(np.nanmax(matrix))
    mid = (lo + hi) / 2
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=7,
                color="white" if v > mid else "black")


def _tick_labels(ax: Axes, labels: Sequence[Any] | None, size: int, axis: str) -> None:
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


def plot_attention(
    weights: torch.Tensor | np.ndarray,
    x_labels: Sequence[Any] | None = None,
    y_labels: Sequence[Any] | None = None,
    ax: Axes | None = None,
    title: str | None = "attention weights",
    cmap: str = "viridis",
    annotate: bool = False,
) -> Figure:
    """Heat map of an attention matrix with a colorbar.

    Explained in: Part 6, lesson 01_attention.

    Args:
        weights (Tensor[Q, K]): row ``i`` holds query ``i``'s weights over the K keys (rows sum
            to 1 after softmax). Leading dims of size 1 are dropped; pick one head first
            (``attn[0, h]``) for a (B, heads, Q, K) tensor.
        x_labels: K key labels (tokens), or None for indices.
        y_labels: Q query labels, or None for indices.
        ax: draw here instead of on a new figure.
        title: the axes title.
        cmap: the colour map.
        annotate: write each weight (two decimals) in its cell; for small matrices.

    Returns:
        The Figure: the heat map axes (x = key, y = query) and its colorbar axes.

    Raises:
        ValueError: weights that are not a matrix, or labels of the wrong length.
    """
    wts = np.asarray(_as_numpy(weights), dtype=np.float64)
    shape = tuple(wts.shape)
    while wts.ndim > 2 and wts.shape[0] == 1:
        wts = wts[0]
    if wts.ndim != 2:
        raise ValueError(
            f"weights must be a (queries, keys) matrix, got shape {shape}; "
            "select one example and head first, e.g. attn[0, h]."
        )
    q, k = wts.shape
    fig, ax = _new_axes(ax, FIGSIZE)
    im = ax.imshow(wts, cmap=cmap, interpolation="nearest",
                   aspect="equal" if max(q, k) <= 4 * min(q, k) else "auto")
    fig.colorbar(im, ax=ax, label="weight")
    _tick_labels(ax, x_labels, k, "x")
    _tick_labels(ax, y_labels, q, "y")
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    ax.grid(False)
    if annotate:
        _annotate(ax, wts, ".2f")
    if title:
        ax.set_title(title)
    return fig


def _class_indices(y: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(_as_numpy(y))
    if t.dtype == torch.bool:
        t = t.long()
    if t.is_floating_point() or t.is_complex():
        raise ValueError(
            f"{name} must hold integer class indices, got dtype {t.dtype}; "
            "for logits or probabilities pass y_hat.argmax(dim=1)."
        )
    return t.long().reshape(-1)


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    num_classes: int | None = None,
    normalize: str | None = None,
    ignore_index: int | None = None,
) -> torch.Tensor:
    """Count (true class, predicted class) pairs.

    Explained in: Part 4, lesson 03_lenet (masks: Part 8, lesson 01_segmentation_metrics).

    Same convention as ``sklearn.metrics.confusion_matrix``: row = true class, column =
    predicted class.

    Args:
        y_true: true class indices, a tensor/array/list of any shape (labels (N,) or masks
            (N, H, W)); flattened.
        y_pred: predicted class indices, the same shape.
        num_classes: K; by default 1 + the largest index in either.
        normalize: None (counts), ``"true"`` (rows sum to 1), ``"pred"`` (columns sum to 1) or
            ``"all"`` (everything sums to 1); a row or column with no samples is all 0, as in
            sklearn.
        ignore_index: positions where ``y_true`` equals it are dropped (VOC's 255).

    Returns:
        Tensor[K, K] on the CPU: int64 counts, or float64 fractions when ``normalize`` is given.

    Raises:
        ValueError: float labels, different shapes, an index outside [0, K), a bad ``normalize``.
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}.")
    t, p = _class_indices(y_true, "y_true"), _class_indices(y_pred, "y_pred")
    if t.numel() != p.numel():
        raise ValueError(
            f"y_true has {t.numel()} labels (shape {tuple(np.shape(_as_numpy(y_true)))}) but "
            f"y_pred has {p.numel()} (shape {tuple(np.shape(_as_numpy(y_pred)))})."
        )
    if ignore_index is not None:
        keep = t != ignore_index
        t, p = t[keep], p[keep]
    if num_classes is None:
        if t.numel() == 0:
            raise ValueError("No labels to count: pass num_classes.")
        num_classes = int(max(t.max(), p.max())) + 1
    for name, v in (("y_true", t), ("y_pred", p)):
        bad = (v < 0) | (v >= num_classes)
        if bad.any():
            raise ValueError(
                f"{name} holds class index {int(v[bad][0])}, outside [0, {num_classes}); "
                "check num_classes (and ignore_index for masks)."
            )
    counts = torch.bincount(t * num_classes + p, minlength=num_classes**2)
    cm = counts.reshape(num_classes, num_classes)  # (K true, K pred)
    if normalize is None:
        return cm
    cm = cm.double()
    total = {"true": cm.sum(1, keepdim=True), "pred": cm.sum(0, keepdim=True), "all": cm.sum()}
    return torch.nan_to_num(cm / total[normalize])


@dataclass
class ConfusionMatrixPlot:
    """What :func:`plot_confusion_matrix` drew."""

    fig: Figure  # the figure, to adjust or save
    ax: Axes  # the matrix's axes
    counts: torch.Tensor  # Tensor[K, K] int64, row = true class, column = predicted
    matrix: torch.Tensor  # what was drawn: counts, or float64 fractions when normalised


def plot_confusion_matrix(
    y_true: Any,
    y_pred: Any,
    class_names: Sequence[str] | None = None,
    normalize: str | None = None,
    ax: Axes | None = None,
    num_classes: int | None = None,
    ignore_index: int | None = None,
    title: str | None = None,
    cmap: str = "Blues",
    annotate: bool | None = None,
) -> ConfusionMatrixPlot:
    """Draw a confusion matrix, rows = true class, columns = predicted class.

    Explained in: Part 4, lesson 03_lenet.

    Args:
        y_true, y_pred, normalize, ignore_index: as in :func:`confusion_matrix`.
        class_names: K names for the ticks; they also fix K.
        ax: draw here instead of on a new figure.
        num_classes: K when there are no ``class_names``.
        title: the axes title; by default "confusion matrix" (and the normalisation).
        cmap: the colour map.
        annotate: write each cell's value; by default when K <= 12. Without annotations a
            colorbar is added instead.

    Returns:
        A :class:`ConfusionMatrixPlot` with the figure, axes, counts and drawn matrix.

    Raises:
        ValueError: as :func:`confusion_matrix`, or ``class_names`` of the wrong length.
    """
    if class_names is not None:
        if num_classes is not None and num_classes != len(class_names):
            raise ValueError(f"Got {len(class_names)} class_names for num_classes={num_classes}.")
        num_classes = len(class_names)
    counts = confusion_matrix(y_true, y_pred, num_classes, None, ignore_index)
    matrix = counts if normalize is None else confusion_matrix(
        y_true, y_pred, num_classes, normalize, ignore_index)
    k = counts.shape[0]
    fig, ax = _new_axes(ax, FIGSIZE)
    data = matrix.numpy()
    im = ax.imshow(data, cmap=cmap, interpolation="nearest",
                   vmin=0, vmax=1 if normalize else max(int(data.max()), 1))
    if annotate if annotate is not None else k <= 12:
        _annotate(ax, data, ".2f" if normalize else "d")
    else:
        fig.colorbar(im, ax=ax, label="fraction" if normalize else "count")
    names = class_names if class_names is not None else list(range(k))
    _tick_labels(ax, names, k, "x")
    _tick_labels(ax, names, k, "y")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.grid(False)
    norm = f" (normalised over {normalize})" if normalize else ""
    ax.set_title(title or f"confusion matrix{norm}")
    return ConfusionMatrixPlot(fig, ax, counts, matrix)


# ----------------------------------------------------------------------------- networks


def capture_output(model: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """Run ``model(x)`` and return what the sub-module named ``layer`` output.

    Explained in: Part 4, lesson 01_convolution_pooling.

    A forward hook on ``dict(model.named_modules())[layer]`` records its output. The forward
    pass runs under ``torch.no_grad()`` in eval mode (dropout off, BatchNorm statistics left
    alone); every sub-module's train/eval mode is restored afterwards.

    Args:
        model: the network.
        layer: a name from ``model.named_modules()``, e.g. ``"features.3"`` (``""`` = the model).
        x: the input batch, on the model's device.

    Returns:
        The layer's output (detached; the first element if it returns a tuple), from its first
        call if it runs more than once.

    Raises:
        ValueError: no such layer, the layer did not run, or its output is not a tensor.
    """
    modules = dict(model.named_modules())
    if layer not in modules:
        names = [n for n in modules if n]
        shown = ", ".join(repr(n) for n in names[:20]) + (", …" if len(names) > 20 else "")
        raise ValueError(
            f"No layer named {layer!r} in {type(model).__name__}; its layers: {shown}."
        )
    captured: list[Any] = []
    handle = modules[layer].register_forward_hook(lambda _m, _inp, out: captured.append(out))
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
        for m, training in modes.items():
            m.training = training
    if not captured:
        raise ValueError(f"Layer {layer!r} did not run during model(x).")
    out = captured[0]
    if isinstance(out, (tuple, list)) and out:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"Layer {layer!r} returned {type(out).__name__}, not a tensor.")
    return out.detach()


def plot_feature_maps(
    model_or_tensor: nn.Module | torch.Tensor | np.ndarray,
    layer: str | None = None,
    x: torch.Tensor | None = None,
    max_maps: int = 16,
    ncols: int = 8,
    cmap: str = "viridis",
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Draw the first channels of a feature map, one small image per channel.

    Explained in: Part 4, lesson 01_convolution_pooling.

    Each channel is scaled to its own min–max (bright = high activation in that channel).

    Args:
        model_or_tensor: feature maps (Tensor[C, H, W] or [1, C, H, W]), or a model whose
            ``layer`` output is captured by :func:`capture_output` on input ``x``.
        layer: name of the layer in ``model.named_modules()`` (with a model only).
        x: the input batch (with a model only); the maps of its first example are drawn.
        max_maps: draw at most this many channels (the first ones).
        ncols: maps per row.
        cmap: the colour map.
        figsize: overrides the default (at most 6 inches wide).
        title: the figure's title; by default the layer name and the maps' shape.

    Returns:
        The Figure: one axes per drawn channel, titled "ch i", extra grid axes hidden.

    Raises:
        ValueError: a model without ``layer``/``x``, maps that are not (C, H, W), ``max_maps < 1``.
    """
    if max_maps < 1:
        raise ValueError(f"max_maps must be >= 1, got {max_maps}.")
    if isinstance(model_or_tensor, nn.Module):
        if layer is None or x is None:
            raise ValueError(
                "With a model, pass layer= (a name in named_modules()) and x= (a batch)."
            )
        feats = capture_output(model_or_tensor, layer, x)
        if feats.dim() != 4:
            raise ValueError(
                f"Layer {layer!r} output has shape {tuple(feats.shape)}, not feature maps "
                "(N, C, H, W); pick a convolutional layer."
            )
        feats = feats[0]  # (N, C, H, W) -> (C, H, W) of the first example
        name = f"layer {layer!r}"
    elif isinstance(model_or_tensor, (torch.Tensor, np.ndarray)):
        feats = torch.as_tensor(_as_numpy(model_or_tensor))
        if feats.dim() == 4 and feats.shape[0] == 1:
            feats = feats[0]
        name = "feature maps"
    else:
        raise ValueError(
            f"Expected an nn.Module or a tensor, got {type(model_or_tensor).__name__}."
        )
    if feats.dim() != 3:
        raise ValueError(
            f"Feature maps must be (C, H, W) or (1, C, H, W), got shape {tuple(feats.shape)}."
        )
    maps = feats.detach().cpu().float().numpy()
    c, h, w = maps.shape
    n = min(c, max_maps)
    cols = min(ncols, n)
    fig, axes = _grid(n, cols, min(1.2, FIGSIZE[0] / cols), 0.2, figsize)
    for i, ax in enumerate(axes):
        ax.imshow(maps[i], cmap=cmap, interpolation="nearest")
        ax.set_title(f"ch {i}", fontsize=7)
        ax.set_axis_off()
    fig.suptitle(title or f"{name}: {n} of {c} channels, {h}×{w}")
    return fig


@dataclass
class FunctionPlot:
    """What :func:`plot_function_and_derivative` drew."""

    fig: Figure  # the figure, to adjust or save
    ax: Axes  # the axes holding both curves
    x: torch.Tensor  # (n,) the grid
    y: torch.Tensor  # (n,) f(x)
    dy: torch.Tensor  # (n,) f'(x) by autograd


def _func_name(f: Callable[..., Any]) -> str:
    name = getattr(f, "__name__", type(f).__name__)
    return "f" if name == "<lambda>" else name


def plot_function_and_derivative(
    f: Callable[[torch.Tensor], torch.Tensor],
    x_range: tuple[float, float] = (-5.0, 5.0),
    n: int = 401,
    ax: Axes | None = None,
    name: str | None = None,
    dtype: torch.dtype = torch.float64,
    title: str | None = None,
) -> FunctionPlot:
    """Plot f and its derivative f′ computed by autograd.

    Explained in: Part 1, lesson 06_activations.

    ``f′`` is ``torch.autograd.grad(f(x).sum(), x)``, which is the derivative at every grid
    point because ``f`` acts elementwise. Where ``f`` has a kink (ReLU at 0) it is the value
    PyTorch's backward uses.

    Args:
        f: an elementwise function or module, e.g. ``torch.tanh`` or ``nn.GELU()``.
        x_range: ``(low, high)`` of the grid, low < high.
        n: grid points (>= 2), ends included.
        ax: draw here instead of on a new figure.
        name: the function's name in the legend and title; defaults to ``f.__name__`` or the
            module's class name.
        dtype: the grid's dtype (float64 by default; use ``torch.float32`` for a module with
            float32 parameters such as ``nn.PReLU()``).
        title: the axes title; defaults to ``name``.

    Returns:
        A :class:`FunctionPlot` with the figure, axes and the tensors ``x``, ``y``, ``dy``.

    Raises:
        ValueError: a bad range or ``n``, or ``f(x)`` not a tensor of the grid's shape.
    """
    lo, hi = (float(v) for v in x_range)
    if not lo < hi:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range}.")
    if n < 2:
        raise ValueError(f"n must be >= 2 grid points, got {n}.")
    x = torch.linspace(lo, hi, n, dtype=dtype, requires_grad=True)
    with torch.enable_grad():
        y = f(x)
        if not isinstance(y, torch.Tensor) or y.shape != x.shape:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(
                f"f must map the ({n},) grid elementwise to a ({n},) tensor, got {got}."
            )
        dy = None
        if y.requires_grad:
            (dy,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    if dy is None:  # f(x) does not depend on x
        dy = torch.zeros_like(x)
    label = name or _func_name(f)
    x, y, dy = x.detach(), y.detach(), dy.detach()
    fig, ax = _new_axes(ax, FIGSIZE)
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.plot(x.numpy(), y.numpy(), label=f"{label}(x)")
    ax.plot(x.numpy(), dy.numpy(), "--", label=f"{label}′(x)")
    ax.set_xlabel("x")
    ax.legend()
    ax.set_title(title or label)
    return FunctionPlot(fig, ax, x, y, dy)
