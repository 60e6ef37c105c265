"""On-disk annotation formats: boxes (VOC XML, COCO JSON, YOLO txt, labelme JSON), VOC masks.

Inside the book a target is torchvision's detection dict: ``"boxes"`` Tensor[M, 4] float32
``(x1, y1, x2, y2)`` in pixel-edge coordinates and ``"labels"`` Tensor[M] int64 in ``1..K``
(0 = background), label ``k`` named ``classes[k - 1]``. Each writer converts to its format's
own conventions and each reader converts back, so write → read gives the same tensors.
Image sizes are ``(height, width)``. Explained in Part 7, "Annotation formats".
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.ops import box_convert

from dlbook_utils.data.files import write_text_file
from dlbook_utils.data.scenes import SHAPES

__all__ = [
    "voc_palette",
    "write_mask_png",
    "read_mask_png",
    "write_voc_xml",
    "read_voc_xml",
    "write_coco_json",
    "read_coco_json",
    "write_yolo_txt",
    "read_yolo_txt",
    "write_labelme_json",
    "read_labelme_json",
]

Target = dict[str, torch.Tensor]


def _arrays(target: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    boxes = torch.as_tensor(target["boxes"]).detach().cpu().to(torch.float64).reshape(-1, 4).numpy()
    labels = torch.as_tensor(target["labels"]).detach().cpu().to(torch.int64).reshape(-1).numpy()
    if len(boxes) != len(labels):
        raise ValueError(f"target has {len(boxes)} boxes but {len(labels)} labels.")
    return boxes, labels


def _target(boxes: Sequence[Sequence[float]], labels: Sequence[int]) -> Target:
    return {
        "boxes": torch.from_numpy(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)).float(),
        "labels": torch.from_numpy(np.asarray(labels, dtype=np.int64).reshape(-1)),
    }


def _num(v: float) -> str:
    """Shortest text that reads back as the same float ("12" for 12.0)."""
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def _name(label: int, classes: Sequence[str]) -> str:
    if not 1 <= label <= len(classes):
        raise ValueError(
            f"label {label} has no class name: labels run from 1 to {len(classes)} "
            f"({', '.join(classes)})."
        )
    return classes[label - 1]


def _label(name: str, classes: Sequence[str], path: Path, i: int) -> int:
    if name not in classes:
        raise ValueError(
            f"{path}, box {i}: the class {name!r} is not among {', '.join(classes)}; "
            "pass its class names as classes=."
        )
    return list(classes).index(name) + 1


def _checked_box(
    path: Path, i: int, box: Sequence[float], cls: object, size: tuple[int, int] | None
) -> list[float]:
    """``box`` as floats, or a ValueError naming the file, box ``i`` and what is wrong.

    A box needs ``x1 < x2`` and ``y1 < y2`` and, when the image ``size`` (height, width) is
    known, ``0 <= x1``, ``x2 <= width`` (and the same for y), up to a rounding slack of
    1e-6 pixel per 1000 so that normalised YOLO coordinates of a box on the edge read back.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    where = f"{path}, box {i} ({x1:g}, {y1:g}, {x2:g}, {y2:g}) {cls!r}"
    if not (x1 < x2 and y1 < y2):
        raise ValueError(
            f"{where}: needs x1 < x2 and y1 < y2 (swapped corners, or a box of zero size?)."
        )
    if size is not None:
        h, w = size
        eps = 1e-9 * max(h, w)
        if x1 < -eps or y1 < -eps or x2 > w + eps or y2 > h + eps:
            raise ValueError(f"{where}: reaches outside the {w}×{h} image.")
    return [x1, y1, x2, y2]


# ----------------------------------------------------------------------------- masks


