"""Box formats and areas, and the pairwise IoU family: IoU, GIoU, DIoU, CIoU.

Explained in: Part 7, lesson 01_boxes_iou_anchors.

Every function takes boxes as a float tensor of shape ``[N, 4]`` in ``(x1, y1, x2, y2)`` format
with ``x1 <= x2`` and ``y1 <= y2`` (pixels, x to the right, y down), except ``box_convert``,
which is the one place where other formats come in. Results follow ``torchvision.ops`` (the tests
compare them); where they differ on purpose the docstring says so.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dlbook_utils.boxes.validate import (
    as_boxes,
    check_box_format,
)

__all__ = [
    "box_convert",
    "box_area",
    "box_iou",
    "generalized_box_iou",
    "distance_box_iou",
    "complete_box_iou",
    "pairwise_iou",
    "aspect_ratio_term",
]


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    """Convert boxes between the formats ``"xyxy"``, ``"xywh"`` and ``"cxcywh"``.

    ``"xyxy"`` is ``(x1, y1, x2, y2)``, the top-left and bottom-right corners (the format every
    other function here expects); ``"xywh"`` is ``(x1, y1, w, h)``, the top-left corner and the
    size (COCO JSON); ``"cxcywh"`` is ``(cx, cy, w, h)``, the centre and the size (YOLO, DETR).

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        boxes (Tensor[N, 4]): boxes in ``in_fmt``. Not checked for ``x1 <= x2``.
        in_fmt: format of ``boxes``.
        out_fmt: format of the result.

    Returns:
        Tensor[N, 4]: the same boxes in ``out_fmt``, same row order, a new tensor (float32, or
        float64 for float64 input).

    Raises:
        ValueError: ``boxes`` is not ``[N, 4]``, or a format is not one of the three above.
    """
    check_box_format(in_fmt, "in_fmt")
    check_box_format(out_fmt, "out_fmt")
    boxes = as_boxes(boxes, "boxes", xyxy=False)
    a, b, c, d = boxes.unbind(dim=1)
    if in_fmt == "xywh":  # to xyxy first
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    # (a, b, c, d) is now (x1, y1, x2, y2)
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return torch.stack((a, b, c, d), dim=1)


def box_area(boxes: Tensor) -> Tensor:
    """Area ``(x2 - x1) * (y2 - y1)`` of each box.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        boxes (Tensor[N, 4]): boxes in ``(x1, y1, x2, y2)`` format, ``x1 <= x2``, ``y1 <= y2``.

    Returns:
        Tensor[N]: the areas (0 for degenerate boxes), float32 or float64 like the input.

    Raises:
        ValueError: ``boxes`` is not ``[N, 4]`` or has a row with ``x2 < x1`` or ``y2 < y1``.
    """
    boxes = as_boxes(boxes, "boxes")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _safe_div(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` where ``den > 0``, else 0 (no NaN, also not in the gradient)."""
    positive = den > 0
    return torch.where(positive, num / torch.where(positive, den, torch.ones_like(den)), 0.0)


def _inter_union(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])  # (N,)
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])  # (M,)
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (rb - lt).clamp(min=0)  # (N, M, 2)
    inter = wh[..., 0] * wh[..., 1]  # (N, M)
    union = area1[:, None] + area2[None, :] - inter  # (N, M)
    return inter, union


def pairwise_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """``box_iou`` without the checks, for boxes a caller has already checked (NMS, matching).

    Tensor[N, 4], Tensor[M, 4] xyxy → Tensor[N, M]; 0 where the union is empty.
    """
    inter, union = _inter_union(boxes1, boxes2)
    return _safe_div(inter, union)


