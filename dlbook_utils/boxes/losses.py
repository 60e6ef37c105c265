"""Box regression losses on paired boxes (row i with row i): IoU, GIoU, DIoU and CIoU losses.

The predictions (``boxes1``) are not required to be ordered: a network regressing raw
coordinates can predict ``x2 < x1`` early in training, and the losses then compute what
``torchvision.ops`` computes (finite, differentiable) instead of stopping the training. The
targets (``boxes2``) must be valid xyxy boxes; a bad target is a ``ValueError``.

Explained in: Part 7, lessons 01_boxes_iou_anchors (the IoU family) and 06_yolo (CIoU loss).
Results follow ``torchvision.ops.*_box_iou_loss`` (the tests compare them).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dlbook_utils.boxes.iou import aspect_ratio_term
from dlbook_utils.boxes.validate import (
    as_paired_boxes,
)

__all__ = [
    "iou_loss",
    "generalized_box_iou_loss",
    "distance_box_iou_loss",
    "complete_box_iou_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


def _paired_terms(boxes1: Tensor, boxes2: Tensor, eps: float) -> dict[str, Tensor]:
    """IoU and the pieces of the GIoU/DIoU penalties for row-aligned boxes, all shape (N,)."""
    x1, y1, x2, y2 = boxes1.unbind(dim=1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=1)
    iw = (torch.min(x2, x2g) - torch.max(x1, x1g)).clamp(min=0)
    ih = (torch.min(y2, y2g) - torch.max(y1, y1g)).clamp(min=0)
    inter = iw * ih
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    cw = torch.max(x2, x2g) - torch.min(x1, x1g)  # enclosing box
    ch = torch.max(y2, y2g) - torch.min(y1, y1g)
    centre2 = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    return {
        "iou": inter / (union + eps),
        "union": union,
        "area_c": cw * ch,
        "diag2": cw**2 + ch**2 + eps,
        "centre2": centre2,
    }


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    return loss.sum()


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Unknown reduction={reduction!r}; use one of {', '.join(map(repr, _REDUCTIONS))}."
        )


def iou_loss(boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7) -> Tensor:
    """IoU loss ``1 - IoU`` of paired boxes, with ``IoU = inter / (union + eps)``.

    Its gradient is zero once the boxes stop overlapping; GIoU/DIoU/CIoU losses fix that.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        boxes1 (Tensor[N, 4]): predicted boxes, ``(x1, y1, x2, y2)`` (may be inverted).
        boxes2 (Tensor[N, 4]): target boxes in the same format; row ``i`` pairs with row ``i``.
        reduction: ``"none"`` (one loss per pair), ``"mean"`` or ``"sum"``.
        eps: small number added to denominators, as in ``torchvision.ops``.

    Returns:
        Tensor[N] for ``"none"``, else a scalar tensor (``"mean"`` of no boxes is 0, not NaN);
        float32 or float64 like the input. Differentiable with respect to both inputs.

    Raises:
        ValueError: a tensor is not ``[N, 4]``, a target has ``x2 < x1`` or ``y2 < y1``, the
        two have different numbers of rows, or ``reduction`` is unknown.
    """
    _check_reduction(reduction)
    t = _paired_terms(*as_paired_boxes(boxes1, boxes2, check_order1=False), eps)
    return _reduce(1 - t["iou"], reduction)


def generalized_box_iou_loss(
    boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7
) -> Tensor:
    """GIoU loss ``1 - GIoU`` of paired boxes, in ``[0, 2]``; same values as torchvision's.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        boxes1 (Tensor[N, 4]), boxes2 (Tensor[N, 4]), reduction, eps: as in :func:`iou_loss`
            (paired ``(x1, y1, x2, y2)`` boxes, row ``i`` with row ``i``).

    Returns:
        Tensor[N] for ``reduction="none"``, else a scalar tensor, as in :func:`iou_loss`.

    Raises:
        ValueError: as :func:`iou_loss`.
    """
    _check_reduction(reduction)
    t = _paired_terms(*as_paired_boxes(boxes1, boxes2, check_order1=False), eps)
    giou = t["iou"] - (t["area_c"] - t["union"]) / (t["area_c"] + eps)
    return _reduce(1 - giou, reduction)


def distance_box_iou_loss(
    boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7
) -> Tensor:
    """DIoU loss ``1 - IoU + d² / c²`` of paired boxes; same values as torchvision's.

    ``d`` is the distance between the centres, ``c`` the diagonal of the enclosing box.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        boxes1 (Tensor[N, 4]), boxes2 (Tensor[N, 4]), reduction, eps: as in :func:`iou_loss`
            (paired ``(x1, y1, x2, y2)`` boxes, row ``i`` with row ``i``).

    Returns:
        Tensor[N] for ``reduction="none"``, else a scalar tensor, as in :func:`iou_loss`.

    Raises:
        ValueError: as :func:`iou_loss`.
    """
    _check_reduction(reduction)
    t = _paired_terms(*as_paired_boxes(boxes1, boxes2, check_order1=False), eps)
    return _reduce(1 - t["iou"] + t["centre2"] / t["diag2"], reduction)


def complete_box_iou_loss(
    boxes1: Tensor, boxes2: Tensor, reduction: str = "none", eps: float = 1e-7
) -> Tensor:
    """CIoU loss ``1 - IoU + d² / c² + α v`` of paired boxes; same values as torchvision's.

    ``v`` and ``α`` are as in :func:`complete_box_iou` (``α`` without gradient).

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        boxes1 (Tensor[N, 4]), boxes2 (Tensor[N, 4]), reduction, eps: as in :func:`iou_loss`
            (paired ``(x1, y1, x2, y2)`` boxes, row ``i`` with row ``i``).

    Returns:
        Tensor[N] for ``reduction="none"``, else a scalar tensor, as in :func:`iou_loss`.

    Raises:
        ValueError: as :func:`iou_loss`.
    """
    _check_reduction(reduction)
    boxes1, boxes2 = as_paired_boxes(boxes1, boxes2, check_order1=False)
    t = _paired_terms(boxes1, boxes2, eps)
    w1, h1 = boxes1[:, 2] - boxes1[:, 0], boxes1[:, 3] - boxes1[:, 1]
    w2, h2 = boxes2[:, 2] - boxes2[:, 0], boxes2[:, 3] - boxes2[:, 1]
    v = aspect_ratio_term(w2, h2, w1, h1)
    with torch.no_grad():
        alpha = v / (1 - t["iou"] + v + eps)
    return _reduce(1 - t["iou"] + t["centre2"] / t["diag2"] + alpha * v, reduction)
