"""dlbook_utils: the small helper package the dlbook lessons import.

Only what two or more lessons reuse lives here; each lesson defines its own subject in full.
Every public function names the lesson that explains it. One module per concept:

- :mod:`dlbook_utils.checks` — ``check``, ``check_at_least``, ``check_at_most``: the executed
  claims of every lesson, printed with what was measured
- :mod:`dlbook_utils.device` — ``get_device`` (honours ``DLBOOK_DEVICE``), ``seed_everything``
- :mod:`dlbook_utils.train` — ``fit``, ``evaluate``; :mod:`~dlbook_utils.history` ``History``;
  :mod:`~dlbook_utils.accuracy` top-k accuracy; :mod:`~dlbook_utils.progress` progress bars
- :mod:`dlbook_utils.plot` — curves, image grids, boxes, masks, attention, feature maps, confusion
  matrices, a function and its derivative, board diagrams
- :mod:`dlbook_utils.data` — offline data: digits, photos, faces, synthetic shapes (classification,
  detection, segmentation, captions), texture defects, annotation formats, real-or-stand-in sets
- :mod:`dlbook_utils.boxes` — box formats, the IoU family and losses, NMS, anchors, encode/decode
- :mod:`dlbook_utils.metrics` — precision/recall curves, AP (VOC, COCO), mAP
- :mod:`dlbook_utils.bench` — the training-loop benchmark of ``make bench``
- :mod:`dlbook_utils.bookbuild` — the ``dlbook`` command (not imported by lessons)

The most used names are also available at the top level.

Names are imported lazily (PEP 562), so ``import dlbook_utils`` and the ``dlbook`` command do not
pay for importing torch until a helper that needs it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "check",
    "check_at_least",
    "check_at_most",
    "check_raises",
    "get_device",
    "seed_everything",
    "fit",
    "evaluate",
    "History",
]
__version__ = "0.1.0"

_LAZY = {
    "check": "dlbook_utils.checks",
    "check_at_least": "dlbook_utils.checks",
    "check_at_most": "dlbook_utils.checks",
    "check_raises": "dlbook_utils.checks",
    "get_device": "dlbook_utils.device",
    "seed_everything": "dlbook_utils.device",
    "fit": "dlbook_utils.train",
    "evaluate": "dlbook_utils.train",
    "History": "dlbook_utils.history",
}

if TYPE_CHECKING:
    from dlbook_utils.checks import check, check_at_least, check_at_most, check_raises
    from dlbook_utils.device import get_device, seed_everything
    from dlbook_utils.history import History
    from dlbook_utils.train import evaluate, fit


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dlbook_utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