def voc_palette(num_colors: int = 256) -> list[int]:
    """Pascal VOC's colour map: 0 black, 1 (128, 0, 0), 2 (0, 128, 0), …, 255 (224, 224, 192).

    Explained in Part 8, "Segmentation metrics". Class ``i``'s colour spreads the bits of ``i``
    over the high bits of R, G and B (the VOC devkit's ``labelcolormap``).

    Returns:
        A flat list ``[r0, g0, b0, r1, …]`` of ``3 * num_colors`` ints, for ``Image.putpalette``.
    """
    palette = []
    for i in range(num_colors):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


def write_mask_png(path: str | Path, mask: np.ndarray | torch.Tensor) -> Path:
    """Save a class mask as a palette ("P" mode) PNG with VOC's colours, as VOC ships them.

    Explained in Part 8, "Segmentation metrics" (VOC mask conventions).

    Args:
        path: file to write (parents are created).
        mask: (H, W) integers in 0..255 (0 background, 255 ignore).

    Returns:
        ``path`` as a ``Path``. The PNG stores the class indices; the palette only colours them.
    """
    arr = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if arr.ndim != 2 or arr.min(initial=0) < 0 or arr.max(initial=0) > 255:
        raise ValueError(f"mask must be (H, W) with values in 0..255, got shape {arr.shape}.")
    img = Image.fromarray(arr.astype(np.uint8), mode="L")
    img.putpalette(voc_palette())  # turns the "L" image into a "P" image
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def read_mask_png(path: str | Path) -> np.ndarray:
    """Read a class mask written by ``write_mask_png`` (or VOC's ``SegmentationClass``).

    Returns:
        ndarray (H, W) uint8 of class indices (not colours).

    Raises:
        ValueError: the PNG is not a palette or grey image (an RGB rendering has lost the indices).
    """
    with Image.open(path) as img:
        if img.mode not in ("P", "L"):
            raise ValueError(
                f"{path} is a {img.mode!r} image; a class mask must be 'P' (palette) or 'L'."
            )
        return np.array(img, dtype=np.uint8)


# ----------------------------------------------------------------------------- Pascal VOC


def write_voc_xml(
    path: str | Path,
    target: dict[str, Any],
    image_size: tuple[int, int],
    *,
    filename: str,
    classes: Sequence[str] = SHAPES,
) -> Path:
    """Write one image's boxes as a Pascal VOC XML annotation (Part 7, "Annotation formats").

    VOC counts pixels from 1 and its boxes include both end pixels, so the box covering pixel
    columns ``x1 .. x2 - 1`` (0-based) is written ``xmin = x1 + 1``, ``xmax = x2``.

    Args:
        path: the .xml file.
        target: ``{"boxes": [M, 4] xyxy, "labels": [M] in 1..K}``.
        image_size: ``(height, width)``.
        filename: the image's file name, stored in ``<filename>``.
        classes: class names; label ``k`` is ``classes[k - 1]``.
    """
    boxes, labels = _arrays(target)
    ann = ET.Element("annotation")
    ET.SubElement(ann, "folder").text = "images"
    ET.SubElement(ann, "filename").text = filename
    ET.SubElement(ET.SubElement(ann, "source"), "database").text = "dlbook synthetic shapes"
    size = ET.SubElement(ann, "size")
    for tag, value in (("width", image_size[1]), ("height", image_size[0]), ("depth", 3)):
        ET.SubElement(size, tag).text = str(int(value))
    ET.SubElement(ann, "segmented").text = "0"
    for (x1, y1, x2, y2), label in zip(boxes, labels):
        obj = ET.SubElement(ann, "object")
        ET.SubElement(obj, "name").text = _name(int(label), classes)
        for tag, text in (("pose", "Unspecified"), ("truncated", "0"), ("difficult", "0")):
            ET.SubElement(obj, tag).text = text
        bb = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", x1 + 1), ("ymin", y1 + 1), ("xmax", x2), ("ymax", y2)):
            ET.SubElement(bb, tag).text = _num(value)
    ET.indent(ann)
    return write_text_file(path, ET.tostring(ann, encoding="unicode") + "\n")


