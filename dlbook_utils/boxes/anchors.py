"""Anchors on a feature-map grid, matching anchors to ground-truth boxes, and box coding.

Explained in: Part 7, lesson 01_boxes_iou_anchors (anchors ``w = s·√r``, ``h = s/√r``, matching,
the offsets of ``encode_boxes`` / ``decode_boxes`` == torchvision's ``BoxCoder``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from dlbook_utils.boxes.iou import pairwise_iou
from dlbook_utils.boxes.validate import (
    as_boxes,
    as_paired_boxes,
    check_same_length,
    check_unit_interval,
)

__all__ = ["make_anchors", "match_anchors", "encode_boxes", "decode_boxes"]

# torchvision's BoxCoder clip: exp() never sees more than log(1000 / 16), i.e. a box at most
# 62.5 times its anchor's width or height.
_DEFAULT_CLIP = math.log(1000.0 / 16)


def make_anchors(
    feature_size: tuple[int, int],
    stride: float,
    sizes: Sequence[float],
    ratios: Sequence[float] = (0.5, 1.0, 2.0),
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Anchor boxes（锚框）for every cell of a feature map.

    Cell ``(i, j)`` (row ``i``, column ``j``) is centred on the image point
    ``((j + 0.5) * stride, (i + 0.5) * stride)``. Each cell gets ``A = len(sizes) * len(ratios)``
    anchors: for size ``s`` and ratio ``r = h / w`` the anchor has area ``s²``, width
    ``s / sqrt(r)`` and height ``s * sqrt(r)``.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        feature_size: ``(H, W)``, the feature map's height and width in cells.
        stride: pixels per cell (the image is ``H * stride`` by ``W * stride``), positive.
        sizes: anchor side lengths in pixels (square-root of the area), positive.
        ratios: aspect ratios ``h / w``, positive.
        dtype: dtype of the result.
        device: device of the result.

    Returns:
        Tensor[H * W * A, 4]: anchors in ``(x1, y1, x2, y2)`` format. Row-major over cells, then
        sizes, then ratios: anchor ``((i * W + j) * len(sizes) + k) * len(ratios) + l`` belongs
        to cell ``(i, j)``, size ``sizes[k]`` and ratio ``ratios[l]``, so ``.view(H, W, A, 4)``
        lines up with a ``[H, W]`` feature map.

    Raises:
        ValueError: ``feature_size`` is not two non-negative integers, or ``stride``, a size or a
        ratio is not positive, or ``sizes``/``ratios`` is empty.
    """
    if (
        len(feature_size) != 2
        or any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in feature_size)
    ):
        raise ValueError(
            f"feature_size must be (H, W), two non-negative ints, got {feature_size!r}; for a "
            "feature map x of shape [B, C, H, W] pass tuple(x.shape[-2:])."
        )
    if not stride > 0:
        raise ValueError(f"stride must be positive (pixels per feature-map cell), got {stride!r}.")
    for name, values in (("sizes", sizes), ("ratios", ratios)):
        if len(values) == 0 or any(not v > 0 for v in values):
            raise ValueError(
                f"{name} must be a non-empty list of positive numbers, got {values!r}."
            )
    h, w = feature_size
    size = torch.as_tensor(sizes, dtype=torch.float64)[:, None]  # (S, 1)
    root = torch.as_tensor(ratios, dtype=torch.float64).sqrt()[None, :]  # (1, R)
    half_w = (size / root / 2).reshape(-1)  # (A,) sizes outer, ratios inner
    half_h = (size * root / 2).reshape(-1)  # (A,)
    base = torch.stack((-half_w, -half_h, half_w, half_h), dim=1)  # (A, 4)
    cy = (torch.arange(h, dtype=torch.float64) + 0.5) * stride  # (H,)
    cx = (torch.arange(w, dtype=torch.float64) + 0.5) * stride  # (W,)
    cy, cx = torch.meshgrid(cy, cx, indexing="ij")  # (H, W) each
    centres = torch.stack((cx, cy, cx, cy), dim=-1).reshape(-1, 1, 4)  # (H*W, 1, 4)
    anchors = (centres + base[None]).reshape(-1, 4)  # (H*W*A, 4)
    return anchors.to(dtype=dtype, device=device)


