"""Real data that ships inside installed packages: digits, photos, textures, faces.

Offline first (see the book's setup page): ``digits_dataset`` reads scikit-learn's digits,
``sample_photo`` the photos and textures of scikit-image and scikit-learn, ``lfw_faces``
scikit-image's ``lfw_subset``. Nothing here writes a file or touches the network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = [
    "PHOTOS",
    "TEXTURES",
    "TensorImageDataset",
    "digits_dataset",
    "sample_photo",
    "lfw_faces",
    "resize_bilinear",
]

_SKIMAGE_PHOTOS = (
    "astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page", "text",
    "hubble_deep_field", "immunohistochemistry", "logo",
)
_SKLEARN_PHOTOS = {"china": "china.jpg", "flower": "flower.jpg"}
PHOTOS: tuple[str, ...] = _SKIMAGE_PHOTOS + tuple(_SKLEARN_PHOTOS)
TEXTURES: tuple[str, ...] = ("brick", "grass", "gravel")


class TensorImageDataset(Dataset):
    """Images and integer labels held in memory; ``ds[i]`` is ``(image, label)``.

    Returned by ``digits_dataset`` (Part 2, "Datasets and transforms").

    Attributes:
        data: Tensor[N, C, H, W] float32 in [0, 1].
        targets: Tensor[N] int64.
        classes: class names, ``classes[label]``.
        transform: applied to the image tensor of each item, when given.
    """

    def __init__(
        self,
        data: torch.Tensor,
        targets: torch.Tensor,
        classes: Sequence[str],
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        self.data, self.targets, self.classes = data, targets, list(classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        x = self.data[index]
        return (self.transform(x) if self.transform else x), int(self.targets[index])


def resize_bilinear(images: np.ndarray, out: int) -> np.ndarray:
    """(N, h, w) → (N, out, out): half-pixel bilinear like torch's, elementwise in float64."""
    def axis(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.clip((np.arange(out) + 0.5) * n_in / out - 0.5, 0.0, n_in - 1.0)
        i0 = np.floor(src).astype(np.int64)
        return i0, np.minimum(i0 + 1, n_in - 1), src - i0

    y0, y1, wy = axis(images.shape[1])
    x0, x1, wx = axis(images.shape[2])
    top = images[:, y0][:, :, x0] * (1 - wx) + images[:, y0][:, :, x1] * wx
    bottom = images[:, y1][:, :, x0] * (1 - wx) + images[:, y1][:, :, x1] * wx
    return top * (1 - wy)[:, None] + bottom * wy[:, None]


def digits_dataset(
    train: bool = True, size: int = 8, test_fraction: float = 0.2, seed: int = 0
) -> TensorImageDataset:
    """scikit-learn's 1,797 handwritten digits (8×8, 17 grey levels 0–16) as a torch Dataset.

    Explained in Part 2, "Datasets and transforms" and "DataLoader"; the lessons' default small
    real data set. The split is stratified and depends only on ``seed``, so ``train=True`` and
    ``train=False`` with the same ``seed`` and ``test_fraction`` never share an image.

    Args:
        train: the training part (True) or the test part (False).
        size: 8 (the original), 28 (like MNIST: the digit scaled to 20×20, centred in 28×28)
            or 32 (LeNet's input: the same 20×20 digit centred in 32×32).
        test_fraction: share of the images in the test part, strictly between 0 and 1.
        seed: seed of the split.

    Returns:
        A ``TensorImageDataset`` whose items are ``(Tensor[1, size, size] float32 in [0, 1],
        int label 0..9)``; ``.data``, ``.targets`` and ``.classes`` (``"0"`` .. ``"9"``) hold all.

    Raises:
        ValueError: ``size`` not 8, 28 or 32, or ``test_fraction`` not in (0, 1).
    """
    if size not in (8, 28, 32):
        raise ValueError(
            f"size must be 8, 28 or 32, got {size!r}; resize with a transform for other sizes."
        )
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction!r}.")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images / 16.0  # (1797, 8, 8) float64, 0..16 → [0, 1]
    if size != 8:
        pad = (size - 20) // 2
        digit = np.clip(resize_bilinear(images, 20), 0.0, 1.0)  # (N, 20, 20)
        images = np.pad(digit, ((0, 0), (pad, pad), (pad, pad)))
    idx_train, idx_test = train_test_split(
        np.arange(len(images)), test_size=float(test_fraction), random_state=seed,
        stratify=digits.target,
    )
    idx = np.sort(idx_train if train else idx_test)
    data = torch.from_numpy(images[idx].astype(np.float32)).unsqueeze(1)  # (N, 1, S, S)
    targets = torch.from_numpy(digits.target[idx].astype(np.int64))
    return TensorImageDataset(data, targets, [str(d) for d in range(10)])


def sample_photo(name: str) -> np.ndarray:
    """A photo or texture that ships with scikit-image or scikit-learn, as a uint8 array.

    Explained in Part 2, "Datasets and transforms" (layouts HWC/CHW, RGBA) and Part 3-4.

    Args:
        name: one of ``PHOTOS`` (astronaut, camera, coffee, chelsea, rocket, coins, moon, page,
            text, hubble_deep_field, immunohistochemistry, logo, china, flower) or ``TEXTURES``
            (brick, grass, gravel).

    Returns:
        A new uint8 ndarray: (H, W) for grey images (camera, coins, moon, page, text and the
        textures, 512×512), (H, W, 3) RGB for colour photos, (H, W, 4) RGBA for ``logo``.

    Raises:
        ValueError: unknown ``name`` (the message lists the known ones).
    """
    if name in _SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        return np.array(load_sample_image(_SKLEARN_PHOTOS[name]), dtype=np.uint8)
    if name in _SKIMAGE_PHOTOS or name in TEXTURES:
        import skimage.data

        return np.array(getattr(skimage.data, name)(), dtype=np.uint8)
    raise ValueError(f"Unknown photo {name!r}; choose from {', '.join(PHOTOS + TEXTURES)}.")


def lfw_faces() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's ``lfw_subset``: 100 face crops and 100 non-face crops, 25×25 pixels.

    Explained in Part 3, "HOG" (HOG + linear SVM face classifier). scikit-image's docstring
    says uint8, but the shipped file holds float64 values in [0, 1]; they are returned as is.

    Returns:
        ``(images, labels)``: ``images`` ndarray (200, 25, 25) float64 in [0, 1], faces first;
        ``labels`` ndarray (200,) int64, 1 = face (first 100), 0 = non-face (last 100).
    """
    import skimage.data

    images = np.asarray(skimage.data.lfw_subset(), dtype=np.float64)
    labels = (np.arange(len(images)) < len(images) // 2).astype(np.int64)
    return images, labels
