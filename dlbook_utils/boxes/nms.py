"""Non-maximum suppression: keep the best box, drop the ones that overlap it, repeat.

Explained in: Part 7, lesson 02_nms_and_metrics (first used in Part 3, lesson 01_hog).
Results equal ``torchvision.ops.nms`` / ``batched_nms`` (the tests compare them).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dlbook_utils.boxes.iou import pairwise_iou
from dlbook_utils.boxes.validate import (
    as_boxes,
    as_vector,
    check_unit_interval,
)

__all__ = ["nms", "batched_nms"]


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression (NMS（非极大值抑制）).

    Sort the boxes by score, highest first; keep the first box, drop every remaining box whose
    IoU with it is greater than ``iou_threshold``, and repeat with what remains.

    Ties: boxes with equal scores are visited in their input order (a stable sort), so the
    lower index wins. This is what ``torchvision.ops.nms`` does on the CPU; on CUDA torchvision
    does not promise an order for ties, this function keeps the same order on every device.
    Two boxes of zero area never suppress each other (their IoU is 0, see :func:`box_iou`).

    Explained in: Part 7, lesson 02_nms_and_metrics.

    Args:
        boxes (Tensor[N, 4]): boxes in ``(x1, y1, x2, y2)`` format, ``x1 <= x2``, ``y1 <= y2``.
        scores (Tensor[N]): one score per box; higher is better.
        iou_threshold: in ``[0, 1]``; a box is dropped when its IoU with a kept box is
            strictly greater than this (0 keeps only boxes that overlap no kept box, 1 keeps all).

    Returns:
        Tensor[K]: int64 indices into ``boxes`` of the kept boxes, in decreasing order of score.

    Raises:
        ValueError: bad ``boxes`` (see :func:`box_iou`), ``scores`` not ``[N]``, or
        ``iou_threshold`` outside ``[0, 1]``.
    """
    boxes = as_boxes(boxes, "boxes")
    scores = as_vector(scores, "scores", boxes.shape[0])
    iou_threshold = check_unit_interval(iou_threshold, "iou_threshold")
    order = torch.sort(scores, descending=True, stable=True).indices  # (N,)
    keep = []
    while order.numel() > 0:
        best, rest = order[0], order[1:]
        keep.append(best)
        ious = pairwise_iou(boxes[best][None], boxes[rest])[0]  # (len(rest),)
        order = rest[ious.double() <= iou_threshold]  # compare in float64, as torchvision does
    if not keep:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    return torch.stack(keep)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """NMS separately within each category: boxes of different ``idxs`` never suppress each other.

    Runs :func:`nms` once per category (torchvision instead shifts each category's boxes far
    apart and runs one NMS; the kept set is the same).

    Explained in: Part 7, lesson 02_nms_and_metrics.

    Args:
        boxes (Tensor[N, 4]): boxes in ``(x1, y1, x2, y2)`` format, ``x1 <= x2``, ``y1 <= y2``.
        scores (Tensor[N]): one score per box.
        idxs (Tensor[N]): integer category (or image) of each box.
        iou_threshold: in ``[0, 1]``, as in :func:`nms`.

    Returns:
        Tensor[K]: int64 indices of the kept boxes, in decreasing order of score; equal scores
        keep their input order (stable), as ``torchvision.ops.batched_nms`` does on the CPU.

    Raises:
        ValueError: as :func:`nms`, or ``idxs`` not ``[N]`` or not integer.
    """
    boxes = as_boxes(boxes, "boxes")
    scores = as_vector(scores, "scores", boxes.shape[0])
    idxs = as_vector(idxs, "idxs", boxes.shape[0])
    if idxs.is_floating_point() or idxs.is_complex():
        raise ValueError(
            f"idxs must be an integer tensor (one category per box), got {idxs.dtype}."
        )
    check_unit_interval(iou_threshold, "iou_threshold")
    keep_mask = torch.zeros(boxes.shape[0], dtype=torch.bool, device=boxes.device)
    for category in torch.unique(idxs):
        members = torch.nonzero(idxs == category)[:, 0]
        keep_mask[members[nms(boxes[members], scores[members], iou_threshold)]] = True
    keep = torch.nonzero(keep_mask)[:, 0]
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]