def match_anchors(
    anchors: Tensor, gt_boxes: Tensor, iou_threshold: float = 0.5
) -> tuple[Tensor, Tensor]:
    """Assign each anchor a ground-truth box (or background) by IoU.

    1. Each anchor takes the ground-truth box it overlaps most (ties: the lower gt index) if
       that IoU is ``>= iou_threshold``; otherwise it is background (``-1``).
    2. Then every ground-truth box is given its best anchor, even below the threshold, so that
       no object is left without a positive anchor. Boxes are served in order of their best IoU
       (highest first; ties: lower index); a box whose best anchor was already given to an
       earlier box takes its best anchor among those not yet given. A box that overlaps no
       anchor at all (best IoU 0) stays unmatched.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        anchors (Tensor[A, 4]): anchors in ``(x1, y1, x2, y2)`` format, e.g. from
            :func:`make_anchors`.
        gt_boxes (Tensor[G, 4]): ground-truth boxes in the same format.
        iou_threshold: in ``[0, 1]``; IoU at or above which an anchor is positive.

    Returns:
        (matched, iou):
        ``matched`` (Tensor[A], int64): index into ``gt_boxes`` for each anchor, ``-1`` for
        background. ``iou`` (Tensor[A], float like the boxes): the IoU of each anchor with its
        matched box, or for background anchors its largest IoU with any box (0 when ``G == 0``),
        so that e.g. ``(matched < 0) & (iou > 0.3)`` marks the anchors Faster R-CNN ignores.

    Raises:
        ValueError: bad boxes (see :func:`box_iou`) or ``iou_threshold`` outside ``[0, 1]``.
    """
    anchors = as_boxes(anchors, "anchors")
    gt_boxes = as_boxes(gt_boxes, "gt_boxes")
    iou_threshold = check_unit_interval(iou_threshold, "iou_threshold")
    dtype = torch.promote_types(anchors.dtype, gt_boxes.dtype)
    anchors, gt_boxes = anchors.to(dtype), gt_boxes.to(dtype)
    num_anchors = anchors.shape[0]
    if gt_boxes.shape[0] == 0 or num_anchors == 0:
        return (
            torch.full((num_anchors,), -1, dtype=torch.int64, device=anchors.device),
            torch.zeros(num_anchors, dtype=dtype, device=anchors.device),
        )
    iou = pairwise_iou(gt_boxes, anchors)  # (G, A)
    best_iou, best_gt = iou.max(dim=0)  # (A,) first maximum on ties
    positive = best_iou.double() >= iou_threshold  # float64: 0.3 means 0.3, not float32(0.3)
    matched = torch.where(positive, best_gt, torch.full_like(best_gt, -1))
    gt_order = torch.sort(iou.max(dim=1).values, descending=True, stable=True).indices  # (G,)
    taken = torch.zeros(num_anchors, dtype=torch.bool, device=anchors.device)
    for g in gt_order.tolist():
        row = iou[g].masked_fill(taken, -1.0)  # (A,)
        a = int(row.argmax())
        if row[a] <= 0:
            continue
        matched[a] = g
        taken[a] = True
    matched_iou = iou.gather(0, matched.clamp(min=0)[None])[0]  # (A,)
    return matched, torch.where(matched >= 0, matched_iou, best_iou)


def _check_weights(weights: Sequence[float]) -> tuple[float, float, float, float]:
    if len(weights) != 4 or any(not w > 0 for w in weights):
        raise ValueError(
            f"weights must be four positive numbers (wx, wy, ww, wh), got {weights!r}; Faster "
            "R-CNN uses (10, 10, 5, 5) for its box head and (1, 1, 1, 1) for its RPN."
        )
    wx, wy, ww, wh = (float(w) for w in weights)
    return wx, wy, ww, wh


def _check_positive_size(boxes: Tensor, name: str) -> None:
    small = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    if bool(small.any()):
        r = int(small.nonzero()[0, 0])
        row = ", ".join(f"{v:g}" for v in boxes[r].tolist())
        raise ValueError(
            f"{name}[{r}] = ({row}) has zero width or height; its log-size is -inf. Drop such "
            f"boxes first, e.g. keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])."
        )


