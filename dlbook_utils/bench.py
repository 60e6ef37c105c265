"""The training-loop benchmark behind the budget "``fit`` is at most 5 % slower than a bare loop".

Run by ``dlbook bench``; the loop it measures is explained in Part 4, lesson 03_lenet.

:func:`bench_training_loop` trains the same model (same seed, so the same initial weights) on
the same data with a bare hand-written PyTorch loop and with :func:`dlbook_utils.train.fit`,
alternately, several times, after one discarded warm-up round, with a fixed number of torch
threads, and reports the ratio of the medians. When the ``d2l`` package can be imported it
times d2l's ``train_ch6`` on the same model and data as well. ``dlbook bench`` calls
:func:`main`; nothing here is a timed test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlbook_utils.device import get_device, seed_everything
from dlbook_utils.train import fit

__all__ = ["bench_training_loop", "small_cnn", "synthetic_images", "main", "BUDGET"]

BUDGET = 1.05  # fit may take at most 5 % longer than the bare loop (DESIGN.md, "Budgets")
D2L_INSTALL = "pip install --no-deps d2l"  # d2l pins old numpy/torch; --no-deps keeps ours


def small_cnn(num_classes: int = 10) -> nn.Module:
    """A LeNet-sized CNN for ``Tensor[B, 3, 32, 32]`` images: the benchmark's default model."""
    return nn.Sequential(
        nn.Conv2d(3, 16, kernel_size=3, padding=1), nn.ReLU(),  # (B, 16, 32, 32)
        nn.MaxPool2d(2),  # (B, 16, 16, 16)
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(),  # (B, 32, 16, 16)
        nn.MaxPool2d(2),  # (B, 32, 8, 8)
        nn.Flatten(),  # (B, 2048)
        nn.Linear(32 * 8 * 8, num_classes),  # (B, num_classes)
    )


