"""Lay a :class:`MixProbe` out as one PNG grid (numpy + cv2, exact pixel sizes).

::

    mixed input (query boxed) | source of each patch | keys kept by the query (heat)
    original 1                | reconstruction 1     | raw prediction 1
    ...                         (own patches pasted)
    original r                | reconstruction r     | raw prediction r

Every cell is the model's input size scaled by an integer factor (at least ``min_cell``
pixels), under a label strip.
"""
import math
from pathlib import Path

import cv2
import numpy as np
import torch

from .masking import MaskProbe
from .probe import MixProbe

COLUMNS = 3
LABEL_HEIGHT = 16
PAD = 4
QUERY_COLOUR = (255, 255, 255)


def cell_scale(image_size: int, min_cell: int = 128) -> int:
    """Integer up-scaling so that a cell is at least ``min_cell`` pixels wide."""
    return max(1, math.ceil(min_cell / image_size))


def grid_size(rows: int, cell: int, columns: int = COLUMNS) -> tuple[int, int]:
    """(height, width) in pixels of a grid of ``rows`` x ``columns`` cells of ``cell``
    pixels."""
    return (rows * (cell + LABEL_HEIGHT) + (rows + 1) * PAD,
            columns * cell + (columns + 1) * PAD)


def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def patch_map(values: np.ndarray, grid: int, patch: int) -> np.ndarray:
    """(N,) per-patch values -> (grid * patch)^2 image of constant patches."""
    return np.kron(values.reshape(grid, grid), np.ones((patch, patch)))


def source_colours(r: int) -> np.ndarray:
    """r well separated RGB colours (evenly spaced hues)."""
    hsv = np.stack([np.arange(r) * 180 // r, np.full(r, 200), np.full(r, 230)], -1)
    return cv2.cvtColor(hsv[None].astype(np.uint8), cv2.COLOR_HSV2RGB)[0]


def box_query(image: np.ndarray, query: int, grid: int, patch: int) -> np.ndarray:
    """Draw a box around patch ``query`` (in image pixels)."""
    image = np.ascontiguousarray(image)
    y, x = divmod(query, grid)
    cv2.rectangle(image, (x * patch, y * patch), ((x + 1) * patch - 1, (y + 1) * patch - 1),
                  QUERY_COLOUR, 1)
    return image


def kept_overlay(probe: MixProbe, mixed: np.ndarray, grid: int, patch: int) -> np.ndarray:
    """Heat map of the share of heads keeping each key, over the mixed image."""
    heat = (patch_map(probe.kept.numpy(), grid, patch) * 255).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(mixed, 0.45, colour, 0.55, 0)


def homologous_share(probe: MixProbe, query: int) -> float:
    """Share of the kept keys (head-averaged) that come from the query's own image."""
    same = (probe.src == probe.src[query]).float()
    return float((probe.kept * same).sum() / probe.kept.sum().clamp(min=1e-6))


def cells(probe: MixProbe, query: int, patch: int) -> list[tuple[str, np.ndarray]]:
    """(label, RGB uint8 image) for every cell, row by row."""
    def u8(t: torch.Tensor) -> np.ndarray:
        return t.round().to(torch.uint8).numpy()

    grid = probe.mixed.shape[0] // patch
    mixed = u8(probe.mixed)
    sources = patch_map(probe.src.numpy(), grid, patch).astype(int)
    kind = 'Top-K' if probe.topk else 'top-K of plain attn'
    row0 = [(f'mixed, query {query}', box_query(mixed, query, grid, patch)),
            ('source image per patch',
             box_query(source_colours(len(probe.originals))[sources], query, grid, patch)),
            (f'L{probe.layer} {kind}: {homologous_share(probe, query):.0%} own',
             box_query(kept_overlay(probe, mixed, grid, patch), query, grid, patch))]
    rows = [[(f'original {j + 1}', u8(probe.originals[j])),
             (f'reconstruction {j + 1}', u8(probe.pasted[j])),
             (f'prediction {j + 1}', u8(probe.predicted[j]))]
            for j in range(len(probe.originals))]
    return row0 + [cell for row in rows for cell in row]


def render_grid(probe: MixProbe, query: int, patch: int, min_cell: int = 128) -> np.ndarray:
    """The whole figure as an RGB uint8 array of :func:`grid_size`."""
    return lay_out(cells(probe, query, patch), COLUMNS, probe.mixed.shape[0], min_cell)


def render_masking_grid(probe: MaskProbe, min_cell: int = 128) -> np.ndarray:
    """A masking model's figure: per image, the original, its visible patches, the
    reconstruction (visible patches pasted back) and the raw prediction."""
    def u8(t: torch.Tensor) -> np.ndarray:
        return t.round().to(torch.uint8).numpy()

    hidden = f'{probe.mask_ratio:.0%} masked'
    rows = [[(f'original {j + 1}', u8(probe.originals[j])),
             (f'visible ({hidden})', u8(probe.visible[j])),
             (f'reconstruction {j + 1}', u8(probe.pasted[j])),
             (f'prediction {j + 1}', u8(probe.predicted[j]))]
            for j in range(len(probe.originals))]
    return lay_out([cell for row in rows for cell in row], 4, probe.originals.shape[1],
                   min_cell)


def lay_out(labelled: list[tuple[str, np.ndarray]], columns: int, image_size: int,
            min_cell: int = 128) -> np.ndarray:
    """(label, RGB image) cells, row by row, ``columns`` a row, each image scaled by an
    integer factor to at least ``min_cell`` pixels under its label."""
    scale = cell_scale(image_size, min_cell)
    cell = image_size * scale
    rows = -(-len(labelled) // columns)
    canvas = np.full((*grid_size(rows, cell, columns), 3), 255, np.uint8)
    for index, (label, image) in enumerate(labelled):
        row, col = divmod(index, columns)
        top = PAD + row * (cell + LABEL_HEIGHT + PAD)
        left = PAD + col * (cell + PAD)
        cv2.putText(canvas, label, (left, top + LABEL_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35, (0, 0, 0), 1, cv2.LINE_AA)
        canvas[top + LABEL_HEIGHT:top + LABEL_HEIGHT + cell, left:left + cell] = \
            upscale(image, scale)
    return canvas


def write_png(image: np.ndarray, path: str | Path) -> None:
    """Write an RGB image; the folder is created, an unwritable path raises."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {path}')
