"""Real data: what ships inside installed packages, and real data sets fetched when online.

Offline first (see the book's setup page): ``digits_dataset``, ``sample_photo`` and
``lfw_faces`` read files that scikit-learn and scikit-image install. ``cifar10`` and
``flower_photos`` read the real sets through torchvision's own loaders when ``fetch`` has put
them on disk; otherwise they write, once, a small stand-in in the very same on-disk format,
say so in one printed line, and mark the returned dataset ``is_stand_in = True``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import pickle
import re
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.datasets import CIFAR10, ImageFolder
from tqdm.auto import tqdm
from dlbook_utils.data.paths import data_root

__all__ = [
    "PHOTOS",
    "TEXTURES",
    "CIFAR10_CLASSES",
    "FLOWER_CLASSES",
    "STAND_IN_MARKER",
    "FETCHABLE",
    "TensorImageDataset",
    "CIFAR10StandIn",
    "digits_dataset",
    "sample_photo",
    "lfw_faces",
    "cifar10",
    "flower_photos",
    "download",
    "fetch",
]

_SKIMAGE_PHOTOS = (
    "astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page", "text",
    "hubble_deep_field", "immunohistochemistry", "logo",
)
_SKLEARN_PHOTOS = {"china": "china.jpg", "flower": "flower.jpg"}
PHOTOS: tuple[str, ...] = _SKIMAGE_PHOTOS + tuple(_SKLEARN_PHOTOS)
TEXTURES: tuple[str, ...] = ("brick", "grass", "gravel")
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
FLOWER_CLASSES: tuple[str, ...] = ("daisy", "dandelion", "roses", "sunflowers", "tulips")
STAND_IN_MARKER = "DLBOOK_STAND_IN.json"
_CIFAR_COUNTS = (500, 100)  # stand-in train / test images
_FLOWER_SHAPES = ("circle", "star", "ring", "hexagon", "triangle")  # daisy … tulips
_FLOWER_PER_CLASS = 40


# ----------------------------------------------------------------------------- packaged data


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


def _resize_bilinear(images: np.ndarray, out: int) -> np.ndarray:
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
    """scikit-learn's 1,797 handwritten digits (8×8, 16 grey levels) as a torch Dataset.

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
        digit = np.clip(_resize_bilinear(images, 20), 0.0, 1.0)  # (N, 20, 20)
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


# ----------------------------------------------------------------------------- stand-ins


