"""Deterministic synthetic data sets: shapes on real textures, captions, defects, the house CSV.

Every generator takes a ``seed`` and draws from one ``numpy.random.Generator`` (PCG64), whose
streams are the same on every platform; the drawing primitives (:mod:`~dlbook_utils.data.scenes`)
are exact, so the same seed gives the same bytes on every machine.
Lessons: Part 4-5 (classification), Part 7 (detection), Part 8 (segmentation), Part 9
(captions, defects), Part 1 "Data preprocessing with pandas" (house CSV).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlbook_utils.data.packaged import TEXTURES
from dlbook_utils.data.scenes import (
    ALL_SHAPES,
    COLORS,
    SHAPES,
    TEXTURE_SIDE,
    background,
    dilate,
    finish,
    mask_box,
    paint,
    pixel_centres,
    place_shape,
    quantize,
    scenes,
    shape_mask,
    texture_crop,
    to_tensor,
)

__all__ = [
    "GENERATOR_VERSION",
    "SHAPES",
    "ALL_SHAPES",
    "COLORS",
    "POSITIONS",
    "shapes_classification",
    "shapes_classification_uint8",
    "shapes_detection",
    "shapes_segmentation",
    "captioned_shapes",
    "texture_defects",
    "house_csv",
]

# Bump when any generator's output changes: prepared folders and stand-ins record it.
GENERATOR_VERSION = "1"
POSITIONS: tuple[str, ...] = ("top left", "top right", "bottom left", "bottom right", "center")
_HOUSE_CSV = "NumRooms,Alley,Price\nNA,Pave,127500\n2,NA,106000\n4,NA,178100\nNA,NA,140000\n"


def _check_n(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")


def _check_size(size: int, lo: int) -> None:
    if not isinstance(size, (int, np.integer)) or not lo <= size <= TEXTURE_SIDE:
        raise ValueError(
            f"size must be an integer from {lo} to {TEXTURE_SIDE} (the texture side), "
            f"got {size!r}."
        )


def _check_names(kind: str, names: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    names = tuple(names)
    bad = [s for s in names if s not in known]
    if bad or not names:
        raise ValueError(f"Unknown {kind} {bad or names!r}; choose from {', '.join(known)}.")
    return names


def shapes_classification_uint8(
    n: int, size: int, seed: int, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """``shapes_classification`` as uint8 arrays: images (N, S, S, 3) and labels (N,) int64.

    What the stand-ins write to disk (no argument checks: callers pass checked values).
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(classes))  # balanced classes, shuffled
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    empty = np.zeros((size, size), dtype=bool)
    for i, label in enumerate(labels):
        img = background(rng, size)
        mask = place_shape(rng, size, classes[label], (0.28 * size, 0.45 * size), None, empty)
        assert mask is not None  # an empty image always has room
        paint(rng, img, mask, list(COLORS)[int(rng.integers(len(COLORS)))])
        images[i] = finish(rng, img)
    return images, labels.astype(np.int64)


def shapes_classification(
    n: int, size: int = 32, seed: int = 0, classes: Sequence[str] = SHAPES
) -> tuple[torch.Tensor, torch.Tensor]:
    """One coloured shape per image on a real texture, for image classification.

    Explained in Part 5, "GoogLeNet" and "ResNet and batch normalization" (used as the small
    benchmark of the architecture lessons). Size, rotation, position and colour vary; classes
    are balanced (``n % K`` extra images go to the first classes) and shuffled.

    Args:
        n: number of images.
        size: image side in pixels, 16 to 512.
        seed: seed of the generator; the same seed gives identical bytes on every machine.
        classes: shape names, a subset of ``ALL_SHAPES``; label ``k`` is ``classes[k]``.

    Returns:
        ``(images, labels)``: ``images`` Tensor[N, 3, size, size] float32 in [0, 1] (each value
        a multiple of 1/255), ``labels`` Tensor[N] int64 in ``0 .. len(classes) - 1``.

    Raises:
        ValueError: ``n`` < 1, ``size`` outside 16..512, or an unknown shape name.
    """
    _check_n(n)
    _check_size(size, 16)
    classes = _check_names("shape", classes, ALL_SHAPES)
    images, labels = shapes_classification_uint8(n, size, seed, classes)
    return to_tensor(images), torch.from_numpy(labels)


