"""CIFAR-10 and flower_photos through torchvision's own loaders: the real sets, or stand-ins.

Explained in: Part 2, lesson 04_train_eval_predict (CIFAR-10) and Part 5, lesson 01_alexnet
(flower_photos). ``cifar10`` and ``flower_photos`` read the real sets when ``fetch`` has put
them on disk; otherwise they write, once, a small stand-in in the very same on-disk format,
say so in one printed line, and mark the returned dataset ``is_stand_in = True``.
"""

from __future__ import annotations

import json
import pickle
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from torchvision.datasets import CIFAR10, ImageFolder

from dlbook_utils.data.files import STAND_IN_MARKER, ensure_dir, md5_of, replace_dir
from dlbook_utils.data.paths import data_root
from dlbook_utils.data.synthetic import (
    ALL_SHAPES,
    GENERATOR_VERSION,
    shapes_classification_uint8,
)

__all__ = [
    "CIFAR10StandIn",
    "cifar10",
    "flower_photos",
    "CIFAR10_STAND_IN_CLASSES",
    "FLOWER_STAND_IN_CLASSES",
    "STAND_IN_VERSION",
]

# A stand-in carries names of its own (what its images show), never the real set's class names,
# and is large enough to learn: LeNet reaches about 80 % on the CIFAR-10 stand-in in 10 epochs
# (chance: 10 %). Bump STAND_IN_VERSION whenever what a stand-in holds changes.
STAND_IN_VERSION = "2"
_CIFAR_COUNTS = (5000, 1000)  # stand-in train / test images
CIFAR10_STAND_IN_CLASSES: tuple[str, ...] = ALL_SHAPES  # 10 shapes, one per CIFAR-10 label
FLOWER_STAND_IN_CLASSES: tuple[str, ...] = ("circle", "hexagon", "ring", "star", "triangle")
_FLOWER_PER_CLASS = 80


