"""Resampled image lists as per-image counts (how often each image was drawn)."""
import numpy as np


def draw_counts(indices: np.ndarray, num_images: int) -> np.ndarray:
    """``(..., m)`` drawn image positions -> ``(B, num_images)`` counts, one row per
    resample (the leading axes flattened); a duplicated image counts twice."""
    rows = np.asarray(indices).reshape(-1, np.shape(indices)[-1])
    offsets = np.arange(len(rows))[:, None] * num_images
    flat = np.bincount((rows + offsets).ravel(), minlength=len(rows) * num_images)
    return flat.reshape(len(rows), num_images)
