"""Where the book's data folder is, whoever runs the lesson (dlbook, nbval, Jupyter, Colab)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_root", "DATA_ENV", "ROOT_ENV"]

DATA_ENV = "DLBOOK_DATA"
ROOT_ENV = "DLBOOK_ROOT"


def data_root(explicit: str | Path | None = None) -> Path:
    """The data folder lessons read and write (explained in the book's setup page, "Data").

    In this order: ``explicit`` when given; the ``DLBOOK_DATA`` environment variable; the
    ``data/`` folder of the project named by ``DLBOOK_ROOT`` (set by ``dlbook build``/``run``,
    which execute lessons in a scratch folder); the ``data/`` folder of the dlbook checkout at or
    above the current directory (nbval and Jupyter run a lesson from ``lessons/…``); else
    ``./data`` (Colab).

    Returns:
        An absolute path; the folder is not created.
    """
    if explicit is not None:
        return Path(explicit).expanduser().resolve()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).expanduser().resolve() / "data"
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "dlbook_utils").is_dir():
            return folder / "data"
    return here / "data"
