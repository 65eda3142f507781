"""Tiny COCO-2017-layout instance segmentation set of shape scenes.

Layout under ``root``::

    train2017/000000000001.jpg ...           val2017/000001000001.jpg ...
    annotations/instances_train2017.json     annotations/instances_val2017.json

Each image holds 1..``max_objects`` non-overlapping shapes; categories are ``COCO_CLASSES``
with ids 1..3. Every annotation has a polygon ``segmentation`` (the drawn outline), ``bbox``
[x, y, w, h] = the polygon's extent, ``area`` = the number of drawn pixels, ``iscrowd=0``.
Load it with ``mmdet.datasets.CocoDataset(metainfo=dict(classes=COCO_CLASSES), ...)``: without
matching class names mmdet finds zero instances and says nothing.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .scenes import (HUE_JITTER, RADIUS_RANGE, SHAPES, Scene, object_hues, render_scene,
                     write_image)

COCO_CLASSES: tuple[str, ...] = SHAPES  # category id = index + 1
SPLITS = ('train2017', 'val2017')
IMAGE_ID_BASE = 1_000_000  # val image/annotation ids start at 1_000_001: unique across splits
SEED_KEY = 2
INFO = {'description': 'mixedae tiny COCO-format shape scenes', 'version': '1.0',
        'year': 2017, 'contributor': 'mixedae', 'url': '', 'date_created': '2017-01-01'}
LICENSES = [{'id': 1, 'name': 'CC0-1.0',
             'url': 'https://creativecommons.org/publicdomain/zero/1.0/'}]


def polygon_bbox(polygon: np.ndarray) -> list[float]:
    """COCO box [x, y, w, h] enclosing a (K, 2) polygon."""
    x0, y0 = polygon.min(axis=0)
    x1, y1 = polygon.max(axis=0)
    return [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)]


def scene_annotations(scene: Scene, image_id: int, first_id: int) -> list[dict]:
    """COCO annotation dicts for a scene, with ids ``first_id, first_id + 1, ...``."""
    return [{'id': first_id + i, 'image_id': image_id, 'category_id': kind + 1,
             'segmentation': [[round(float(v), 2) for v in polygon.ravel()]],
             'area': float(mask.sum()), 'bbox': polygon_bbox(polygon), 'iscrowd': 0}
            for i, (kind, polygon, mask) in enumerate(zip(scene.kinds, scene.polygons,
                                                          scene.masks))]


def write_split(root: Path, split: int, seed: int, num_images: int, size: int,
                max_objects: int, *, radius_range: tuple[float, float] = RADIUS_RANGE,
                object_classes: int | None = None,
                hue_jitter: float = HUE_JITTER) -> dict[str, int]:
    """Write one split's images and annotation json; returns image and instance counts."""
    rng = np.random.default_rng([seed, SEED_KEY, split])
    images, annotations = [], []
    for i in range(num_images):
        image_id = split * IMAGE_ID_BASE + i + 1
        kinds = rng.integers(0, len(COCO_CLASSES), size=int(rng.integers(1, max_objects + 1)))
        hues = object_hues(rng, kinds.tolist(), object_classes, hue_jitter)
        scene = render_scene(rng, size, kinds.tolist(), hues, radius_range=radius_range)
        file_name = f'{image_id:012d}.jpg'
        write_image(root / SPLITS[split] / file_name, scene.image)
        images.append({'id': image_id, 'file_name': file_name, 'height': size, 'width': size,
                       'license': 1})
        first_id = split * IMAGE_ID_BASE + len(annotations) + 1
        annotations += scene_annotations(scene, image_id, first_id)
    categories = [{'id': i + 1, 'name': name, 'supercategory': 'shape'}
                  for i, name in enumerate(COCO_CLASSES)]
    coco = {'info': INFO, 'licenses': LICENSES, 'images': images, 'annotations': annotations,
            'categories': categories}
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    (root / 'annotations' / f'instances_{SPLITS[split]}.json').write_text(json.dumps(coco))
    return {'images': len(images), 'instances': len(annotations)}


def make_tiny_coco(root: Path, seed: int = 0, num_train: int = 16, num_val: int = 8,
                   size: int = 128, max_objects: int = 4, *,
                   radius_range: tuple[float, float] = RADIUS_RANGE,
                   object_classes: int | None = None,
                   hue_jitter: float = HUE_JITTER) -> dict[str, dict[str, int]]:
    """Write the dataset into ``root``; returns counts per split.

    ``radius_range``, ``object_classes`` and ``hue_jitter``: see ``scenes.render_scene`` and
    ``scenes.object_hues`` (default: random hues, the shape alone tells the category)."""
    counts = (num_train, num_val)
    return {name: write_split(Path(root), split, seed, counts[split], size, max_objects,
                              radius_range=radius_range, object_classes=object_classes,
                              hue_jitter=hue_jitter)
            for split, name in enumerate(SPLITS)}