def _write_cifar10_stand_in(root: Path) -> None:
    final = root / CIFAR10.base_folder
    tmp = Path(tempfile.mkdtemp(prefix=".cifar-10-batches-py.", suffix=".tmp", dir=root))
    try:
        parts = []
        for seed, count in enumerate(_CIFAR_COUNTS):
            images, labels = shapes_classification_uint8(count, 32, seed, ALL_SHAPES)
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
                "filenames": [f"stand_in_{CIFAR10_STAND_IN_CLASSES[v]}_{j:05d}.png"
                              for j, v in enumerate(labels)],
            }
            (tmp / fname).write_bytes(pickle.dumps(entry, protocol=2))
        meta = {"num_cases_per_batch": len(batches[0][2]),
                "label_names": list(CIFAR10_STAND_IN_CLASSES),
                "num_vis": 3072}
        (tmp / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
        marker = {
            "stand_in_for": "CIFAR-10",
            "made_by": "dlbook_utils.data.cifar10",
            "generator_version": GENERATOR_VERSION,
            "stand_in_version": STAND_IN_VERSION,
            "counts": {"train": _CIFAR_COUNTS[0], "test": _CIFAR_COUNTS[1]},
            "classes": list(CIFAR10_STAND_IN_CLASSES),
            "md5": {p.name: md5_of(p) for p in sorted(tmp.iterdir())},
            "note": "Synthetic shapes in CIFAR-10's format, NOT CIFAR-10: results on it say "
                    "nothing about CIFAR-10. Run `python data_scripts/fetch.py cifar10` online.",
        }
        (tmp / STAND_IN_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _stand_in_ok(folder: Path) -> bool:
    try:
        marker = json.loads((folder / STAND_IN_MARKER).read_text())
    except (OSError, ValueError):
        return False
    if (marker.get("generator_version"), marker.get("stand_in_version")) != (
        GENERATOR_VERSION, STAND_IN_VERSION
    ):
        return False
    files = marker.get("md5", {})
    return all((folder / f).is_file() and md5_of(folder / f) == h for f, h in files.items())


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
    Without it, a stand-in is written there once (5,000 training and 1,000 test 32×32 images of
    ten synthetic shapes, whose class names are the shapes, ``CIFAR10_STAND_IN_CLASSES``, not
    CIFAR-10's; ``DLBOOK_STAND_IN.json`` in the folder marks it), and one line is printed saying
    so. Results on a stand-in say nothing about CIFAR-10.

    Args:
        root: folder holding ``cifar-10-batches-py``.
        train: the 5 training batches (True) or the test batch (False).
        transform, target_transform: as for ``torchvision.datasets.CIFAR10``.

    Returns:
        A ``torchvision.datasets.CIFAR10`` (``CIFAR10StandIn`` for a stand-in): ``.data``
        ndarray (N, 32, 32, 3) uint8, ``.targets`` list of ints, ``.classes`` the 10 names
        (CIFAR-10's for the real set, the shapes' for a stand-in),
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
        ensure_dir(root)
        _write_cifar10_stand_in(root)
    ds = CIFAR10StandIn(root, train=train, transform=transform, target_transform=target_transform)
    print(
        f"CIFAR-10 not found under {root}: using a same-format stand-in ({_CIFAR_COUNTS[0]:,} "
        f"train + {_CIFAR_COUNTS[1]:,} test images of 10 synthetic shapes, with their own class "
        "names); run `python data_scripts/fetch.py cifar10` online for the real set."
    )
    return ds


def _write_flower_stand_in(root: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=".flower_photos.", suffix=".tmp", dir=root))
    try:
        names = FLOWER_STAND_IN_CLASSES
        images, labels = shapes_classification_uint8(_FLOWER_PER_CLASS * 5, 64, 0, names)
        for name in names:
            (tmp / name).mkdir()
        for i, (img, label) in enumerate(zip(images, labels)):
            path = tmp / names[label] / f"stand_in_{i:05d}.jpg"
            Image.fromarray(img).save(path, quality=90)
        marker = {
            "stand_in_for": "flower_photos",
            "made_by": "dlbook_utils.data.flower_photos",
            "generator_version": GENERATOR_VERSION,
            "stand_in_version": STAND_IN_VERSION,
            "counts": {"images": len(labels)},
            "classes": list(FLOWER_STAND_IN_CLASSES),
            "md5": {},
            "note": "Synthetic shapes in flower_photos' folder layout, NOT flower photos. Run "
                    "`python data_scripts/fetch.py flower_photos` online for the real set.",
        }
        (tmp / STAND_IN_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        replace_dir(tmp, root / "flower_photos")
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
    unpacked by ``fetch``. Without it, a stand-in in the same layout is written once (400 JPEGs,
    64×64, of five synthetic shapes in five class folders named after the shapes,
    ``FLOWER_STAND_IN_CLASSES``; ``DLBOOK_STAND_IN.json`` marks it), and one line is printed
    saying so.

    Args:
        root: folder holding ``flower_photos``.
        transform, target_transform: as for ``torchvision.datasets.ImageFolder``.

    Returns:
        A ``torchvision.datasets.ImageFolder`` with ``.classes`` the 5 folder names (flowers
        for the real set, shapes for a stand-in), items
        ``(PIL image, int)`` before transforms, and ``.is_stand_in`` (bool).

    Raises:
        PermissionError / FileNotFoundError: a stand-in is needed but ``root`` is not writable.
    """
    root = data_root(root)
    folder = root / "flower_photos"
    stand_in = not folder.is_dir() or (folder / STAND_IN_MARKER).exists()
    if stand_in:
        if not _stand_in_ok(folder) or len(list(folder.glob("*/*.jpg"))) != 5 * _FLOWER_PER_CLASS:
            ensure_dir(root)
            _write_flower_stand_in(root)
        print(
            f"flower_photos not found under {root}: using a same-format stand-in "
            f"({5 * _FLOWER_PER_CLASS} images of 5 synthetic shapes, in class folders named after "
            "the shapes); run "
            "`python data_scripts/fetch.py flower_photos` online for the real set."
        )
    ds = ImageFolder(folder, transform=transform, target_transform=target_transform)
    ds.is_stand_in = stand_in  # type: ignore[attr-defined]
    return ds
