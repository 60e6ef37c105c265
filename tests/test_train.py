"""Tests of dlbook_utils.train: every number is compared with a hand-written loop or brute force."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlbook_utils import progress as progress_mod
from dlbook_utils import seed_everything
from dlbook_utils import train as train_mod
from dlbook_utils.bench import bench_training_loop
from dlbook_utils.train import History, accuracy, evaluate, fit

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _no_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBOOK_PROGRESS", "0")


def _blobs(n: int = 60, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Linearly separable 2-D points: class = side of the line x0 + x1 = 0, margin >= 0.5."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(4 * n, 2, generator=gen)  # (4n, 2)
    s = X.sum(dim=1)
    keep = s.abs() > 0.5
    X, s = X[keep][:n], s[keep][:n]
    return X, (s > 0).long()


def _mlp(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3)
    )


def _loader(
    X: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int | None = None
) -> DataLoader:
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=seed is not None,
                      generator=gen)


def test_fit_separates_linearly_separable_data() -> None:
    seed_everything(0)
    X, y = _blobs(60)
    net = nn.Linear(2, 2)
    history = fit(net, _loader(X, y, 16, seed=0), num_epochs=30, lr=0.5, device=CPU)
    assert history.train_acc[-1] == 1.0
    assert evaluate(net, _loader(X, y, 16), device=CPU)["acc"] == 1.0
    assert history.train_loss[-1] < history.train_loss[0]


@pytest.mark.parametrize("case", ["plain", "clip_schedule_val"])
def test_fit_matches_hand_written_loop(case: str) -> None:
    """The key test: fit's steps are exactly those of the loop a reader writes by hand."""
    X = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()  # 3 classes
    num_epochs = 1 if case == "plain" else 2
    clip = None if case == "plain" else 0.05

    def make() -> tuple[nn.Module, torch.optim.Optimizer, object, DataLoader]:
        net = _mlp(seed=3, dropout=0.2)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
        sched = None if case == "plain" else torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
        return net, opt, sched, _loader(X, y, 8, seed=5)

    val_loader = _loader(X, y, 16) if case != "plain" else None
    ref, opt, sched, loader = make()
    loss_fn = nn.CrossEntropyLoss()
    torch.manual_seed(11)  # dropout draws from the global generator
    for _ in range(num_epochs):
        ref.train()
        for Xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(ref(Xb), yb)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(ref.parameters(), clip)
            opt.step()
        if val_loader is not None:
            # Iterating a DataLoader draws its base seed from the global generator, so the
            # reference validates too (and with it the dropout masks of the next epoch match).
            ref.eval()
            with torch.no_grad():
                for Xb, yb in val_loader:
                    loss_fn(ref(Xb), yb)
        if sched is not None:
            sched.step()

    net, opt, sched, loader = make()
    torch.manual_seed(11)
    fit(net, loader, val_loader, num_epochs=num_epochs,
        loss_fn=nn.CrossEntropyLoss(), optimizer=opt, scheduler=sched, clip_grad_norm=clip,
        device=CPU)

    for (name, a), (_, b) in zip(ref.state_dict().items(), net.state_dict().items()):
        torch.testing.assert_close(b, a, rtol=0, atol=0, msg=f"{name} differs")
    assert net.training, "fit leaves the net in train mode, as the hand-written loop does"


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_and_metrics_are_averaged_per_example(reduction: str) -> None:
    X = torch.randn(10, 2, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 0, 1, 1])
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))  # same in train and eval
    loader = _loader(X, y, 4)  # batches of 4, 4 and 2

    def label_mean(y_hat: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return yb.float().mean()

    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # the weights stay put: one loss per example
    history = fit(net, loader, loader, num_epochs=1, optimizer=opt,
                  loss_fn=nn.CrossEntropyLoss(reduction=reduction), device=CPU,
                  metrics=["accuracy", label_mean])

    with torch.no_grad():
        losses = nn.functional.cross_entropy(net(X), y, reduction="none")  # (10,)
        hits = net(X).argmax(dim=1) == y  # (10,)
    train_losses = val_losses = losses
    batch_means = torch.stack([train_losses[:4].mean(), train_losses[4:8].mean(),
                               train_losses[8:].mean()])
    assert not math.isclose(batch_means.mean().item(), train_losses.mean().item(), rel_tol=1e-4)

    assert history.train_loss[0] == pytest.approx(train_losses.mean().item(), rel=1e-6)
    assert history.val_loss[0] == pytest.approx(val_losses.mean().item(), rel=1e-6)
    assert history.train_acc[0] == hits.sum().item() / len(y)  # exact: sums are counts
    assert history.val_acc == history.train_acc
    assert history.metrics["train_label_mean"][0] == pytest.approx(y.float().mean().item())
    assert history.metrics["val_label_mean"][0] == pytest.approx(y.float().mean().item())


def _brute_topk(logits: torch.Tensor, y: torch.Tensor, k: int) -> float:
    hits = 0
    for row, label in zip(logits.tolist(), y.tolist()):
        rank = sum(1 for v in row if v > row[label])  # classes scored above the true one
        hits += rank < k
    return hits / len(y)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_evaluate_topk_against_brute_force(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(37, 6, generator=gen, dtype=dtype)  # (N, C), no ties
    y = torch.randint(0, 6, (37,), generator=gen)
    loader = _loader(logits, y, 8)  # the last batch has 5 examples
    result = evaluate(nn.Identity(), loader, nn.CrossEntropyLoss(), device=CPU, topk=(1, 3, 6))

    tol = 1e-6 if dtype == torch.float32 else 1e-12
    assert result["num_examples"] == 37
    assert result["acc"] == pytest.approx(_brute_topk(logits, y, 1), abs=tol)
    assert result["top3_acc"] == pytest.approx(_brute_topk(logits, y, 3), abs=tol)
    assert result["top6_acc"] == 1.0
    expected_loss = nn.functional.cross_entropy(logits, y).item()
    assert result["loss"] == pytest.approx(expected_loss, rel=tol * 10)

    fractions = accuracy(logits, y, topk=(1, 3))
    expected = torch.tensor([_brute_topk(logits, y, 1), _brute_topk(logits, y, 3)])
    torch.testing.assert_close(fractions, expected)
    assert accuracy(logits, y).dim() == 0


def test_accuracy_per_position_labels() -> None:
    gen = torch.Generator().manual_seed(4)
    scores = torch.randn(2, 4, 3, 5, generator=gen)  # (N, C, H, W)
    y = torch.randint(0, 4, (2, 3, 5), generator=gen)  # (N, H, W)
    flat_scores = scores.permute(0, 2, 3, 1).reshape(-1, 4)  # (N*H*W, C)
    expected = _brute_topk(flat_scores, y.reshape(-1), 2)
    assert accuracy(scores, y, topk=2).item() == pytest.approx(expected)


def test_two_seeded_runs_are_identical() -> None:
    X, y = _blobs(40, seed=1)

    def run() -> tuple[dict[str, list[float]], list[torch.Tensor]]:
        gen = seed_everything(123)
        net = _mlp(seed=123, dropout=0.3)
        loader = DataLoader(TensorDataset(X, y), batch_size=7, shuffle=True, generator=gen)
        h = fit(net, loader, _loader(X, y, 16), num_epochs=3, lr=0.2, device=CPU)
        d = h.as_dict()
        del d["epoch_time"], d["examples_per_s"]  # wall-clock, never equal
        return d, [p.detach().clone() for p in net.parameters()]

    h1, p1 = run()
    h2, p2 = run()
    assert h1 == h2
    for a, b in zip(p1, p2):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_tensorboard_event_file(tmp_path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    X, y = _blobs(30)
    history = fit(nn.Linear(2, 2), _loader(X, y, 8, seed=0), _loader(X, y, 8), num_epochs=3,
                  lr=0.1, device=CPU, tensorboard_dir=tmp_path / "tb")
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"loss/train", "loss/val", "acc/train", "acc/val", "lr"} <= set(tags)
    events = acc.Scalars("loss/train")
    assert [e.step for e in events] == [1, 2, 3]
    assert [e.value for e in events] == pytest.approx(history.train_loss, rel=1e-6)
    assert len(acc.Scalars("acc/val")) == 3


def test_scheduler_per_epoch_and_per_batch() -> None:
    X, y = _blobs(30)
    net = nn.Linear(2, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = fit(net, _loader(X, y, 8), num_epochs=3, optimizer=opt, scheduler=sched, device=CPU)
    assert history.lr == pytest.approx([0.1, 0.05, 0.025])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0125)

    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loader = _loader(X, y, 8)  # 4 batches
    history = fit(net, loader, num_epochs=2, optimizer=opt, scheduler=sched,
                  scheduler_step="batch", device=CPU)
    assert history.lr == pytest.approx([0.1, 0.1 * 0.5**4])

    # ReduceLROnPlateau is stepped with the validation loss; the net never changes here (the
    # optimizer holds another parameter), so the loss plateaus and every step after the first
    # halves the lr.
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    history = fit(net, loader, loader, num_epochs=3, optimizer=opt, scheduler=plateau, device=CPU)
    assert history.val_loss[0] == history.val_loss[-1]
    assert history.lr == pytest.approx([0.1, 0.1, 0.05])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        fit(net, loader, num_epochs=1, optimizer=opt, scheduler=plateau, scheduler_step="batch",
            device=CPU)


def test_clip_grad_norm_bounds_the_gradient() -> None:
    X = torch.randn(32, 2, generator=torch.Generator().manual_seed(5)) * 100  # huge inputs
    y = torch.randint(0, 2, (32,), generator=torch.Generator().manual_seed(6))

    def grad_norms(clip: float | None) -> list[float]:
        net = nn.Linear(2, 2)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        norms: list[float] = []

        def record(optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
            grads = [p.grad.flatten() for p in net.parameters()]
            norms.append(torch.cat(grads).norm().item())

        opt.register_step_pre_hook(record)
        fit(net, _loader(X, y, 8), num_epochs=2, optimizer=opt, clip_grad_norm=clip, device=CPU)
        return norms

    assert max(grad_norms(None)) > 1.0  # the case needs clipping
    clipped = grad_norms(1.0)
    assert len(clipped) == 8
    assert max(clipped) <= 1.0 + 1e-5


def test_amp_on_cpu_warns_and_trains_in_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_mod, "_amp_warned", False)
    X, y = _blobs(20)

    def run(amp: bool) -> list[float]:
        torch.manual_seed(0)
        return fit(nn.Linear(2, 2), _loader(X, y, 8), num_epochs=2, lr=0.1, amp=amp,
                   device=CPU).train_loss

    with pytest.warns(UserWarning, match="CUDA only"):
        with_amp = run(True)
    assert with_amp == run(False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_amp_with_clipping_on_cuda() -> None:
    X, y = _blobs(60)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    history = fit(net, _loader(X, y, 16, seed=0), _loader(X, y, 16), num_epochs=20, lr=0.5,
                  amp=True, clip_grad_norm=1.0, device="cuda")
    assert all(math.isfinite(v) for v in history.train_loss)
    assert history.val_acc[-1] >= 0.95
    assert next(net.parameters()).dtype == torch.float32  # autocast leaves the weights alone


def test_progress_bar_switch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(progress_mod, "in_jupyter_kernel", lambda: True)
    monkeypatch.setenv("DLBOOK_PROGRESS", "0")
    assert progress_mod.progress_wanted(None) is False
    assert progress_mod.progress_wanted(True) is True
    monkeypatch.setenv("DLBOOK_PROGRESS", "1")
    assert progress_mod.progress_wanted(None) is True
    monkeypatch.delenv("DLBOOK_PROGRESS")
    assert progress_mod.progress_wanted(None) is True  # a reader in Jupyter sees the bar
    monkeypatch.setattr(progress_mod, "in_jupyter_kernel", lambda: False)
    assert progress_mod.progress_wanted(None) is False  # pytest captures: not a terminal
    monkeypatch.setenv("DLBOOK_PROGRESS", "maybe")
    with pytest.raises(ValueError, match="maybe"):
        progress_mod.progress_wanted(None)

    X, y = _blobs(20)
    monkeypatch.setenv("DLBOOK_PROGRESS", "0")
    capsys.readouterr()
    fit(nn.Linear(2, 2), _loader(X, y, 8), num_epochs=2, device=CPU)
    assert capsys.readouterr().err == ""
    fit(nn.Linear(2, 2), _loader(X, y, 8), num_epochs=2, device=CPU, progress=True, verbose=True)
    out = capsys.readouterr()
    assert "epoch 2/2" in out.err and "batch" in out.err  # tqdm writes to stderr
    assert "epoch 1/2: train loss" in out.out + out.err


def test_history_as_dict_and_extra_metrics() -> None:
    X, y = _blobs(30)
    history = fit(_mlp(), _loader(X, y, 8), _loader(X, y, 8), num_epochs=2, device=CPU,
                  metrics={"acc": accuracy, "top2": lambda y_hat, yb: accuracy(y_hat, yb, 2)})
    d = history.as_dict()
    assert isinstance(history, History) and history.num_epochs == 2
    assert {"train_top2", "val_top2", "train_loss", "epoch_time", "examples_per_s"} <= set(d)
    assert d["train_top2"] == history["train_top2"] and len(d["val_top2"]) == 2
    assert len(history.train_acc) == 2 and "train_acc" not in history.metrics  # "acc" is acc
    assert all(t > 0 for t in history.epoch_time)


def test_bad_inputs_raise_value_error() -> None:
    X, y = _blobs(20)
    loader = _loader(X, y, 8)
    net = nn.Linear(2, 2)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match=str(bad)):
            fit(net, loader, num_epochs=bad, device=CPU)
    empty = DataLoader(TensorDataset(X[:0], y[:0]), batch_size=4)
    with pytest.raises(ValueError, match="train_loader has no batches"):
        fit(net, empty, num_epochs=1, device=CPU)
    with pytest.raises(ValueError, match="val_loader has no batches"):
        fit(net, loader, empty, num_epochs=1, device=CPU)
    with pytest.raises(ValueError, match="yielded no batches"):
        fit(net, iter([]), num_epochs=1, device=CPU)
    with pytest.raises(ValueError, match="'cross_entropy'"):
        fit(net, loader, num_epochs=1, loss_fn="cross_entropy", device=CPU)
    with pytest.raises(ValueError, match="'f1'"):
        fit(net, loader, num_epochs=1, metrics=["f1"], device=CPU)
    with pytest.raises(ValueError, match="-1"):
        fit(net, loader, num_epochs=1, clip_grad_norm=-1, device=CPU)
    with pytest.raises(ValueError, match="'step'"):
        fit(net, loader, num_epochs=1, scheduler_step="step", device=CPU)
    with pytest.raises(ValueError, match="no batches"):
        evaluate(net, empty, device=CPU)
    with pytest.raises(ValueError, match=r"\[1, 2\]"):
        accuracy(torch.randn(4, 2), torch.zeros(4, dtype=torch.long), topk=3)


def test_bench_smoke() -> None:
    result = bench_training_loop(epochs=1, repeats=1, num_examples=40, batch_size=16,
                                 with_d2l=False, threads=1)
    assert result["same_parameters"] is True
    assert len(result["bare"]["times_s"]) == len(result["fit"]["times_s"]) == 1
    assert result["ratio_fit_over_bare"] > 0
    assert result["config"]["num_train"] + result["config"]["num_val"] == 40
    assert isinstance(result["within_budget"], bool)
