"""Tiny ADE20K-layout semantic segmentation set of shape scenes.

Layout under ``root``::

    ADEChallengeData2016/images/training/ADE_train_00000001.jpg
    ADEChallengeData2016/annotations/training/ADE_train_00000001.png   # same stem
    ... /validation/ADE_val_00000001.{jpg,png}

Label PNGs are single-channel uint8. By default 0 = "other" (255 after
``reduce_zero_label=True``) and ``SHAPES[k]`` is painted with ``k + 1``; with
``label_background=True`` (the demo's set) the background is a class too, ``BACKGROUND`` = 1,
and ``SHAPES[k]`` is ``k + 2`` (as in ADE20K, where "wall", "floor", "sky" are classes and
only a few pixels are "other"). Values stay inside ADE20K's 150 classes, so
``mmseg.datasets.ADE20KDataset`` with its default metainfo loads it (the classes then carry
the ADE names of classes 0..3: wall, building, sky, floor). Scenes come from the same
renderer as the tiny COCO set (``scenes.render_scene``; object hues: ``scenes.object_hues``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .scenes import (HUE_JITTER, RADIUS_RANGE, SHAPES, Scene, object_hues, render_scene,
                     write_image)

SPLITS = ('training', 'validation')
STEMS = ('ADE_train', 'ADE_val')
SEED_KEY = 3
BACKGROUND = 1  # the background's label with ``label_background`` (ADE20K's "wall")


def label_map(scene: Scene, label_background: bool = False) -> np.ndarray:
    """(H, W) uint8 label image: outside objects 0 ("other"), or ``BACKGROUND`` with
    ``label_background``; inside them ``kind + 1``, or ``kind + 2`` with
    ``label_background``."""
    first = BACKGROUND + 1 if label_background else 1
    labels = np.full(scene.image.shape[:2], BACKGROUND if label_background else 0, np.uint8)
    for kind, mask in zip(scene.kinds, scene.masks):
        labels[mask] = kind + first
    return labels


def write_split(root: Path, split: int, seed: int, num_images: int, size: int,
                max_objects: int, *, label_background: bool = False,
                radius_range: tuple[float, float] = RADIUS_RANGE,
                object_classes: int | None = None, hue_jitter: float = HUE_JITTER) -> int:
    """Write one split's images and label maps; returns the number of images."""
    rng = np.random.default_rng([seed, SEED_KEY, split])
    base = root / 'ADEChallengeData2016'
    for i in range(num_images):
        kinds = rng.integers(0, len(SHAPES), size=int(rng.integers(1, max_objects + 1)))
        hues = object_hues(rng, kinds.tolist(), object_classes, hue_jitter)
        scene = render_scene(rng, size, kinds.tolist(), hues, radius_range=radius_range)
        stem = f'{STEMS[split]}_{i + 1:08d}'
        write_image(base / 'images' / SPLITS[split] / f'{stem}.jpg', scene.image)
        write_image(base / 'annotations' / SPLITS[split] / f'{stem}.png',
                    label_map(scene, label_background))
    return num_images


def make_tiny_ade20k(root: Path, seed: int = 0, num_train: int = 16, num_val: int = 8,
                     size: int = 128, max_objects: int = 4, *, label_background: bool = False,
                     radius_range: tuple[float, float] = RADIUS_RANGE,
                     object_classes: int | None = None,
                     hue_jitter: float = HUE_JITTER) -> dict[str, int]:
    """Write the dataset into ``root``; returns image counts per split.

    ``radius_range``, ``object_classes`` and ``hue_jitter``: see ``scenes.render_scene`` and
    ``scenes.object_hues`` (default: random hues, the shape alone tells the class)."""
    counts = (num_train, num_val)
    return {name: write_split(Path(root), split, seed, counts[split], size, max_objects,
                              label_background=label_background, radius_range=radius_range,
                              object_classes=object_classes, hue_jitter=hue_jitter)
            for split, name in enumerate(SPLITS)}
