"""Files and folders written safely: one writable-folder check, one atomic folder swap, md5.

Used by the stand-ins (:mod:`~dlbook_utils.data.standins`), ``fetch`` and ``prepare``: a folder
is written under a temporary name and renamed into place, so an interrupted write never leaves
half a data set where a loader would read it.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

__all__ = ["STAND_IN_MARKER", "ensure_dir", "replace_dir", "md5_of", "write_text_file"]

# The file that marks a folder as a stand-in written by this package, not the real data set.
STAND_IN_MARKER = "DLBOOK_STAND_IN.json"


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents); turn OS errors into one sentence naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-")
        probe.close()
    except PermissionError as err:
        raise PermissionError(
            f"Cannot write under {path}: permission denied; pass a writable folder as root "
            "(--root on the command line)."
        ) from err
    except OSError as err:
        raise FileNotFoundError(
            f"Cannot create the folder {path} ({err.strerror or err}); pass a writable folder "
            "as root (--root on the command line)."
        ) from err
    return path


def md5_of(path: Path) -> str:
    """The md5 hex digest of a file (an integrity check, not security)."""
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished folder ``tmp`` to ``final`` (replacing it), never leaving half a folder."""
    old = tmp.with_name(tmp.name + ".old")
    tmp.chmod(0o755)  # mkdtemp made it private (0o700)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def write_text_file(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path``, creating its folder; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
