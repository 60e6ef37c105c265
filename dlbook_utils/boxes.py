"""Box operations: formats, the IoU family and its losses, NMS, anchors and box coding.

Explained in Part 7, lessons ``01_boxes_iou_anchors`` (formats, IoU, anchors, matching, coding)
and ``02_nms_and_metrics`` (NMS).

Every function takes boxes as a float tensor of shape ``[N, 4]`` in ``(x1, y1, x2, y2)`` format
with ``x1 <= x2`` and ``y1 <= y2`` (pixels, x to the right, y down), except :func:`box_convert`,
which is the one place where other formats come in. Results follow ``torchvision.ops`` (the tests
compare them); where they differ on purpose the docstring says so. Integer and half-precision
boxes are computed in float32; float64 stays float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "box_convert",
    "box_area",
    "box_iou",
    "generalized_box_iou",
    "distance_box_iou",
    "complete_box_iou",
    "iou_loss",
    "generalized_box_iou_loss",
    "distance_box_iou_loss",
    "complete_box_iou_loss",
    "nms",
    "batched_nms",
    "make_anchors",
    "match_anchors",
    "encode_boxes",
    "decode_boxes",
]

_FORMATS = ("xyxy", "xywh", "cxcywh")
_REDUCTIONS = ("none", "mean", "sum")
# torchvision's BoxCoder clip: exp() never sees more than log(1000 / 16), i.e. a box at most
# 62.5 times its anchor's width or height.
_DEFAULT_CLIP = math.log(1000.0 / 16)


# --------------------------------------------------------------------------------------------
# validation helpers


def _as_boxes(boxes: Tensor, name: str, *, xyxy: bool = True) -> Tensor:
    """Check that ``boxes`` is ``[N, 4]`` (and valid xyxy); return it as float32/float64."""
    if not isinstance(boxes, Tensor):
        boxes = torch.as_tensor(boxes)
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{name} must have shape [N, 4] (one box per row), got shape {tuple(boxes.shape)}; "
            f"a single box is {name}[None], a flat list of 4*N numbers is {name}.reshape(-1, 4)."
        )
    if not boxes.is_floating_point() or boxes.dtype not in (torch.float32, torch.float64):
        boxes = boxes.float()
    if xyxy and boxes.numel() > 0:
        b = boxes.detach()
        bad = ~((b[:, 2] >= b[:, 0]) & (b[:, 3] >= b[:, 1]))  # NaN rows are bad too
        if bool(bad.any()):
            r = int(bad.nonzero()[0, 0])
            row = ", ".join(f"{v:g}" for v in b[r].tolist())
            what = "x2 < x1" if not b[r, 2] >= b[r, 0] else "y2 < y1"
            if any(math.isnan(v) for v in b[r].tolist()):
                what = "a NaN coordinate"
            raise ValueError(
                f"{name}[{r}] = ({row}) has {what}, but boxes here must be (x1, y1, x2, y2) with "
                "x1 <= x2 and y1 <= y2. If your boxes are (x, y, w, h) or (cx, cy, w, h), convert "
                "them first: box_convert(boxes, 'xywh', 'xyxy') or box_convert(boxes, 'cxcywh', "
                "'xyxy')."
            )
    return boxes


def _check_fmt(fmt: str, name: str) -> None:
    if fmt not in _FORMATS:
        choices = ", ".join(map(repr, _FORMATS))
        raise ValueError(f"Unknown box format {name}={fmt!r}; use one of {choices}.")


def _check_unit(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}.") from None
    if not 0.0 <= v <= 1.0:
        raise ValueError(
            f"{name} must be in [0, 1] (an IoU is a ratio of areas), got {value!r}; "
            "typical values are 0.5 for matching and 0.5-0.7 for NMS."
        )
    return v


def _check_same_length(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of rows, got {a.shape[0]} and "
            f"{b.shape[0]}; they must describe the same boxes, row by row."
        )


def _as_vector(x: Tensor, name: str, n: int, boxes_name: str = "boxes") -> Tensor:
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x)
    if x.dim() != 1 or x.shape[0] != n:
        raise ValueError(
            f"{name} must have shape [N] with N = {n} (one value per row of {boxes_name}), got "
            f"shape {tuple(x.shape)}."
        )
    return x


# --------------------------------------------------------------------------------------------
# formats and areas


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
    _check_fmt(in_fmt, "in_fmt")
    _check_fmt(out_fmt, "out_fmt")
    boxes = _as_boxes(boxes, "boxes", xyxy=False)
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
    boxes = _as_boxes(boxes, "boxes")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


# --------------------------------------------------------------------------------------------
# pairwise IoU family (N x M)


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


def _box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    inter, union = _inter_union(boxes1, boxes2)
    return _safe_div(inter, union)


def _enclosing_wh(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    lt = torch.min(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    rb = torch.max(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    return (rb - lt).clamp(min=0)


def _pairwise_diou(boxes1: Tensor, boxes2: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    iou = _box_iou(boxes1, boxes2)
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
    return _box_iou(_as_boxes(boxes1, "boxes1"), _as_boxes(boxes2, "boxes2"))


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
    boxes1, boxes2 = _as_boxes(boxes1, "boxes1"), _as_boxes(boxes2, "boxes2")
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
    diou, _ = _pairwise_diou(_as_boxes(boxes1, "boxes1"), _as_boxes(boxes2, "boxes2"), eps)
    return diou


def _aspect_term(w1: Tensor, h1: Tensor, w2: Tensor, h2: Tensor) -> Tensor:
    # atan2(w, h) is atan(w / h) for h > 0 and stays finite for zero-size boxes.
    return (4 / math.pi**2) * (torch.atan2(w1, h1) - torch.atan2(w2, h2)) ** 2


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
    boxes1, boxes2 = _as_boxes(boxes1, "boxes1"), _as_boxes(boxes2, "boxes2")
    diou, iou = _pairwise_diou(boxes1, boxes2, eps)
    w1 = (boxes1[:, 2] - boxes1[:, 0])[:, None]  # (N, 1)
    h1 = (boxes1[:, 3] - boxes1[:, 1])[:, None]  # (N, 1)
    w2 = (boxes2[:, 2] - boxes2[:, 0])[None]  # (1, M)
    h2 = (boxes2[:, 3] - boxes2[:, 1])[None]  # (1, M)
    v = _aspect_term(w1, h1, w2, h2)  # (N, M)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


# --------------------------------------------------------------------------------------------
# losses on paired boxes (row i of boxes1 with row i of boxes2)


def _paired(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    boxes1, boxes2 = _as_boxes(boxes1, "boxes1"), _as_boxes(boxes2, "boxes2")
    _check_same_length(boxes1, boxes2, "boxes1", "boxes2")
    if boxes1.dtype != boxes2.dtype:
        boxes1, boxes2 = boxes1.double(), boxes2.double()
    return boxes1, boxes2


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
        boxes1 (Tensor[N, 4]): predicted boxes, ``(x1, y1, x2, y2)``, ``x1 <= x2``, ``y1 <= y2``.
        boxes2 (Tensor[N, 4]): target boxes in the same format; row ``i`` pairs with row ``i``.
        reduction: ``"none"`` (one loss per pair), ``"mean"`` or ``"sum"``.
        eps: small number added to denominators, as in ``torchvision.ops``.

    Returns:
        Tensor[N] for ``"none"``, else a scalar tensor (``"mean"`` of no boxes is 0, not NaN);
        float32 or float64 like the input. Differentiable with respect to both inputs.

    Raises:
        ValueError: a tensor is not ``[N, 4]``, has a row with ``x2 < x1`` or ``y2 < y1``, the
        two have different numbers of rows, or ``reduction`` is unknown.
    """
    _check_reduction(reduction)
    t = _paired_terms(*_paired(boxes1, boxes2), eps)
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
    t = _paired_terms(*_paired(boxes1, boxes2), eps)
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
    t = _paired_terms(*_paired(boxes1, boxes2), eps)
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
    boxes1, boxes2 = _paired(boxes1, boxes2)
    t = _paired_terms(boxes1, boxes2, eps)
    w1, h1 = boxes1[:, 2] - boxes1[:, 0], boxes1[:, 3] - boxes1[:, 1]
    w2, h2 = boxes2[:, 2] - boxes2[:, 0], boxes2[:, 3] - boxes2[:, 1]
    v = _aspect_term(w2, h2, w1, h1)
    with torch.no_grad():
        alpha = v / (1 - t["iou"] + v + eps)
    return _reduce(1 - t["iou"] + t["centre2"] / t["diag2"] + alpha * v, reduction)


