"""Tests of dlbook_utils.metrics: a hand-computed example, the VOC devkit's AP code, pycocotools."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dlbook_utils import metrics as M

# ------------------------------------------------------------------------------ hand example
#
# One image, one class (label 1), three ground-truth boxes far apart:
#   G1 = (0, 0, 10, 10), G2 = (20, 0, 30, 10), G3 = (40, 0, 50, 10)
# five detections, by decreasing score:
#   d1 0.9 (0, 0, 10, 10)       = G1, IoU 1               -> TP
#   d2 0.8 (100, 100, 110, 110) overlaps nothing          -> FP
#   d3 0.7 (21, 0, 31, 10)      with G2: 9*10 / (100 + 100 - 90) = 90/110 = 0.82 -> TP
#   d4 0.6 (0, 0, 10, 10)       G1 is already taken       -> FP
#   d5 0.5 (40, 0, 50, 5)       with G3: 50 / 100 = 0.5 exactly -> TP at IoU >= 0.5, FP at 0.55
# At 0.5: cumulative TP 1, 1, 2, 2, 3 over 1..5 detections:
#   precision 1, 1/2, 2/3, 2/4, 3/5;  recall 1/3, 1/3, 2/3, 2/3, 1.
# Best precision at recall >= r: 1 for r <= 1/3, max(2/3, 1/2, 3/5) = 2/3 for 1/3 < r <= 2/3,
# 3/5 for r > 2/3.
#   all points: 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/5 = 15/45 + 10/45 + 9/45 = 34/45
#   VOC 11 points: r = 0, .1, .2, .3 -> 1 (4 points); .4, .5, .6 -> 2/3 (3); .7 ... 1 -> 3/5 (4)
#     (4 + 3 * 2/3 + 4 * 3/5) / 11 = 8.4 / 11 = 42/55
#   COCO 101 points: r = 0 .. .33 -> 1 (34 points); .34 .. .66 -> 2/3 (33); .67 .. 1 -> 3/5 (34)
#     (34 + 33 * 2/3 + 34 * 3/5) / 101 = 76.4 / 101 = 382/505
# At 0.55 d5 is a FP: precision 1, 1/2, 2/3, 2/4, 2/5, recall 1/3, 1/3, 2/3, 2/3, 2/3;
#   all points: 1/3 * 1 + 1/3 * 2/3 = 5/9.
# A second class (label 7) with one ground truth and one detection that misses it: AP 0.

HAND_TARGETS = [
    {
        "boxes": torch.tensor([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10], [0, 50, 10, 60]]),
        "labels": torch.tensor([1, 1, 1, 7]),
    }
]
HAND_PREDICTIONS = [
    {
        "boxes": torch.tensor(
            [[0, 0, 10, 10], [100, 100, 110, 110], [21, 0, 31, 10], [0, 0, 10, 10], [40, 0, 50, 5],
             [30, 30, 35, 35]],
            dtype=torch.float32,
        ),
        "scores": torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5, 0.95]),
        "labels": torch.tensor([1, 1, 1, 1, 1, 7]),
    }
]


def test_hand_example_curve():
    curves = M.precision_recall_curve_det(HAND_PREDICTIONS, HAND_TARGETS, 0.5)
    assert list(curves) == [1, 7]
    c = curves[1]
    assert c.num_gt == 3
    f64 = torch.float64
    expected_precision = torch.tensor([1, 1 / 2, 2 / 3, 2 / 4, 3 / 5], dtype=f64)
    torch.testing.assert_close(c.precision, expected_precision)
    torch.testing.assert_close(c.recall, torch.tensor([1, 1, 2, 2, 3], dtype=f64) / 3)
    torch.testing.assert_close(c.scores, torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5], dtype=f64))
    assert curves[7].precision.tolist() == [0.0] and curves[7].num_gt == 1


@pytest.mark.parametrize(
    "method, expected", [("all_points", 34 / 45), ("voc11", 42 / 55), ("coco101", 382 / 505)]
)
def test_hand_example_ap(method, expected):
    ap = M.average_precision_per_class(HAND_PREDICTIONS, HAND_TARGETS, 0.5, method)
    assert ap[1] == pytest.approx(expected, abs=1e-12)
    assert ap[7] == 0.0
    assert M.mean_average_precision(HAND_PREDICTIONS, HAND_TARGETS, 0.5, method) == pytest.approx(
        expected / 2, abs=1e-12
    )


def test_hand_example_threshold_is_inclusive():
    c = M.precision_recall_curve_det(HAND_PREDICTIONS, HAND_TARGETS, 0.55)[1]
    assert c.recall[-1].item() == pytest.approx(2 / 3)
    assert M.average_precision(c.recall, c.precision) == pytest.approx(5 / 9, abs=1e-12)


# ------------------------------------------------------------------------------ VOC devkit AP


def voc_ap_reference(rec: np.ndarray, prec: np.ndarray, use_07_metric: bool) -> float:
    """``voc_ap`` of the PASCAL VOC devkit's Python port (py-faster-rcnn ``voc_eval.py``)."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap = ap + p / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def random_curve(seed: int, num_gt: int):
    rng = np.random.default_rng(seed)
    tp = rng.random(rng.integers(1, 40)) < 0.5
    tp_cum = np.cumsum(tp)
    tp_cum = np.minimum(tp_cum, num_gt)  # a class cannot have more TPs than boxes
    return tp_cum / num_gt, tp_cum / np.arange(1, len(tp) + 1)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("num_gt", [3, 10, 20])  # 10 and 20 hit recall 0.3, 0.6, 0.7 exactly
