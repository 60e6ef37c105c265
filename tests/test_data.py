"""Tests of dlbook_utils.data and data_scripts/: generators, formats, stand-ins, prepare, fetch.

References: pycocotools (COCO files and mAP), torchvision's own CIFAR10/ImageFolder/FashionMNIST
loaders (stand-ins and fetched layouts), hashlib, hand-computed YOLO lines, brute-force loops
over pixels. Nothing here touches the network: downloads go to a server on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import importlib.util
import io
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from dlbook_utils import data as D
from dlbook_utils.data import disk as prepare_mod
from dlbook_utils.data import formats, packaged
from dlbook_utils.data import remote as fetch_mod


def _script(name: str):
    """Import data_scripts/<name>.py under a unique module name."""
    path = Path(__file__).resolve().parents[1] / "data_scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"data_scripts_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fetch_script, prepare_script = _script("fetch"), _script("prepare")

HOUSE = b"NumRooms,Alley,Price\nNA,Pave,127500\n2,NA,106000\n4,NA,178100\nNA,NA,140000\n"


def _bytes(*outs) -> bytes:
    """All tensors / strings / dicts of a generator's output, as one byte string."""
    parts = []
    for o in outs:
        if isinstance(o, torch.Tensor):
            parts.append(o.numpy().tobytes())
        elif isinstance(o, list) and o and isinstance(o[0], dict) and "boxes" in o[0]:
            parts += [v.numpy().tobytes() for t in o for v in t.values()]
        else:
            parts.append(json.dumps(o, sort_keys=True).encode())
    return b"".join(parts)


GENERATORS = {
    "classification": lambda seed: D.shapes_classification(12, 32, seed),
    "detection": lambda seed: D.shapes_detection(6, 64, 3, seed),
    "segmentation": lambda seed: D.shapes_segmentation(6, 64, 3, seed),
    "captions": lambda seed: D.captioned_shapes(6, 64, seed, num_distractors=2),
    "defects": lambda seed: D.texture_defects(6, 64, seed),
}


# ----------------------------------------------------------------------------- generators


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_are_deterministic(name):
    gen = GENERATORS[name]
    assert _bytes(*gen(0)) == _bytes(*gen(0))
    assert _bytes(*gen(0)) != _bytes(*gen(1))


_HASH_CODE = """
import hashlib
from dlbook_utils import data as D
h = hashlib.sha256()
for out in (D.shapes_classification(20, 32, 5, classes=D.ALL_SHAPES),
            D.shapes_segmentation(6, 64, 3, 5),
            D.captioned_shapes(6, 64, 5, num_distractors=3)[:1],
            D.texture_defects(6, 64, 5)):
    for t in out:
        h.update(t.numpy().tobytes())
print(h.hexdigest())
"""