def encode_boxes(
    gt_boxes: Tensor, anchors: Tensor, weights: Sequence[float] = (10.0, 10.0, 5.0, 5.0)
) -> Tensor:
    """Regression targets of ``gt_boxes`` relative to ``anchors`` (Faster R-CNN parametrisation).

    With centres ``(x, y)`` and sizes ``(w, h)`` of a box and ``(xa, ya, wa, ha)`` of its anchor:
    ``dx = wx (x - xa) / wa``, ``dy = wy (y - ya) / ha``, ``dw = ww log(w / wa)``,
    ``dh = wh log(h / ha)``. Same numbers as torchvision's ``BoxCoder.encode_single``.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        gt_boxes (Tensor[N, 4]): target boxes, ``(x1, y1, x2, y2)``, positive width and height.
        anchors (Tensor[N, 4]): the anchor of each target (row ``i`` with row ``i``), same
            format, positive width and height.
        weights: ``(wx, wy, ww, wh)``, scale the deltas to roughly unit variance.

    Returns:
        Tensor[N, 4]: deltas ``(dx, dy, dw, dh)``, float32 or float64.

    Raises:
        ValueError: bad boxes (see :func:`box_iou`), a box of zero width or height, different
        numbers of rows, or ``weights`` not four positive numbers.
    """
    wx, wy, ww, wh = _check_weights(weights)
    gt_boxes, anchors = as_paired_boxes(gt_boxes, anchors)
    _check_positive_size(gt_boxes.detach(), "gt_boxes")
    _check_positive_size(anchors.detach(), "anchors")
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    gw, gh = gt_boxes[:, 2] - gt_boxes[:, 0], gt_boxes[:, 3] - gt_boxes[:, 1]
    gx, gy = gt_boxes[:, 0] + 0.5 * gw, gt_boxes[:, 1] + 0.5 * gh
    dx, dy = wx * (gx - ax) / aw, wy * (gy - ay) / ah
    dw, dh = ww * torch.log(gw / aw), wh * torch.log(gh / ah)
    return torch.stack((dx, dy, dw, dh), dim=1)


def decode_boxes(
    deltas: Tensor,
    anchors: Tensor,
    weights: Sequence[float] = (10.0, 10.0, 5.0, 5.0),
    clip: float = _DEFAULT_CLIP,
) -> Tensor:
    """Boxes from regression deltas and their anchors; the inverse of :func:`encode_boxes`.

    ``x = dx / wx * wa + xa``, ``w = exp(min(dw / ww, clip)) * wa`` (and the same for ``y``,
    ``h``), then converted to corners. ``decode_boxes(encode_boxes(b, a), a) == b`` up to
    rounding whenever no ``log(w / wa)`` exceeds ``clip``. Same numbers as torchvision's
    ``BoxCoder.decode_single``.

    Explained in: Part 7, lesson 01_boxes_iou_anchors.

    Args:
        deltas (Tensor[N, 4]): ``(dx, dy, dw, dh)``, e.g. a network's box-regression output.
        anchors (Tensor[N, 4]): the anchor of each row, ``(x1, y1, x2, y2)``.
        weights: the ``(wx, wy, ww, wh)`` used to encode.
        clip: upper bound on ``dw / ww`` and ``dh / wh`` so ``exp`` cannot overflow; the default
            ``log(1000 / 16)`` is torchvision's.

    Returns:
        Tensor[N, 4]: boxes in ``(x1, y1, x2, y2)`` format with ``x1 <= x2``, ``y1 <= y2``.

    Raises:
        ValueError: ``deltas`` or ``anchors`` not ``[N, 4]``, different numbers of rows, anchors
        with ``x2 < x1`` or ``y2 < y1``, or ``weights`` not four positive numbers.
    """
    wx, wy, ww, wh = _check_weights(weights)
    deltas = as_boxes(deltas, "deltas", xyxy=False)
    anchors = as_boxes(anchors, "anchors").to(deltas.dtype)
    check_same_length(deltas, anchors, "deltas", "anchors")
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
    dw = (deltas[:, 2] / ww).clamp(max=clip)
    dh = (deltas[:, 3] / wh).clamp(max=clip)
    x, y = dx * aw + ax, dy * ah + ay
    half_w, half_h = 0.5 * (torch.exp(dw) * aw), 0.5 * (torch.exp(dh) * ah)
    return torch.stack((x - half_w, y - half_h, x + half_w, y + half_h), dim=1)
