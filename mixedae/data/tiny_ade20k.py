"""Tiny ADE20K-layout semantic segmentation set of shape scenes.

Layout under ``root``::

    ADEChallengeData2016/images/training/ADE_train_00000001.jpg
    ADEChallengeData2016/annotations/training/ADE_train_00000001.png   # same stem
    ... /validation/ADE_val_00000001.{jpg,png}

Label PNGs are single-channel uint8: 0 = "other" (255 after ``reduce_zero_label=True``) and
``SHAPES[k]`` is painted with ``k + 1``. Values stay inside ADE20K's 150 classes, so
``mmseg.datasets.ADE20KDataset`` with its default metainfo loads it (the shapes then carry the
ADE names of classes 0..2: wall, building, sky). Scenes come from the same renderer as the
tiny COCO set.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .scenes import SHAPES, Scene, render_scene, write_image

SPLITS = ('training', 'validation')
STEMS = ('ADE_train', 'ADE_val')
SEED_KEY = 3


def label_map(scene: Scene) -> np.ndarray:
    """(H, W) uint8 label image: 0 outside objects, ``kind + 1`` inside."""
    labels = np.zeros(scene.image.shape[:2], np.uint8)
    for kind, mask in zip(scene.kinds, scene.masks):
        labels[mask] = kind + 1
    return labels


def write_split(root: Path, split: int, seed: int, num_images: int, size: int,
                max_objects: int) -> int:
    """Write one split's images and label maps; returns the number of images."""
    rng = np.random.default_rng([seed, SEED_KEY, split])
    base = root / 'ADEChallengeData2016'
    for i in range(num_images):
        kinds = rng.integers(0, len(SHAPES), size=int(rng.integers(1, max_objects + 1)))
        scene = render_scene(rng, size, kinds.tolist())
        stem = f'{STEMS[split]}_{i + 1:08d}'
        write_image(base / 'images' / SPLITS[split] / f'{stem}.jpg', scene.image)
        write_image(base / 'annotations' / SPLITS[split] / f'{stem}.png', label_map(scene))
    return num_images


def make_tiny_ade20k(root: Path, seed: int = 0, num_train: int = 16, num_val: int = 8,
                     size: int = 128, max_objects: int = 4) -> dict[str, int]:
    """Write the dataset into ``root``; returns image counts per split."""
    counts = (num_train, num_val)
    return {name: write_split(Path(root), split, seed, counts[split], size, max_objects)
            for split, name in enumerate(SPLITS)}