def test_average_precision_matches_voc_devkit(seed, num_gt):
    rec, prec = random_curve(seed, num_gt)
    for method, use_07 in (("all_points", False), ("voc11", True)):
        got = M.average_precision(torch.from_numpy(rec), torch.from_numpy(prec), method)
        assert got == pytest.approx(voc_ap_reference(rec, prec, use_07), abs=1e-12)


def test_voc11_thresholds_are_the_devkits():
    # One detection, recall exactly 3/10, precision 1. The devkit's thresholds are
    # np.arange(0, 1.1, 0.1), where the fourth is 0.30000000000000004 > 0.3, so only
    # r = 0, 0.1, 0.2 count: AP = 3/11.
    assert M.average_precision([0.3], [1.0], "voc11") == pytest.approx(3 / 11, abs=1e-12)


def test_average_precision_empty_and_perfect():
    for method in ("all_points", "voc11", "coco101"):
        assert M.average_precision([], [], method) == 0.0
        assert M.average_precision([0.5, 1.0], [1.0, 1.0], method) == pytest.approx(1.0)


# ------------------------------------------------------------------------------ pycocotools


def random_dataset(seed: int, ties: bool, num_images: int = 8, num_classes: int = 3):
    """Integer boxes (exact IoUs, some exactly equal to a threshold), jittered copies
    of ground truths plus clutter; one image without boxes, one without detections, one class
    only in the detections, and in one image more than 100 detections of a class."""
    rng = np.random.default_rng(seed)
    predictions, targets = [], []
    for i in range(num_images):
        g = 0 if i == 1 else int(rng.integers(1, 7))
        xy = rng.integers(0, 60, (g, 2))
        gt = np.concatenate([xy, xy + rng.integers(2, 30, (g, 2))], axis=1)
        gt_labels = rng.integers(0, num_classes, g)
        boxes, labels = [], []
        for box, label in zip(gt, gt_labels):
            for _ in range(int(rng.integers(0, 4))):
                boxes.append(box + rng.integers(-3, 4, 4))
                labels.append(label if rng.random() < 0.85 else rng.integers(0, num_classes + 1))
        for _ in range(int(rng.integers(0, 6))):
            xy = rng.integers(0, 80, 2)
            boxes.append(np.concatenate([xy, xy + rng.integers(1, 30, 2)]))
            labels.append(int(rng.integers(0, num_classes + 1)))  # num_classes: only in detections
        if i == 2 and g:
            for _ in range(110):
                boxes.append(gt[0] + rng.integers(-4, 5, 4))
                labels.append(gt_labels[0])
        if i == 3:
            boxes, labels = [], []
        boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])  # keep x1 <= x2 after jitter
        n = len(boxes)
        scores = rng.integers(1, 6, n) / 5 if ties else rng.random(n)
        labels = torch.tensor(labels, dtype=torch.long).reshape(n)
        predictions.append(
            {"boxes": torch.tensor(boxes), "scores": torch.tensor(scores), "labels": labels}
        )
        gt = torch.tensor(gt, dtype=torch.float32).reshape(-1, 4)
        targets.append({"boxes": gt, "labels": torch.tensor(gt_labels)})
    # A detection with equal IoU (100/120) with two boxes: the later box takes it, which leaves
    # the earlier box to the second detection at every threshold (an exact copy of it).
    targets.append(
        {"boxes": torch.tensor([[0.0, 0, 10, 12], [0, -2, 10, 10]]), "labels": torch.tensor([0, 0])}
    )
    predictions.append(
        {
            "boxes": torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 12]]),
            "scores": torch.tensor([0.9, 0.8]),
            "labels": torch.tensor([0, 0]),
        }
    )
    return predictions, targets, num_classes


