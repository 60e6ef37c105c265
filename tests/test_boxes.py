"""Tests of dlbook_utils.boxes against torchvision.ops, autograd and brute-force loops."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.ops as tv
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close
from torchvision.models.detection._utils import BoxCoder

from dlbook_utils import boxes as B

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-12, atol=1e-12)}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
FAST = settings(max_examples=60, deadline=None)


def random_boxes(n: int, seed: int, dtype=torch.float64, grid: bool = False, special: bool = True):
    """n random xyxy boxes in [0, 150]²; with ``special``, also degenerate, identical, disjoint."""
    g = torch.Generator().manual_seed(seed)
    if grid:  # integer corners: IoUs are exact and often tie each other or a threshold
        xy = torch.randint(0, 40, (n, 2), generator=g).double()
        wh = torch.randint(1, 25, (n, 2), generator=g).double()
    else:
        xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 100
        wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 49 + 1
    boxes = torch.cat([xy, xy + wh], dim=1)
    if special and n >= 8:
        boxes[0, 2] = boxes[0, 0]  # zero width
        boxes[1, 3] = boxes[1, 1]  # zero height
        boxes[2] = boxes[3]  # identical to another box
        boxes[4] = torch.tensor([500.0, 500.0, 510.0, 520.0])  # far from everything
        boxes[5, 2] = boxes[5, 0]  # a second zero-width box (zero-area pairs)
    return boxes.to(dtype)


def zero_area_pairs(boxes1, boxes2):
    """Pairs where both boxes have zero area: torchvision divides 0 by 0 there."""
    a1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    a2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    return (a1[:, None] == 0) & (a2[None, :] == 0)


# ------------------------------------------------------------------------------ formats, area


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("in_fmt", ["xyxy", "xywh", "cxcywh"])
@pytest.mark.parametrize("out_fmt", ["xyxy", "xywh", "cxcywh"])
def test_box_convert_matches_torchvision(dtype, in_fmt, out_fmt):
    boxes = tv.box_convert(random_boxes(30, 0, dtype), "xyxy", in_fmt)
    expected = tv.box_convert(boxes, in_fmt, out_fmt)
    assert_close(B.box_convert(boxes, in_fmt, out_fmt), expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_box_convert_round_trip(dtype):
    boxes = random_boxes(30, 1, dtype)
    for fmt in ("xywh", "cxcywh"):
        there = B.box_convert(boxes, "xyxy", fmt)
        assert_close(B.box_convert(there, fmt, "xyxy"), boxes, **TOL[dtype])


def test_box_convert_returns_new_float_tensor():
    boxes = torch.tensor([[1, 2, 5, 8]])  # int64
    out = B.box_convert(boxes, "xyxy", "cxcywh")
    assert out.dtype == torch.float32
    assert out.tolist() == [[3.0, 5.0, 4.0, 6.0]]
    same = torch.ones(2, 4)
    assert B.box_convert(same, "xyxy", "xyxy").data_ptr() != same.data_ptr()


@pytest.mark.parametrize("dtype", DTYPES)
def test_box_area_matches_torchvision(dtype):
    boxes = random_boxes(40, 2, dtype)
    assert_close(B.box_area(boxes), tv.box_area(boxes), **TOL[dtype])


# ------------------------------------------------------------------------------ pairwise IoU family

PAIRWISE = [
    (B.box_iou, tv.box_iou),
    (B.generalized_box_iou, tv.generalized_box_iou),
    (B.distance_box_iou, tv.distance_box_iou),
    (B.complete_box_iou, tv.complete_box_iou),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ours, ref", PAIRWISE, ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("grid", [False, True])
def test_pairwise_matches_torchvision(ours, ref, dtype, device, grid):
    boxes1 = random_boxes(25, 3, dtype, grid).to(device)
    boxes2 = random_boxes(17, 4, dtype, grid).to(device)
    got, expected = ours(boxes1, boxes2), ref(boxes1, boxes2)
    assert got.shape == (25, 17) and got.dtype == dtype and got.device == boxes1.device
    both_empty = zero_area_pairs(boxes1, boxes2)
    assert both_empty.any() and torch.isnan(expected[both_empty]).all()  # torchvision: 0 / 0
    assert torch.isfinite(got).all()  # ours: IoU 0 there, documented
    assert_close(got[~both_empty], expected[~both_empty], **TOL[dtype])


def test_iou_of_two_zero_area_boxes_is_zero():
    point = torch.tensor([[3.0, 4.0, 3.0, 4.0]])
    assert B.box_iou(point, point).item() == 0.0
    assert B.generalized_box_iou(point, point).item() == 0.0
    line, other = torch.tensor([[0.0, 0.0, 0.0, 5.0]]), torch.tensor([[2.0, 0.0, 2.0, 5.0]])
    assert B.generalized_box_iou(line, other).item() == -1.0  # enclosing box 2x5, union 0
    assert torch.isfinite(B.complete_box_iou(point, point)).all()


def test_iou_hand_example():
    # (0,0,2,2) and (1,1,3,3): intersection 1x1 = 1, union 4 + 4 - 1 = 7
    # enclosing box (0,0,3,3) has area 9: GIoU = 1/7 - (9 - 7)/9
    a, b = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]])
    assert_close(B.box_iou(a, b), torch.tensor([[1 / 7]]))
    assert_close(B.generalized_box_iou(a, b), torch.tensor([[1 / 7 - 2 / 9]]))
    # centres 1.414 apart (d² = 2), enclosing diagonal² = 18
    assert_close(B.distance_box_iou(a, b), torch.tensor([[1 / 7 - 2 / 18]]))


# Boxes as (x, y, w, h) with w, h >= 0: hypothesis draws degenerate ones too.
box_rows = st.tuples(
    st.floats(0, 100), st.floats(0, 100), st.floats(0, 60), st.floats(0, 60)
).map(lambda r: [r[0], r[1], r[0] + r[2], r[1] + r[3]])
box_sets = st.lists(box_rows, min_size=1, max_size=8).map(
    lambda rows: torch.tensor(rows, dtype=torch.float64)
)


@FAST
@given(box_sets, box_sets)
def test_iou_properties(boxes1, boxes2):
    iou = B.box_iou(boxes1, boxes2)
    assert_close(iou, B.box_iou(boxes2, boxes1).T)
    assert ((iou >= 0) & (iou <= 1)).all()
    giou = B.generalized_box_iou(boxes1, boxes2)
    assert_close(giou, B.generalized_box_iou(boxes2, boxes1).T)
    assert ((giou >= -1) & (giou <= iou + 1e-12)).all()
    diou = B.distance_box_iou(boxes1, boxes2)
    assert ((diou > -1) & (diou <= iou + 1e-12)).all()
    assert (B.complete_box_iou(boxes1, boxes2) <= diou + 1e-12).all()


@FAST
@given(box_sets)
def test_iou_is_one_on_identical_boxes(boxes):
    positive = B.box_area(boxes) > 0
    iou = B.box_iou(boxes, boxes).diagonal()
    assert_close(iou[positive], torch.ones_like(iou[positive]))
    assert_close(B.generalized_box_iou(boxes, boxes).diagonal()[positive], iou[positive])


# ------------------------------------------------------------------------------ losses

LOSSES = [
    (B.generalized_box_iou_loss, tv.generalized_box_iou_loss),
    (B.distance_box_iou_loss, tv.distance_box_iou_loss),
    (B.complete_box_iou_loss, tv.complete_box_iou_loss),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("ours, ref", LOSSES, ids=lambda f: getattr(f, "__name__", ""))
def test_losses_match_torchvision(ours, ref, reduction, dtype):
    boxes1, boxes2 = random_boxes(40, 5, dtype), random_boxes(40, 6, dtype)
    boxes2[7] = boxes1[7]  # an identical pair
    got, expected = ours(boxes1, boxes2, reduction), ref(boxes1, boxes2, reduction)
    assert got.shape == expected.shape and got.dtype == dtype
    assert_close(got, expected, **TOL[dtype])


@pytest.mark.parametrize("ours, ref", LOSSES, ids=lambda f: getattr(f, "__name__", ""))
def test_loss_gradients_match_torchvision(ours, ref):
    boxes1 = random_boxes(20, 7, special=False).requires_grad_()
    boxes2 = random_boxes(20, 8, special=False).requires_grad_()
    got = torch.autograd.grad(ours(boxes1, boxes2, "sum"), (boxes1, boxes2))
    expected = torch.autograd.grad(ref(boxes1, boxes2, "sum"), (boxes1, boxes2))
    assert_close(got, expected, **TOL[torch.float64])


@pytest.mark.parametrize("dtype", DTYPES)
def test_iou_loss_is_one_minus_iou(dtype):
    boxes1 = random_boxes(40, 9, dtype, special=False)
    boxes2 = random_boxes(40, 10, dtype, special=False)
    expected = 1 - tv.box_iou(boxes1, boxes2).diagonal()
    assert_close(B.iou_loss(boxes1, boxes2, eps=0.0), expected, **TOL[dtype])
    assert_close(B.iou_loss(boxes1, boxes2, "mean", eps=0.0), expected.mean(), **TOL[dtype])


@pytest.mark.parametrize("loss", [B.iou_loss] + [ours for ours, _ in LOSSES])
def test_losses_finite_on_degenerate_boxes(loss):
    boxes = random_boxes(10, 11).requires_grad_()
    value = loss(boxes, boxes.detach().clone(), "sum")
    (grad,) = torch.autograd.grad(value, boxes)
    assert torch.isfinite(value) and torch.isfinite(grad).all()


@pytest.mark.parametrize("ours, ref", LOSSES, ids=lambda f: getattr(f, "__name__", ""))
def test_inverted_predictions_train_like_torchvision(ours, ref):
    """Raw early predictions may have x2 < x1: the loss must not stop training (it computes
    what torchvision computes, finite, with finite gradients); a bad TARGET is refused."""
    torch.manual_seed(0)
    raw = (torch.randn(30, 4, dtype=torch.float64) * 20 + 30).requires_grad_()  # unordered
    assert bool(((raw[:, 2] < raw[:, 0]) | (raw[:, 3] < raw[:, 1])).any())
    target = random_boxes(30, 12, torch.float64, special=False)
    got, expected = ours(raw, target, "sum"), ref(raw, target, "sum")
    assert_close(got, expected, **TOL[torch.float64])
    (grad,) = torch.autograd.grad(got, raw)
    assert torch.isfinite(grad).all()
    with pytest.raises(ValueError, match=r"boxes2\[\d+\] .* has x2 < x1|boxes2\[\d+\] .* has y2 < y1"):
        ours(target, raw.detach())


@pytest.mark.parametrize("loss", [B.iou_loss] + [ours for ours, _ in LOSSES])
def test_losses_on_empty_input(loss):
    empty = torch.zeros(0, 4)
    assert loss(empty, empty).shape == (0,)
    assert loss(empty, empty, "mean").item() == 0.0
    assert loss(empty, empty, "sum").item() == 0.0


# ------------------------------------------------------------------------------ NMS


def tied_scores(n: int, seed: int, levels: int, dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, levels, (n,), generator=g).to(dtype) / levels)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("grid", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_nms_matches_torchvision(dtype, threshold, seed, grid, ties):
    boxes = random_boxes(150, seed, dtype, grid)
    if ties:
        scores = tied_scores(150, seed, 4, dtype)
    else:
        scores = torch.rand(150, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    keep = B.nms(boxes, scores, threshold)
    assert keep.dtype == torch.int64
    assert torch.equal(keep, tv.nms(boxes, scores, threshold))


def test_nms_tie_order_is_input_order():
    # Three copies of one box with one score: the first copy survives; torchvision's CPU kernel
    # sorts scores stably too.
    box = [10.0, 10.0, 20.0, 20.0]
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], box, [50.0, 50.0, 60.0, 60.0], box, box])
    scores = torch.tensor([0.5, 0.9, 0.9, 0.9, 0.9])
    assert B.nms(boxes, scores, 0.5).tolist() == [1, 2, 0]
    assert tv.nms(boxes, scores, 0.5).tolist() == [1, 2, 0]


def test_nms_threshold_is_strict():
    # (0,0,4,1) has area 4 and contains (0,0,2,1) of area 2: IoU = 2 / 4 = 0.5 exactly.
    boxes = torch.tensor([[0.0, 0.0, 4.0, 1.0], [0.0, 0.0, 2.0, 1.0]])
    scores = torch.tensor([0.9, 0.8])
    assert B.nms(boxes, scores, 0.5).tolist() == [0, 1]  # 0.5 is not > 0.5
    assert B.nms(boxes, scores, 0.49).tolist() == [0]


@FAST
@given(box_sets, st.integers(0, 2**16), st.sampled_from([0.0, 0.25, 0.5, 0.75]))
def test_nms_property_matches_torchvision(boxes, seed, threshold):
    scores = tied_scores(boxes.shape[0], seed, 3, torch.float64)
    assert torch.equal(B.nms(boxes, scores, threshold), tv.nms(boxes, scores, threshold))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batched_nms_matches_torchvision(dtype, ties, seed):
    # Integer corners: torchvision shifts each category by a large offset, which is exact only
    # for integer coordinates in float32.
    boxes = random_boxes(200, seed, dtype, grid=True)
    g = torch.Generator().manual_seed(seed)
    idxs = torch.randint(0, 5, (200,), generator=g)
    scores = tied_scores(200, seed, 5, dtype) if ties else torch.rand(200, generator=g, dtype=dtype)
    got = B.batched_nms(boxes, scores, idxs, 0.5)
    assert torch.equal(got, tv.batched_nms(boxes, scores, idxs, 0.5))
    for c in range(5):  # within a category it is plain NMS
        members = torch.nonzero(idxs == c)[:, 0]
        kept = members[tv.nms(boxes[members], scores[members], 0.5)]
        assert set(kept.tolist()) == set(got[idxs[got] == c].tolist())


@pytest.mark.parametrize("device", DEVICES)
def test_nms_on_device_matches_cpu(device):
    boxes, scores = random_boxes(100, 3, torch.float32), tied_scores(100, 3, 3, torch.float32)
    idxs = torch.arange(100) % 3
    keep = B.nms(boxes.to(device), scores.to(device), 0.5)
    assert keep.device.type == device
    assert torch.equal(keep.cpu(), B.nms(boxes, scores, 0.5))
    assert torch.equal(
        B.batched_nms(boxes.to(device), scores.to(device), idxs.to(device), 0.5).cpu(),
        B.batched_nms(boxes, scores, idxs, 0.5),
    )


def test_nms_empty():
    empty = torch.zeros(0, 4)
    assert B.nms(empty, torch.zeros(0), 0.5).dtype == torch.int64
    assert B.nms(empty, torch.zeros(0), 0.5).shape == (0,)
    no_idxs = torch.zeros(0, dtype=torch.int64)
    assert B.batched_nms(empty, torch.zeros(0), no_idxs, 0.5).shape == (0,)


# ------------------------------------------------------------------------------ anchors


def anchors_brute_force(h, w, stride, sizes, ratios):
    rows = []
    for i in range(h):
        for j in range(w):
            cx, cy = (j + 0.5) * stride, (i + 0.5) * stride
            for s in sizes:
                for r in ratios:
                    aw, ah = s / math.sqrt(r), s * math.sqrt(r)
                    rows.append([cx - aw / 2, cy - ah / 2, cx + aw / 2, cy + ah / 2])
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "h, w, stride, sizes, ratios",
    [
        (3, 4, 16, [32, 64], [0.5, 1.0, 2.0]),
        (1, 1, 8, [10], [1.0]),
        (5, 2, 32.0, [20, 40, 80], [0.25, 3.0]),
    ],
)
def test_make_anchors_matches_brute_force(h, w, stride, sizes, ratios, dtype):
    anchors = B.make_anchors((h, w), stride, sizes, ratios, dtype=dtype)
    expected = anchors_brute_force(h, w, stride, sizes, ratios).to(dtype)
    assert anchors.shape == (h * w * len(sizes) * len(ratios), 4) and anchors.dtype == dtype
    assert_close(anchors, expected, **TOL[dtype])
    # the documented view lines up with the feature map: cell (i, j) centred on (j+.5, i+.5)*stride
    grid = anchors.view(h, w, -1, 4)
    assert_close(grid[h - 1, w - 1, 0, 0::2].mean(), torch.tensor((w - 0.5) * stride, dtype=dtype))


@pytest.mark.parametrize("device", DEVICES)
def test_make_anchors_device_and_empty(device):
    assert B.make_anchors((2, 2), 8, [8], device=device).device.type == device
    assert B.make_anchors((0, 5), 8, [8, 16]).shape == (0, 4)


def match_brute_force(anchors, gts, threshold):
    """The rules of match_anchors' docstring, one anchor and one box at a time, in Python floats."""
    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    table = [[iou(g, a) for a in anchors] for g in gts]  # [G][A]
    matched, best = [], []
    for k in range(len(anchors)):
        col = [table[g][k] for g in range(len(gts))]
        top = max(col, default=0.0)
        best.append(top)
        matched.append(col.index(top) if col and top >= threshold else -1)
    gt_best = [max(row) for row in table]
    order = sorted(range(len(gts)), key=lambda g: -gt_best[g])  # stable: ties by index
    taken = set()
    for g in order:
        free = [(table[g][k], -k) for k in range(len(anchors)) if k not in taken]
        value, neg_k = max(free)  # largest IoU, then smallest index
        if value <= 0:
            continue
        matched[-neg_k] = g
        taken.add(-neg_k)
    ious = [table[m][k] if m >= 0 else best[k] for k, m in enumerate(matched)]
    return matched, ious


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_match_anchors_matches_brute_force(seed, threshold):
    anchors = B.make_anchors((4, 4), 16, [16, 32], [0.5, 1.0, 2.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 7, (1,), generator=g))
    xy = torch.randint(0, 48, (n, 2), generator=g).double()
    gts = torch.cat([xy, xy + torch.randint(4, 40, (n, 2), generator=g).double()], dim=1)
    if seed == 0:
        far = torch.tensor([[500.0, 500.0, 510.0, 510.0]])  # overlaps no anchor
        gts = torch.cat([gts, gts[:1], far])  # with a twin of box 0
    matched, ious = B.match_anchors(anchors, gts, threshold)
    expected_matched, expected_ious = match_brute_force(anchors.tolist(), gts.tolist(), threshold)
    assert matched.tolist() == expected_matched
    assert_close(ious, torch.tensor(expected_ious, dtype=torch.float64))
    reachable = [k for k in range(len(gts)) if B.box_iou(gts[k : k + 1], anchors).max() > 0]
    assert set(reachable) <= set(matched.tolist())  # every box that overlaps an anchor has one