def read_voc_xml(
    path: str | Path, classes: Sequence[str] = SHAPES
) -> tuple[Target, dict[str, Any]]:
    """Read a Pascal VOC XML annotation (the inverse of ``write_voc_xml``).

    Returns:
        ``(target, meta)``: ``target`` as in the module docstring (``xmin - 1``, ``ymin - 1``,
        ``xmax``, ``ymax``); ``meta`` with ``"filename"``, ``"height"``, ``"width"`` and
        ``"difficult"`` (list of bools, one per box).

    Raises:
        ValueError: a class name not in ``classes``, or a box with swapped corners, of zero
        size, or outside the image's ``<size>`` (the message names the file and the box).
    """
    path = Path(path)
    root = ET.parse(path).getroot()
    height, width = root.findtext("size/height"), root.findtext("size/width")
    size = (int(height), int(width)) if height and width else None
    boxes, labels, difficult = [], [], []
    for i, obj in enumerate(root.iter("object")):
        name = obj.findtext("name", "").strip()
        labels.append(_label(name, classes, path, i))
        bb = obj.find("bndbox")
        x1, y1, x2, y2 = (float(bb.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append(_checked_box(path, i, [x1 - 1, y1 - 1, x2, y2], name, size))
        difficult.append(obj.findtext("difficult", "0").strip() == "1")
    meta = {
        "filename": root.findtext("filename"),
        "height": size[0] if size else None,
        "width": size[1] if size else None,
        "difficult": difficult,
    }
    return _target(boxes, labels), meta


# ----------------------------------------------------------------------------- COCO


def write_coco_json(
    path: str | Path,
    targets: Sequence[dict[str, Any]],
    file_names: Sequence[str],
    image_size: tuple[int, int] | Sequence[tuple[int, int]],
    classes: Sequence[str] = SHAPES,
) -> Path:
    """Write a set's boxes as one COCO "instances" JSON file (Part 7, "Annotation formats").

    The file loads with ``pycocotools.coco.COCO`` (Part 7, "NMS and metrics": COCO mAP).

    COCO boxes are ``[x, y, width, height]``; image ids run from 1; ``category_id`` is the
    label itself (COCO's ids also start at 1); ``area`` is the box area, since no masks are
    written (in the real COCO files it is the mask's area; COCOeval's small/medium/large split
    reads it, and pycocotools' ``loadRes`` likewise gives box results their box area);
    ``iscrowd`` is 0.

    Args:
        path: the .json file.
        targets: one target per image.
        file_names: one file name per image (relative to the image folder).
        image_size: ``(height, width)`` of every image, or a list with one per image.
        classes: class names; category ``k`` is ``classes[k - 1]``.
    """
    if len(targets) != len(file_names):
        raise ValueError(f"{len(targets)} targets but {len(file_names)} file names.")
    sizes = [tuple(image_size)] * len(targets) if np.ndim(image_size) == 1 else list(image_size)
    images, annotations = [], []
    for i, (target, name, (h, w)) in enumerate(zip(targets, file_names, sizes), start=1):
        images.append({"id": i, "file_name": name, "height": int(h), "width": int(w)})
        boxes, labels = _arrays(target)
        for (x1, y1, x2, y2), label in zip(boxes, labels):
            _name(int(label), classes)
            annotations.append({
                "id": len(annotations) + 1, "image_id": i, "category_id": int(label),
                "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                "area": float((x2 - x1) * (y2 - y1)), "iscrowd": 0,
            })
    coco = {
        "info": {"description": "dlbook synthetic shapes"},
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": k, "name": c, "supercategory": "shape"} for k, c in enumerate(classes, 1)
        ],
    }
    return write_text_file(path, json.dumps(coco, indent=1) + "\n")


def read_coco_json(path: str | Path) -> tuple[list[Target], list[dict[str, Any]], list[str]]:
    """Read a COCO instances JSON file (the inverse of ``write_coco_json``).

    Returns:
        ``(targets, images, classes)``: one target per entry of ``images`` (in file order;
        labels are the ``category_id`` values, boxes ``[x, y, x + w, y + h]``), the ``images``
        entries themselves (``id``, ``file_name``, ``height``, ``width``) and the category
        names ordered by id. Crowd annotations (``iscrowd`` 1, one region over many objects)
        are left out: they are not objects to detect, and COCOeval ignores detections on them.

    Raises:
        ValueError: an annotation whose ``image_id`` or ``category_id`` the file does not
        define, or whose box is empty or outside its image (the message names the
        annotation id; boxes are numbered by it).
    """
    path = Path(path)
    coco = json.loads(path.read_text(encoding="utf-8"))
    images = {img["id"]: img for img in coco["images"]}
    categories = {c["id"] for c in coco["categories"]}
    per_image: dict[int, tuple[list, list]] = {i: ([], []) for i in images}
    for ann in coco["annotations"]:
        img = images.get(ann["image_id"])
        if img is None:
            raise ValueError(
                f"{path}, annotation {ann.get('id')}: image_id {ann['image_id']} is not "
                "among the file's images."
            )
        if ann["category_id"] not in categories:
            raise ValueError(
                f"{path}, annotation {ann.get('id')}: category_id {ann['category_id']} is "
                f"not among the file's categories ({', '.join(map(str, sorted(categories)))})."
            )
        if ann.get("iscrowd", 0):
            continue  # a crowd region: not an object to detect (COCOeval ignores it too)
        x, y, w, h = ann["bbox"]
        size = (img["height"], img["width"]) if "height" in img and "width" in img else None
        where = path.with_name(f"{path.name} ({img.get('file_name', img['id'])})")
        box = _checked_box(where, ann.get("id", 0), [x, y, x + w, y + h],
                           ann["category_id"], size)
        per_image[ann["image_id"]][0].append(box)
        per_image[ann["image_id"]][1].append(ann["category_id"])
    targets = [_target(*per_image[img["id"]]) for img in coco["images"]]
    classes = [c["name"] for c in sorted(coco["categories"], key=lambda c: c["id"])]
    return targets, list(coco["images"]), classes


# ----------------------------------------------------------------------------- YOLO


def write_yolo_txt(path: str | Path, target: dict[str, Any], image_size: tuple[int, int]) -> Path:
    """Write one image's boxes as a YOLO text file (Part 7, "Annotation formats" and "YOLO").

    One line per box: ``class cx cy w h``, the class 0-based (``label - 1``), centre and size
    divided by the image width (x) and height (y), so all four lie in [0, 1]. Example: box
    (8, 16, 24, 48), label 2, in a 64×64 image → ``1 0.25 0.5 0.25 0.5``.

    Args:
        path: the .txt file (an image without objects gets an empty file).
        target: ``{"boxes": [M, 4] xyxy, "labels": [M] in 1..K}``.
        image_size: ``(height, width)``.
    """
    boxes, labels = _arrays(target)
    h, w = image_size
    scale = np.array([w, h, w, h], dtype=np.float64)
    cxcywh = box_convert(torch.from_numpy(boxes), "xyxy", "cxcywh").numpy() / scale
    lines = [
        f"{int(label) - 1} " + " ".join(repr(float(v)) for v in row)
        for row, label in zip(cxcywh, labels)
    ]
    return write_text_file(path, "".join(line + "\n" for line in lines))


def read_yolo_txt(
    path: str | Path, image_size: tuple[int, int], classes: Sequence[str] = SHAPES
) -> Target:
    """Read a YOLO text file (the inverse of ``write_yolo_txt``); labels become 1-based again.

    Raises:
        ValueError: a line that is not ``class cx cy w h``, a class index outside
        ``0..len(classes) - 1``, or a box of zero size or reaching outside the
        ``image_size`` (height, width) image (the message names the file and the box).
    """
    path = Path(path)
    h, w = image_size
    text = path.read_text(encoding="utf-8")
    rows = [line.split() for line in text.splitlines() if line.strip()]
    if any(len(r) != 5 for r in rows):
        raise ValueError(f"{path}: every YOLO line must be 'class cx cy w h'.")
    values = np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float64).reshape(-1, 4)
    scale = np.array([w, h, w, h], dtype=np.float64)
    xyxy = box_convert(torch.from_numpy(values * scale), "cxcywh", "xyxy").numpy()
    labels = []
    for i, (r, box) in enumerate(zip(rows, xyxy)):
        k = int(r[0])
        _checked_box(path, i, box, k, (h, w))
        if not 0 <= k < len(classes):
            raise ValueError(
                f"{path}, box {i}: class index {k} is not in 0..{len(classes) - 1} "
                f"({', '.join(classes)}); pass its class names as classes=."
            )
        labels.append(k + 1)
    return _target(xyxy, labels)


