"""Write the book's synthetic data sets to disk: ``python data_scripts/prepare.py [names ...|all]``.

Offline and deterministic; a second run skips every set whose manifest is up to date. The work
is done by :func:`dlbook_utils.data.disk` (also behind ``dlbook data``), re-exported here.

Examples::

    python data_scripts/prepare.py                      # all sets into ./data
    python data_scripts/prepare.py shapes_detection --root /tmp/data --n 200
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

try:
    from dlbook_utils.data import PREPARABLE, prepare
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dlbook_utils.data import PREPARABLE, prepare

__all__ = ["main", "prepare"]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of :func:`prepare`; returns the exit status (0 ok, 2 bad input, 1 OS error)."""
    parser = argparse.ArgumentParser(
        prog="prepare.py", description="Write the synthetic data sets to ROOT/<name>/."
    )
    parser.add_argument("names", nargs="*", default=["all"],
                        help=f"data sets to write: {', '.join(PREPARABLE)}, or all (default)")
    parser.add_argument("--root", default=None, help="data folder (default: the checkout's data/, see dlbook_utils.data.data_root)")
    parser.add_argument("--n", type=int, default=None,
                        help="training images per set (default: each set's own)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)
    try:
        prepare(args.names, args.root, n=args.n, seed=args.seed, progress=not args.no_progress)
    except ValueError as err:
        print(f"prepare.py: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"prepare.py: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
