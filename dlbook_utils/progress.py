"""What a training run shows while it runs: a progress bar, a summary line, TensorBoard scalars.

Explained in: Part 4, lesson 03_lenet (``fit``'s progress bar) and Part 2, lesson 05_tensorboard
(the scalars ``fit(tensorboard_dir=...)`` writes). ``DLBOOK_PROGRESS=0`` hides the bars (the
book's builds and ``make test`` set it), ``=1`` forces them.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from dlbook_utils.history import History

__all__ = [
    "PROGRESS_ENV",
    "progress_wanted",
    "progress_bar",
    "in_jupyter_kernel",
    "epoch_summary",
    "summary_writer",
    "write_scalars",
]

PROGRESS_ENV = "DLBOOK_PROGRESS"
_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def epoch_summary(history: History) -> str:
    """One line of the last epoch: ``train loss 0.1234, train acc 0.987, val loss …``."""
    parts = [f"train loss {history.train_loss[-1]:.4f}"]
    if history.train_acc:
        parts.append(f"train acc {history.train_acc[-1]:.3f}")
    if history.val_loss:
        parts.append(f"val loss {history.val_loss[-1]:.4f}")
    if history.val_acc:
        parts.append(f"val acc {history.val_acc[-1]:.3f}")
    return ", ".join(parts)


def write_scalars(writer: Any, history: History, epoch: int) -> None:
    """Write the last epoch's losses, accuracies, metrics, lr and speed to a SummaryWriter."""
    step = epoch + 1
    writer.add_scalar("loss/train", history.train_loss[-1], step)
    if history.val_loss:
        writer.add_scalar("loss/val", history.val_loss[-1], step)
    if history.train_acc:
        writer.add_scalar("acc/train", history.train_acc[-1], step)
    if history.val_acc:
        writer.add_scalar("acc/val", history.val_acc[-1], step)
    for name, values in history.metrics.items():
        split, metric = name.split("_", 1)
        writer.add_scalar(f"{metric}/{split}", values[-1], step)
    writer.add_scalar("lr", history.lr[-1], step)
    writer.add_scalar("examples_per_s", history.examples_per_s[-1], step)


def summary_writer(log_dir: str | os.PathLike[str] | None) -> Any:
    """A TensorBoard ``SummaryWriter`` for ``log_dir``, or None (tensorboard imported only then)."""
    if log_dir is None:
        return None
    from torch.utils.tensorboard import (
        SummaryWriter,  # slow import: only when asked for
    )

    return SummaryWriter(log_dir=os.fspath(log_dir))


def progress_wanted(progress: bool | None) -> bool:
    """Decide whether to draw a progress bar (see ``fit``'s ``progress`` argument)."""
    if progress is not None:
        return bool(progress)
    env = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if env in _OFF:
        return False
    if env in _ON:
        return True
    if env:
        raise ValueError(f"{PROGRESS_ENV}={env!r}: use 1 (show progress bars) or 0 (hide them).")
    if in_jupyter_kernel():
        return True
    stream = sys.stderr  # where tqdm writes in a terminal
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel (where tqdm draws a widget)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ipython = shell.get_ipython()  # type: ignore[attr-defined]
    return ipython is not None and hasattr(ipython, "kernel")


def progress_bar(progress: bool | None, total: int | None) -> Any:
    """A tqdm bar of ``total`` batches when one is wanted (``progress_wanted``), else None."""
    if not progress_wanted(progress):
        return None
    from tqdm.auto import tqdm  # a widget in Jupyter, text in a terminal

    return tqdm(total=total, unit="batch", leave=True, dynamic_ncols=True)