# ----------------------------------------------------------------------------- labelme


def write_labelme_json(
    path: str | Path,
    target: dict[str, Any],
    image_size: tuple[int, int],
    *,
    image_path: str,
    classes: Sequence[str] = SHAPES,
) -> Path:
    """Write one image's boxes as a labelme JSON file (Part 7, "Annotation formats").

    Boxes become ``rectangle`` shapes, as labelme draws them.

    Args:
        path: the .json file.
        target: ``{"boxes": [M, 4] xyxy, "labels": [M] in 1..K}``.
        image_size: ``(height, width)``.
        image_path: the image, relative to the JSON file (labelme opens it from there).
        classes: class names; label ``k`` is ``classes[k - 1]``.
    """
    boxes, labels = _arrays(target)
    doc = {
        "version": "5.5.0",
        "flags": {},
        "shapes": [
            {
                "label": _name(int(label), classes),
                "points": [[float(x1), float(y1)], [float(x2), float(y2)]],
                "group_id": None, "description": "", "shape_type": "rectangle",
                "flags": {}, "mask": None,
            }
            for (x1, y1, x2, y2), label in zip(boxes, labels)
        ],
        "imagePath": image_path,
        "imageData": None,
        "imageHeight": int(image_size[0]),
        "imageWidth": int(image_size[1]),
    }
    return write_text_file(path, json.dumps(doc, indent=2) + "\n")


