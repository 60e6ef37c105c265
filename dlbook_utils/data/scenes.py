"""Drawing shapes on real textures, deterministically: the primitives of every synthetic set.

Explained in: the book's setup page ("Offline data"); used by :mod:`~dlbook_utils.data.synthetic`.

Pixels are decided with IEEE ``+ - * /`` only; the few trigonometric values (polygon corners,
rotations) are rounded to a 1/256-pixel grid first (``quantize``), so a last-bit difference
between two machines' ``sin`` cannot move a pixel. Backgrounds are crops of the real textures
that ship with scikit-image (brick, grass, gravel), tinted with a muted colour; objects are solid
named colours shaded by another texture crop. Masks are boolean ``(S, S)`` arrays; images are
float64 ``(S, S, 3)`` until ``finish`` turns them into uint8.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dlbook_utils.data.packaged import TEXTURES, sample_photo

__all__ = [
    "SHAPES",
    "ALL_SHAPES",
    "COLORS",
    "TEXTURE_SIDE",
    "texture",
    "quantize",
    "texture_crop",
    "background",
    "pixel_centres",
    "polygon_mask",
    "disk_mask",
    "shape_mask",
    "dilate",
    "paint",
    "finish",
    "to_tensor",
    "place_shape",
    "mask_box",
    "scenes",
]

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
# SHAPES first, then six more for 10-class stand-ins (CIFAR-10) and harder tasks.
ALL_SHAPES: tuple[str, ...] = SHAPES + (
    "pentagon", "hexagon", "cross", "ring", "crescent", "ellipse",
)
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 215),
    "yellow": (230, 200, 30),
    "purple": (140, 60, 180),
    "orange": (240, 130, 20),
}
TEXTURE_SIDE = 512


@functools.lru_cache(maxsize=None)
def texture(name: str) -> np.ndarray:
    tex = sample_photo(name)
    tex.setflags(write=False)
    return tex  # (512, 512) uint8


def quantize(v: Any) -> Any:
    """Round to a 1/256-pixel grid (kills last-bit differences of sin/cos between machines)."""
    return np.round(np.asarray(v, dtype=np.float64) * 256.0) / 256.0


def texture_crop(
    rng: np.random.Generator, size: int, textures: Sequence[str], max_k: int = 3
) -> np.ndarray:
    """A ``size``×``size`` float64 crop of a texture, block-averaged ``k``×, randomly flipped."""
    tex = texture(textures[int(rng.integers(len(textures)))])
    k = int(rng.integers(1, max(1, min(max_k, TEXTURE_SIDE // size)) + 1))
    w = size * k
    y0, x0 = (int(v) for v in rng.integers(0, TEXTURE_SIDE - w + 1, size=2))
    block = tex[y0 : y0 + w, x0 : x0 + w].astype(np.int64)
    crop = block.reshape(size, k, size, k).sum(axis=(1, 3)) / float(k * k)  # integer sums: exact
    if rng.random() < 0.5:
        crop = crop.T
    if rng.random() < 0.5:
        crop = crop[::-1]
    return crop


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    tint = 0.45 + 0.4 * rng.random(3)  # muted: every channel keeps 45–85 % of the texture
    return texture_crop(rng, size, TEXTURES)[..., None] * tint  # (S, S, 3)


def pixel_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = np.arange(size, dtype=np.float64) + 0.5  # pixel centres
    return np.meshgrid(c, c)  # xs, ys: (S, S)


def polygon_mask(xs: np.ndarray, ys: np.ndarray, vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test of every pixel centre (works for the non-convex star)."""
    inside = np.zeros(xs.shape, dtype=bool)
    for i in range(len(vx)):
        x1, y1, x2, y2 = vx[i - 1], vy[i - 1], vx[i], vy[i]
        if y1 == y2:
            continue
        crosses = (y1 > ys) != (y2 > ys)
        x_at = (x2 - x1) * (ys - y1) / (y2 - y1) + x1
        inside ^= crosses & (xs < x_at)
    return inside