# --------------------------------------------------------------------------------------------
# non-maximum suppression


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
    boxes = _as_boxes(boxes, "boxes")
    scores = _as_vector(scores, "scores", boxes.shape[0])
    iou_threshold = _check_unit(iou_threshold, "iou_threshold")
    order = torch.sort(scores, descending=True, stable=True).indices  # (N,)
    keep = []
    while order.numel() > 0:
        best, rest = order[0], order[1:]
        keep.append(best)
        ious = _box_iou(boxes[best][None], boxes[rest])[0]  # (len(rest),)
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
    boxes = _as_boxes(boxes, "boxes")
    scores = _as_vector(scores, "scores", boxes.shape[0])
    idxs = _as_vector(idxs, "idxs", boxes.shape[0])
    if idxs.is_floating_point() or idxs.is_complex():
        raise ValueError(
            f"idxs must be an integer tensor (one category per box), got {idxs.dtype}."
        )
    _check_unit(iou_threshold, "iou_threshold")
    keep_mask = torch.zeros(boxes.shape[0], dtype=torch.bool, device=boxes.device)
    for category in torch.unique(idxs):
        members = torch.nonzero(idxs == category)[:, 0]
        keep_mask[members[nms(boxes[members], scores[members], iou_threshold)]] = True
    keep = torch.nonzero(keep_mask)[:, 0]
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


