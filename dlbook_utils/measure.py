"""Measuring a model: parameters, multiply-adds, CPU latency, and equality with a reference model.

Explained in: Part 5, lesson 01_alexnet (first use; every architecture lesson of Parts 5 and 6
reports these numbers), and lesson 11_architecture_zoo (latency, and why FLOPs mislead).

Conventions, stated once for the whole book:

- **MACs** are multiply-accumulates, counted by ``torch.utils.flop_counter.FlopCounterMode``
  (which counts 2 FLOPs per multiply-add) and halved. torchvision's model tables call MACs
  "GFLOPS"; ultralytics' "GFLOPs" are 2 × MACs. The counter sees matrix products and
  convolutions; it does not count elementwise work (activations, normalisation, additions,
  pooling), which is small next to them. Fused attention (``F.scaled_dot_product_attention``,
  the fast paths of ``nn.MultiheadAttention``) is counted on the meta device and on CUDA but
  NOT on CPU tensors (torch 2.14 registers no formula for the CPU kernel): count models with
  attention on the meta device.
- **Latency** is the median wall time of ``repeats`` forward passes in eval mode under
  ``torch.inference_mode()``, after ``warmup`` passes, on the tensor's device, with the thread
  count PyTorch is using (``torch.get_num_threads()``), which the result records.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = [
    "count_parameters",
    "count_macs",
    "Latency",
    "measure_latency",
    "compare_with_reference",
]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (shared tensors counted once).

    Args:
        model: any module.
        trainable_only: count only parameters with ``requires_grad``.

    Returns:
        The count, an int.
    """
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def count_macs(model: nn.Module, *inputs: Any, **kwargs: Any) -> int:
    """Multiply-accumulates of one forward pass ``model(*inputs, **kwargs)`` (see the module
    docstring for what is counted).

    The model runs once in eval mode without gradients; its train/eval mode is restored. To
    count a full-size model without computing or allocating anything, build it and its input
    on the meta device: ``with torch.device("meta"): m = vgg16(); x = torch.zeros(1, 3, 224,
    224)``, then ``count_macs(m, x)`` is instant (VGG-16: 15.47 G, torchvision's figure).
    ``count_parameters`` works on meta models too.

    Args:
        model: the network.
        inputs, kwargs: what to call it with, e.g. ``torch.zeros(1, 3, 224, 224)``.

    Returns:
        MACs as an int (FLOPs / 2).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*inputs, **kwargs)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2


@dataclass(frozen=True)
class Latency:
    """What :func:`measure_latency` measured."""

    median_ms: float  # median of the timed passes, milliseconds
    min_ms: float  # fastest pass
    repeats: int  # timed passes
    threads: int  # torch.get_num_threads() during the measurement
    device: str  # where the model ran


def measure_latency(
    model: nn.Module, x: torch.Tensor, repeats: int = 10, warmup: int = 2
) -> Latency:
    """Median time of a forward pass of ``model(x)`` in eval mode, without autograd.

    Args:
        model: the network, on ``x``'s device.
        x: one input batch (batch 1 measures latency, a larger batch throughput).
        repeats: timed passes (>= 1).
        warmup: untimed passes first (memory allocation, kernel selection).

    Returns:
        A :class:`Latency`. CUDA work is synchronised before each clock reading.

    Raises:
        ValueError: ``repeats`` < 1 or ``warmup`` < 0.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}.")
    was_training = model.training
    model.eval()

    def sync() -> None:
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)

    times = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            for _ in range(repeats):
                sync()
                start = time.perf_counter()
                model(x)
                sync()
                times.append((time.perf_counter() - start) * 1000.0)
    finally:
        model.train(was_training)
    return Latency(statistics.median(times), min(times), repeats, torch.get_num_threads(),
                   str(x.device))


def compare_with_reference(
    ours: nn.Module, reference: nn.Module, *inputs: Any, strict: bool = True
) -> float:
    """Load ``reference``'s weights into ``ours`` and return the largest output difference.

    The strongest check of a model written in a lesson: ``ours.load_state_dict(
    reference.state_dict(), strict=strict)`` succeeds only when every parameter and buffer has
    the same name and shape, and then both models, in eval mode, must give the same output on
    the same input.

    Args:
        ours: the lesson's model.
        reference: the library's model (torchvision, timm, open_clip), random weights.
        inputs: the input(s) both models are called with.
        strict: passed to ``load_state_dict``.

    Returns:
        ``max |ours(x) − reference(x)|`` over all output elements (of the first output when a
        model returns a tuple, or of ``.logits``-like tensors the caller extracts).

    Raises:
        RuntimeError: the state dicts do not match (missing or unexpected keys, shapes), with
            PyTorch's message listing them.
        ValueError: the outputs have different shapes.
    """
    ours.load_state_dict(reference.state_dict(), strict=strict)
    modes = (ours.training, reference.training)
    ours.eval()
    reference.eval()
    try:
        with torch.no_grad():
            a, b = ours(*inputs), reference(*inputs)
    finally:
        ours.train(modes[0])
        reference.train(modes[1])
    if isinstance(a, (tuple, list)):
        a = a[0]
    if isinstance(b, (tuple, list)):
        b = b[0]
    if a.shape != b.shape:
        raise ValueError(
            f"Outputs differ in shape: ours {tuple(a.shape)}, reference {tuple(b.shape)}."
        )
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
