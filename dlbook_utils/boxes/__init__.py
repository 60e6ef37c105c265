"""Box operations: formats, the IoU family and its losses, NMS, anchors and box coding.

Explained in Part 7, lessons ``01_boxes_iou_anchors`` (formats, IoU, anchors, matching, coding)
and ``02_nms_and_metrics`` (NMS). One module per concept:

- :mod:`~dlbook_utils.boxes.validate` — the checks every function runs first
- :mod:`~dlbook_utils.boxes.iou` — ``box_convert``, ``box_area`` and the pairwise IoU family
- :mod:`~dlbook_utils.boxes.losses` — IoU, GIoU, DIoU, CIoU losses on paired boxes
- :mod:`~dlbook_utils.boxes.nms` — ``nms``, ``batched_nms``
- :mod:`~dlbook_utils.boxes.anchors` — ``make_anchors``, ``match_anchors``, box coding

Every function takes boxes as a float tensor of shape ``[N, 4]`` in ``(x1, y1, x2, y2)`` format
with ``x1 <= x2`` and ``y1 <= y2`` (pixels, x to the right, y down), except ``box_convert``,
which is the one place where other formats come in. Results follow ``torchvision.ops`` (the tests
compare them); where they differ on purpose the docstring says so. Every name below is
importable from ``dlbook_utils.boxes``.
"""

from __future__ import annotations

from dlbook_utils.boxes.anchors import (
    decode_boxes,
    encode_boxes,
    make_anchors,
    match_anchors,
)
from dlbook_utils.boxes.iou import (
    box_area,
    box_convert,
    box_iou,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
)
from dlbook_utils.boxes.losses import (
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou_loss,
    iou_loss,
)
from dlbook_utils.boxes.nms import batched_nms, nms

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