def run_cocoeval(predictions, targets, num_classes):
    """pycocotools on the same data: image i has id i + 1, label c has category id c + 1."""
    images = [{"id": i + 1, "width": 200, "height": 200} for i in range(len(targets))]
    annotations, detections = [], []
    for i, t in enumerate(targets):
        for box, label in zip(t["boxes"].tolist(), t["labels"].tolist()):
            x1, y1, x2, y2 = box
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i + 1, "category_id": label + 1,
                 "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0}
            )
    for i, p in enumerate(predictions):
        rows = zip(p["boxes"].tolist(), p["scores"].tolist(), p["labels"].tolist())
        for (x1, y1, x2, y2), score, label in rows:
            detections.append(
                {"image_id": i + 1, "category_id": label + 1,
                 "bbox": [x1, y1, x2 - x1, y2 - y1], "score": score}
            )
    categories = [{"id": c + 1, "name": str(c)} for c in range(num_classes + 1)]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations, "categories": categories}
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(detections), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_coco_map_matches_pycocotools(seed, ties):
    predictions, targets, num_classes = random_dataset(seed, ties)
    ev = run_cocoeval(predictions, targets, num_classes)
    assert M.coco_map(predictions, targets) == pytest.approx(ev.stats[0], abs=1e-9)
    # AP50 and AP75 are the same machinery at one threshold
    for stat, threshold in ((1, 0.5), (2, 0.75)):
        got = M.mean_average_precision(predictions, targets, threshold, "coco101", 100)
        assert got == pytest.approx(ev.stats[stat], abs=1e-9)
    # per class and threshold: AP and final recall, against COCOeval's accumulated arrays
    for t in (0, 3, 9):
        threshold = M.COCO_IOU_THRESHOLDS[t]
        assert threshold == ev.params.iouThrs[t]
        curves = M.precision_recall_curve_det(predictions, targets, threshold, max_detections=100)
        for label, curve in curves.items():
            k = ev.params.catIds.index(label + 1)
            ap = M.average_precision(curve.recall, curve.precision, "coco101")
            assert ap == pytest.approx(ev.eval["precision"][t, :, k, 0, 2].mean(), abs=1e-9)
            final = curve.recall[-1].item() if len(curve.recall) else 0.0
            assert final == pytest.approx(ev.eval["recall"][t, k, 0, 2], abs=1e-12)
        assert len(curves) == int((ev.eval["recall"][t, :, 0, 2] > -1).sum())  # same classes


