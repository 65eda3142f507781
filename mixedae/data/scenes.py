"""Shape-scene renderer shared by the tiny COCO, ADE20K and ImageNet generators.

A scene is a noisy gradient background with non-overlapping filled polygons. Each object is
described by its polygon (continuous x/y pixel coordinates, as in a COCO ``segmentation``)
and by the mask of the pixels actually drawn, which is the polygon
rasterized the way pycocotools does it: image, COCO segmentation, box, area and ADE label map
all describe the same pixels. Everything is drawn from a ``numpy.random.Generator``,
so the same generator state gives the same scene.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from pycocotools import mask as mask_utils

SHAPES: tuple[str, ...] = ('circle', 'square', 'triangle')
CIRCLE_VERTICES = 32
PLACEMENT_TRIES = 50
GAP = 2.0  # minimum free pixels between the bounding circles of two objects
NOISE_STD = 6.0
RADIUS_RANGE = (0.08, 0.2)  # default object radius, as a fraction of the image side
HUE_JITTER = 8.0  # +- hue (OpenCV units, 180 per turn) around a class hue
JPEG_QUALITY = 95
PNG_COMPRESSION = 3


@dataclass(frozen=True)
class Scene:
    """A rendered scene; instance ``i`` has kind ``kinds[i]``, ``polygons[i]``, ``masks[i]``."""

    image: np.ndarray  # (H, W, 3) uint8, BGR
    kinds: tuple[int, ...]  # index into SHAPES per instance
    polygons: tuple[np.ndarray, ...]  # (K, 2) float64 x/y per instance, 2 decimals
    masks: np.ndarray  # (N, H, W) bool, the pixels drawn for each instance


def shape_polygon(kind: int, cx: float, cy: float, radius: float, angle: float) -> np.ndarray:
    """Vertices (K, 2) of shape ``SHAPES[kind]`` inscribed in the circle (cx, cy, radius)."""
    num = {'circle': CIRCLE_VERTICES, 'square': 4, 'triangle': 3}[SHAPES[kind]]
    theta = angle + 2 * math.pi * np.arange(num) / num
    poly = np.stack([cx + radius * np.cos(theta), cy + radius * np.sin(theta)], axis=1)
    return np.round(poly, 2)


def place_circles(rng: np.random.Generator, size: int, count: int,
                  radius_range: tuple[float, float]) -> list[tuple[float, float, float]]:
    """Up to ``count`` non-overlapping (cx, cy, r) circles inside a size x size image.

    ``radius_range`` is a fraction of ``size``; objects that find no free spot are dropped.
    """
    placed: list[tuple[float, float, float]] = []
    for _ in range(count):
        for _ in range(PLACEMENT_TRIES):
            r = rng.uniform(*radius_range) * size
            cx, cy = rng.uniform(r + 1, size - r - 1, size=2)
            if all(math.hypot(cx - x, cy - y) > r + q + GAP for x, y, q in placed):
                placed.append((float(cx), float(cy), float(r)))
                break
    return placed


def hue_to_bgr(hue: float, saturation: int, value: int) -> tuple[int, int, int]:
    """OpenCV HSV (hue in [0, 180)) to a BGR colour tuple."""
    hsv = np.array([[[int(hue) % 180, saturation, value]]], dtype=np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def draw_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A dark, low-saturation two-colour linear gradient, (size, size, 3) float32."""
    start, end = rng.uniform(40, 110, size=(2, 1)) + rng.uniform(-15, 15, size=(2, 3))
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    t = (math.cos(angle) * xx + math.sin(angle) * yy + 1) / 2  # (H, W) in [0, 1]
    return (start + (end - start) * t[..., None]).astype(np.float32)


def rasterize(polygon: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool mask of ``polygon`` exactly as pycocotools (and COCO eval) decodes it.

    cv2.fillPoly would also fill the outline, ~6 % more pixels than the COCO segmentation.
    """
    rles = mask_utils.frPyObjects([polygon.ravel().tolist()], size, size)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def render_scene(rng: np.random.Generator, size: int, kinds: Sequence[int],
                 hues: Sequence[float] | None = None,
                 radius_range: tuple[float, float] = RADIUS_RANGE) -> Scene:
    """Draw one object per entry of ``kinds`` (those that fit) on a size x size background.

    ``hues`` fixes each object's hue (OpenCV units, [0, 180)); by default hues are random.
    """
    image = draw_background(rng, size)
    circles = place_circles(rng, size, len(kinds), radius_range)
    polygons, masks = [], []
    for i, (cx, cy, r) in enumerate(circles):
        hue = rng.uniform(0, 180) if hues is None else hues[i]
        colour = hue_to_bgr(hue, int(rng.integers(150, 256)), int(rng.integers(170, 256)))
        polygon = shape_polygon(kinds[i], cx, cy, r, rng.uniform(0, 2 * math.pi))
        mask = rasterize(polygon, size)
        image[mask] = colour
        polygons.append(polygon)
        masks.append(mask)
    image += rng.normal(0, NOISE_STD, size=image.shape).astype(np.float32)
    return Scene(image=np.clip(np.round(image), 0, 255).astype(np.uint8),
                 kinds=tuple(int(k) for k in kinds[:len(circles)]),
                 polygons=tuple(polygons),
                 masks=np.array(masks, dtype=bool).reshape(len(masks), size, size))


def class_hue(label: int, num_classes: int) -> float:
    """Hue centre (OpenCV units, [0, 180)) of class ``label`` of ``num_classes``: the tiny
    ImageNet's class signature is ``SHAPES[label % len(SHAPES)]`` in this hue."""
    return label * 180.0 / num_classes


def object_hues(rng: np.random.Generator, kinds: Sequence[int], num_classes: int | None,
                jitter: float = HUE_JITTER) -> list[float] | None:
    """Hues for scene objects drawn as instances of a tiny-ImageNet-style class set of
    ``num_classes`` (class ``c``: ``SHAPES[c % len(SHAPES)]`` in hue ``class_hue(c)`` +-
    ``jitter``): an object of shape ``k`` is one of the classes of that shape, uniformly.
    With ``num_classes=len(SHAPES)`` every shape has one hue band; a ``jitter`` beyond
    ``90 / num_classes`` makes neighbouring bands overlap, so that colour narrows the class
    down and the outline decides. ``None`` (random hues: the outline alone tells the class)
    for ``num_classes=None``; draws nothing from ``rng`` then."""
    if num_classes is None:
        return None
    if num_classes < len(SHAPES):
        raise ValueError(f'object_classes={num_classes}: at least {len(SHAPES)} classes are '
                         f'needed to give each of the shapes {SHAPES} a hue')
    hues = []
    for kind in kinds:
        label = int(rng.choice(np.arange(kind, num_classes, len(SHAPES))))
        hues.append(class_hue(label, num_classes) + float(rng.uniform(-jitter, jitter)))
    return hues


def write_image(path: Path, image: np.ndarray) -> None:
    """Encode ``image`` with cv2 by suffix (.jpg/.JPEG at fixed quality, .png) and write it."""
    if path.suffix.lower() in ('.jpg', '.jpeg'):
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    else:
        params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION]
    ok, data = cv2.imencode(path.suffix, image, params)
    if not ok:
        raise OSError(f'cv2 could not encode {path}')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())
