"""Tiny ImageNet-layout classification set with one learnable signature per class.

Layout under ``root``::

    train/<class>/<class>_0000.JPEG     val/<class>/<class>_0000.JPEG
    meta/train.txt, meta/val.txt         # "<class>/<class>_0000.JPEG <label>" per line

Class ``c`` is one shape (``SHAPES[c % 3]``) in one hue band (``c * 180 / N`` +- 8), on a
random gradient background. Class folder names sort in label order.

Configs load it with ``mmpretrain.datasets.CustomDataset`` (labels from the folders, or from
``ann_file='meta/train.txt'``), or with ``with_label=False`` for self-supervised pre-training.
Not with mmpretrain's ``ImageNet``: scanning folders it asserts 1000 class folders, and with
``split=`` it reads ``meta/*.txt`` but names the labels after ImageNet-1k's 1000 classes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .scenes import SHAPES, render_scene, write_image

SPLITS = ('train', 'val')
HUE_JITTER = 8.0
RADIUS_RANGE = (0.25, 0.42)  # object radius as a fraction of the image side
SEED_KEY = 1  # separates this dataset's random streams from the other generators'


def imagenet_class_names(num_classes: int) -> list[str]:
    """Folder names, e.g. ``c000_circle``; alphabetical order equals label order."""
    return [f'c{c:03d}_{SHAPES[c % len(SHAPES)]}' for c in range(num_classes)]


def render_class_image(rng: np.random.Generator, label: int, num_classes: int,
                       size: int) -> np.ndarray:
    """One (size, size, 3) uint8 BGR image of class ``label``."""
    hue = label * 180.0 / num_classes + rng.uniform(-HUE_JITTER, HUE_JITTER)
    scene = render_scene(rng, size, [label % len(SHAPES)], hues=[hue], radius_range=RADIUS_RANGE)
    return scene.image


def write_split(root: Path, split: int, seed: int, num_classes: int, per_class: int,
                size: int) -> int:
    """Write one split's images and ``meta/<split>.txt``; returns the number of images."""
    rng = np.random.default_rng([seed, SEED_KEY, split])
    lines = []
    for label, name in enumerate(imagenet_class_names(num_classes)):
        for i in range(per_class):
            rel = f'{name}/{name}_{i:04d}.JPEG'
            image = render_class_image(rng, label, num_classes, size)
            write_image(root / SPLITS[split] / rel, image)
            lines.append(f'{rel} {label}\n')
    (root / 'meta').mkdir(parents=True, exist_ok=True)
    (root / 'meta' / f'{SPLITS[split]}.txt').write_text(''.join(lines))
    return len(lines)


def make_tiny_imagenet(root: Path, seed: int = 0, num_classes: int = 4,
                       train_per_class: int = 16, val_per_class: int = 4,
                       size: int = 32) -> dict[str, int]:
    """Write the dataset into ``root``; returns image counts per split."""
    counts = (train_per_class, val_per_class)
    return {name: write_split(Path(root), split, seed, num_classes, counts[split], size)
            for split, name in enumerate(SPLITS)}
