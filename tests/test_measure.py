"""dlbook_utils.measure against hand counts and torchvision's own published numbers."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from dlbook_utils.measure import compare_with_reference, count_macs, count_parameters, measure_latency


def test_parameters_and_macs_of_a_small_net_by_hand() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(8 * 4 * 4, 10))
    assert count_parameters(net) == (8 * 3 * 9 + 8) + (8 * 16 * 10 + 10)
    # conv: one 3·3·3 dot product per output value (8 × 8 × 8 of them); linear: 128 × 10
    assert count_macs(net, torch.zeros(1, 3, 8, 8)) == 8 * 8 * 8 * 27 + 128 * 10
    assert count_macs(net, torch.zeros(5, 3, 8, 8)) == 5 * (8 * 8 * 8 * 27 + 128 * 10)


def test_shared_and_frozen_parameters() -> None:
    shared = nn.Linear(4, 4)
    net = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    assert count_parameters(net) == 20 + 10  # the shared layer once
    for p in net[3].parameters():
        p.requires_grad_(False)
    assert count_parameters(net, trainable_only=True) == 20


def test_macs_match_torchvision_published_resnet18() -> None:
    # torchvision's table: ResNet-18 1.81 "GFLOPS" (multiply-adds) at 224×224
    macs = count_macs(torchvision.models.resnet18(), torch.zeros(1, 3, 224, 224))
    assert abs(macs / 1e9 - 1.81) < 0.01


def test_meta_device_counts_without_computing() -> None:
    with torch.device("meta"):
        vgg = torchvision.models.vgg16()
        x = torch.zeros(1, 3, 224, 224)
    assert count_parameters(vgg) == 138_357_544  # torchvision's table
    assert round(count_macs(vgg, x) / 1e9, 2) == 15.47


def test_compare_with_reference_loads_weights_and_reports_the_difference() -> None:
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    assert compare_with_reference(ours, ref, x) == 0.0
    torch.testing.assert_close(ours(x), ref(x))
    with pytest.raises(RuntimeError, match="Missing key|Unexpected key|size mismatch"):
        compare_with_reference(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)), ref, x)
    # same layout but a different computation: the difference shows
    other = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    assert compare_with_reference(other, ref, torch.randn(50, 3) * 3) > 1e-3


def test_latency_records_what_it_measured() -> None:
    lat = measure_latency(nn.Linear(8, 8), torch.zeros(1, 8), repeats=3, warmup=1)
    assert lat.repeats == 3 and lat.threads == torch.get_num_threads() and lat.device == "cpu"
    assert 0 < lat.min_ms <= lat.median_ms
    with pytest.raises(ValueError):
        measure_latency(nn.Linear(1, 1), torch.zeros(1, 1), repeats=0)
