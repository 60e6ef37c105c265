"""Data for the lessons, offline first (see the book's setup page and DESIGN "Data").

Three sources, in this order of preference:

1. real data that ships inside installed packages (:mod:`~dlbook_utils.data.packaged`):
   ``digits_dataset``, ``sample_photo``, ``lfw_faces``;
2. deterministic synthetic sets (:mod:`~dlbook_utils.data.synthetic`, drawn with the
   primitives of :mod:`~dlbook_utils.data.scenes`): shapes on real textures for
   classification, detection and segmentation, captioned shapes, texture defects, the house
   CSV; written to disk by ``prepare`` (:mod:`~dlbook_utils.data.disk`) in the formats of
   :mod:`~dlbook_utils.data.formats` (VOC/COCO/YOLO/labelme, VOC masks);
3. real public sets through torchvision's loaders (``cifar10``, ``flower_photos``,
   :mod:`~dlbook_utils.data.standins`), fetched online by ``fetch``
   (:mod:`~dlbook_utils.data.remote`); offline they fall back, loudly, to same-format stand-ins
   with names of their own.

Imports run one way: packaged → scenes → synthetic → disk / standins; files and paths are
used by all, and nothing imports back up the chain.
"""

from __future__ import annotations

from dlbook_utils.data.disk import PREPARABLE, prepare
from dlbook_utils.data.files import STAND_IN_MARKER
from dlbook_utils.data.formats import (
    read_coco_json,
    read_labelme_json,
    read_mask_png,
    read_voc_xml,
    read_yolo_txt,
    voc_palette,
    write_coco_json,
    write_labelme_json,
    write_mask_png,
    write_voc_xml,
    write_yolo_txt,
)
from dlbook_utils.data.packaged import (
    PHOTOS,
    TEXTURES,
    TensorImageDataset,
    digits_dataset,
    lfw_faces,
    sample_photo,
)
from dlbook_utils.data.paths import data_root
from dlbook_utils.data.remote import (
    CIFAR10_CLASSES,
    FETCHABLE,
    FLOWER_CLASSES,
    download,
    fetch,
)
from dlbook_utils.data.standins import (
    CIFAR10_STAND_IN_CLASSES,
    FLOWER_STAND_IN_CLASSES,
    CIFAR10StandIn,
    cifar10,
    flower_photos,
)
from dlbook_utils.data.synthetic import (
    ALL_SHAPES,
    COLORS,
    GENERATOR_VERSION,
    POSITIONS,
    SHAPES,
    captioned_shapes,
    house_csv,
    shapes_classification,
    shapes_detection,
    shapes_segmentation,
    texture_defects,
)

__all__ = [
    "data_root",
    # real data shipped in packages
    "digits_dataset", "sample_photo", "lfw_faces", "TensorImageDataset", "PHOTOS", "TEXTURES",
    # synthetic generators
    "shapes_classification", "shapes_detection", "shapes_segmentation", "captioned_shapes",
    "texture_defects", "house_csv", "SHAPES", "ALL_SHAPES", "COLORS", "POSITIONS",
    "GENERATOR_VERSION",
    # on-disk formats
    "write_voc_xml", "read_voc_xml", "write_coco_json", "read_coco_json", "write_yolo_txt",
    "read_yolo_txt", "write_labelme_json", "read_labelme_json", "write_mask_png",
    "read_mask_png", "voc_palette", "prepare", "PREPARABLE",
    # real data sets: fetched, or stand-ins
    "cifar10", "flower_photos", "CIFAR10StandIn", "CIFAR10_CLASSES", "FLOWER_CLASSES",
    "CIFAR10_STAND_IN_CLASSES", "FLOWER_STAND_IN_CLASSES",
    "STAND_IN_MARKER", "fetch", "download", "FETCHABLE",
]