def synthetic_images(
    num_examples: int = 4096, num_classes: int = 10, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random images with learnable labels (a fixed linear rule on 4×4-pooled pixels).

    Returns:
        ``X`` float32 ``Tensor[N, 3, 32, 32]``; ``y`` int64 ``Tensor[N]`` in ``[0, num_classes)``.
    """
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(num_examples, 3, 32, 32, generator=gen)  # (N, 3, 32, 32)
    pooled = nn.functional.avg_pool2d(X, 8).flatten(1)  # (N, 48)
    w = torch.randn(pooled.shape[1], num_classes, generator=gen)  # (48, C)
    return X, (pooled @ w).argmax(dim=1)  # (N,)


def bench_training_loop(
    model_fn: Callable[[], nn.Module] = small_cnn,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    epochs: int = 5,
    repeats: int = 5,
    *,
    batch_size: int = 128,
    num_examples: int = 4096,
    val_fraction: float = 0.2,
    lr: float = 0.05,
    threads: int | None = None,
    device: torch.device | str | None = "cpu",
    with_d2l: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Time a bare PyTorch loop, :func:`~dlbook_utils.train.fit` and d2l's ``train_ch6``.

    Every run builds ``model_fn()`` after seeding with ``seed`` (so every loop starts from the
    same weights — except d2l's, which re-initialises them with Xavier inside ``train_ch6``),
    trains it with SGD(lr) and cross-entropy for ``epochs`` epochs and evaluates it on the
    validation split after each epoch. The loops run interleaved, in a rotating order, ``repeats``
    times after one warm-up round that is discarded.

    The bare loop and ``fit`` must end with identical parameters; ``same_parameters`` reports it
    (it is checked on the warm-up round), so the timing compares the same work.

    d2l's ``train_ch6`` needs at least 5 batches per epoch (it divides by ``num_batches // 5``);
    when it raises, the error is reported as ``d2l_failed`` and the other loops go on.

    Importing d2l switches matplotlib to the Agg backend. d2l's loop includes drawing its ``Animator`` (matplotlib, made headless with the Agg backend)
    about 5 times per epoch and a ``float()`` sync per step; outside Jupyter its
    ``display()`` prints the figure's repr (swallowed here) instead of rendering an SVG, so in a
    notebook d2l is slower than measured here.

    Args:
        model_fn: builds a fresh model taking ``Tensor[B, 3, 32, 32]`` (for the default data).
        data: ``(X, y)``; default :func:`synthetic_images` with ``num_examples`` examples.
        epochs: epochs per run.
        repeats: timed rounds (after the warm-up round).
        batch_size: batch size of both loaders.
        num_examples: size of the default data (train + validation).
        val_fraction: share of the data used for validation.
        lr: SGD learning rate.
        threads: ``torch.set_num_threads`` for the benchmark (restored afterwards); ``None``
            keeps the current number, recorded in the result.
        device: where to train; ``None`` asks :func:`dlbook_utils.get_device`.
        with_d2l: time d2l too when it can be imported.
        seed: seed of the model initialisation and the shuffling.

    Returns:
        A dict: ``config``; per loop (``"bare"``, ``"fit"``, ``"d2l"``) the run times in seconds
        ``times_s``, their ``median_s`` and ``min_s`` (wall clock), ``cpu_times_s`` and
        ``cpu_median_s`` (process CPU time, less disturbed by other programs on a busy machine);
        ``ratio_fit_over_bare`` (ratio of the medians: the budget's number),
        ``min_ratio_fit_over_bare`` (of the fastest runs), ``cpu_ratio_fit_over_bare``,
        ``paired_ratio_fit_over_bare`` (median of the per-round ratios), ``within_budget``,
        ``same_parameters``, and ``ratio_d2l_over_bare`` or ``d2l_unavailable`` (with the
        install command).

    Raises:
        ValueError: ``epochs`` or ``repeats`` < 1, or data with fewer than 2 examples.
    """
    if epochs < 1 or repeats < 1:
        raise ValueError(
            f"epochs and repeats must be >= 1, got epochs={epochs}, repeats={repeats}."
        )
    X, y = data if data is not None else synthetic_images(num_examples, seed=seed)
    if len(X) < 2:
        raise ValueError(f"data needs at least 2 examples, got {len(X)}.")
    num_val = max(1, int(len(X) * val_fraction))
    train_set = TensorDataset(X[num_val:], y[num_val:])
    val_set = TensorDataset(X[:num_val], y[:num_val])
    device = device if isinstance(device, torch.device) else get_device(device)

    old_threads = torch.get_num_threads()
    threads = threads or old_threads
    torch.set_num_threads(threads)

    def loaders() -> tuple[DataLoader, DataLoader]:
        gen = torch.Generator().manual_seed(seed)
        return (
            DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=gen),
            DataLoader(val_set, batch_size=batch_size),
        )

    def run(loop: Callable[..., Any]) -> tuple[float, float, nn.Module]:
        seed_everything(seed, deterministic=False)
        net = model_fn().to(device)
        train_loader, val_loader = loaders()
        _sync(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        loop(net, train_loader, val_loader)
        _sync(device)
        return time.perf_counter() - start, time.process_time() - cpu_start, net

    def bare(net: nn.Module, train_loader: DataLoader, val_loader: DataLoader) -> None:
        _bare_loop(net, train_loader, val_loader, epochs, lr, device)

    def with_fit(net: nn.Module, train_loader: DataLoader, val_loader: DataLoader) -> None:
        fit(net, train_loader, val_loader, num_epochs=epochs, lr=lr, device=device,
            progress=False)

    loops: dict[str, Callable[..., Any]] = {"bare": bare, "fit": with_fit}
    result: dict[str, Any] = {}
    d2l_loop = _d2l_loop(epochs, lr, device) if with_d2l else None
    if d2l_loop is not None:
        loops["d2l"] = d2l_loop
    elif with_d2l:
        result["d2l_unavailable"] = (
            f"not importable; for this benchmark only: `{D2L_INSTALL}` "
            "(or put such an install on PYTHONPATH)"
        )

    times: dict[str, list[float]] = {name: [] for name in loops}
    cpu_times: dict[str, list[float]] = {name: [] for name in loops}
    names = list(loops)
    try:
        for round_ in range(repeats + 1):  # round 0 warms up and is discarded
            order = names[round_ % len(names):] + names[: round_ % len(names)]  # rotate
            nets = {}
            for name in order:
                try:
                    seconds, cpu_seconds, nets[name] = run(loops[name])
                except Exception as exc:  # d2l's own bugs must not sink the benchmark
                    if name != "d2l":
                        raise
                    result["d2l_failed"] = f"train_ch6 raised {type(exc).__name__}: {exc}"
                    names.remove("d2l")
                    del loops["d2l"], times["d2l"], cpu_times["d2l"]
                    continue
                if round_ > 0:
                    times[name].append(seconds)
                    cpu_times[name].append(cpu_seconds)
            if round_ == 0:
                result["same_parameters"] = all(
                    torch.equal(a, b)
                    for a, b in zip(nets["bare"].parameters(), nets["fit"].parameters())
                )
    finally:
        torch.set_num_threads(old_threads)

    medians = {name: statistics.median(ts) for name, ts in times.items()}
    result["config"] = {
        "model": getattr(model_fn, "__name__", type(model_fn).__name__),
        "num_train": len(train_set),
        "num_val": len(val_set),
        "input_shape": list(X.shape[1:]),
        "batch_size": batch_size,
        "epochs": epochs,
        "repeats": repeats,
        "threads": threads,
        "device": str(device),
        "torch": torch.__version__,
    }
    for name in loops:
        result[name] = {
            "times_s": times[name],
            "median_s": medians[name],
            "min_s": min(times[name]),
            "cpu_times_s": cpu_times[name],
            "cpu_median_s": statistics.median(cpu_times[name]),
        }
    result["ratio_fit_over_bare"] = medians["fit"] / medians["bare"]
    result["paired_ratio_fit_over_bare"] = statistics.median(
        f / b for f, b in zip(times["fit"], times["bare"])
    )
    result["min_ratio_fit_over_bare"] = result["fit"]["min_s"] / result["bare"]["min_s"]
    result["cpu_ratio_fit_over_bare"] = (
        result["fit"]["cpu_median_s"] / result["bare"]["cpu_median_s"]
    )
    result["budget"] = BUDGET
    result["within_budget"] = result["ratio_fit_over_bare"] <= BUDGET
    if "d2l" in loops:
        result["ratio_d2l_over_bare"] = medians["d2l"] / medians["bare"]
    return result


def _bare_loop(
    net: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader,
    epochs: int,
    lr: float,
    device: torch.device,
) -> float:
    """The loop a reader writes by hand to get the same curves ``fit`` records.

    Per epoch: training loss and accuracy (summed on the device, one sync per epoch), then
    validation loss and accuracy. Doing the same work as ``fit`` makes the ratio measure the
    helper's overhead, not the cost of the metrics it reports.
    """
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    val_acc = 0.0
    for _ in range(epochs):
        net.train()
        train_loss = torch.zeros((), device=device)
        train_correct = torch.zeros((), device=device)
        for X, y in train_loader:
            X, y = X.to(device), y.to(device)
            optimizer.zero_grad()
            y_hat = net(X)
            loss = loss_fn(y_hat, y)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                train_loss += loss.detach() * y.shape[0]
                train_correct += (y_hat.argmax(dim=1) == y).sum()
        n_train = len(train_loader.dataset)  # type: ignore[arg-type]
        _ = (train_loss / n_train).item(), (train_correct / n_train).item()
        net.eval()
        val_loss = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        with torch.no_grad():
            for X, y in val_loader:
                X, y = X.to(device), y.to(device)
                y_hat = net(X)
                val_loss += loss_fn(y_hat, y) * y.shape[0]
                correct += (y_hat.argmax(dim=1) == y).sum()
        n_val = len(val_loader.dataset)  # type: ignore[arg-type]
        val_acc = correct.item() / n_val
        _ = val_loss.item() / n_val
    return val_acc


def _d2l_loop(epochs: int, lr: float, device: torch.device) -> Callable[..., Any] | None:
    """d2l's ``train_ch6`` as a loop of the benchmark, or ``None`` when d2l is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # headless: d2l draws an Animator figure while it trains
        from d2l import torch as d2l
    except Exception:  # d2l missing, or an import that breaks with our versions
        return None
    import matplotlib.pyplot as plt

    def loop(net: nn.Module, train_loader: DataLoader, val_loader: DataLoader) -> None:
        # train_ch6 prints and "displays" its figure (a repr outside Jupyter): swallow both.
        with contextlib.redirect_stdout(io.StringIO()):
            d2l.train_ch6(net, train_loader, val_loader, epochs, lr, device)
        plt.close("all")

    return loop


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _table(result: dict[str, Any]) -> str:
    c = result["config"]
    lines = [
        f"training-loop benchmark: {c['model']} on {c['num_train']} + {c['num_val']} synthetic "
        f"{'×'.join(map(str, c['input_shape']))} examples, batch {c['batch_size']}, "
        f"{c['epochs']} epochs, {c['repeats']} rounds (+1 warm-up), {c['threads']} threads, "
        f"{c['device']}",
        f"{'loop':<6} {'median s':>9} {'ratio':>7} {'cpu s':>7}   runs (s)",
    ]
    bare = result["bare"]["median_s"]
    for name in ("bare", "fit", "d2l"):
        if name in result:
            r = result[name]
            runs = " ".join(f"{t:.2f}" for t in r["times_s"])
            lines.append(
                f"{name:<6} {r['median_s']:>9.3f} {r['median_s'] / bare:>7.3f} "
                f"{r['cpu_median_s']:>7.2f}   {runs}"
            )
    verdict = "within" if result["within_budget"] else "OVER"
    lines.append(
        f"fit / bare = {result['ratio_fit_over_bare']:.3f} (paired median "
        f"{result['paired_ratio_fit_over_bare']:.3f}; fastest runs "
        f"{result['min_ratio_fit_over_bare']:.3f}; CPU time "
        f"{result['cpu_ratio_fit_over_bare']:.3f}), {verdict} the budget of "
        f"{result['budget']:.2f}; same final parameters: {result['same_parameters']}"
    )
    for key in ("d2l_unavailable", "d2l_failed"):
        if key in result:
            lines.append(f"d2l: {result[key]}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``dlbook bench`` (training loop): print the table and return the result dict."""
    parser = argparse.ArgumentParser(
        prog="dlbook bench", description="Time fit() against a bare PyTorch loop (and d2l)."
    )
    parser.add_argument("--epochs", type=int, default=5,
                        help="epochs per run (default 5: about 3 s per run on 2 idle cores)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--num-examples", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the current number)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--no-d2l", action="store_true", help="skip d2l even when installed")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    args = parser.parse_args(argv)
    result = bench_training_loop(
        epochs=args.epochs,
        repeats=args.repeats,
        batch_size=args.batch_size,
        num_examples=args.num_examples,
        threads=args.threads,
        device=args.device,
        with_d2l=not args.no_d2l,
    )
    print(_table(result))
    if args.json:
        path = os.fspath(args.json)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
