"""The training loop every lesson after the first network reuses: :func:`fit` and :func:`evaluate`.

Explained in: Part 4, lesson 03_lenet (the loop written out by hand, then replaced by ``fit``).

``fit`` is the hand-written loop of that lesson — ``zero_grad``, forward, loss, ``backward``,
``step`` — plus bookkeeping that costs almost nothing: losses and metrics are summed *on the
device* and read back once per epoch, so a step never waits for the GPU. Its parameters after
an epoch are bit-for-bit those of the hand-written loop (``tests/test_train.py`` checks it) and
``dlbook bench`` measures it against that loop (budget: at most 5 % slower).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from dlbook_utils.accuracy import MetricFn, TopK, accuracy, resolve_metrics, topk_name
from dlbook_utils.device import get_device
from dlbook_utils.history import History
from dlbook_utils.progress import (
    PROGRESS_ENV,
    epoch_summary,
    progress_bar,
    summary_writer,
    write_scalars,
)

__all__ = ["History", "fit", "evaluate", "accuracy", "PROGRESS_ENV"]


def evaluate(
    net: nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None = None,
    device: torch.device | str | None = None,
    topk: int | Sequence[int] = (1,),
) -> dict[str, float]:
    """Mean loss and top-k accuracy of ``net`` over every example of ``loader``.

    Explained in: Part 4, lesson 03_lenet.

    The network runs in ``eval()`` mode under ``torch.no_grad()`` and is put back in the mode it
    was in. Sums stay on the device; the result is read back once, at the end.

    Args:
        net: the model; it is moved to ``device``.
        loader: yields ``(X, y)`` batches (``X`` a tensor, or a tuple of tensors passed as
            ``net(*X)``; ``y`` integer class indices ``Tensor[B]``).
        loss_fn: e.g. ``nn.CrossEntropyLoss()`` (batch mean, or ``reduction="sum"``); ``None``
            skips the loss.
        device: where to run; ``None`` asks :func:`dlbook_utils.get_device`.
        topk: which top-k accuracies to report.

    Returns:
        ``{"loss": …, "acc": …, "top5_acc": …, "num_examples": N}``: ``"acc"`` is top-1,
        ``"top{k}_acc"`` the others; ``"loss"`` only when ``loss_fn`` is given.

    Raises:
        ValueError: ``loader`` yields no batch, ``loss_fn`` is not callable, or a k is invalid.
    """
    if loss_fn is not None and not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable (e.g. nn.CrossEntropyLoss()), got {loss_fn!r}.")
    ks = (topk,) if isinstance(topk, int) else tuple(topk)
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(f"topk must be positive ints, got {topk!r}.")
    device = _resolve_device(device)
    net.to(device)
    metrics = {topk_name(k): TopK(k) for k in ks}
    sums, n = _eval_pass(net, loader, loss_fn, metrics, device)
    if n == 0:
        raise ValueError(f"loader yields no batches ({loader!r}): nothing to evaluate.")
    values = (sums / n).tolist()  # one device→host copy
    out: dict[str, float] = {}
    if loss_fn is not None:
        out["loss"] = values[0]
    for name, value in zip(metrics, values[1:]):
        out[name] = value
    out["num_examples"] = n
    return out


def fit(
    net: nn.Module,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None = None,
    *,
    num_epochs: int = 10,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 0.1,
    device: torch.device | str | None = None,
    scheduler: Any | None = None,
    scheduler_step: str = "epoch",
    clip_grad_norm: float | None = None,
    amp: bool = False,
    metrics: Sequence[str | MetricFn] | Mapping[str, MetricFn] = ("accuracy",),
    tensorboard_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    verbose: bool = False,
    log_every: int = 1,
) -> History:
    """Train ``net`` for ``num_epochs`` epochs and return its per-epoch :class:`History`.

    Explained in: Part 4, lesson 03_lenet.

    Each step is exactly the hand-written loop ``optimizer.zero_grad(); loss_fn(net(X),
    y).backward(); optimizer.step()``, so with the same seed, data and optimizer ``fit`` gives
    the same parameters. Losses and metrics are summed on the device, weighted by batch size,
    and read back once per epoch (no per-step ``.item()``).

    Args:
        net: the model; moved to ``device``.
        train_loader: yields ``(X, y)`` batches: ``X`` a tensor (or a tuple of tensors, passed
            as ``net(*X)``), ``y`` the targets (class indices ``Tensor[B]`` for the accuracy).
        val_loader: optional; evaluated after every epoch (``eval()`` mode, ``no_grad``).
        num_epochs: number of passes over ``train_loader`` (>= 1).
        loss_fn: returns the batch *mean* (or the sum, when its ``reduction`` is ``"sum"``);
            default ``nn.CrossEntropyLoss()``.
        optimizer: default ``torch.optim.SGD(net.parameters(), lr=lr)``.
        lr: learning rate of the default optimizer (ignored when ``optimizer`` is given).
        device: ``None`` asks :func:`dlbook_utils.get_device` (honours ``DLBOOK_DEVICE``).
        scheduler: an lr scheduler, stepped once per epoch after validation (the PyTorch
            convention); ``ReduceLROnPlateau`` is stepped with the validation loss (the training
            loss without a ``val_loader``).
        scheduler_step: ``"epoch"`` (default) or ``"batch"`` (after every optimizer step, for
            warm-up and one-cycle schedules).
        clip_grad_norm: if given, clip the global L2 norm of all gradients to this value before
            each step (``torch.nn.utils.clip_grad_norm_``).
        amp: mixed precision (float16 autocast + gradient scaling) — on CUDA only. On the CPU it
            warns once and trains in float32, so a lesson runs unchanged on either kernel.
        metrics: names (``"accuracy"``, ``"top5"``) or callables ``fn(y_hat, y) -> Tensor`` (a
            0-dim batch mean), as a sequence (named after ``fn.__name__``) or a ``{name: fn}``
            mapping. Accuracy goes to ``train_acc``/``val_acc``; the others to
            ``history.metrics["train_<name>"]`` and ``["val_<name>"]``. Regression: ``()``.
        tensorboard_dir: if given, scalars per epoch (``loss/train``, ``loss/val``, ``acc/…``,
            ``lr``) are written there with ``torch.utils.tensorboard.SummaryWriter``.
        progress: show a tqdm progress bar (terminal or notebook). ``None`` (default): off when
            the environment variable ``DLBOOK_PROGRESS`` is ``0`` (the book's runner and the
            tests set it), on when it is ``1``, else on in a Jupyter kernel or a terminal and
            off when output goes to a file or pipe.
        verbose: print one summary line per epoch (every ``log_every`` epochs and the last).
        log_every: epochs between ``verbose`` lines.

    Returns:
        The :class:`History` of the run.

    Raises:
        ValueError: ``num_epochs < 1``, an empty loader, a non-callable ``loss_fn``, an unknown
            metric name, ``clip_grad_norm <= 0``, ``log_every < 1`` or a bad ``scheduler_step``.
    """
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be an int >= 1, got {num_epochs!r}.")
    if loss_fn is None:
        loss_fn = nn.CrossEntropyLoss()
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable (e.g. nn.CrossEntropyLoss()), got {loss_fn!r}.")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be > 0 or None, got {clip_grad_norm!r}.")
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1:
        raise ValueError(f"log_every must be an int >= 1, got {log_every!r}.")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}.")
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and scheduler_step == "batch":
        raise ValueError("ReduceLROnPlateau needs a per-epoch loss: use scheduler_step='epoch'.")
    for name, loader in (("train_loader", train_loader), ("val_loader", val_loader)):
        if loader is not None and _safe_len(loader) == 0:
            raise ValueError(f"{name} has no batches (len 0): {loader!r}.")
    metric_fns = resolve_metrics(metrics)

    device = _resolve_device(device)
    net.to(device)
    if optimizer is None:
        optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    use_amp = _amp_enabled(amp, device)
    scaler = _grad_scaler() if use_amp else None
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.float16)) if use_amp else nullcontext
    )
    sum_loss = getattr(loss_fn, "reduction", "mean") == "sum"

    history = History()
    num_batches = _safe_len(train_loader)
    bar = progress_bar(progress, num_epochs * num_batches if num_batches else None)
    writer = summary_writer(tensorboard_dir)
    try:
        for epoch in range(num_epochs):
            history.lr.append(float(optimizer.param_groups[0]["lr"]))
            if bar is not None:
                bar.set_description(f"epoch {epoch + 1}/{num_epochs}")
            start = time.perf_counter()
            net.train()
            # Running sums live on the device: row 0 the loss, then one row per metric.
            sums = torch.zeros(1 + len(metric_fns), dtype=_sum_dtype(device), device=device)
            rows = sums.unbind()
            n = 0
            for batch in train_loader:
                X, y = _to_device(batch, device)
                b = y.shape[0]
                optimizer.zero_grad()
                with autocast():
                    y_hat = _forward(net, X)
                    loss = loss_fn(y_hat, y)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    if clip_grad_norm is not None:
                        scaler.unscale_(optimizer)
                        nn.utils.clip_grad_norm_(net.parameters(), clip_grad_norm)
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    if clip_grad_norm is not None:
                        nn.utils.clip_grad_norm_(net.parameters(), clip_grad_norm)
                    optimizer.step()
                if scheduler is not None and scheduler_step == "batch":
                    scheduler.step()
                with torch.no_grad():
                    _accumulate(rows, loss, y_hat, y, b, metric_fns, sum_loss)
                n += b
                if bar is not None:
                    bar.update()
            if n == 0:
                raise ValueError(f"train_loader yielded no batches: {train_loader!r}.")
            train_values = (sums / n).tolist()  # the epoch's one sync: waits for the device
            train_time = time.perf_counter() - start

            val_values: list[float] | None = None
            if val_loader is not None:
                val_sums, val_n = _eval_pass(net, val_loader, loss_fn, metric_fns, device)
                if val_n == 0:
                    raise ValueError(f"val_loader yielded no batches: {val_loader!r}.")
                val_values = (val_sums / val_n).tolist()
            epoch_time = time.perf_counter() - start

            _record(history, train_values, val_values, list(metric_fns))
            history.epoch_time.append(epoch_time)
            history.examples_per_s.append(n / train_time if train_time > 0 else math.inf)
            if not math.isfinite(train_values[0]):
                warnings.warn(
                    f"fit: training loss is {train_values[0]} in epoch {epoch + 1}; "
                    "try a smaller lr or clip_grad_norm.",
                    RuntimeWarning,
                    stacklevel=2,
                )
            if scheduler is not None and scheduler_step == "epoch":
                if plateau:
                    scheduler.step(val_values[0] if val_values is not None else train_values[0])
                else:
                    scheduler.step()
            summary = epoch_summary(history)
            if bar is not None:
                bar.set_postfix_str(summary, refresh=True)
            if writer is not None:
                write_scalars(writer, history, epoch)
            if verbose and ((epoch + 1) % log_every == 0 or epoch + 1 == num_epochs):
                line = f"epoch {epoch + 1}/{num_epochs}: {summary}, {epoch_time:.1f} s"
                if bar is not None:
                    bar.write(line)  # above the bar, not through it
                else:
                    print(line)
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    return history


def _safe_len(loader: Iterable[Any]) -> int | None:
    """``len(loader)``, or ``None`` for loaders without one (iterable data sets)."""
    try:
        return len(loader)  # type: ignore[arg-type]
    except TypeError:
        return None


def _resolve_device(device: torch.device | str | None) -> torch.device:
    if isinstance(device, torch.device):
        return device
    return get_device(device)


_amp_warned = False


def _amp_enabled(amp: bool, device: torch.device) -> bool:
    global _amp_warned
    if not amp:
        return False
    if device.type == "cuda":
        return True
    if not _amp_warned:
        warnings.warn(
            f"fit(amp=True) uses mixed precision on CUDA only; training in float32 on {device}.",
            UserWarning,
            stacklevel=3,
        )
        _amp_warned = True
    return False


def _grad_scaler() -> Any:
    """A CUDA GradScaler: ``torch.amp.GradScaler`` from torch 2.3, ``torch.cuda.amp`` before."""
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def _to_device(batch: Any, device: torch.device) -> tuple[Any, torch.Tensor]:
    try:
        X, y = batch
    except (TypeError, ValueError):
        raise ValueError(
            f"Each batch must be a pair (X, y); got {type(batch).__name__}."
        ) from None
    non_blocking = device.type == "cuda"
    if isinstance(X, (tuple, list)):
        X = tuple(x.to(device, non_blocking=non_blocking) for x in X)
    else:
        X = X.to(device, non_blocking=non_blocking)
    return X, y.to(device, non_blocking=non_blocking)


def _forward(net: nn.Module, X: Any) -> torch.Tensor:
    return net(*X) if isinstance(X, tuple) else net(X)


def _accumulate(
    rows: Sequence[torch.Tensor],
    loss: torch.Tensor,
    y_hat: torch.Tensor,
    y: torch.Tensor,
    b: int,
    metric_fns: Mapping[str, MetricFn],
    sum_loss: bool,
) -> None:
    """Add one batch's loss and metrics, weighted by its ``b`` examples, to the running sums.

    ``rows`` are 0-dim views of the sums tensor (loss first, then one per metric): in-place adds
    on the device, about five small kernels a step and no host sync.
    """
    rows[0].add_(loss.detach(), alpha=1 if sum_loss else b)
    for row, fn in zip(rows[1:], metric_fns.values()):
        if isinstance(fn, TopK):
            row.add_(fn.count(y_hat, y))
        else:
            row.add_(torch.as_tensor(fn(y_hat, y), device=row.device), alpha=b)


def _sum_dtype(device: torch.device) -> torch.dtype:
    """float64 running sums (exact counts, 0.761 not 0.76099998) where the device has it."""
    return torch.float32 if device.type == "mps" else torch.float64


def _eval_pass(
    net: nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None,
    metric_fns: Mapping[str, MetricFn],
    device: torch.device,
) -> tuple[torch.Tensor, int]:
    """Summed loss (row 0; 0 without ``loss_fn``) and metrics over ``loader``, and its size."""
    was_training = net.training
    net.eval()
    sums = torch.zeros(1 + len(metric_fns), dtype=_sum_dtype(device), device=device)
    rows = sums.unbind()
    sum_loss = getattr(loss_fn, "reduction", "mean") == "sum"
    n = 0
    try:
        with torch.no_grad():
            for batch in loader:
                X, y = _to_device(batch, device)
                y_hat = _forward(net, X)
                loss = loss_fn(y_hat, y) if loss_fn is not None else y_hat.new_zeros(())
                _accumulate(rows, loss, y_hat, y, y.shape[0], metric_fns, sum_loss)
                n += y.shape[0]
    finally:
        net.train(was_training)
    return sums, n


def _record(
    history: History,
    train_values: list[float],
    val_values: list[float] | None,
    names: list[str],
) -> None:
    history.train_loss.append(train_values[0])
    if val_values is not None:
        history.val_loss.append(val_values[0])
    for i, name in enumerate(names, start=1):
        for split, values in (("train", train_values), ("val", val_values)):
            if values is None:
                continue
            if name == "acc":
                getattr(history, f"{split}_acc").append(values[i])
            else:
                history.metrics.setdefault(f"{split}_{name}", []).append(values[i])
