"""``History``: what ``fit`` measured, one entry per epoch (losses, accuracies, lr, speed).

Explained in: Part 4, lesson 03_lenet. ``plot_history`` draws it; ``fit`` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["History"]


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch (explained in: Part 4, lesson 03_lenet).

    Losses and metrics are averages over *examples* (a short last batch weighs less), not over
    batches. Validation lists stay empty when ``fit`` had no ``val_loader``; the accuracy lists
    stay empty when ``"accuracy"`` is not among the metrics.
    """

    train_loss: list[float] = field(default_factory=list)  # mean loss per training example
    val_loss: list[float] = field(default_factory=list)  # mean loss per validation example
    train_acc: list[float] = field(default_factory=list)  # top-1 accuracy in [0, 1]
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)  # lr of param group 0 at the start of the epoch
    epoch_time: list[float] = field(default_factory=list)  # seconds, training plus validation
    examples_per_s: list[float] = field(default_factory=list)  # training examples / training time
    metrics: dict[str, list[float]] = field(default_factory=dict)  # "train_top5_acc", …

    @property
    def num_epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.train_loss)

    def as_dict(self) -> dict[str, list[float]]:
        """All per-epoch lists in one flat ``{name: list}`` dict (extra metrics included)."""
        out = {
            "train_loss": list(self.train_loss),
            "val_loss": list(self.val_loss),
            "train_acc": list(self.train_acc),
            "val_acc": list(self.val_acc),
            "lr": list(self.lr),
            "epoch_time": list(self.epoch_time),
            "examples_per_s": list(self.examples_per_s),
        }
        out.update({name: list(values) for name, values in self.metrics.items()})
        return out

    def __getitem__(self, name: str) -> list[float]:
        return self.as_dict()[name]
