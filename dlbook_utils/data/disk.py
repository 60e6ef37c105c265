"""``prepare``: the synthetic sets written to ``data/<name>/`` in the standard on-disk formats.

Explained in: the book's setup page ("Offline data") and ``data_scripts/prepare.py``. Each set is
written under a temporary name and swapped into place with a ``manifest.json`` (generator
version, seeds, counts), so a second ``prepare`` with the same settings writes nothing and an
interrupted one leaves no half-written set. Formats: :mod:`~dlbook_utils.data.formats`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from tqdm.auto import tqdm

from dlbook_utils.data import synthetic as syn
from dlbook_utils.data.files import ensure_dir, replace_dir, write_text_file
from dlbook_utils.data.formats import (
    write_coco_json,
    write_labelme_json,
    write_mask_png,
    write_voc_xml,
    write_yolo_txt,
)
from dlbook_utils.data.paths import data_root
from dlbook_utils.data.synthetic import SHAPES

__all__ = ["PREPARABLE", "prepare"]

Pair = tuple[int, int]


def _save_png(path: Path, image: torch.Tensor) -> None:
    """Tensor[3, H, W] float in [0, 1] (multiples of 1/255) → RGB PNG."""
    arr = (image.permute(1, 2, 0) * 255.0).round().to(torch.uint8).numpy()
    Image.fromarray(arr).save(path)


def _dirs(*paths: Path) -> None:
    for p in paths:
        p.mkdir(parents=True, exist_ok=True)


def _write_classification(out: Path, seeds: Pair, size: int, counts: Pair, bar: tqdm) -> None:
    for split, seed, count in zip(("train", "val"), seeds, counts):
        images, labels = syn.shapes_classification(count, size, seed)
        _dirs(*(out / split / c for c in SHAPES))
        for i, (img, label) in enumerate(zip(images, labels)):
            _save_png(out / split / SHAPES[int(label)] / f"{i:05d}.png", img)
            bar.update()


def _write_detection(out: Path, seeds: Pair, size: int, counts: Pair, bar: tqdm) -> None:
    names = "".join(f"  {k}: {c}\n" for k, c in enumerate(SHAPES))
    write_text_file(out / "classes.txt", "".join(c + "\n" for c in SHAPES))
    write_text_file(out / "data.yaml", "# ultralytics YOLO: labels/ sits next to images/\n"
                "train: train/images\nval: val/images\nnames:\n" + names)
    for split, seed, count in zip(("train", "val"), seeds, counts):
        images, targets = syn.shapes_detection(count, size, 3, seed)
        d = out / split
        _dirs(d / "images", d / "labels", d / "voc", d / "labelme")
        files = [f"{i:05d}.png" for i in range(count)]
        for img, target, file in zip(images, targets, files):
            stem = file[:-4]
            _save_png(d / "images" / file, img)
            write_yolo_txt(d / "labels" / f"{stem}.txt", target, (size, size))
            write_voc_xml(d / "voc" / f"{stem}.xml", target, (size, size), filename=file)
            write_labelme_json(d / "labelme" / f"{stem}.json", target, (size, size),
                               image_path=f"../images/{file}")
            bar.update()
        write_coco_json(d / "coco.json", targets, files, (size, size))


def _write_segmentation(out: Path, seeds: Pair, size: int, counts: Pair, bar: tqdm) -> None:
    write_text_file(out / "classes.txt", "".join(c + "\n" for c in ("background",) + SHAPES))
    for split, seed, count in zip(("train", "val"), seeds, counts):
        images, masks = syn.shapes_segmentation(count, size, 3, seed)
        _dirs(out / split / "images", out / split / "masks")
        for i, (img, mask) in enumerate(zip(images, masks)):
            _save_png(out / split / "images" / f"{i:05d}.png", img)
            write_mask_png(out / split / "masks" / f"{i:05d}.png", mask)
            bar.update()


def _write_captions(out: Path, seeds: Pair, size: int, counts: Pair, bar: tqdm) -> None:
    for split, seed, count in zip(("train", "val"), seeds, counts):
        images, captions, attributes = syn.captioned_shapes(count, size, seed)
        _dirs(out / split / "images")
        lines = []
        for i, (img, caption, attrs) in enumerate(zip(images, captions, attributes)):
            _save_png(out / split / "images" / f"{i:05d}.png", img)
            lines.append(json.dumps({"file": f"images/{i:05d}.png", "caption": caption, **attrs}))
            bar.update()
        write_text_file(out / split / "captions.jsonl", "".join(line + "\n" for line in lines))


def _write_defects(out: Path, seeds: Pair, size: int, counts: Pair, bar: tqdm) -> None:
    for split, seed, count, fraction in zip(("train", "test"), seeds, counts, (0.0, 0.5)):
        images, labels, masks = syn.texture_defects(count, size, seed, defect_fraction=fraction)
        _dirs(out / split / "images", out / split / "masks")
        rows = ["file,label"]
        for i, (img, label, mask) in enumerate(zip(images, labels, masks)):
            _save_png(out / split / "images" / f"{i:05d}.png", img)
            Image.fromarray(mask.numpy() * 255).save(out / split / "masks" / f"{i:05d}.png")
            rows.append(f"images/{i:05d}.png,{int(label)}")
            bar.update()
        write_text_file(out / split / "labels.csv", "\n".join(rows) + "\n")


def _write_house(out: Path, seeds: Pair, size: int, counts: Pair, bar: tqdm) -> None:
    syn.house_csv(out / "house_tiny.csv")
    bar.update()


_Writer = Callable[[Path, Pair, int, Pair, tqdm], None]
# name: (writer, image size, (train, val/test) counts, layout written to the manifest)
_SETS: dict[str, tuple[_Writer, int, tuple[int, int], str]] = {
    "shapes_classification": (_write_classification, 32, (2000, 500),
                              "{train,val}/<shape>/NNNNN.png (torchvision ImageFolder)"),
    "shapes_detection": (_write_detection, 64, (1000, 200),
                         "{train,val}/images/NNNNN.png; labels/NNNNN.txt (YOLO); "
                         "voc/NNNNN.xml (VOC); labelme/NNNNN.json; coco.json (COCO); "
                         "classes.txt; data.yaml (ultralytics)"),
    "shapes_segmentation": (_write_segmentation, 64, (1000, 200),
                            "{train,val}/images/NNNNN.png; masks/NNNNN.png (P mode, VOC palette, "
                            "0 background, 1..4 shapes, 255 ignore); classes.txt"),
    "captioned_shapes": (_write_captions, 64, (2000, 500),
                         "{train,val}/images/NNNNN.png; "
                         "captions.jsonl (file, caption, attributes)"),
    "texture_defects": (_write_defects, 64, (400, 200),
                        "train/ (normal only), test/ (half defective): images/NNNNN.png; "
                        "masks/NNNNN.png (L mode, 255 = defect); labels.csv (file,label)"),
    "house_tiny": (_write_house, 0, (1, 0), "house_tiny.csv (the notes' 4-row house-price CSV)"),
}
PREPARABLE: tuple[str, ...] = tuple(_SETS)


def _resolve(names: str | Sequence[str] | None) -> list[str]:
    names = ["all"] if names is None else [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in _SETS and n != "all"]
    if unknown or not names:
        raise ValueError(f"Unknown data set(s) {unknown or names!r} to prepare; choose from "
                         f"{', '.join(PREPARABLE)}, or all.")
    return list(PREPARABLE) if "all" in names else list(dict.fromkeys(names))


def _manifest_matches(folder: Path, manifest: dict[str, Any]) -> bool:
    try:
        found = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    keys = ("name", "generator_version", "seed", "size", "counts")
    return all(found.get(k) == manifest[k] for k in keys)


def prepare(
    names: str | Sequence[str] | None = None,
    root: str | Path | None = None,
    *,
    n: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Path]:
    """Write synthetic data sets to ``root/<name>/`` in their on-disk formats.

    Explained in the book's setup page ("Offline data"); ``python data_scripts/prepare.py``
    and ``dlbook data prepare`` call it. Each set is written to a temporary folder in ``root``
    and renamed into place when complete (an error leaves no half-written set), and ends with a
    ``manifest.json`` (generator version, seed, size, counts, layout). A set whose manifest
    matches is skipped, so a second run writes nothing. The train split uses seed ``2 * seed``,
    the val/test split ``2 * seed + 1``.

    Args:
        names: one or more of ``PREPARABLE`` (shapes_classification, shapes_detection,
            shapes_segmentation, captioned_shapes, texture_defects, house_tiny), or ``"all"``
            / ``None`` for all of them.
        root: data folder.
        n: training images per set (default: 2000 classification and captions, 1000
            detection and segmentation, 400 defects); the val/test split gets ``n // 4``
            (at least 1).
        seed: base seed.
        progress: show a tqdm bar per set.

    Returns:
        ``{name: folder}`` for every requested set.

    Raises:
        ValueError: unknown names (the message lists the known ones) or ``n`` < 1.
        PermissionError / FileNotFoundError: ``root`` cannot be created or written.
    """
    chosen = _resolve(names)
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    root = ensure_dir(data_root(root))
    done: dict[str, Path] = {}
    for name in chosen:
        writer, size, counts, layout = _SETS[name]
        if n is not None and name != "house_tiny":
            counts = (n, max(1, n // 4))
        splits = ("train", "test") if name == "texture_defects" else ("train", "val")
        manifest = {
            "name": name, "generator_version": syn.GENERATOR_VERSION, "seed": seed, "size": size,
            "counts": dict(zip(splits, counts)) if name != "house_tiny" else {"rows": 4},
            "made_by": "dlbook_utils.data.disk", "layout": layout,
        }
        final = root / name
        done[name] = final
        if _manifest_matches(final, manifest):
            print(f"{name}: up to date in {final}")
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=root))
        try:
            with tqdm(total=sum(counts), desc=name, unit="img", disable=not progress) as bar:
                writer(tmp, (2 * seed, 2 * seed + 1), size, counts, bar)
            write_text_file(tmp / "manifest.json", json.dumps(manifest, indent=2) + "\n")
            try:
                replace_dir(tmp, final)
            except OSError:
                if not _manifest_matches(final, manifest):  # not a concurrent run that won
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        what = "file" if name == "house_tiny" else "images"
        print(f"{name}: wrote {sum(counts)} {what} to {final}")
    return done
