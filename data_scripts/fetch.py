"""Download real data sets (online only): ``python data_scripts/fetch.py NAME [NAME ...]``.

NAME is cifar10, fashion_mnist or flower_photos.

Downloads are resumable (run it again after an interruption) and checked against pinned
sha256 (and md5) sums before anything is unpacked. Offline it says, in one sentence, where to
put the archive by hand; the same command then checks and unpacks it without the network. The
work is done by :func:`dlbook_utils.data.remote` (also behind ``dlbook data``), re-exported here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

try:
    from dlbook_utils.data import FETCHABLE, fetch
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dlbook_utils.data import FETCHABLE, fetch

__all__ = ["main", "fetch"]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of :func:`fetch`; returns the exit status.

    0: done; 2: unknown name or a file failing its checks; 1: offline or an unwritable root.
    """
    parser = argparse.ArgumentParser(
        prog="fetch.py", description="Download, check and unpack real data sets into ROOT."
    )
    parser.add_argument("names", nargs="+", metavar="name",
                        help=f"one or more of: {', '.join(FETCHABLE)}")
    parser.add_argument("--root", default=None, help="data folder (default: the checkout's data/, see dlbook_utils.data.data_root)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)
    for name in args.names:
        try:
            fetch(name, args.root, progress=not args.no_progress)
        except ValueError as err:
            print(f"fetch.py: {err}", file=sys.stderr)
            return 2
        except OSError as err:  # ConnectionError, PermissionError, FileNotFoundError
            print(f"fetch.py: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