def read_labelme_json(
    path: str | Path, classes: Sequence[str] = SHAPES
) -> tuple[Target, dict[str, Any]]:
    """Read boxes from a labelme JSON file (the inverse of ``write_labelme_json``).

    A ``rectangle`` gives the box spanned by its two corners (in either order); a ``polygon``
    (as EISeg and labelme draw them) gives its points' bounding box.

    Returns:
        ``(target, meta)`` with ``meta`` holding ``"imagePath"``, ``"height"``, ``"width"``.

    Raises:
        ValueError: another ``shape_type`` (circle, line, point, …), an unknown class name,
        or a box of zero size or outside ``imageHeight`` × ``imageWidth`` (the message names
        the file and the box).
    """
    path = Path(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    height, width = doc.get("imageHeight"), doc.get("imageWidth")
    size = (int(height), int(width)) if height and width else None
    boxes, labels = [], []
    for i, shape in enumerate(doc["shapes"]):
        if shape.get("shape_type", "polygon") not in ("rectangle", "polygon"):
            raise ValueError(
                f"{path}: shape_type {shape['shape_type']!r} has no box; "
                "use rectangle or polygon."
            )
        pts = np.asarray(shape["points"], dtype=np.float64)
        labels.append(_label(shape["label"], classes, path, i))
        boxes.append(_checked_box(path, i, [*pts.min(axis=0), *pts.max(axis=0)],
                                  shape["label"], size))
    meta = {
        "imagePath": doc.get("imagePath"),
        "height": doc.get("imageHeight"),
        "width": doc.get("imageWidth"),
    }
    return _target(boxes, labels), meta
