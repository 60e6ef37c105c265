"""Checks every box function runs first: shapes, the xyxy order, thresholds, formats.

Explained in: Part 7, lesson 01_boxes_iou_anchors (why ``x2 < x1`` is refused, not silently
clamped). Integer and half-precision boxes come out as float32; float64 stays float64. Each check
raises ``ValueError`` with the offending value and what to do.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "BOX_FORMATS",
    "as_boxes",
    "as_paired_boxes",
    "as_vector",
    "check_box_format",
    "check_same_length",
    "check_unit_interval",
]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def as_boxes(boxes: Tensor, name: str, *, xyxy: bool = True) -> Tensor:
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


def check_box_format(fmt: str, name: str) -> None:
    """Raise unless ``fmt`` is one of ``BOX_FORMATS``."""
    if fmt not in BOX_FORMATS:
        choices = ", ".join(map(repr, BOX_FORMATS))
        raise ValueError(f"Unknown box format {name}={fmt!r}; use one of {choices}.")


def check_unit_interval(value: float, name: str) -> float:
    """``value`` as a float in [0, 1] (an IoU threshold), else ``ValueError`` naming ``name``."""
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


def check_same_length(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Raise unless ``a`` and ``b`` have the same number of rows (paired boxes)."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of rows, got {a.shape[0]} and "
            f"{b.shape[0]}; they must describe the same boxes, row by row."
        )


def as_vector(x: Tensor, name: str, n: int, boxes_name: str = "boxes") -> Tensor:
    """``x`` as a tensor of shape ``[n]`` (one value per box: scores, labels), or ValueError."""
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x)
    if x.dim() != 1 or x.shape[0] != n:
        raise ValueError(
            f"{name} must have shape [N] with N = {n} (one value per row of {boxes_name}), got "
            f"shape {tuple(x.shape)}."
        )
    return x


def as_paired_boxes(
    boxes1: Tensor, boxes2: Tensor, *, check_order1: bool = True
) -> tuple[Tensor, Tensor]:
    """Two checked ``[N, 4]`` xyxy tensors of the same length and dtype (float64 if they differ).

    ``check_order1=False`` checks only the shape of ``boxes1``, not ``x1 <= x2``, ``y1 <= y2``:
    for the predictions of a box loss, which a network regressing raw coordinates can invert
    early in training.
    """
    boxes1 = as_boxes(boxes1, "boxes1", xyxy=check_order1)
    boxes2 = as_boxes(boxes2, "boxes2")
    check_same_length(boxes1, boxes2, "boxes1", "boxes2")
    if boxes1.dtype != boxes2.dtype:
        boxes1, boxes2 = boxes1.double(), boxes2.double()
    return boxes1, boxes2