def disk_mask(xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r


def shape_mask(shape: str, size: int, cx: float, cy: float, r: float, theta: float) -> np.ndarray:
    """Boolean (S, S) mask of ``shape`` centred at (cx, cy), inside a circle of radius r."""
    xs, ys = pixel_centres(size)
    cx, cy, r = float(quantize(cx)), float(quantize(cy)), float(quantize(r))
    c, s = float(quantize(math.cos(theta))), float(quantize(math.sin(theta)))
    if shape == "circle":
        return disk_mask(xs, ys, cx, cy, r)
    if shape == "ring":
        return disk_mask(xs, ys, cx, cy, r) & ~disk_mask(xs, ys, cx, cy, float(quantize(0.55 * r)))
    if shape == "crescent":
        ox, oy = float(quantize(cx + 0.45 * r * c)), float(quantize(cy + 0.45 * r * s))
        return disk_mask(xs, ys, cx, cy, r) & ~disk_mask(xs, ys, ox, oy, float(quantize(0.8 * r)))
    if shape == "ellipse":
        a, b = r, float(quantize(0.55 * r))
        u = (xs - cx) * c + (ys - cy) * s
        v = (ys - cy) * c - (xs - cx) * s
        return u * u * (b * b) + v * v * (a * a) <= (a * a) * (b * b)
    corners = {"square": 4, "triangle": 3, "pentagon": 5, "hexagon": 6, "star": 10}
    if shape in corners:
        k = corners[shape]
        radii = np.full(k, r)
        if shape == "star":
            radii[1::2] = 0.42 * r
        offset = math.pi / 4 if shape == "square" else -math.pi / 2
        ang = theta + offset + 2 * math.pi * np.arange(k) / k
        lx, ly = radii * np.cos(ang), radii * np.sin(ang)
    elif shape == "cross":
        a, w = 0.95 * r, 0.3 * r
        px = np.array([w, w, a, a, w, w, -w, -w, -a, -a, -w, -w])
        py = np.array([-a, -w, -w, w, w, a, a, w, w, -w, -w, -a])
        lx, ly = px * c - py * s, px * s + py * c
    else:
        raise ValueError(f"Unknown shape {shape!r}; choose from {', '.join(ALL_SHAPES)}.")
    return polygon_mask(xs, ys, quantize(cx + lx), quantize(cy + ly))


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square (Chebyshev) dilation by ``radius`` pixels, without SciPy."""
    out = mask.copy()
    h, w = mask.shape
    padded = np.pad(mask, radius)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out |= padded[radius + dy : radius + dy + h, radius + dx : radius + dx + w]
    return out


def paint(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, color: str) -> None:
    shade = 0.7 + 0.3 * texture_crop(rng, img.shape[0], TEXTURES, max_k=1) / 255.0
    rgb = np.asarray(COLORS[color], dtype=np.float64)
    img[mask] = (shade[..., None] * rgb)[mask]


def finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    noise = rng.integers(-6, 7, size=img.shape)  # integer noise: exact on every machine
    return np.clip(np.rint(img) + noise, 0, 255).astype(np.uint8)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 → (N, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float().div_(255.0)


def place_shape(
    rng: np.random.Generator,
    size: int,
    shape: str,
    r_range: tuple[float, float],
    centre_box: tuple[float, float, float, float] | None,
    occupied: np.ndarray,
    tries: int = 30,
) -> np.ndarray | None:
    """Draw a mask of ``shape`` that fits the image and keeps a 1-pixel gap to ``occupied``."""
    keep_out = dilate(occupied, 1)
    for _ in range(tries):
        r = rng.uniform(*r_range)
        theta = rng.uniform(0.0, 2 * math.pi)
        if centre_box is None:
            cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
        else:
            x0, y0, x1, y1 = centre_box
            cx = rng.uniform(max(r, x0), max(max(r, x0), min(size - r, x1)))
            cy = rng.uniform(max(r, y0), max(max(r, y0), min(size - r, y1)))
        mask = shape_mask(shape, size, cx, cy, r, theta)
        if mask.sum() >= 6 and not (mask & keep_out).any():
            return mask
    return None


def mask_box(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def scenes(
    n: int, size: int, max_objects: int, seed: int, classes: Sequence[str]
) -> tuple[np.ndarray, list[list[np.ndarray]], list[list[int]]]:
    """Images (N, S, S, 3) uint8, per image the object masks and labels 1..K (0 = background)."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    all_masks: list[list[np.ndarray]] = []
    all_labels: list[list[int]] = []
    for i in range(n):
        img = background(rng, size)
        occupied = np.zeros((size, size), dtype=bool)
        masks, labels = [], []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            label = int(rng.integers(len(classes)))
            mask = place_shape(rng, size, classes[label], (0.1 * size, 0.22 * size), None, occupied)
            if mask is None:  # no room left: fewer objects in this image
                continue
            paint(rng, img, mask, list(COLORS)[int(rng.integers(len(COLORS)))])
            occupied |= mask
            masks.append(mask)
            labels.append(label + 1)
        images[i] = finish(rng, img)
        all_masks.append(masks)
        all_labels.append(labels)
    return images, all_masks, all_labels
