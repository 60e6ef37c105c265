"""Inside a model: attention maps, feature maps of a layer, a function and its derivative.

Explained in: Part 6, lesson 01_attention (``plot_attention``), Part 4, lesson
01_convolution_pooling (``capture_output``, ``plot_feature_maps``), Part 1, lesson 06_activations
(``plot_function_and_derivative``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from dlbook_utils.plot.base import (
    FIGSIZE,
    annotate_cells,
    as_numpy,
    axes_grid,
    new_axes,
    set_tick_labels,
)

__all__ = [
    "plot_attention",
    "capture_output",
    "plot_feature_maps",
    "plot_function_and_derivative",
    "FunctionPlot",
]


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
    wts = np.asarray(as_numpy(weights), dtype=np.float64)
    shape = tuple(wts.shape)
    while wts.ndim > 2 and wts.shape[0] == 1:
        wts = wts[0]
    if wts.ndim != 2:
        raise ValueError(
            f"weights must be a (queries, keys) matrix, got shape {shape}; "
            "select one example and head first, e.g. attn[0, h]."
        )
    q, k = wts.shape
    fig, ax = new_axes(ax, FIGSIZE)
    im = ax.imshow(wts, cmap=cmap, interpolation="nearest",
                   aspect="equal" if max(q, k) <= 4 * min(q, k) else "auto")
    fig.colorbar(im, ax=ax, label="weight")
    set_tick_labels(ax, x_labels, k, "x")
    set_tick_labels(ax, y_labels, q, "y")
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    ax.grid(False)
    if annotate:
        annotate_cells(ax, wts, ".2f")
    if title:
        ax.set_title(title)
    return fig


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
        feats = torch.as_tensor(as_numpy(model_or_tensor))
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
    fig, axes = axes_grid(n, cols, min(1.2, FIGSIZE[0] / cols), 0.2, figsize)
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
    fig, ax = new_axes(ax, FIGSIZE)
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.plot(x.numpy(), y.numpy(), label=f"{label}(x)")
    ax.plot(x.numpy(), dy.numpy(), "--", label=f"{label}′(x)")
    ax.set_xlabel("x")
    ax.legend()
    ax.set_title(title or label)
    return FunctionPlot(fig, ax, x, y, dy)