def test_match_anchors_shared_best_anchor():
    # Box 0 overlaps anchor 0 by 100/200 = 0.5 and anchor 1 by 100/250 = 0.4; box 1 overlaps
    # anchor 0 by 100/110 and anchor 1 by 10/250. Both want anchor 0; box 1 overlaps it more and
    # gets it, box 0 falls back to anchor 1, although 0.4 is below the threshold.
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 10.0, 10.0, 25.0]])
    gts = torch.tensor([[0.0, 0.0, 10.0, 20.0], [0.0, 0.0, 10.0, 11.0]])
    matched, ious = B.match_anchors(anchors, gts, 0.9)
    assert matched.tolist() == [1, 0]
    assert_close(ious, torch.tensor([10 / 11, 0.4]))


def test_match_anchors_empty():
    anchors = B.make_anchors((2, 2), 8, [8], [1.0])
    matched, ious = B.match_anchors(anchors, torch.zeros(0, 4), 0.5)
    assert matched.tolist() == [-1] * 4 and ious.tolist() == [0.0] * 4
    matched, ious = B.match_anchors(torch.zeros(0, 4), torch.ones(1, 4), 0.5)
    assert matched.shape == (0,) and ious.shape == (0,)


# ------------------------------------------------------------------------------ box coding


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", [(10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0)])
def test_encode_decode_match_torchvision(dtype, weights):
    gts = random_boxes(50, 12, dtype, special=False)
    anchors = random_boxes(50, 13, dtype, special=False)
    coder = BoxCoder(weights)
    deltas = B.encode_boxes(gts, anchors, weights)
    assert_close(deltas, coder.encode_single(gts, anchors), **TOL[dtype])
    expected = coder.decode_single(deltas, anchors)
    assert_close(B.decode_boxes(deltas, anchors, weights), expected, **TOL[dtype])
    big = torch.full((50, 4), 9.0, dtype=dtype) * torch.tensor(weights, dtype=dtype)  # exp clipped
    expected = coder.decode_single(big, anchors)
    assert_close(B.decode_boxes(big, anchors, weights), expected, **TOL[dtype])


