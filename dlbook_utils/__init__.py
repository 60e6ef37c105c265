"""dlbook_utils: the small helper package the dlbook lessons import.

Only what two or more lessons reuse lives here; each lesson defines its own subject in full.
Every public function names the lesson that explains it.

Names are imported lazily (PEP 562), so ``import dlbook_utils`` and the ``dlbook`` command do not
pay for importing torch until a helper that needs it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["check", "get_device", "seed_everything"]
__version__ = "0.1.0"

_LAZY = {
    "check": "dlbook_utils.checks",
    "get_device": "dlbook_utils.device",
    "seed_everything": "dlbook_utils.device",
}

if TYPE_CHECKING:
    from dlbook_utils.checks import check
    from dlbook_utils.device import get_device, seed_everything


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dlbook_utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