def test_max_detections_keeps_the_best():
    target = [{"boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0]]), "labels": torch.tensor([0])}]
    # a miss with a high score, then the hit: with one detection allowed the hit is dropped
    prediction = [{"boxes": torch.tensor([[50.0, 50.0, 60.0, 60.0], [0.0, 0.0, 10.0, 10.0]]),
                   "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([0, 0])}]
    assert M.mean_average_precision(prediction, target, max_detections=1) == 0.0
    assert M.mean_average_precision(prediction, target, max_detections=2) == pytest.approx(0.5)
    assert M.coco_map(prediction, target, max_detections=2) == pytest.approx(0.5)


def test_empty_inputs():
    no_boxes = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    no_dets = {**no_boxes, "scores": torch.zeros(0)}
    assert M.precision_recall_curve_det([], []) == {}
    assert math.isnan(M.mean_average_precision([no_dets], [no_boxes]))
    assert math.isnan(M.coco_map([no_dets], [no_boxes]))
    one = {"boxes": torch.tensor([[0.0, 0.0, 1.0, 1.0]]), "labels": torch.tensor([3])}
    curves = M.precision_recall_curve_det([no_dets], [one])
    assert list(curves) == [3] and curves[3].precision.shape == (0,) and curves[3].num_gt == 1
    assert M.coco_map([no_dets], [one]) == 0.0


def test_inputs_on_any_device_and_dtype():
    device = "cuda" if torch.cuda.is_available() else "cpu"
    moved = [{k: v.to(device) for k, v in d.items()} for d in HAND_PREDICTIONS]
    targets = [{k: v.to(device) for k, v in d.items()} for d in HAND_TARGETS]  # int64 boxes
    assert M.average_precision_per_class(moved, targets)[1] == pytest.approx(34 / 45)


# ------------------------------------------------------------------------------ errors

T1 = [{"boxes": torch.tensor([[0.0, 0.0, 1.0, 1.0]]), "labels": torch.tensor([0])}]
P1 = [{**T1[0], "scores": torch.tensor([0.5])}]


def pred(**change):
    return [{**P1[0], **change}]


ERRORS = [
    ("lengths", lambda: M.coco_map(P1 * 2, T1), r"predictions has 2 images but targets has 1"),
    (
        "missing scores",
        lambda: M.mean_average_precision([{"boxes": torch.zeros(0, 4)}], T1),
        r"predictions\[0\] has no 'scores'",
    ),
    (
        "missing target labels",
        lambda: M.coco_map(P1, [{"boxes": torch.zeros(0, 4)}]),
        r"targets\[0\] has no 'labels'",
    ),
    ("not a dict", lambda: M.coco_map([torch.zeros(1, 4)], T1), r"predictions\[0\] has no 'boxes'"),
    (
        "box shape",
        lambda: M.coco_map(pred(boxes=torch.zeros(1, 5)), T1),
        r"predictions\[0\]\['boxes'\] must have shape \[N, 4\]",
    ),
    (
        "bad box",
        lambda: M.coco_map(P1, [{**T1[0], "boxes": torch.tensor([[0.0, 0.0, -1.0, 1.0]])}]),
        r"targets\[0\]\['boxes'\]\[0\].*x2 < x1.*box_convert",
    ),
    (
        "scores length",
        lambda: M.coco_map(pred(scores=torch.tensor([0.5, 0.4])), T1),
        r"predictions\[0\]\['scores'\] must have shape \[N\] with N = 1",
    ),
    (
        "labels length",
        lambda: M.coco_map(pred(labels=torch.tensor([0, 1])), T1),
        r"predictions\[0\]\['labels'\]",
    ),
    (
        "float labels",
        lambda: M.coco_map(pred(labels=torch.tensor([0.0])), T1),
        r"integer class ids.*\.long\(\)",
    ),
    (
        "threshold",
        lambda: M.precision_recall_curve_det(P1, T1, 1.5),
        r"iou_threshold must be in \[0, 1\].*1.5",
    ),
    ("threshold map", lambda: M.mean_average_precision(P1, T1, -0.5), r"iou_threshold.*-0.5"),
    ("max_detections", lambda: M.coco_map(P1, T1, 0), r"max_detections must be a positive int.*0"),
    (
        "max_detections float",
        lambda: M.precision_recall_curve_det(P1, T1, 0.5, 2.5),
        r"max_detections.*2.5",
    ),
    (
        "method",
        lambda: M.average_precision([0.5], [1.0], "voc12"),
        r"method='voc12'.*'all_points', 'voc11', 'coco101'",
    ),
    (
        "method per class",
        lambda: M.average_precision_per_class(P1, T1, method="area"),
        r"method='area'",
    ),
    (
        "ap lengths",
        lambda: M.average_precision([0.5, 1.0], [1.0], "voc11"),
        r"same length.*\(2,\) and \(1,\)",
    ),
    ("ap 2-D", lambda: M.average_precision(torch.ones(2, 2), torch.ones(2, 2)), r"1-D"),
    (
        "recall decreases",
        lambda: M.average_precision([0.5, 0.2], [1.0, 1.0]),
        r"recall decreases at index 1 \(0.5 -> 0.2\)",
    ),
    (
        "precision > 1",
        lambda: M.average_precision([0.5], [1.5]),
        r"precision\[0\] = 1.5 is outside \[0, 1\]",
    ),
    ("recall NaN", lambda: M.average_precision([float("nan")], [1.0]), r"recall\[0\] = nan"),
]


@pytest.mark.parametrize("call, match", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