positive_boxes = st.lists(
    st.tuples(st.floats(-50, 100), st.floats(-50, 100), st.floats(1, 50), st.floats(1, 50)),
    min_size=1, max_size=6,
).map(lambda rows: torch.tensor([[x, y, x + w, y + h] for x, y, w, h in rows], dtype=torch.float64))


@FAST
@given(positive_boxes, st.integers(0, 2**16))
def test_decode_inverts_encode(gts, seed):
    anchors = random_boxes(gts.shape[0], seed, special=False)  # sizes 1..50: ratios within the clip
    deltas = B.encode_boxes(gts, anchors)
    assert_close(B.decode_boxes(deltas, anchors), gts, rtol=1e-9, atol=1e-9)


def test_encode_decode_empty():
    empty = torch.zeros(0, 4)
    assert B.encode_boxes(empty, empty).shape == (0, 4)
    assert B.decode_boxes(empty, empty).shape == (0, 4)


# ------------------------------------------------------------------------------ errors

GOOD = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]])
BAD_X = torch.tensor([[0.0, 0.0, 2.0, 2.0], [5.0, 1.0, 3.0, 3.0]])
BAD_Y = torch.tensor([[0.0, 4.0, 2.0, 2.0]])
NAN = torch.tensor([[0.0, float("nan"), 2.0, 2.0]])
ANCHORS = B.make_anchors((2, 2), 8, [8])