def _ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents); turn OS errors into one sentence naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-")
        probe.close()
    except PermissionError as err:
        raise PermissionError(
            f"Cannot write under {path}: permission denied; pass a writable folder as root "
            "(--root on the command line)."
        ) from err
    except OSError as err:
        raise FileNotFoundError(
            f"Cannot create the folder {path} ({err.strerror or err}); pass a writable folder "
            "as root (--root on the command line)."
        ) from err
    return path


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished folder ``tmp`` to ``final`` (replacing it), never leaving half a folder."""
    old = tmp.with_name(tmp.name + ".old")
    tmp.chmod(0o755)  # mkdtemp made it private (0o700)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _write_cifar10_stand_in(root: Path) -> None:
    from dlbook_utils.data.synthetic import ALL_SHAPES, GENERATOR_VERSION, _classification_uint8

    final = root / CIFAR10.base_folder
    tmp = Path(tempfile.mkdtemp(prefix=".cifar-10-batches-py.", suffix=".tmp", dir=root))
    try:
        parts = []
        for seed, count in enumerate(_CIFAR_COUNTS):
            images, labels = _classification_uint8(count, 32, seed, ALL_SHAPES)
            rows = images.transpose(0, 3, 1, 2).reshape(count, 3072)  # R plane, G plane, B plane
            parts.append((rows, labels))
        batches = [(f, parts[0][0][i::5], parts[0][1][i::5], f"training batch {i + 1} of 5")
                   for i, (f, _) in enumerate(CIFAR10.train_list)]
        batches.append(("test_batch", parts[1][0], parts[1][1], "testing batch 1 of 1"))
        for fname, rows, labels, batch_label in batches:
            entry = {
                "batch_label": batch_label,
                "labels": [int(v) for v in labels],
                "data": rows,  # (n, 3072) uint8
                "filenames": [f"stand_in_{ALL_SHAPES[v]}_{j:05d}.png"
                              for j, v in enumerate(labels)],
            }
            (tmp / fname).write_bytes(pickle.dumps(entry, protocol=2))
        meta = {"num_cases_per_batch": len(batches[0][2]), "label_names": list(CIFAR10_CLASSES),
                "num_vis": 3072}
        (tmp / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
        marker = {
            "stand_in_for": "CIFAR-10",
            "made_by": "dlbook_utils.data.cifar10",
            "generator_version": GENERATOR_VERSION,
            "counts": {"train": _CIFAR_COUNTS[0], "test": _CIFAR_COUNTS[1]},
            "class_is_shape": dict(zip(CIFAR10_CLASSES, ALL_SHAPES)),
            "md5": {p.name: _md5(p) for p in sorted(tmp.iterdir())},
            "note": "Synthetic shapes in CIFAR-10's format, NOT CIFAR-10: results on it say "
                    "nothing about CIFAR-10. Run `python data_scripts/fetch.py cifar10` online.",
        }
        (tmp / STAND_IN_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _stand_in_ok(folder: Path) -> bool:
    from dlbook_utils.data.synthetic import GENERATOR_VERSION

    try:
        marker = json.loads((folder / STAND_IN_MARKER).read_text())
    except (OSError, ValueError):
        return False
    if marker.get("generator_version") != GENERATOR_VERSION:
        return False
    files = marker.get("md5", {})
    return all((folder / f).is_file() and _md5(folder / f) == h for f, h in files.items())


class CIFAR10StandIn(CIFAR10):
    """torchvision's ``CIFAR10`` reading a stand-in written by :func:`cifar10`.

    Everything (pickle layout, unpickling, HWC reshape, ``classes``) is torchvision's code. The
    only difference: torchvision checks each file against the md5 of the *real* archive's files,
    which a stand-in cannot match, so this subclass checks them against the md5 sums the
    stand-in recorded in its marker file instead (integrity is still verified). Plain
    ``torchvision.datasets.CIFAR10(root)`` refuses a stand-in with "Dataset not found or
    corrupted", which is why :func:`cifar10` returns this class for stand-ins.
    """

    is_stand_in = True

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        marker = Path(root) / self.base_folder / STAND_IN_MARKER
        md5 = json.loads(marker.read_text())["md5"]
        self.train_list = [[f, md5[f]] for f, _ in CIFAR10.train_list]
        self.test_list = [[f, md5[f]] for f, _ in CIFAR10.test_list]
        self.meta = {**CIFAR10.meta, "md5": md5[CIFAR10.meta["filename"]]}
        super().__init__(root, train=train, transform=transform,
                         target_transform=target_transform, download=False)


def cifar10(
    root: str | Path | None = None,
    train: bool = True,
    transform: Callable | None = None,
    target_transform: Callable | None = None,
) -> CIFAR10:
    """CIFAR-10 through torchvision's loader: the real set when on disk, else a stand-in.

    Explained in Part 2, "Train, evaluate, predict" (the notes' LeNet on CIFAR-10). The real
    set is ``root/cifar-10-batches-py`` as unpacked from the official archive (``fetch``).
    Without it, a stand-in is written there once (500 training and 100 test 32×32 images of
    ten synthetic shapes, labelled with CIFAR-10's class names; ``DLBOOK_STAND_IN.json`` in the
    folder marks it and says which shape is which class), and one line is printed saying so.

    Args:
        root: folder holding ``cifar-10-batches-py``.
        train: the 5 training batches (True) or the test batch (False).
        transform, target_transform: as for ``torchvision.datasets.CIFAR10``.

    Returns:
        A ``torchvision.datasets.CIFAR10`` (``CIFAR10StandIn`` for a stand-in): ``.data``
        ndarray (N, 32, 32, 3) uint8, ``.targets`` list of ints, ``.classes`` the 10 names,
        items ``(PIL image, int)`` before transforms, and ``.is_stand_in`` (bool).

    Raises:
        PermissionError / FileNotFoundError: a stand-in is needed but ``root`` is not writable.
        RuntimeError: a real ``cifar-10-batches-py`` is there but fails torchvision's md5 check.
    """
    root = data_root(root)
    base = root / CIFAR10.base_folder
    if base.is_dir() and not (base / STAND_IN_MARKER).exists():
        try:
            ds = CIFAR10(root, train=train, transform=transform,
                         target_transform=target_transform, download=False)
        except RuntimeError as err:
            raise RuntimeError(
                f"{base} is incomplete or corrupted (torchvision's md5 check failed); delete it "
                "and run `python data_scripts/fetch.py cifar10` online (or delete it to use the "
                "offline stand-in)."
            ) from err
        ds.is_stand_in = False  # type: ignore[attr-defined]
        return ds
    if not _stand_in_ok(base):
        _ensure_dir(root)
        _write_cifar10_stand_in(root)
    ds = CIFAR10StandIn(root, train=train, transform=transform, target_transform=target_transform)
    print(
        f"CIFAR-10 not found under {root}: using a same-format stand-in ({_CIFAR_COUNTS[0]} train"
        f" + {_CIFAR_COUNTS[1]} test images of synthetic shapes); run "
        "`python data_scripts/fetch.py cifar10` online for the real set."
    )
    return ds


def _write_flower_stand_in(root: Path) -> None:
    from PIL import Image

    from dlbook_utils.data.synthetic import GENERATOR_VERSION, _classification_uint8

    tmp = Path(tempfile.mkdtemp(prefix=".flower_photos.", suffix=".tmp", dir=root))
    try:
        images, labels = _classification_uint8(_FLOWER_PER_CLASS * 5, 64, 0, _FLOWER_SHAPES)
        for name in FLOWER_CLASSES:
            (tmp / name).mkdir()
        for i, (img, label) in enumerate(zip(images, labels)):
            path = tmp / FLOWER_CLASSES[label] / f"stand_in_{i:05d}.jpg"
            Image.fromarray(img).save(path, quality=90)
        marker = {
            "stand_in_for": "flower_photos",
            "made_by": "dlbook_utils.data.flower_photos",
            "generator_version": GENERATOR_VERSION,
            "counts": {"images": len(labels)},
            "class_is_shape": dict(zip(FLOWER_CLASSES, _FLOWER_SHAPES)),
            "md5": {},
            "note": "Synthetic shapes in flower_photos' folder layout, NOT flower photos. Run "
                    "`python data_scripts/fetch.py flower_photos` online for the real set.",
        }
        (tmp / STAND_IN_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        _replace_dir(tmp, root / "flower_photos")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def flower_photos(
    root: str | Path | None = None,
    transform: Callable | None = None,
    target_transform: Callable | None = None,
) -> ImageFolder:
    """TensorFlow's flower_photos (3,670 JPEGs, 5 classes) as an ``ImageFolder``, or a stand-in.

    Explained in Part 5, "AlexNet" (ImageFolder, ``class_indices.json``, train/predict). The
    real set is ``root/flower_photos/{daisy,dandelion,roses,sunflowers,tulips}/*.jpg`` as
    unpacked by ``fetch``. Without it, a stand-in with the same five class folders is written
    once (200 JPEGs, 64×64, of synthetic shapes; ``DLBOOK_STAND_IN.json`` marks it), and one
    line is printed saying so.

    Args:
        root: folder holding ``flower_photos``.
        transform, target_transform: as for ``torchvision.datasets.ImageFolder``.

    Returns:
        A ``torchvision.datasets.ImageFolder`` with ``.classes`` the 5 folder names, items
        ``(PIL image, int)`` before transforms, and ``.is_stand_in`` (bool).

    Raises:
        PermissionError / FileNotFoundError: a stand-in is needed but ``root`` is not writable.
    """
    root = data_root(root)
    folder = root / "flower_photos"
    stand_in = not folder.is_dir() or (folder / STAND_IN_MARKER).exists()
    if stand_in:
        if not _stand_in_ok(folder) or len(list(folder.glob("*/*.jpg"))) != 5 * _FLOWER_PER_CLASS:
            _ensure_dir(root)
            _write_flower_stand_in(root)
        print(
            f"flower_photos not found under {root}: using a same-format stand-in "
            f"({5 * _FLOWER_PER_CLASS} images of synthetic shapes in 5 class folders); run "
            "`python data_scripts/fetch.py flower_photos` online for the real set."
        )
    ds = ImageFolder(folder, transform=transform, target_transform=target_transform)
    ds.is_stand_in = stand_in  # type: ignore[attr-defined]
    return ds


# ----------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class _Remote:
    filename: str
    urls: tuple[str, ...]  # tried in order
    sha256: str | None
    md5: str | None
    size: int | None


@dataclass(frozen=True)
class _Source:
    title: str
    files: tuple[_Remote, ...]
    folder: str  # relative to root: what the torchvision loader reads
    unpack: str  # "tar": archive in root, unpacked to root/folder; "gunzip": files in root/folder
    complete: tuple[str, ...]  # relative to root/folder: present when the set is complete


# Hashes. None of them could be checked against a download here (no network to those hosts):
# - sha256 of CIFAR-10 and Fashion-MNIST are the ones pytorch/vision's prototype datasets pin
#   (torchvision/prototype/datasets/_builtin/cifar.py and mnist.py); the Fashion-MNIST ones and
#   their sizes also match tensorflow/datasets' url_checksums/fashion_mnist.txt.
# - md5 are those of the installed torchvision (datasets/cifar.py and mnist.py); both are checked.
# - flower_photos' sha256 and size are tensorflow/datasets' url_checksums/tf_flowers.txt; no md5.
_FASHION_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"  # torchvision's
_FASHION = (  # file, sha256, md5, size
    ("train-images-idx3-ubyte.gz",
     "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
     "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880),
    ("train-labels-idx1-ubyte.gz",
     "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
     "25c81989df183df01b3e8a0aad5dffbe", 29515),
    ("t10k-images-idx3-ubyte.gz",
     "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
     "bef4ecab320f06d8554ea6380940ec79", 4422102),
    ("t10k-labels-idx1-ubyte.gz",
     "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
     "bb300cfdad3c16e7a12a480ee83cd310", 5148),
)
_FLOWERS_PATH = "download.tensorflow.org/example_images/flower_photos.tgz"
FETCHABLE: dict[str, _Source] = {
    "cifar10": _Source(
        title="CIFAR-10",
        files=(_Remote(
            "cifar-10-python.tar.gz",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
            sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            md5="c58f30108f718f92721af3b95e74349a",
            size=170498071,
        ),),
        folder="cifar-10-batches-py",
        unpack="tar",
        complete=("batches.meta", "test_batch") + tuple(f"data_batch_{i}" for i in range(1, 6)),
    ),
    "fashion_mnist": _Source(
        title="Fashion-MNIST",
        files=tuple(_Remote(f, (_FASHION_MIRROR + f,), sha, md5, n) for f, sha, md5, n in _FASHION),
        folder="FashionMNIST/raw",
        unpack="gunzip",
        complete=tuple(f[: -len(".gz")] for f, *_ in _FASHION),
    ),
    "flower_photos": _Source(
        title="flower_photos",
        files=(_Remote(
            "flower_photos.tgz",
            (f"https://{_FLOWERS_PATH}", f"https://storage.googleapis.com/{_FLOWERS_PATH}"),
            sha256="4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
            md5=None,
            size=228813984,
        ),),
        folder="flower_photos",
        unpack="tar",
        complete=FLOWER_CLASSES,
    ),
}
_NETWORK_ERRORS = (
    urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, socket.timeout,
)


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(getattr(err.reason, "strerror", None) or err.reason)
    return str(err) or type(err).__name__


def _verify(path: Path, sha256: str | None, md5: str | None, size: int | None) -> str | None:
    """None when ``path`` matches; otherwise what does not match, in words."""
    actual = path.stat().st_size
    if size is not None and actual != size:
        return f"size {actual} bytes, expected {size}"
    h_sha, h_md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h_sha.update(chunk)
            h_md5.update(chunk)
    if sha256 is not None and h_sha.hexdigest() != sha256.lower():
        return f"sha256 {h_sha.hexdigest()}, expected {sha256}"
    if md5 is not None and h_md5.hexdigest() != md5.lower():
        return f"md5 {h_md5.hexdigest()}, expected {md5}"
    return None


def _fetch_into(url: str, part: Path, size: int | None, progress: bool, timeout: float) -> None:
    """Download ``url`` into ``part``, resuming (HTTP Range) from the bytes already there."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return  # complete (or too long: the hash check decides)
    headers = {"User-Agent": "dlbook-fetch/1"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to send: the part is complete
            return
        raise
    with resp:
        start = 0
        if have and resp.status == 206:
            match = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
            start = int(match.group(1)) if match and int(match.group(1)) <= have else 0
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length is not None else size
        written = 0
        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True,
                   desc=part.name[: -len(".part")], disable=not progress)
        with open(part, "ab") as f, bar:
            f.truncate(start)  # a server that ignored Range restarts the file from 0
            while chunk := resp.read(1 << 16):
                f.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
        if length is not None and written < int(length):
            raise http.client.IncompleteRead(b"", int(length) - written)


def download(
    urls: str | Sequence[str],
    dest: str | Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download a file, resumably and checked, to ``dest`` (a no-op when it is already there).

    Used by ``fetch`` (the book's setup page, "Real data sets"); public for lessons and tests.

    Bytes go to ``dest + ".part"``; an interrupted download keeps them and the next call asks
    the server for the rest (HTTP ``Range``). ``dest`` appears only once size, sha256 and md5
    (those given) all match, so a ``dest`` on disk is always a checked file.

    Args:
        urls: one URL or mirrors tried in order.
        dest: file to write.
        sha256, md5: expected hex digests (either, both or none).
        size: expected size in bytes.
        progress: show a tqdm bar.
        timeout: seconds to wait for the server.

    Returns:
        ``dest`` as a ``Path``.

    Raises:
        ConnectionError: no mirror could be reached or the transfer broke off (partial bytes
            are kept for a resumed download); the message names each URL and why.
        ValueError: the file (downloaded, or found at ``dest``) does not match size or hashes;
            a bad download is deleted.
    """
    urls = (urls,) if isinstance(urls, str) else tuple(urls)
    dest = Path(dest)
    if dest.exists():
        problem = _verify(dest, sha256, md5, size)
        if problem:
            raise ValueError(
                f"{dest} does not match the expected file ({problem}); delete it and run again."
            )
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    reasons = []
    for url in urls:
        try:
            _fetch_into(url, part, size, progress, timeout)
            break
        except _NETWORK_ERRORS as err:
            reasons.append(f"{url}: {_reason(err)}")
    else:
        have = part.stat().st_size if part.exists() else 0
        kept = f", {have} bytes kept in {part} to resume" if have else ""
        raise ConnectionError("; ".join(reasons) + kept)
    problem = _verify(part, sha256, md5, size)
    if problem:
        part.unlink()
        raise ValueError(
            f"The download of {dest.name} is corrupt ({problem}); it was deleted, run again."
        )
    part.replace(dest)
    return dest


def _unpack_tar(archive: Path, root: Path, folder: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.", suffix=".tmp", dir=root))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        if not (tmp / folder).is_dir():
            raise ValueError(
                f"{archive} does not contain the folder {folder}/; delete it and run again."
            )
        _replace_dir(tmp / folder, root / folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch(name: str, root: str | Path | None = None, *, progress: bool = True) -> Path:
    """Download, check and unpack a real data set where its torchvision loader looks for it.

    Explained in the book's setup page ("Real data sets"). Online only; offline it fails with
    one sentence saying where to put the file by hand (``fetch`` then checks and unpacks it
    without the network). A stand-in written by ``cifar10``/``flower_photos`` is replaced.
    Archives stay next to the unpacked folder (``root/cifar-10-python.tar.gz``, …): delete
    them to save space.

    Args:
        name: ``"cifar10"`` (→ ``root/cifar-10-batches-py``), ``"fashion_mnist"``
            (→ ``root/FashionMNIST/raw``, for ``torchvision.datasets.FashionMNIST(root)``) or
            ``"flower_photos"`` (→ ``root/flower_photos/<5 classes>``).
        root: data folder.
        progress: show download bars.

    Returns:
        The folder the loader reads.

    Raises:
        ValueError: unknown ``name``, or a file that fails its size/sha256/md5 check.
        ConnectionError: the download failed (offline); the message says what to do.
        PermissionError / FileNotFoundError: ``root`` is not writable.
    """
    if name not in FETCHABLE:
        raise ValueError(f"Unknown data set {name!r} to fetch; choose from {', '.join(FETCHABLE)}.")
    source, root = FETCHABLE[name], data_root(root)
    target = root / source.folder
    complete = all((target / f).exists() for f in source.complete)
    if complete and not (target / STAND_IN_MARKER).exists():
        print(f"{source.title} is already in {target}.")
        return target
    _ensure_dir(root)
    archive_dir = root if source.unpack == "tar" else _ensure_dir(target)
    for remote in source.files:
        dest = archive_dir / remote.filename
        try:
            download(remote.urls, dest, sha256=remote.sha256, md5=remote.md5, size=remote.size,
                     progress=progress)
        except ConnectionError as err:
            one = len(source.files) == 1
            what = (f"{remote.urls[0]} on a connected machine, put it at {dest}" if one else
                    f"{', '.join(r.urls[0] for r in source.files)} on a connected machine, put "
                    f"them in {archive_dir}")
            raise ConnectionError(
                f"Could not download {source.title} ({err}); if this machine is offline, download "
                f"{what}, and run `python data_scripts/fetch.py {name} --root {root}` again to "
                f"check and unpack {'it' if one else 'them'} (online, running it again resumes a "
                "broken download)."
            ) from None
        if source.unpack == "tar":
            _unpack_tar(dest, root, source.folder)
        else:
            unpacked = target / remote.filename[: -len(".gz")]
            with gzip.open(dest, "rb") as src, open(f"{unpacked}.tmp", "wb") as out:
                shutil.copyfileobj(src, out)
            Path(f"{unpacked}.tmp").replace(unpacked)
    print(f"{source.title} is ready in {target}.")
    return target
