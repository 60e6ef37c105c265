"""What training produced: loss and accuracy curves, confusion matrices.

Explained in: Part 4, lesson 03_lenet (curves from ``fit``'s history, the confusion matrix);
segmentation masks: Part 8, lesson 01_segmentation_metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dlbook_utils.plot.base import (
    FIGSIZE,
    annotate_cells,
    as_numpy,
    axes_grid,
    new_axes,
    set_tick_labels,
)

__all__ = ["plot_history", "confusion_matrix", "plot_confusion_matrix", "ConfusionMatrixPlot"]

_SPLIT_COLORS = {"train": "C0", "val": "C1", "valid": "C1", "test": "C2"}


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
        return np.array([float(as_numpy(v)) for v in values], dtype=np.float64)
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
    fig, axes = axes_grid(len(order), ncols, 0.0, 0.0, size)
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


def _class_indices(y: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(as_numpy(y))
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
            f"y_true has {t.numel()} labels (shape {tuple(np.shape(as_numpy(y_true)))}) but "
            f"y_pred has {p.numel()} (shape {tuple(np.shape(as_numpy(y_pred)))})."
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
    fig, ax = new_axes(ax, FIGSIZE)
    data = matrix.numpy()
    im = ax.imshow(data, cmap=cmap, interpolation="nearest",
                   vmin=0, vmax=1 if normalize else max(int(data.max()), 1))
    if annotate if annotate is not None else k <= 12:
        annotate_cells(ax, data, ".2f" if normalize else "d")
    else:
        fig.colorbar(im, ax=ax, label="fraction" if normalize else "count")
    names = class_names if class_names is not None else list(range(k))
    set_tick_labels(ax, names, k, "x")
    set_tick_labels(ax, names, k, "y")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.grid(False)
    norm = f" (normalised over {normalize})" if normalize else ""
    ax.set_title(title or f"confusion matrix{norm}")
    return ConfusionMatrixPlot(fig, ax, counts, matrix)
