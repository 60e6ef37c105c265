"""Classification metrics of one batch: top-k accuracy, and the metric names ``fit`` accepts.

Explained in: Part 4, lesson 03_lenet. ``fit`` and ``evaluate`` sum these per batch on the
device (``TopK.count`` is an exact integer count), so an epoch's accuracy is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

__all__ = ["accuracy", "TopK", "topk_name", "correct_counts", "resolve_metrics", "MetricFn"]

MetricFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def accuracy(
    y_hat: torch.Tensor, y: torch.Tensor, topk: int | Sequence[int] = 1
) -> torch.Tensor:
    """Top-k accuracy: the fraction of examples whose class is among the k highest scores.

    Explained in: Part 4, lesson 03_lenet.

    Args:
        y_hat: scores (logits or probabilities), ``Tensor[N, C]`` or ``Tensor[N, C, *]`` for
            per-position classes (segmentation); the class axis is dim 1.
        y: class indices, integer ``Tensor[N]`` (or ``Tensor[N, *]``), values in ``[0, C)``.
        topk: one k, or several.

    Returns:
        A float tensor on ``y_hat``'s device: 0-dim for an int ``topk``, ``Tensor[len(topk)]``
        for a sequence, each value in ``[0, 1]``. Ties between equal scores are broken as
        ``torch.topk`` breaks them.

    Raises:
        ValueError: the shapes do not match, or a k is not in ``[1, C]``.
    """
    ks = (topk,) if isinstance(topk, int) else tuple(topk)
    correct = correct_counts(y_hat, y, ks)  # (K,)
    frac = correct.float() / y.numel()
    return frac[0] if isinstance(topk, int) else frac


class TopK:
    """Top-k accuracy of one batch as a 0-dim tensor (a picklable, named metric)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.__name__ = topk_name(k)

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.count(y_hat, y) / y.shape[0]

    def count(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Correct examples in the batch, exactly (an integer count, no rounding)."""
        if self.k == 1 and y_hat.dim() == 2 and y.dim() == 1:
            # The common case in the fewest kernels: it runs on every training step.
            return (y_hat.argmax(dim=1) == y).sum()
        correct = correct_counts(y_hat, y, (self.k,))[0]
        # Per-position labels (N, *): the fraction of correct positions, in examples.
        return correct if y.dim() == 1 else correct * (y.shape[0] / y.numel())


def topk_name(k: int) -> str:
    """The history key of top-k accuracy: ``"acc"`` for k = 1, else ``"top{k}_acc"``."""
    return "acc" if k == 1 else f"top{k}_acc"


def correct_counts(y_hat: torch.Tensor, y: torch.Tensor, ks: tuple[int, ...]) -> torch.Tensor:
    """Number of examples whose label is among the top-k scores, for each k: ``Tensor[K]``."""
    if y_hat.dim() < 2:
        raise ValueError(
            f"y_hat must be scores of shape (N, C, ...), got shape {tuple(y_hat.shape)}."
        )
    if y_hat.shape[0] != y.shape[0] or y_hat.shape[2:] != y.shape[1:]:
        raise ValueError(
            f"y_hat of shape {tuple(y_hat.shape)} does not match labels of shape "
            f"{tuple(y.shape)}: expected y of shape (N, ...) for y_hat (N, C, ...)."
        )
    num_classes = y_hat.shape[1]
    if not ks or any(not isinstance(k, int) or k < 1 or k > num_classes for k in ks):
        raise ValueError(f"topk must be ints in [1, {num_classes}] (number of classes), got {ks}.")
    top = y_hat.topk(max(ks), dim=1).indices  # (N, kmax, *)
    hit = top == y.unsqueeze(1)  # (N, kmax, *)
    # hit is True at most once along dim 1, so a cumulative sum marks "within the top k".
    within = hit.cumsum(dim=1)  # (N, kmax, *)
    return torch.stack([within[:, k - 1].sum() for k in ks])  # (K,)


def resolve_metrics(
    metrics: Sequence[str | MetricFn] | Mapping[str, MetricFn] | None,
) -> dict[str, MetricFn]:
    """Turn ``fit``'s ``metrics`` argument into ``{name: fn}``; names are the history keys."""
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        items = list(metrics.items())
    elif isinstance(metrics, (str,)) or callable(metrics):
        raise ValueError(
            f"metrics must be a sequence or mapping, got {metrics!r}; try [{metrics!r}]."
        )
    else:
        items = [(None, m) for m in metrics]
    out: dict[str, MetricFn] = {}
    for name, m in items:
        if isinstance(m, str):
            key = m.strip().lower()
            if key in ("accuracy", "acc", "top1"):
                fn: MetricFn = TopK(1)
            elif key.startswith("top") and key[3:].isdigit() and int(key[3:]) >= 1:
                fn = TopK(int(key[3:]))
            else:
                raise ValueError(
                    f"Unknown metric {m!r}: use 'accuracy', 'topK' (e.g. 'top5') or a callable "
                    "fn(y_hat, y) -> Tensor."
                )
            name = name or fn.__name__
        elif callable(m):
            name = name or getattr(m, "__name__", None)
            if not name or name == "<lambda>":
                raise ValueError(f"Metric {m!r} has no usable name: pass metrics={{'name': fn}}.")
        else:
            raise ValueError(f"Each metric must be a name or a callable, got {m!r}.")
        if name in out:
            raise ValueError(f"Metric name {name!r} appears twice in {metrics!r}.")
        out[name] = fn if isinstance(m, str) else m
    return out