def _enclosing_wh(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    lt = torch.min(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    rb = torch.max(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    return (rb - lt).clamp(min=0)


def _pairwise_diou(boxes1: Tensor, boxes2: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    iou = pairwise_iou(boxes1, boxes2)
    wh = _enclosing_wh(boxes1, boxes2)
    diagonal2 = wh[..., 0] ** 2 + wh[..., 1] ** 2 + eps  # (N, M)
    c1 = (boxes1[:, :2] + boxes1[:, 2:]) / 2  # (N, 2) centres
    c2 = (boxes2[:, :2] + boxes2[:, 2:]) / 2  # (M, 2)
    centre2 = ((c1[:, None, :] - c2[None, :, :]) ** 2).sum(dim=-1)  # (N, M)
    return iou - centre2 / diagonal2, iou


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection over union (IoU（交并比）, Jaccard index) of every pair of boxes.

    ``IoU = area(b1 ∩ b2) / area(b1 ∪ b2)``. Where both boxes have zero area the union is 0;
    torchvision returns NaN there, this function returns 0 (no NaN reaches NMS or a loss).

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        boxes1 (Tensor[N, 4]): boxes in ``(x1, y1, x2, y2)`` format, ``x1 <= x2``, ``y1 <= y2``.
        boxes2 (Tensor[M, 4]): boxes in the same format.

    Returns:
        Tensor[N, M]: ``iou[i, j]`` is the IoU of ``boxes1[i]`` and ``boxes2[j]``, in ``[0, 1]``,
        float32 or float64 like the input.

    Raises:
        ValueError: a tensor is not ``[N, 4]`` or has a row with ``x2 < x1`` or ``y2 < y1``.
    """
    return pairwise_iou(as_boxes(boxes1, "boxes1"), as_boxes(boxes2, "boxes2"))


def generalized_box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Generalized IoU (GIoU) of every pair of boxes (Rezatofighi et al., 2019).

    ``GIoU = IoU - (area(C) - area(b1 ∪ b2)) / area(C)`` with ``C`` the smallest box enclosing
    both. Unlike IoU it keeps decreasing as disjoint boxes move apart. Where ``area(C) == 0``
    (two degenerate boxes on one line) the penalty is 0, and IoU is 0 as in :func:`box_iou`.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        boxes1 (Tensor[N, 4]): boxes in ``(x1, y1, x2, y2)`` format, ``x1 <= x2``, ``y1 <= y2``.
        boxes2 (Tensor[M, 4]): boxes in the same format.

    Returns:
        Tensor[N, M]: pairwise GIoU in ``[-1, 1]``, float32 or float64 like the input.

    Raises:
        ValueError: a tensor is not ``[N, 4]`` or has a row with ``x2 < x1`` or ``y2 < y1``.
    """
    boxes1, boxes2 = as_boxes(boxes1, "boxes1"), as_boxes(boxes2, "boxes2")
    inter, union = _inter_union(boxes1, boxes2)
    iou = _safe_div(inter, union)
    wh = _enclosing_wh(boxes1, boxes2)
    area_c = wh[..., 0] * wh[..., 1]  # (N, M)
    return iou - _safe_div(area_c - union, area_c)


def distance_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Distance IoU (DIoU) of every pair of boxes (Zheng et al., 2020).

    ``DIoU = IoU - d² / (c² + eps)`` with ``d`` the distance between the two centres and ``c``
    the diagonal of the smallest enclosing box.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        boxes1 (Tensor[N, 4]): boxes in ``(x1, y1, x2, y2)`` format, ``x1 <= x2``, ``y1 <= y2``.
        boxes2 (Tensor[M, 4]): boxes in the same format.
        eps: added to ``c²`` so that two identical points do not divide by zero.

    Returns:
        Tensor[N, M]: pairwise DIoU in ``(-1, 1]``, float32 or float64 like the input.

    Raises:
        ValueError: a tensor is not ``[N, 4]`` or has a row with ``x2 < x1`` or ``y2 < y1``.
    """
    diou, _ = _pairwise_diou(as_boxes(boxes1, "boxes1"), as_boxes(boxes2, "boxes2"), eps)
    return diou


def aspect_ratio_term(w1: Tensor, h1: Tensor, w2: Tensor, h2: Tensor) -> Tensor:
    """CIoU's ``v = 4/π² · (atan(w1/h1) − atan(w2/h2))²`` (broadcasting widths and heights)."""
    return (4 / math.pi**2) * (_atan_ratio(w1, h1) - _atan_ratio(w2, h2)) ** 2


def _atan_ratio(w: Tensor, h: Tensor) -> Tensor:
    """``atan(w / h)`` as torchvision computes it (also for the negative sizes of inverted
    predictions); where ``h == 0`` its limit ``atan2(w, 0)``, so zero-size boxes stay finite."""
    nonzero = h != 0
    return torch.where(nonzero, torch.atan(w / torch.where(nonzero, h, torch.ones_like(h))),
                       torch.atan2(w, h))


def complete_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Complete IoU (CIoU) of every pair of boxes (Zheng et al., 2020).

    ``CIoU = DIoU - α v`` with ``v = 4/π² (atan(w1/h1) - atan(w2/h2))²`` (aspect-ratio mismatch)
    and ``α = v / (1 - IoU + v + eps)``, computed without gradient as in the paper and torchvision.
    ``atan(w/h)`` is computed as ``atan2(w, h)``, which is finite for a box of zero width and
    height (torchvision gives NaN there).

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        boxes1 (Tensor[N, 4]): boxes in ``(x1, y1, x2, y2)`` format, ``x1 <= x2``, ``y1 <= y2``.
        boxes2 (Tensor[M, 4]): boxes in the same format.
        eps: small number that keeps the divisions finite.

    Returns:
        Tensor[N, M]: pairwise CIoU, at most 1, float32 or float64 like the input.

    Raises:
        ValueError: a tensor is not ``[N, 4]`` or has a row with ``x2 < x1`` or ``y2 < y1``.
    """
    boxes1, boxes2 = as_boxes(boxes1, "boxes1"), as_boxes(boxes2, "boxes2")
    diou, iou = _pairwise_diou(boxes1, boxes2, eps)
    w1 = (boxes1[:, 2] - boxes1[:, 0])[:, None]  # (N, 1)
    h1 = (boxes1[:, 3] - boxes1[:, 1])[:, None]  # (N, 1)
    w2 = (boxes2[:, 2] - boxes2[:, 0])[None]  # (1, M)
    h2 = (boxes2[:, 3] - boxes2[:, 1])[None]  # (1, M)
    v = aspect_ratio_term(w1, h1, w2, h2)  # (N, M)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v