# --------------------------------------------------------------------------------------------
# anchors, matching, box coding


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
    anchors = _as_boxes(anchors, "anchors")
    gt_boxes = _as_boxes(gt_boxes, "gt_boxes")
    iou_threshold = _check_unit(iou_threshold, "iou_threshold")
    dtype = torch.promote_types(anchors.dtype, gt_boxes.dtype)
    anchors, gt_boxes = anchors.to(dtype), gt_boxes.to(dtype)
    num_anchors = anchors.shape[0]
    if gt_boxes.shape[0] == 0 or num_anchors == 0:
        return (
            torch.full((num_anchors,), -1, dtype=torch.int64, device=anchors.device),
            torch.zeros(num_anchors, dtype=dtype, device=anchors.device),
        )
    iou = _box_iou(gt_boxes, anchors)  # (G, A)
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
    gt_boxes, anchors = _paired(gt_boxes, anchors)
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
    deltas = _as_boxes(deltas, "deltas", xyxy=False)
    anchors = _as_boxes(anchors, "anchors").to(deltas.dtype)
    _check_same_length(deltas, anchors, "deltas", "anchors")
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
    dw = (deltas[:, 2] / ww).clamp(max=clip)
    dh = (deltas[:, 3] / wh).clamp(max=clip)
    x, y = dx * aw + ax, dy * ah + ay
    half_w, half_h = 0.5 * (torch.exp(dw) * aw), 0.5 * (torch.exp(dh) * ah)
    return torch.stack((x - half_w, y - half_h, x + half_w, y + half_h), dim=1)