def test_generators_identical_on_numpys_baseline_code_paths():
    """Same bytes when NumPy may not use this CPU's SIMD extensions (as on an older machine)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        pytest.skip("this NumPy does not expose its CPU dispatch table")
    found = [k for k in __cpu_dispatch__ if __cpu_features__.get(k)]
    if not found:
        pytest.skip("no dispatched SIMD extension to switch off on this CPU")
    here = {}
    exec(_HASH_CODE, here)  # noqa: S102  (prints the in-process hash)
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(found),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run([sys.executable, "-c", _HASH_CODE], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    assert run.stdout.strip() == here["h"].hexdigest()


def test_classification_shapes_and_balance():
    x, y = D.shapes_classification(20, 32, 3, classes=D.ALL_SHAPES)
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= x.min() and x.max() <= 1.0
    torch.testing.assert_close(x * 255, (x * 255).round(), atol=1e-4, rtol=0)  # multiples of 1/255
    assert torch.bincount(y, minlength=10).tolist() == [2] * 10


def _scene(seed=0, n=8, size=64):
    x, targets = D.shapes_detection(n, size, 3, seed)
    x2, exact = D.shapes_segmentation(n, size, 3, seed, ignore_width=0)
    x3, voc = D.shapes_segmentation(n, size, 3, seed)
    assert torch.equal(x, x2) and torch.equal(x, x3)  # one scene generator for all three
    return x, targets, exact, voc


def test_detection_boxes_inside_image_and_tight_around_drawn_pixels():
    x, targets, exact, _ = _scene()
    for t, mask in zip(targets, exact):
        boxes, labels = t["boxes"], t["labels"]
        assert boxes.dtype == torch.float32 and labels.dtype == torch.int64
        assert 1 <= len(boxes) <= 3 and ((labels >= 1) & (labels <= 4)).all()
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= 64).all() and (boxes[:, 3] <= 64).all()
        assert (boxes[:, :2] < boxes[:, 2:]).all()
        covered = torch.zeros(64, 64, dtype=torch.bool)
        for (x1, y1, x2, y2), k in zip(boxes.int().tolist(), labels.tolist()):
            inside = mask[y1:y2, x1:x2] == k
            # tight: object pixels touch all four sides of the box
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            covered[y1:y2, x1:x2] |= inside
        # every drawn object pixel lies inside a box of its own class
        assert torch.equal(covered, mask > 0)


def test_segmentation_masks_follow_voc_conventions():
    _, targets, exact, voc = _scene()
    assert voc.dtype == torch.uint8 and voc.shape == (8, 64, 64)
    assert set(voc.unique().tolist()) <= {0, 1, 2, 3, 4, 255} and (voc == 255).any()
    for t, e, v in zip(targets, exact, voc):
        keep = v != 255
        assert torch.equal(v[keep], e[keep])  # outside the band, the classes are the exact ones
        # brute force: a pixel is 255 iff its 3x3 neighbourhood (inside the image) has two labels
        padded = torch.nn.functional.pad(e[None, None].float(), (1, 1, 1, 1), mode="replicate")[0, 0]
        windows = padded.unfold(0, 3, 1).unfold(1, 3, 1)
        edge = windows.amax((-1, -2)) != windows.amin((-1, -2))
        assert torch.equal(v == 255, edge)
        assert set(e.unique().tolist()) - {0} == set(t["labels"].tolist())


def test_captioned_shapes_caption_matches_attributes_and_position():
    x, captions, attrs = D.captioned_shapes(30, 64, 1, num_distractors=3)
    assert x.shape == (30, 3, 64, 64) and len(captions) == len(attrs) == 30
    for caption, a in zip(captions, attrs):
        assert caption == f"a {a['size']} {a['color']} {a['shape']} in the {a['position']}"
        assert a["color"] in D.COLORS and a["shape"] in D.SHAPES and a["position"] in D.POSITIONS
        x1, y1, x2, y2 = a["box"]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        if a["position"] == "center":
            assert 24 <= cx <= 40 and 24 <= cy <= 40
        else:
            assert (cy < 32) == a["position"].startswith("top")
            assert (cx < 32) == a["position"].endswith("left")
        if a["shape"] == "circle":  # small: r <= 0.13 * 64 = 8.3, large: r >= 0.17 * 64 = 10.9
            assert (x2 - x1 >= 20) == (a["size"] == "large")
            assert (x2 - x1 <= 18) == (a["size"] == "small")


def test_texture_defects_labels_masks_and_grey_normals():
    x, labels, masks = D.texture_defects(10, 64, 2, defect_fraction=0.3)
    assert x.shape == (10, 3, 64, 64) and labels.dtype == torch.int64 and masks.dtype == torch.uint8
    assert labels.sum() == 3
    for img, label, mask in zip(x, labels, masks):
        assert set(mask.unique().tolist()) <= {0, 1}
        assert bool(mask.any()) == bool(label)
        if not label:
            assert torch.equal(img[0], img[1]) and torch.equal(img[1], img[2])
    _, none, _ = D.texture_defects(4, 64, 0, defect_fraction=0.0, textures=("brick",))
    assert none.sum() == 0


def test_house_csv_bytes(tmp_path):
    path = D.house_csv(tmp_path / "sub" / "house_tiny.csv")
    assert path.read_bytes() == HOUSE


@pytest.mark.parametrize("call, match", [
    (lambda: D.shapes_classification(0), "n must be"),
    (lambda: D.shapes_classification(4, size=8), "size must be"),
    (lambda: D.shapes_classification(4, size=1024), "size must be"),
    (lambda: D.shapes_classification(4, classes=("circle", "hexagram")), "hexagram"),
    (lambda: D.shapes_detection(4, max_objects=0), "max_objects"),
    (lambda: D.shapes_segmentation(4, ignore_width=5), "ignore_width"),
    (lambda: D.captioned_shapes(4, num_distractors=9), "num_distractors"),
    (lambda: D.texture_defects(4, defect_fraction=1.5), "defect_fraction"),
    (lambda: D.texture_defects(4, textures=("marble",)), "marble"),
    (lambda: D.digits_dataset(size=16), "size must be 8, 28 or 32"),
    (lambda: D.digits_dataset(test_fraction=1.0), "test_fraction"),
    (lambda: D.sample_photo("mona_lisa"), "astronaut"),
])
def test_bad_arguments_raise_value_error_naming_the_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- packaged data


def test_digits_dataset_split_sizes_and_ranges():
    from sklearn.datasets import load_digits

    train, test = D.digits_dataset(True, 8), D.digits_dataset(False, 8)
    assert len(train) + len(test) == 1797 and len(test) == 360
    digits = load_digits()
    ref = torch.from_numpy(digits.images / 16.0).float()
    # every image of either part is one of sklearn's images, and no image is in both parts
    flat = {tuple(r) for r in ref.reshape(1797, -1).tolist()}
    seen = [tuple(r) for r in torch.cat([train.data, test.data]).reshape(1797, -1).tolist()]
    assert set(seen) <= flat and torch.equal(torch.cat([train.targets, test.targets]).bincount(),
                                             torch.from_numpy(digits.target).bincount())
    for size in (28, 32):
        ds = D.digits_dataset(False, size)
        img, label = ds[0]
        assert img.shape == (1, size, size) and isinstance(label, int)
        assert ds.classes[label] == str(label)
        assert 0.0 <= ds.data.min() and ds.data.max() <= 1.0
        pad = (size - 20) // 2
        assert ds.data[:, :, :pad].abs().sum() == 0 and ds.data[:, :, size - pad:].abs().sum() == 0


def test_digits_resize_matches_torch_bilinear():
    x = torch.rand(3, 8, 8, dtype=torch.float64)
    ours = packaged.resize_bilinear(x.numpy(), 20)
    ref = torch.nn.functional.interpolate(x[:, None], size=(20, 20), mode="bilinear",
                                          align_corners=False)
    torch.testing.assert_close(torch.from_numpy(ours), ref[:, 0])


def test_sample_photos_and_textures():
    assert D.sample_photo("astronaut").shape == (512, 512, 3)
    assert D.sample_photo("camera").shape == (512, 512)
    assert D.sample_photo("logo").shape[2] == 4
    assert D.sample_photo("china").dtype == np.uint8
    for name in D.TEXTURES:
        tex = D.sample_photo(name)
        assert tex.shape == (512, 512) and tex.dtype == np.uint8
    for name in D.PHOTOS:  # all ship with the packages: no download
        photo = D.sample_photo(name)
        assert photo.dtype == np.uint8 and photo.ndim in (2, 3) and min(photo.shape[:2]) >= 172


def test_lfw_faces_is_float_in_unit_range_with_faces_first():
    images, labels = D.lfw_faces()
    assert images.shape == (200, 25, 25) and images.dtype == np.float64
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.tolist() == [1] * 100 + [0] * 100


# ----------------------------------------------------------------------------- formats


def _targets():
    _, targets = D.shapes_detection(5, 64, 3, 4)
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    odd = {"boxes": torch.tensor([[0.5, 1.25, 10.1, 63.9]]), "labels": torch.tensor([4])}
    return targets + [empty, odd]


def _same(a, b):
    assert torch.equal(a["boxes"], b["boxes"]) and torch.equal(a["labels"], b["labels"])


def test_voc_xml_round_trip_and_one_based_convention(tmp_path):
    for i, t in enumerate(_targets()):
        p = formats.write_voc_xml(tmp_path / f"{i}.xml", t, (64, 64), filename=f"{i}.png")
        back, meta = formats.read_voc_xml(p)
        _same(t, back)
        assert meta["filename"] == f"{i}.png" and (meta["height"], meta["width"]) == (64, 64)
    t = {"boxes": torch.tensor([[8.0, 16.0, 24.0, 48.0]]), "labels": torch.tensor([2])}
    root = formats.ET.parse(formats.write_voc_xml(tmp_path / "h.xml", t, (64, 64), filename="h.png"))
    bb = root.find("object/bndbox")
    assert [bb.findtext(k) for k in ("xmin", "ymin", "xmax", "ymax")] == ["9", "17", "24", "48"]
    assert root.findtext("object/name") == "square"


def test_yolo_round_trip_and_hand_computed_line(tmp_path):
    for i, t in enumerate(_targets()):
        p = formats.write_yolo_txt(tmp_path / f"{i}.txt", t, (64, 64))
        _same(t, formats.read_yolo_txt(p, (64, 64)))
    t = {"boxes": torch.tensor([[8.0, 16.0, 24.0, 48.0]]), "labels": torch.tensor([2])}
    # cx = (8+24)/2/64 = 0.25, cy = (16+48)/2/64 = 0.5, w = 16/64, h = 32/64; class 2-1
    p = formats.write_yolo_txt(tmp_path / "h.txt", t, (64, 64))
    assert p.read_text() == "1 0.25 0.5 0.25 0.5\n"
    # width and height normalise separately: a 50 (H) x 100 (W) image
    p = formats.write_yolo_txt(tmp_path / "w.txt", t, (50, 100))
    assert p.read_text() == "1 0.16 0.64 0.16 0.64\n"
    _same(t, formats.read_yolo_txt(tmp_path / "w.txt", (50, 100)))
    (tmp_path / "bad.txt").write_text("1 0.5 0.5\n")
    with pytest.raises(ValueError, match="class cx cy w h"):
        formats.read_yolo_txt(tmp_path / "bad.txt", (64, 64))


def test_labelme_round_trip_polygons_and_errors(tmp_path):
    for i, t in enumerate(_targets()):
        p = formats.write_labelme_json(tmp_path / f"{i}.json", t, (64, 64),
                                       image_path=f"../images/{i}.png")
        doc = json.loads(p.read_text())
        assert doc["imagePath"] == f"../images/{i}.png" and doc["imageData"] is None
        assert all(s["shape_type"] == "rectangle" for s in doc["shapes"])
        back, meta = formats.read_labelme_json(p)
        _same(t, back)
        assert (meta["height"], meta["width"]) == (64, 64)
    doc = {"shapes": [
        {"label": "star", "points": [[30, 40], [10, 5]], "shape_type": "rectangle"},
        {"label": "circle", "points": [[1, 2], [7, 3], [4, 9]], "shape_type": "polygon"},
    ], "imagePath": "x.png", "imageHeight": 64, "imageWidth": 64}
    (tmp_path / "hand.json").write_text(json.dumps(doc))
    back, _ = formats.read_labelme_json(tmp_path / "hand.json")
    assert back["boxes"].tolist() == [[10, 5, 30, 40], [1, 2, 7, 9]]
    assert back["labels"].tolist() == [4, 1]
    doc["shapes"][0]["shape_type"] = "circle"
    (tmp_path / "hand.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="circle"):
        formats.read_labelme_json(tmp_path / "hand.json")
    doc["shapes"] = [{"label": "dog", "points": [[0, 0], [1, 1]], "shape_type": "rectangle"}]
    (tmp_path / "hand.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="dog"):
        formats.read_labelme_json(tmp_path / "hand.json")


def test_coco_round_trip_and_pycocotools(tmp_path, capsys):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    targets = _targets()
    names = [f"{i:05d}.png" for i in range(len(targets))]
    p = formats.write_coco_json(tmp_path / "coco.json", targets, names, (64, 64))
    back, images, classes = formats.read_coco_json(p)
    for a, b in zip(targets, back):
        _same(a, b)
    assert [im["file_name"] for im in images] == names and classes == list(D.SHAPES)
    gt = COCO(str(p))
    assert len(gt.getImgIds()) == len(targets)
    assert len(gt.getAnnIds()) == sum(len(t["labels"]) for t in targets)
    assert [c["name"] for c in gt.loadCats(gt.getCatIds())] == list(D.SHAPES)
    # the ground truth as detections scores mAP@[.5:.95] = 1 in pycocotools
    dets = [{**a, "score": 1.0} for a in gt.loadAnns(gt.getAnnIds())]
    ev = COCOeval(gt, gt.loadRes(dets), "bbox")
    ev.evaluate(), ev.accumulate(), ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)
    capsys.readouterr()


def test_label_without_class_name_is_rejected(tmp_path):
    t = {"boxes": torch.tensor([[0.0, 0.0, 4.0, 4.0]]), "labels": torch.tensor([7])}
    with pytest.raises(ValueError, match="label 7"):
        formats.write_voc_xml(tmp_path / "x.xml", t, (8, 8), filename="x.png")


def test_mask_png_is_palette_with_voc_colours(tmp_path):
    _, masks = D.shapes_segmentation(2, 64, 3, 0)
    p = formats.write_mask_png(tmp_path / "m.png", masks[0])
    assert np.array_equal(formats.read_mask_png(p), masks[0].numpy())
    with Image.open(p) as img:
        assert img.mode == "P"
        pal = img.getpalette()
    # VOC devkit colours: background, aeroplane, bicycle, bird, boat; 255 = void
    first = [tuple(pal[3 * i: 3 * i + 3]) for i in range(5)]
    assert first == [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128)]
    assert tuple(pal[3 * 255: 3 * 256]) == (224, 224, 192)
    Image.new("RGB", (4, 4)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="'RGB'"):
        formats.read_mask_png(tmp_path / "rgb.png")


# ----------------------------------------------------------------------------- stand-ins


def test_cifar10_stand_in_is_read_by_torchvision_and_announced(tmp_path, capsys):
    ds = D.cifar10(tmp_path, train=True)
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith(f"CIFAR-10 not found under {tmp_path}: using a same-format stand-in")
    assert "python data_scripts/fetch.py cifar10" in out
    assert isinstance(ds, torchvision.datasets.CIFAR10) and ds.is_stand_in
    assert ds.data.shape == (5000, 32, 32, 3) and ds.data.dtype == np.uint8
    # a stand-in is named after what it shows, never after CIFAR-10's classes
    assert ds.classes == list(D.CIFAR10_STAND_IN_CLASSES) == list(D.ALL_SHAPES)
    assert not set(ds.classes) & set(D.CIFAR10_CLASSES)
    assert torch.bincount(torch.tensor(ds.targets)).tolist() == [500] * 10
    img, label = ds[0]
    assert isinstance(img, Image.Image) and img.size == (32, 32) and isinstance(label, int)
    test = D.cifar10(tmp_path, train=False, transform=torchvision.transforms.ToTensor())
    assert len(test) == 1000 and test[0][0].shape == (3, 32, 32)
    base = tmp_path / "cifar-10-batches-py"
    assert sorted(p.name for p in base.iterdir()) == sorted(
        ["batches.meta", "test_batch", D.STAND_IN_MARKER] + [f"data_batch_{i}" for i in range(1, 6)])
    # written once: a second load reuses the files (and still says it is a stand-in)
    mtimes = {p.name: p.stat().st_mtime_ns for p in base.iterdir()}
    D.cifar10(tmp_path)
    assert "stand-in" in capsys.readouterr().out
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in base.iterdir()}
    # plain torchvision checks the real archive's md5 sums, which a stand-in cannot match
    with pytest.raises(RuntimeError, match="corrupted"):
        torchvision.datasets.CIFAR10(tmp_path, download=False)


def test_an_outdated_stand_in_is_rewritten(tmp_path, capsys):
    D.cifar10(tmp_path, train=False)
    marker = tmp_path / "cifar-10-batches-py" / D.STAND_IN_MARKER
    data = json.loads(marker.read_text())
    data["stand_in_version"] = "1"  # an older stand-in (its files still match their md5 sums)
    data.pop("classes")
    marker.write_text(json.dumps(data))
    ds = D.cifar10(tmp_path, train=False)
    assert json.loads(marker.read_text())["stand_in_version"] == D.standins.STAND_IN_VERSION
    assert ds.classes == list(D.CIFAR10_STAND_IN_CLASSES)


def test_cifar10_without_marker_is_taken_as_real_and_checked(tmp_path, capsys):
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"junk")
    with pytest.raises(RuntimeError, match="fetch.py cifar10"):
        D.cifar10(tmp_path)
    assert capsys.readouterr().out == ""


def test_flower_stand_in_for_image_folder_and_real_folder(tmp_path, capsys):
    ds = D.flower_photos(tmp_path)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "flower_photos not found" in out and "fetch.py flower_photos" in out
    assert ds.is_stand_in and ds.classes == list(D.FLOWER_STAND_IN_CLASSES) and len(ds) == 400
    assert not set(ds.classes) & set(D.FLOWER_CLASSES)
    assert torch.bincount(torch.tensor(ds.targets)).tolist() == [80] * 5
    again = torchvision.datasets.ImageFolder(tmp_path / "flower_photos")
    assert again.classes == ds.classes and again[0][0].size == (64, 64)
    real_root = tmp_path / "real"
    for c in D.FLOWER_CLASSES:
        (real_root / "flower_photos" / c).mkdir(parents=True)
        Image.new("RGB", (20, 10), (200, 0, 0)).save(real_root / "flower_photos" / c / "a.jpg")
    ds = D.flower_photos(real_root)
    assert not ds.is_stand_in and len(ds) == 5 and capsys.readouterr().out == ""


# ----------------------------------------------------------------------------- prepare


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


def test_prepare_writes_every_set_in_its_formats_and_is_idempotent(tmp_path, capsys):
    from pycocotools.coco import COCO

    done = D.prepare("all", tmp_path, n=8, progress=False)
    assert set(done) == set(D.PREPARABLE)
    det = tmp_path / "shapes_detection"
    imgs = sorted((det / "train" / "images").glob("*.png"))
    assert len(imgs) == 8 and len(list((det / "val" / "images").glob("*.png"))) == 2
    targets, images, _ = formats.read_coco_json(det / "train" / "coco.json")
    ref_x, ref_t = D.shapes_detection(8, 64, 3, 0)  # train split: seed 2 * 0
    for img_path, t, t_ref, x_ref in zip(imgs, targets, ref_t, ref_x):
        stem = img_path.stem
        _same(t, t_ref)
        _same(t, formats.read_yolo_txt(det / "train" / "labels" / f"{stem}.txt", (64, 64)))
        _same(t, formats.read_voc_xml(det / "train" / "voc" / f"{stem}.xml")[0])
        _same(t, formats.read_labelme_json(det / "train" / "labelme" / f"{stem}.json")[0])
        png = torch.from_numpy(np.array(Image.open(img_path))).permute(2, 0, 1)
        assert torch.equal(png, (x_ref * 255).round().to(torch.uint8))
    COCO(str(det / "val" / "coco.json"))
    assert "names:\n  0: circle" in (det / "data.yaml").read_text()
    seg = tmp_path / "shapes_segmentation" / "train"
    assert Image.open(seg / "masks" / "00000.png").mode == "P"
    first_mask = D.shapes_segmentation(1, 64, 3, 0)[1][0].numpy()
    assert np.array_equal(formats.read_mask_png(seg / "masks" / "00000.png"), first_mask)
    folder = torchvision.datasets.ImageFolder(tmp_path / "shapes_classification" / "train")
    assert folder.classes == sorted(D.SHAPES) and len(folder) == 8
    lines = (tmp_path / "captioned_shapes" / "val" / "captions.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["caption"].startswith("a ")
    labels = (tmp_path / "texture_defects" / "train" / "labels.csv").read_text().splitlines()
    assert labels[0] == "file,label" and all(r.endswith(",0") for r in labels[1:])  # train: normal only
    assert (tmp_path / "house_tiny" / "house_tiny.csv").read_bytes() == HOUSE
    manifest = json.loads((det / "manifest.json").read_text())
    assert manifest["counts"] == {"train": 8, "val": 2} and manifest["seed"] == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    before = _tree(tmp_path)
    capsys.readouterr()
    D.prepare(None, tmp_path, n=8, progress=False)  # second run: nothing written
    assert _tree(tmp_path) == before
    assert capsys.readouterr().out.count("up to date") == len(D.PREPARABLE)
    # new counts: rewritten
    D.prepare(["house_tiny", "shapes_detection"], tmp_path, n=4, progress=False)
    assert json.loads((det / "manifest.json").read_text())["counts"] == {"train": 4, "val": 1}
    assert len(list((det / "train" / "images").glob("*.png"))) == 4


def test_prepare_is_atomic(tmp_path, monkeypatch):
    D.prepare("shapes_detection", tmp_path, n=4, progress=False)
    before = _tree(tmp_path)
    calls = []

    def failing_save(path, image):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        return real_save(path, image)

    real_save = prepare_mod._save_png
    monkeypatch.setattr(prepare_mod, "_save_png", failing_save)
    with pytest.raises(OSError, match="simulated"):
        D.prepare("shapes_classification", tmp_path, n=4, progress=False)
    with pytest.raises(OSError, match="simulated"):  # a failed update keeps the old complete set
        calls.clear()
        D.prepare("shapes_detection", tmp_path, n=6, progress=False)
    assert _tree(tmp_path) == before  # no half-written folder, no temporary left behind


def test_prepare_bad_names_and_unwritable_root(tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match="'shapes_detektion'.*shapes_detection, .*or all"):
        D.prepare(["shapes_detektion"], tmp_path)
    with pytest.raises(ValueError, match="n must be"):
        D.prepare("house_tiny", tmp_path, n=0)
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(FileNotFoundError, match=re.escape(str(afile / "data"))):
        D.prepare("house_tiny", afile / "data")

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(PermissionError, match="Cannot write under .*locked.*writable folder"):
        D.prepare("house_tiny", tmp_path / "locked")
    monkeypatch.undo()
    assert prepare_script.main(["nope", "--root", str(tmp_path)]) == 2
    assert "choose from" in capsys.readouterr().err
    assert prepare_script.main(["house_tiny", "--root", str(afile / "x"), "--no-progress"]) == 1
    assert prepare_script.main(["house_tiny", "--root", str(tmp_path), "--no-progress"]) == 0


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_prepare_read_only_root(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o500)
    with pytest.raises(PermissionError, match="permission denied"):
        D.prepare("house_tiny", locked)


# ----------------------------------------------------------------------------- fetch


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` unless ``server.ignore_range``;
    cuts off the first ``server.cut`` responses halfway."""

    def do_GET(self):  # noqa: N802
        srv = self.server
        body = srv.files.get(self.path)
        srv.log.append((self.path, self.headers.get("Range")))
        if body is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not srv.ignore_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if srv.cut > 0:
            srv.cut -= 1
            payload = payload[: len(payload) // 2]
            self.close_connection = True
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.log, srv.ignore_range, srv.cut = {}, [], False, 0
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BLOB = bytes(range(256)) * 400  # 102,400 bytes


def _sums(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest(),
            "size": len(data)}


def test_download_checks_hashes_and_resumes_with_range(tmp_path, server):
    server.files["/blob"] = BLOB
    dest = tmp_path / "blob.bin"
    part = tmp_path / "blob.bin.part"
    part.write_bytes(BLOB[:40000])  # an earlier, interrupted download
    D.download(server.url + "/blob", dest, progress=False, **_sums(BLOB))
    assert dest.read_bytes() == BLOB and not part.exists()
    assert server.log == [("/blob", "bytes=40000-")]
    D.download(server.url + "/blob", dest, progress=False, **_sums(BLOB))  # already there: no request
    assert len(server.log) == 1


def test_download_interrupted_then_resumed(tmp_path, server):
    server.files["/blob"] = BLOB
    server.cut = 1
    dest = tmp_path / "blob.bin"
    with pytest.raises(ConnectionError, match="bytes kept in .*to resume"):
        D.download(server.url + "/blob", dest, progress=False, **_sums(BLOB))
    kept = (tmp_path / "blob.bin.part").stat().st_size
    assert 0 < kept < len(BLOB) and not dest.exists()
    D.download(server.url + "/blob", dest, progress=False, **_sums(BLOB))
    assert dest.read_bytes() == BLOB and server.log[-1] == ("/blob", f"bytes={kept}-")


def test_download_restarts_when_server_ignores_range(tmp_path, server):
    server.files["/blob"] = BLOB
    server.ignore_range = True
    (tmp_path / "b.part").write_bytes(b"x" * 1000)
    D.download(server.url + "/blob", tmp_path / "b", progress=False, sha256=_sums(BLOB)["sha256"])
    assert (tmp_path / "b").read_bytes() == BLOB


def test_download_rejects_wrong_hash_and_tries_mirrors(tmp_path, server):
    server.files["/blob"] = BLOB
    good = _sums(BLOB)
    with pytest.raises(ValueError, match="sha256 .* expected 0+"):
        D.download(server.url + "/blob", tmp_path / "a", progress=False, sha256="0" * 64)
    assert not (tmp_path / "a").exists() and not (tmp_path / "a.part").exists()
    with pytest.raises(ValueError, match="md5"):
        D.download(server.url + "/blob", tmp_path / "a", progress=False, sha256=good["sha256"],
                   md5="f" * 32)
    mirrors = [server.url + "/missing", f"http://127.0.0.1:{_closed_port()}/blob", server.url + "/blob"]
    D.download(mirrors, tmp_path / "a", progress=False, **good)
    assert (tmp_path / "a").read_bytes() == BLOB
    (tmp_path / "c").write_bytes(b"not it")  # a wrong file put by hand is reported, not used
    with pytest.raises(ValueError, match="delete it"):
        D.download(server.url + "/blob", tmp_path / "c", progress=False, **good)


def test_fetch_offline_says_what_to_do_in_one_sentence(tmp_path, monkeypatch, capsys):
    src = fetch_mod.FETCHABLE["cifar10"]
    url = f"http://127.0.0.1:{_closed_port()}/cifar-10-python.tar.gz"
    remote = replace(src.files[0], urls=(url,))
    monkeypatch.setitem(fetch_mod.FETCHABLE, "cifar10", replace(src, files=(remote,)))
    with pytest.raises(ConnectionError) as info:
        D.fetch("cifar10", tmp_path, progress=False)
    msg = str(info.value)
    assert "\n" not in msg and msg.count(". ") == 0 and msg.endswith(".")
    assert "offline" in msg and url in msg and str(tmp_path / "cifar-10-python.tar.gz") in msg
    assert "fetch.py cifar10" in msg
    assert fetch_script.main(["cifar10", "--root", str(tmp_path), "--no-progress"]) == 1
    assert "offline" in capsys.readouterr().err
    assert fetch_script.main(["mnist", "--root", str(tmp_path)]) == 2
    with pytest.raises(ValueError, match="cifar10, fashion_mnist, flower_photos"):
        D.fetch("imagenet", tmp_path)


def _flower_tgz() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for c in D.FLOWER_CLASSES:
            jpg = io.BytesIO()
            Image.new("RGB", (30, 20), (0, 200, 0)).save(jpg, format="JPEG")
            info = tarfile.TarInfo(f"flower_photos/{c}/1.jpg")
            info.size = len(jpg.getvalue())
            tar.addfile(info, io.BytesIO(jpg.getvalue()))
    return buf.getvalue()


def test_fetch_unpacks_a_hand_placed_archive_over_the_stand_in(tmp_path, monkeypatch, capsys):
    archive = _flower_tgz()
    src = fetch_mod.FETCHABLE["flower_photos"]
    remote = replace(src.files[0], urls=(f"http://127.0.0.1:{_closed_port()}/x.tgz",), **_sums(archive))
    monkeypatch.setitem(fetch_mod.FETCHABLE, "flower_photos", replace(src, files=(remote,)))
    assert D.flower_photos(tmp_path).is_stand_in
    (tmp_path / "flower_photos.tgz").write_bytes(archive)  # put there by hand, as the message says
    assert D.fetch("flower_photos", tmp_path, progress=False) == tmp_path / "flower_photos"
    capsys.readouterr()
    ds = D.flower_photos(tmp_path)
    assert not ds.is_stand_in and len(ds) == 5 and capsys.readouterr().out == ""
    assert not (tmp_path / "flower_photos" / D.STAND_IN_MARKER).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    D.fetch("flower_photos", tmp_path, progress=False)
    assert "already" in capsys.readouterr().out


def _idx(magic: int, array: np.ndarray) -> bytes:
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def test_fetch_fashion_mnist_from_server_for_torchvision(tmp_path, server, monkeypatch):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": _idx(2051, rng.integers(0, 256, (3, 28, 28))),
        "train-labels-idx1-ubyte.gz": _idx(2049, np.array([0, 5, 9])),
        "t10k-images-idx3-ubyte.gz": _idx(2051, rng.integers(0, 256, (2, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": _idx(2049, np.array([1, 2])),
    }
    src = fetch_mod.FETCHABLE["fashion_mnist"]
    remotes = []
    for r in src.files:
        server.files["/fm/" + r.filename] = files[r.filename]
        remotes.append(replace(r, urls=(f"{server.url}/fm/{r.filename}",), **_sums(files[r.filename])))
    monkeypatch.setitem(fetch_mod.FETCHABLE, "fashion_mnist", replace(src, files=tuple(remotes)))
    D.fetch("fashion_mnist", tmp_path, progress=False)
    ds = torchvision.datasets.FashionMNIST(tmp_path, train=True)
    assert len(ds) == 3 and ds.targets.tolist() == [0, 5, 9] and ds.classes[9] == "Ankle boot"


def test_pinned_hashes_look_like_hashes():
    for source in D.FETCHABLE.values():
        for r in source.files:
            assert re.fullmatch(r"[0-9a-f]{64}", r.sha256) and r.size > 0
            assert r.md5 is None or re.fullmatch(r"[0-9a-f]{32}", r.md5)
            assert all(u.endswith(r.filename) for u in r.urls)
    # md5 sums agree with the installed torchvision's
    assert fetch_mod.FETCHABLE["cifar10"].files[0].md5 == torchvision.datasets.CIFAR10.tgz_md5
    fm = dict(torchvision.datasets.FashionMNIST.resources)
    assert {r.filename: r.md5 for r in fetch_mod.FETCHABLE["fashion_mnist"].files} == fm


def test_data_root_order(tmp_path, monkeypatch):
    """explicit > DLBOOK_DATA > DLBOOK_ROOT/data > enclosing checkout's data/ > ./data."""
    from dlbook_utils.data import data_root

    checkout = tmp_path / "book"
    (checkout / "dlbook_utils").mkdir(parents=True)
    (checkout / "_toc.yml").write_text("root: intro\n")
    lesson_dir = checkout / "lessons" / "02_part"
    lesson_dir.mkdir(parents=True)
    elsewhere = tmp_path / "colab"
    elsewhere.mkdir()
    monkeypatch.delenv("DLBOOK_DATA", raising=False)
    monkeypatch.delenv("DLBOOK_ROOT", raising=False)
    monkeypatch.chdir(lesson_dir)
    assert data_root() == checkout / "data"
    monkeypatch.chdir(elsewhere)
    assert data_root() == elsewhere / "data"
    monkeypatch.setenv("DLBOOK_ROOT", str(checkout))
    assert data_root() == checkout / "data"
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "d"))
    assert data_root() == tmp_path / "d"
    assert data_root(tmp_path / "x") == tmp_path / "x"


def _one(box, label=2):
    return {"boxes": torch.tensor([box], dtype=torch.float32), "labels": torch.tensor([label])}


def test_readers_reject_bad_boxes_naming_file_and_box(tmp_path):
    """Swapped corners, zero size, boxes past the image and unknown classes are refused."""
    good = [8.0, 16.0, 24.0, 48.0]
    # VOC: write a good file, then swap xmin and xmax by hand
    p = formats.write_voc_xml(tmp_path / "v.xml", _one(good), (64, 64), filename="v.png")
    p.write_text(p.read_text().replace("<xmin>9</xmin>", "<xmin>X</xmin>")
                 .replace("<xmax>24</xmax>", "<xmax>9</xmax>").replace("X", "24"))
    with pytest.raises(ValueError, match=r"v\.xml, box 0 \(23, 16, 9, 48\).*x1 < x2"):
        formats.read_voc_xml(p)
    p = formats.write_voc_xml(tmp_path / "o.xml", _one([8.0, 16.0, 70.0, 48.0]), (64, 64),
                              filename="o.png")
    with pytest.raises(ValueError, match=r"o\.xml, box 0 .*outside the 64×64 image"):
        formats.read_voc_xml(p)
    # YOLO: past the right edge, a zero width, a class index of another project
    (tmp_path / "y.txt").write_text("1 0.25 0.5 0.25 0.5\n1 0.95 0.5 0.25 0.5\n")
    with pytest.raises(ValueError, match=r"y\.txt, box 1 .*outside"):
        formats.read_yolo_txt(tmp_path / "y.txt", (64, 64))
    (tmp_path / "z.txt").write_text("1 0.25 0.5 0 0.5\n")
    with pytest.raises(ValueError, match=r"z\.txt, box 0 .*zero size"):
        formats.read_yolo_txt(tmp_path / "z.txt", (64, 64))
    (tmp_path / "k.txt").write_text("1 0.25 0.5 0.25 0.5\n7 0.25 0.5 0.25 0.5\n")
    with pytest.raises(ValueError, match=r"k\.txt, box 1: class index 7 is not in 0\.\.3"):
        formats.read_yolo_txt(tmp_path / "k.txt", (64, 64))
    assert formats.read_yolo_txt(tmp_path / "k.txt", (64, 64), classes="abcdefgh")[
        "labels"].tolist() == [2, 8]
    # a box on the image's edge reads back despite rounding of the normalised numbers
    edge = _one([1.0 / 3, 2.0 / 3, 64.0, 64.0])
    formats.write_yolo_txt(tmp_path / "e.txt", edge, (64, 64))
    assert formats.read_yolo_txt(tmp_path / "e.txt", (64, 64))["boxes"][0, 2:].tolist() == [
        64.0, 64.0]
    # labelme: the unknown class names the box; a rectangle past the image is refused
    formats.write_labelme_json(tmp_path / "l.json", _one(good), (64, 64), image_path="l.png")
    doc = json.loads((tmp_path / "l.json").read_text())
    doc["shapes"].append({"label": "hexagon", "points": [[1, 1], [5, 5]],
                          "shape_type": "rectangle"})
    (tmp_path / "l.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"l\.json, box 1: the class 'hexagon'"):
        formats.read_labelme_json(tmp_path / "l.json")
    doc["shapes"][1] = {"label": "circle", "points": [[60, 1], [65, 5]],
                        "shape_type": "rectangle"}
    (tmp_path / "l.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"l\.json, box 1 .*outside"):
        formats.read_labelme_json(tmp_path / "l.json")


def test_coco_reader_checks_ids_and_skips_crowds(tmp_path):
    p = formats.write_coco_json(tmp_path / "c.json", [_one([8.0, 16.0, 24.0, 48.0])],
                                ["a.png"], (64, 64))
    coco = json.loads(p.read_text())

    def write(**change):
        ann = {**coco["annotations"][0], **change}
        (tmp_path / "x.json").write_text(json.dumps({**coco, "annotations": [ann]}))
        return tmp_path / "x.json"

    with pytest.raises(ValueError, match=r"annotation 1: image_id 9 is not among"):
        formats.read_coco_json(write(image_id=9))
    with pytest.raises(ValueError, match=r"annotation 1: category_id 5 is not among .*1, 2, 3, 4"):
        formats.read_coco_json(write(category_id=5))
    with pytest.raises(ValueError, match=r"x\.json \(a\.png\), box 1 .*outside the 64×64"):
        formats.read_coco_json(write(bbox=[50, 16, 20, 32]))
    with pytest.raises(ValueError, match=r"box 1 .*zero size"):
        formats.read_coco_json(write(bbox=[8, 16, 0, 32]))
    targets, _, _ = formats.read_coco_json(write(iscrowd=1))
    assert targets[0]["boxes"].shape == (0, 4)