def shapes_detection(
    n: int, size: int = 64, max_objects: int = 3, seed: int = 0, classes: Sequence[str] = SHAPES
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Images with 1..``max_objects`` non-overlapping shapes and their boxes, for detection.

    Explained in Part 7, "Boxes, IoU and anchors" and "Annotation formats". Objects keep a gap
    of at least one pixel, so every box is the tight box of the object's visible pixels.
    ``shapes_segmentation`` with the same arguments draws the very same images.

    Args:
        n: number of images.
        size: image side in pixels, 32 to 512.
        max_objects: most objects per image (at least 1; fewer when there is no room).
        seed: seed of the generator (same seed → identical bytes on every machine).
        classes: shape names, a subset of ``ALL_SHAPES``.

    Returns:
        ``(images, targets)``: ``images`` Tensor[N, 3, size, size] float32 in [0, 1];
        ``targets`` a list of N dicts in torchvision's detection format: ``"boxes"``
        Tensor[M, 4] float32 ``(x1, y1, x2, y2)`` in pixel-edge coordinates (the object covers
        pixel columns ``x1 .. x2 - 1``, so ``0 <= x1 < x2 <= size``), ``"labels"`` Tensor[M]
        int64 in ``1 .. len(classes)`` (0 is reserved for background; label ``k`` is
        ``classes[k - 1]``).

    Raises:
        ValueError: bad ``n``, ``size`` outside 32..512, ``max_objects`` < 1, unknown shape.
    """
    _check_n(n)
    _check_size(size, 32)
    if not isinstance(max_objects, (int, np.integer)) or max_objects < 1:
        raise ValueError(f"max_objects must be an integer >= 1, got {max_objects!r}.")
    classes = _check_names("shape", classes, ALL_SHAPES)
    images, masks, labels = scenes(n, size, max_objects, seed, classes)
    targets = [
        {
            "boxes": torch.tensor([mask_box(m) for m in ms], dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(ls, dtype=torch.int64),
        }
        for ms, ls in zip(masks, labels)
    ]
    return to_tensor(images), targets


def shapes_segmentation(
    n: int,
    size: int = 64,
    max_objects: int = 3,
    seed: int = 0,
    classes: Sequence[str] = SHAPES,
    ignore_width: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of ``shapes_detection`` with semantic masks in Pascal VOC's conventions.

    Explained in Part 8, "Segmentation metrics" (VOC masks, the 255 "ignore" label) and
    "FCN and DeepLab". Like VOC, pixels within ``ignore_width`` pixels of a boundary between
    two labels (object/background or object/object) are 255, to be ignored by losses and
    metrics (``nn.CrossEntropyLoss(ignore_index=255)``): a band ``2 * ignore_width`` wide.

    Args:
        n, size, max_objects, seed, classes: as for ``shapes_detection`` (same images).
        ignore_width: half-width of the 255 band in pixels, 0 (none) to 3.

    Returns:
        ``(images, masks)``: ``images`` Tensor[N, 3, size, size] float32 in [0, 1];
        ``masks`` Tensor[N, size, size] uint8 with 0 = background, ``k`` = ``classes[k - 1]``
        and 255 = ignore.

    Raises:
        ValueError: as ``shapes_detection``, or ``ignore_width`` outside 0..3.
    """
    _check_n(n)
    _check_size(size, 32)
    if not isinstance(max_objects, (int, np.integer)) or max_objects < 1:
        raise ValueError(f"max_objects must be an integer >= 1, got {max_objects!r}.")
    if not isinstance(ignore_width, (int, np.integer)) or not 0 <= ignore_width <= 3:
        raise ValueError(f"ignore_width must be an integer from 0 to 3, got {ignore_width!r}.")
    classes = _check_names("shape", classes, ALL_SHAPES)
    images, masks, labels = scenes(n, size, max_objects, seed, classes)
    out = np.zeros((n, size, size), dtype=np.uint8)
    for i, (ms, ls) in enumerate(zip(masks, labels)):
        for m, label in zip(ms, ls):
            out[i][m] = label
        if ignore_width:
            band = np.zeros((size, size), dtype=bool)
            for value in np.unique(out[i]):
                region = out[i] == value
                band |= dilate(~region, ignore_width) & region  # inside edge of each region
            out[i][band] = 255
    return to_tensor(images), torch.from_numpy(out)


def captioned_shapes(
    n: int, size: int = 64, seed: int = 0, num_distractors: int = 0
) -> tuple[torch.Tensor, list[str], list[dict[str, Any]]]:
    """Images of a shape with a caption naming its size, colour, kind and position.

    Explained in Part 9, "CLIP" (image–text pairs), "ViLT and ALBEF" and "Grounding" (the
    ``box`` attribute). Captions read ``"a small red circle in the top left"``; there are
    2 sizes × 6 colours × 4 shapes × 5 positions = 240 different captions.

    Args:
        n: number of images.
        size: image side in pixels, 32 to 512.
        seed: seed of the generator (same seed → identical bytes on every machine).
        num_distractors: 0..4 extra objects per image, each at another position and with a
            different (colour, shape) than the captioned one, so the caption stays unique.

    Returns:
        ``(images, captions, attributes)``: ``images`` Tensor[N, 3, size, size] float32 in
        [0, 1]; ``captions`` N strings; ``attributes`` N dicts with ``"size"`` ("small" or
        "large"), ``"color"`` (a key of ``COLORS``), ``"shape"`` (one of ``SHAPES``),
        ``"position"`` (one of ``POSITIONS``) and ``"box"`` (``[x1, y1, x2, y2]`` floats,
        pixel-edge coordinates, of the captioned object).

    Raises:
        ValueError: bad ``n``, ``size`` outside 32..512, ``num_distractors`` outside 0..4.
    """
    _check_n(n)
    _check_size(size, 32)
    if not isinstance(num_distractors, (int, np.integer)) or not 0 <= num_distractors <= 4:
        raise ValueError(
            f"num_distractors must be an integer from 0 to 4, got {num_distractors!r}."
        )
    rng = np.random.default_rng(seed)
    s = float(size)
    regions = {  # centre ranges (x0, y0, x1, y1): well inside each fifth of the image
        "top left": (0.22 * s, 0.22 * s, 0.3 * s, 0.3 * s),
        "top right": (0.7 * s, 0.22 * s, 0.78 * s, 0.3 * s),
        "bottom left": (0.22 * s, 0.7 * s, 0.3 * s, 0.78 * s),
        "bottom right": (0.7 * s, 0.7 * s, 0.78 * s, 0.78 * s),
        "center": (0.47 * s, 0.47 * s, 0.53 * s, 0.53 * s),
    }
    radii = {"small": (0.1 * s, 0.13 * s), "large": (0.17 * s, 0.21 * s)}
    colors = list(COLORS)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    captions: list[str] = []
    attributes: list[dict[str, Any]] = []
    for i in range(n):
        img = background(rng, size)
        occupied = np.zeros((size, size), dtype=bool)
        order = [POSITIONS[int(j)] for j in rng.permutation(len(POSITIONS))]
        size_word = ("small", "large")[int(rng.integers(2))]
        color = colors[int(rng.integers(len(colors)))]
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        mask = place_shape(rng, size, shape, radii[size_word], regions[order[0]], occupied, tries=1000)
        assert mask is not None  # the first object always fits its region
        paint(rng, img, mask, color)
        occupied |= mask
        attrs = {"size": size_word, "color": color, "shape": shape, "position": order[0],
                 "box": mask_box(mask)}
        for position in order[1 : 1 + num_distractors]:
            d_color, d_shape = color, shape
            while (d_color, d_shape) == (color, shape):
                d_color = colors[int(rng.integers(len(colors)))]
                d_shape = SHAPES[int(rng.integers(len(SHAPES)))]
            d_size = ("small", "large")[int(rng.integers(2))]
            d_mask = place_shape(rng, size, d_shape, radii[d_size], regions[position], occupied)
            if d_mask is not None:
                paint(rng, img, d_mask, d_color)
                occupied |= d_mask
        images[i] = finish(rng, img)
        captions.append(f"a {size_word} {color} {shape} in the {order[0]}")
        attributes.append(attrs)
    return to_tensor(images), captions, attributes


def _scratch(rng: np.random.Generator, size: int) -> np.ndarray:
    xs, ys = pixel_centres(size)
    x0, y0 = quantize(rng.uniform(0.1 * size, 0.9 * size, size=2))
    length, theta = rng.uniform(0.3 * size, 0.7 * size), rng.uniform(0, 2 * math.pi)
    x1 = float(quantize(np.clip(x0 + length * math.cos(theta), 1, size - 1)))
    y1 = float(quantize(np.clip(y0 + length * math.sin(theta), 1, size - 1)))
    half = float(quantize(rng.uniform(0.5, 1.1)))
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    px, py = xs - (x0 + t * dx), ys - (y0 + t * dy)
    return px * px + py * py <= half * half  # distance to the segment <= half width


def texture_defects(
    n: int,
    size: int = 64,
    seed: int = 0,
    defect_fraction: float = 0.5,
    textures: Sequence[str] = TEXTURES,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Texture crops, some with injected scratches and spots, for anomaly detection.

    Explained in Part 9, "Anomaly detection" (image AUROC on ``labels``, pixel AUROC on
    ``masks``). Normal images are grey texture crops (R = G = B); a defective image carries
    1–2 defects: a thin dark or bright scratch, or a rust-coloured spot.

    Args:
        n: number of images.
        size: image side in pixels, 32 to 512.
        seed: seed of the generator (same seed → identical bytes on every machine).
        defect_fraction: share of defective images in [0, 1]; ``round(n * defect_fraction)``
            images are defective, at shuffled positions.
        textures: texture names to crop from (a subset of brick, grass, gravel); pass one
            name for a one-category benchmark like MVTec AD's.

    Returns:
        ``(images, labels, masks)``: ``images`` Tensor[N, 3, size, size] float32 in [0, 1];
        ``labels`` Tensor[N] int64, 0 normal and 1 defective; ``masks`` Tensor[N, size, size]
        uint8, 1 on the pixels a defect changed and 0 elsewhere (all 0 for normal images).

    Raises:
        ValueError: bad ``n``, ``size``, ``defect_fraction`` outside [0, 1], unknown texture.
    """
    _check_n(n)
    _check_size(size, 32)
    if not 0.0 <= float(defect_fraction) <= 1.0:
        raise ValueError(f"defect_fraction must be in [0, 1], got {defect_fraction!r}.")
    textures = _check_names("texture", textures, TEXTURES)
    rng = np.random.default_rng(seed)
    n_bad = int(round(n * float(defect_fraction)))
    labels = rng.permutation(np.arange(n) < n_bad).astype(np.int64)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    masks = np.zeros((n, size, size), dtype=np.uint8)
    xs, ys = pixel_centres(size)
    for i in range(n):
        img = np.repeat(texture_crop(rng, size, textures)[..., None], 3, axis=2)
        if labels[i]:
            for _ in range(int(rng.integers(1, 3))):
                if rng.random() < 0.5:
                    m = _scratch(rng, size)
                    dark = rng.random() < 0.5
                    img[m] = img[m] * 0.3 if dark else img[m] * 0.4 + 150.0
                else:
                    cx, cy = rng.uniform(0.15 * size, 0.85 * size, size=2)
                    r = rng.uniform(0.04 * size, 0.09 * size)
                    m = shape_mask("ellipse", size, cx, cy, r, rng.uniform(0, math.pi))
                    img[m] = img[m] * 0.3 + np.array([110.0, 60.0, 25.0])  # rust
                masks[i][m] = 1
        noise = rng.integers(-4, 5, size=(size, size))[..., None]  # grey noise keeps R = G = B
        images[i] = np.clip(np.rint(img) + noise, 0, 255).astype(np.uint8)
    return to_tensor(images), torch.from_numpy(labels), torch.from_numpy(masks)


def house_csv(path: str | Path) -> Path:
    """Write the notes' 4-row house-price CSV (``NumRooms,Alley,Price``, with ``NA`` gaps).

    Explained in Part 1, "Data preprocessing with pandas" (``fillna``, ``get_dummies``).

    Args:
        path: file to write; missing parent folders are created.

    Returns:
        ``path`` as a ``Path``. The file holds exactly these bytes (``\\n`` line ends)::

            NumRooms,Alley,Price
            NA,Pave,127500
            2,NA,106000
            4,NA,178100
            NA,NA,140000

    Raises:
        PermissionError / FileNotFoundError: the folder cannot be written (the message names it).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_HOUSE_CSV.encode("ascii"))
    except PermissionError as err:
        raise PermissionError(
            f"Cannot write {path}: permission denied; pick a writable folder."
        ) from err
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as err:
        raise FileNotFoundError(
            f"Cannot write {path} ({err.strerror}); pass a file path in a writable folder."
        ) from err
    return path