ERRORS = [
    (
        "flat box",
        lambda: B.box_iou(torch.zeros(4), GOOD),
        r"boxes1 must have shape \[N, 4\].*\(4,\)",
    ),
    ("5 columns", lambda: B.box_area(torch.zeros(3, 5)), r"shape \[N, 4\].*\(3, 5\)"),
    ("3-D", lambda: B.box_convert(torch.zeros(2, 3, 4), "xyxy", "xywh"), r"shape \[N, 4\]"),
    (
        "x2 < x1",
        lambda: B.box_iou(GOOD, BAD_X),
        r"boxes2\[1\] = \(5, 1, 3, 3\) has x2 < x1.*box_convert",
    ),
    ("y2 < y1", lambda: B.box_area(BAD_Y), r"boxes\[0\].*has y2 < y1"),
    ("NaN", lambda: B.generalized_box_iou(NAN, GOOD), r"boxes1\[0\].*NaN"),
    ("distance x2 < x1", lambda: B.distance_box_iou(BAD_X, GOOD), r"boxes1\[1\]"),
    ("complete x2 < x1", lambda: B.complete_box_iou(GOOD, BAD_X), r"boxes2\[1\]"),
    (
        "in_fmt",
        lambda: B.box_convert(GOOD, "xywhh", "xyxy"),
        r"in_fmt='xywhh'.*'xyxy', 'xywh', 'cxcywh'",
    ),
    ("out_fmt", lambda: B.box_convert(GOOD, "xyxy", "XYWH"), r"out_fmt='XYWH'"),
    ("loss lengths", lambda: B.iou_loss(GOOD, GOOD[:1]), r"same number of rows, got 2 and 1"),
    ("loss bad box", lambda: B.complete_box_iou_loss(GOOD, BAD_X), r"boxes2\[1\]"),
    ("reduction", lambda: B.generalized_box_iou_loss(GOOD, GOOD, "avg"), r"reduction='avg'"),
    ("dloss reduction", lambda: B.distance_box_iou_loss(GOOD, GOOD, "max"), r"reduction='max'"),
    (
        "nms threshold high",
        lambda: B.nms(GOOD, torch.ones(2), 1.5),
        r"iou_threshold must be in \[0, 1\].*1.5",
    ),
    ("nms threshold low", lambda: B.nms(GOOD, torch.ones(2), -0.1), r"-0.1"),
    ("nms threshold NaN", lambda: B.nms(GOOD, torch.ones(2), float("nan")), r"nan"),
    ("nms threshold str", lambda: B.nms(GOOD, torch.ones(2), "high"), r"'high'"),
    (
        "nms scores",
        lambda: B.nms(GOOD, torch.ones(3), 0.5),
        r"scores must have shape \[N\] with N = 2.*\(3,\)",
    ),
    ("nms bad box", lambda: B.nms(BAD_X, torch.ones(2), 0.5), r"boxes\[1\].*x2 < x1"),
    (
        "batched idxs length",
        lambda: B.batched_nms(GOOD, torch.ones(2), torch.zeros(3, dtype=torch.long), 0.5),
        r"idxs",
    ),
    (
        "batched idxs float",
        lambda: B.batched_nms(GOOD, torch.ones(2), torch.zeros(2), 0.5),
        r"integer",
    ),
    (
        "batched threshold",
        lambda: B.batched_nms(GOOD, torch.ones(2), torch.zeros(2, dtype=torch.long), 2),
        r"\[0, 1\]",
    ),
    ("anchors size", lambda: B.make_anchors((2, 2, 2), 8, [8]), r"feature_size must be \(H, W\)"),
    ("anchors negative", lambda: B.make_anchors((-1, 2), 8, [8]), r"feature_size"),
    ("anchors float", lambda: B.make_anchors((2.0, 2), 8, [8]), r"feature_size"),
    ("stride", lambda: B.make_anchors((2, 2), 0, [8]), r"stride must be positive"),
    ("sizes empty", lambda: B.make_anchors((2, 2), 8, []), r"sizes must be a non-empty"),
    ("ratios negative", lambda: B.make_anchors((2, 2), 8, [8], [1.0, -2.0]), r"ratios"),
    ("match threshold", lambda: B.match_anchors(ANCHORS, GOOD, 1.2), r"iou_threshold.*1.2"),
    ("match bad gt", lambda: B.match_anchors(ANCHORS, BAD_X), r"gt_boxes\[1\]"),
    ("match shape", lambda: B.match_anchors(ANCHORS[:, :2], GOOD), r"anchors must have shape"),
    ("encode lengths", lambda: B.encode_boxes(GOOD, GOOD[:1]), r"same number of rows"),
    (
        "encode zero size",
        lambda: B.encode_boxes(torch.tensor([[0.0, 0.0, 0.0, 2.0]]), GOOD[:1]),
        r"gt_boxes\[0\].*zero width",
    ),
    (
        "encode zero anchor",
        lambda: B.encode_boxes(GOOD[:1], torch.tensor([[0.0, 0.0, 2.0, 0.0]])),
        r"anchors\[0\]",
    ),
    (
        "encode weights",
        lambda: B.encode_boxes(GOOD, GOOD, (1.0, 1.0, 1.0)),
        r"weights must be four positive",
    ),
    ("decode weights", lambda: B.decode_boxes(GOOD, GOOD, (1.0, 0.0, 1.0, 1.0)), r"weights"),
    ("decode lengths", lambda: B.decode_boxes(GOOD, GOOD[:1]), r"deltas and anchors"),
    (
        "decode deltas shape",
        lambda: B.decode_boxes(torch.zeros(2, 3), GOOD),
        r"deltas must have shape",
    ),
    ("decode bad anchors", lambda: B.decode_boxes(GOOD, BAD_X), r"anchors\[1\]"),
]


@pytest.mark.parametrize("call, match", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_empty_pairwise_and_convert():
    empty = torch.zeros(0, 4)
    for f in (B.box_iou, B.generalized_box_iou, B.distance_box_iou, B.complete_box_iou):
        assert f(empty, GOOD).shape == (0, 2) and f(GOOD, empty).shape == (2, 0)
    assert B.box_area(empty).shape == (0,)
    assert B.box_convert(empty, "xyxy", "cxcywh").shape == (0, 4)
