"""Detection metrics: precision/recall curves, AP (VOC and COCO styles), mAP and COCO mAP.

Explained in Part 7, lesson ``02_nms_and_metrics``.

Input format, the one torchvision detection models return and take as targets: two lists with one
dict per image, in the same order (``predictions[i]`` and ``targets[i]`` describe image ``i``)::

    predictions[i] = {"boxes": Tensor[N, 4], "scores": Tensor[N], "labels": Tensor[N]}
    targets[i]     = {"boxes": Tensor[M, 4], "labels": Tensor[M]}

Boxes are ``(x1, y1, x2, y2)`` pixels with ``x1 <= x2``, ``y1 <= y2`` (convert COCO's
``(x, y, w, h)`` with :func:`dlbook_utils.boxes.box_convert`), labels are integer class ids, any
extra keys are ignored. An image may have no predictions or no targets (tensors with 0 rows).

Matching rule (pycocotools' ``COCOeval``), per image and class: detections are visited by
decreasing score (ties: input order); each takes, among the ground-truth boxes not yet taken, the
one with the largest IoU provided that IoU is ``>= iou_threshold`` (ties: the later box); a
detection that takes one is a true positive, any other is a false positive. The PASCAL VOC devkit
differs slightly: it looks at the best box among *all* ground truths and counts a false positive
when that one is taken, and it requires IoU ``> 0.5``. Classes are those present in the targets;
a class that only appears in predictions has no AP and is left out of every mean, as in
pycocotools. Results are computed in float64 on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from dlbook_utils.boxes.iou import pairwise_iou
from dlbook_utils.boxes.validate import as_boxes, as_vector, check_unit_interval

__all__ = [
    "PRCurve",
    "COCO_IOU_THRESHOLDS",
    "precision_recall_curve_det",
    "average_precision",
    "average_precision_per_class",
    "mean_average_precision",
    "coco_map",
]

# The very same float64 values pycocotools uses (np.linspace, so 0.55 is 0.5500000000000000444).
COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(
    np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True).tolist()
)
_COCO_RECALL_POINTS = torch.from_numpy(
    np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
)
# The VOC devkit's 11 recall points, np.arange(0, 1.1, 0.1): k * 0.1, so the fourth is
# 0.30000000000000004 and a recall of exactly 3/10 does not reach it.
_VOC_RECALL_POINTS = torch.from_numpy(np.arange(0.0, 1.1, 0.1))
_METHODS = ("all_points", "voc11", "coco101")

Detections = Sequence[Mapping[str, Tensor]]


class PRCurve(NamedTuple):
    """Precision/recall of one class, one point per detection, by decreasing score.

    Attributes:
        precision (Tensor[D], float64): true positives among the first ``k + 1`` detections,
            divided by ``k + 1``.
        recall (Tensor[D], float64): the same count divided by ``num_gt`` (non-decreasing).
        scores (Tensor[D], float64): the score of detection ``k`` (non-increasing).
        num_gt: number of ground-truth boxes of the class, over all images.
    """

    precision: Tensor
    recall: Tensor
    scores: Tensor
    num_gt: int


class _Image(NamedTuple):
    boxes: Tensor  # (N, 4) float64
    scores: Tensor  # (N,) float64
    labels: Tensor  # (N,) int64
    gt_boxes: Tensor  # (M, 4) float64
    gt_labels: Tensor  # (M,) int64


def _get(d: Mapping[str, Tensor], key: str, where: str) -> Tensor:
    if not isinstance(d, Mapping) or key not in d:
        raise ValueError(
            f"{where} has no {key!r}: a prediction is a dict with 'boxes' (Tensor[N, 4], x1 y1 x2 "
            "y2), 'scores' (Tensor[N]) and 'labels' (Tensor[N]); a target has 'boxes' and "
            "'labels'."
        )
    return d[key]


def _labels(x: Tensor, name: str, n: int) -> Tensor:
    x = as_vector(x, name, n)
    if x.is_floating_point() or x.is_complex():
        raise ValueError(f"{name} must hold integer class ids, got dtype {x.dtype}; use .long().")
    return x.detach().cpu().long()


def _prepare(predictions: Detections, targets: Detections) -> list[_Image]:
    if len(predictions) != len(targets):
        raise ValueError(
            f"predictions has {len(predictions)} images but targets has {len(targets)}; pass one "
            "dict per image to each, in the same order."
        )
    images = []
    for i, (p, t) in enumerate(zip(predictions, targets)):
        boxes = as_boxes(_get(p, "boxes", f"predictions[{i}]"), f"predictions[{i}]['boxes']")
        n = boxes.shape[0]
        scores = _get(p, "scores", f"predictions[{i}]")
        scores = as_vector(scores, f"predictions[{i}]['scores']", n)
        labels = _labels(_get(p, "labels", f"predictions[{i}]"), f"predictions[{i}]['labels']", n)
        gt_boxes = as_boxes(_get(t, "boxes", f"targets[{i}]"), f"targets[{i}]['boxes']")
        m = gt_boxes.shape[0]
        gt_labels = _labels(_get(t, "labels", f"targets[{i}]"), f"targets[{i}]['labels']", m)
        images.append(
            _Image(
                boxes.detach().cpu().double(),
                scores.detach().cpu().double(),
                labels,
                gt_boxes.detach().cpu().double(),
                gt_labels,
            )
        )
    return images


def _check_max_detections(max_detections: int | None) -> None:
    if max_detections is None:
        return
    is_int = isinstance(max_detections, int) and not isinstance(max_detections, bool)
    if not is_int or max_detections < 1:
        raise ValueError(
            f"max_detections must be a positive int or None (no limit), got {max_detections!r}."
        )


def _greedy_match(ious: list[list[float]], num_gt: int, threshold: float) -> list[bool]:
    """True positive flag of each detection (rows of ``ious``, already by decreasing score)."""
    taken = [False] * num_gt
    tp = []
    for row in ious:
        best, match = min(threshold, 1 - 1e-10), -1  # pycocotools' cap for threshold 1
        for g, value in enumerate(row):
            if taken[g] or value < best:
                continue
            best, match = value, g
        if match >= 0:
            taken[match] = True
        tp.append(match >= 0)
    return tp


def _match_class(
    images: list[_Image], label: int, thresholds: Sequence[float], max_detections: int | None
) -> tuple[Tensor, Tensor, int]:
    """Scores (D,), true-positive flags (T, D) by decreasing score, and the number of gt boxes."""
    all_scores, all_tp, num_gt = [], [], 0
    for img in images:
        gt = img.gt_boxes[img.gt_labels == label]  # (G, 4)
        keep = img.labels == label
        scores, boxes = img.scores[keep], img.boxes[keep]
        order = torch.sort(scores, descending=True, stable=True).indices[:max_detections]
        scores, boxes = scores[order], boxes[order]  # (D_i,), (D_i, 4)
        ious = pairwise_iou(boxes, gt).tolist()  # D_i lists of G floats
        num_gt += gt.shape[0]
        all_scores.append(scores)
        tp = [_greedy_match(ious, gt.shape[0], t) for t in thresholds]  # T lists of D_i flags
        all_tp.append(torch.tensor(tp, dtype=torch.bool).reshape(len(thresholds), len(ious)))
    scores = torch.cat(all_scores)  # (D,)
    order = torch.sort(scores, descending=True, stable=True).indices
    return scores[order], torch.cat(all_tp, dim=1)[:, order], num_gt


def _classes(images: list[_Image]) -> list[int]:
    if not images:
        return []
    return torch.unique(torch.cat([img.gt_labels for img in images])).tolist()


def _curve(scores: Tensor, tp: Tensor, num_gt: int) -> PRCurve:
    tp_cum = torch.cumsum(tp.double(), dim=0)  # (D,)
    ranks = torch.arange(1, tp.shape[0] + 1, dtype=torch.float64)  # (D,)
    return PRCurve(tp_cum / ranks, tp_cum / num_gt, scores, num_gt)


def precision_recall_curve_det(
    predictions: Detections,
    targets: Detections,
    iou_threshold: float = 0.5,
    max_detections: int | None = None,
) -> dict[int, PRCurve]:
    """Precision and recall of each class at one IoU threshold.

    Explained in: Part 7, lesson 02_nms_and_metrics.

    Args:
        predictions: one dict per image with ``boxes`` (Tensor[N, 4], ``(x1, y1, x2, y2)``),
            ``scores`` (Tensor[N]) and ``labels`` (Tensor[N], int); see the module docstring.
        targets: one dict per image, same order, with ``boxes`` (Tensor[M, 4]) and ``labels``
            (Tensor[M]).
        iou_threshold: in ``[0, 1]``; a detection matches a ground-truth box when their IoU is
            ``>=`` this (COCO's rule, see the module docstring).
        max_detections: keep only the highest-scoring this many detections per image and class
            (COCO uses 100); ``None`` keeps all.

    Returns:
        ``{label: PRCurve}`` for every label present in ``targets``, in increasing label order.
        Each curve has one point per detection of that class over all images, by decreasing
        score (ties: image order, then input order).

    Raises:
        ValueError: mismatched list lengths, a missing key, boxes not ``[N, 4]`` or with
        ``x2 < x1``/``y2 < y1``, scores or labels of the wrong length, float labels,
        ``iou_threshold`` outside ``[0, 1]`` or a bad ``max_detections``.
    """
    threshold = check_unit_interval(iou_threshold, "iou_threshold")
    _check_max_detections(max_detections)
    images = _prepare(predictions, targets)
    curves = {}
    for label in _classes(images):
        scores, tp, num_gt = _match_class(images, label, [threshold], max_detections)
        curves[label] = _curve(scores, tp[0], num_gt)
    return curves


def average_precision(
    recall: Tensor | Sequence[float],
    precision: Tensor | Sequence[float],
    method: str = "all_points",
) -> float:
    """Area under a precision/recall curve, after making precision non-increasing in recall.

    The interpolated precision at recall ``r`` is the best precision at any recall ``>= r``.

    - ``"all_points"`` (PASCAL VOC 2010 and later): the exact area under that step function,
      ``sum (r[k] - r[k-1]) * p_interp(r[k])`` over the points where recall changes.
    - ``"voc11"`` (PASCAL VOC 2007): the mean of ``p_interp`` at recall 0, 0.1, ..., 1. The
      points are the devkit's ``np.arange(0, 1.1, 0.1)``, whose fourth value is
      0.30000000000000004, so a recall of exactly 3/10 does not count at "0.3" (nor 6/10 and
      7/10 at 0.6 and 0.7); we keep that quirk so the numbers match published VOC07 results.
    - ``"coco101"`` (COCO): the mean of ``p_interp`` at recall 0, 0.01, ..., 1, the first point
      with recall ``>=`` each threshold, exactly as pycocotools' ``accumulate``.

    Explained in: Part 7, lesson 02_nms_and_metrics.

    Args:
        recall (Tensor[D]): non-decreasing recalls in ``[0, 1]``, e.g. ``PRCurve.recall``.
        precision (Tensor[D]): the precision at each point, in ``[0, 1]``.
        method: ``"all_points"``, ``"voc11"`` or ``"coco101"``.

    Returns:
        AP in ``[0, 1]`` as a Python float; 0.0 for an empty curve (no detections).

    Raises:
        ValueError: unknown ``method``, shapes not ``[D]`` or different, values outside
        ``[0, 1]``, or a recall that decreases.
    """
    if method not in _METHODS:
        raise ValueError(f"Unknown method={method!r}; use one of {', '.join(map(repr, _METHODS))}.")
    # straight to float64: a Python list through float32 would turn 0.3 into 0.30000001
    recall = torch.as_tensor(recall, dtype=torch.float64, device="cpu").detach()
    precision = torch.as_tensor(precision, dtype=torch.float64, device="cpu").detach()
    if recall.dim() != 1 or precision.shape != recall.shape:
        raise ValueError(
            f"recall and precision must be 1-D and of the same length, got shapes "
            f"{tuple(recall.shape)} and {tuple(precision.shape)}."
        )
    for name, x in (("recall", recall), ("precision", precision)):
        bad = ~((x >= 0) & (x <= 1))
        if bool(bad.any()):
            k = int(bad.nonzero()[0, 0])
            raise ValueError(f"{name}[{k}] = {x[k].item():g} is outside [0, 1].")
    drops = recall[1:] < recall[:-1]
    if bool(drops.any()):
        k = int(drops.nonzero()[0, 0]) + 1
        raise ValueError(
            f"recall decreases at index {k} ({recall[k - 1].item():g} -> {recall[k].item():g}); "
            "pass the points in order of decreasing score, as precision_recall_curve_det returns."
        )
    if recall.numel() == 0:
        return 0.0
    # best precision at this recall or any later point
    envelope = precision.flip(0).cummax(0).values.flip(0)  # (D,)
    if method == "all_points":
        steps = torch.diff(recall, prepend=recall.new_zeros(1))  # (D,) recall gained at each point
        return float((steps * envelope).sum())
    if method == "voc11":
        points = _VOC_RECALL_POINTS  # (11,)
    else:
        points = _COCO_RECALL_POINTS  # (101,)
    first = torch.searchsorted(recall, points, side="left")  # first index with recall >= point
    reached = first < recall.numel()
    values = torch.where(reached, envelope[first.clamp(max=recall.numel() - 1)], 0.0)
    return float(values.mean())


def average_precision_per_class(
    predictions: Detections,
    targets: Detections,
    iou_threshold: float = 0.5,
    method: str = "all_points",
    max_detections: int | None = None,
) -> dict[int, float]:
    """AP of each class at one IoU threshold.

    Explained in: Part 7, lesson 02_nms_and_metrics.

    Args:
        predictions, targets, iou_threshold, max_detections: as in
            :func:`precision_recall_curve_det`.
        method: as in :func:`average_precision`.

    Returns:
        ``{label: AP}`` for every label present in ``targets``, in increasing label order.

    Raises:
        ValueError: as :func:`precision_recall_curve_det` and :func:`average_precision`.
    """
    if method not in _METHODS:
        raise ValueError(f"Unknown method={method!r}; use one of {', '.join(map(repr, _METHODS))}.")
    curves = precision_recall_curve_det(predictions, targets, iou_threshold, max_detections)
    return {c: average_precision(pr.recall, pr.precision, method) for c, pr in curves.items()}


def mean_average_precision(
    predictions: Detections,
    targets: Detections,
    iou_threshold: float = 0.5,
    method: str = "all_points",
    max_detections: int | None = None,
) -> float:
    """mAP: the mean over classes of :func:`average_precision_per_class`.

    ``iou_threshold=0.5`` with ``method="voc11"`` or ``"all_points"`` is PASCAL VOC's mAP
    (with COCO's matching rule, see the module docstring); with ``"coco101"`` and
    ``max_detections=100`` it is COCO's ``AP50``.

    Explained in: Part 7, lesson 02_nms_and_metrics.

    Args:
        predictions, targets, iou_threshold, method, max_detections: as in
            :func:`average_precision_per_class`.

    Returns:
        mAP as a Python float in ``[0, 1]``; NaN when the targets hold no boxes at all (no class
        to average over; pycocotools reports -1).

    Raises:
        ValueError: as :func:`average_precision_per_class`.
    """
    ap = average_precision_per_class(predictions, targets, iou_threshold, method, max_detections)
    return sum(ap.values()) / len(ap) if ap else math.nan


def coco_map(predictions: Detections, targets: Detections, max_detections: int = 100) -> float:
    """COCO's headline metric, AP@[.50:.95]: mean AP over 10 IoU thresholds and all classes.

    For each IoU threshold 0.50, 0.55, ..., 0.95 (:data:`COCO_IOU_THRESHOLDS`) and each class,
    the ``"coco101"`` AP of :func:`average_precision`; the result is the mean of all of them.
    This equals pycocotools' ``COCOeval(..., "bbox")`` first statistic ("AP @[ IoU=0.50:0.95 |
    area=all | maxDets=100 ]") when no box is a crowd, which the tests check.

    Explained in: Part 7, lesson 02_nms_and_metrics.

    Args:
        predictions, targets: as in :func:`precision_recall_curve_det`.
        max_detections: detections kept per image and class, highest scores first (COCO: 100).

    Returns:
        AP@[.50:.95] as a Python float in ``[0, 1]``; NaN when the targets hold no boxes.

    Raises:
        ValueError: as :func:`precision_recall_curve_det`.
    """
    _check_max_detections(max_detections)
    images = _prepare(predictions, targets)
    aps = []
    for label in _classes(images):
        scores, tp, num_gt = _match_class(images, label, COCO_IOU_THRESHOLDS, max_detections)
        for tp_t in tp:  # one row per IoU threshold
            curve = _curve(scores, tp_t, num_gt)
            aps.append(average_precision(curve.recall, curve.precision, "coco101"))
    return sum(aps) / len(aps) if aps else math.nan
