"""Tiny ImageNet-layout classification set with one learnable signature per class.

Layout under ``root``::

    train/<class>/<class>_0000.JPEG     val/<class>/<class>_0000.JPEG
    meta/train.txt, meta/val.txt         # "<class>/<class>_0000.JPEG <label>" per line

Class ``c`` is one shape (``SHAPES[c % 3]``) in one hue band (``c * 180 / N`` +- ``hue_jitter``,
8 by default), on a random gradient background. Up to 11 classes the bands are apart and
colour alone tells the classes apart; from 12 on neighbouring bands overlap and the outline
decides (the demo's 16 classes: bands 11.25 apart). Neighbours differ in shape, except the
last and the first class when N is not a multiple of 3 (hue wraps around): with N = 16,
classes 15 and 0 are both circles whose hues overlap on 30 % of their range, an
irreducible error of about 2 % of the set. Class folder names sort in label order.

Configs load it with ``mmpretrain.datasets.CustomDataset`` (labels from the folders, or from
``ann_file='meta/train.txt'``), or with ``with_label=False`` for self-supervised pre-training.
Not with mmpretrain's ``ImageNet``: scanning folders it asserts 1000 class folders, and with
``split=`` it reads ``meta/*.txt`` but names the labels after ImageNet-1k's 1000 classes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .scenes import HUE_JITTER, SHAPES, class_hue, render_scene, write_image

SPLITS = ('train', 'val')
RADIUS_RANGE = (0.25, 0.42)  # object radius as a fraction of the image side
SEED_KEY = 1  # separates this dataset's random streams from the other generators'


def imagenet_class_names(num_classes: int) -> list[str]:
    """Folder names, e.g. ``c000_circle``; alphabetical order equals label order."""
    return [f'c{c:03d}_{SHAPES[c % len(SHAPES)]}' for c in range(num_classes)]


def render_class_image(rng: np.random.Generator, label: int, num_classes: int,
                       size: int, hue_jitter: float = HUE_JITTER) -> np.ndarray:
    """One (size, size, 3) uint8 BGR image of class ``label``."""
    hue = class_hue(label, num_classes) + rng.uniform(-hue_jitter, hue_jitter)
    scene = render_scene(rng, size, [label % len(SHAPES)], hues=[hue], radius_range=RADIUS_RANGE)
    return scene.image


def write_split(root: Path, split: int, seed: int, num_classes: int, per_class: int,
                size: int, hue_jitter: float = HUE_JITTER) -> int:
    """Write one split's images and ``meta/<split>.txt``; returns the number of images."""
    rng = np.random.default_rng([seed, SEED_KEY, split])
    lines = []
    for label, name in enumerate(imagenet_class_names(num_classes)):
        for i in range(per_class):
            rel = f'{name}/{name}_{i:04d}.JPEG'
            image = render_class_image(rng, label, num_classes, size, hue_jitter)
            write_image(root / SPLITS[split] / rel, image)
            lines.append(f'{rel} {label}\n')
    (root / 'meta').mkdir(parents=True, exist_ok=True)
    (root / 'meta' / f'{SPLITS[split]}.txt').write_text(''.join(lines))
    return len(lines)


def make_tiny_imagenet(root: Path, seed: int = 0, num_classes: int = 4,
                       train_per_class: int = 16, val_per_class: int = 4,
                       size: int = 32, hue_jitter: float = HUE_JITTER) -> dict[str, int]:
    """Write the dataset into ``root``; returns image counts per split."""
    counts = (train_per_class, val_per_class)
    return {name: write_split(Path(root), split, seed, num_classes, counts[split], size,
                              hue_jitter)
            for split, name in enumerate(SPLITS)}
