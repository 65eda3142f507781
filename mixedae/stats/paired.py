"""Paired comparison of two runs on the same evaluation images.

One resample of the images is applied to both runs (matched by image id), and the delta
of the two recomputed metrics is taken per resample: its percentiles give the delta's
interval, and ``2 * min(P(delta <= 0), P(delta >= 0))`` the two-sided bootstrap p-value.
"""
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .bootstrap import image_statistic, run_bootstrap
from .scorer import ImageScorer


class ImageSetError(ValueError):
    """Two runs to be compared were not evaluated on the same images / ground truth."""


@dataclass(frozen=True)
class Delta:
    """``a - b`` on the evaluation images, its interval, the bootstrap p-value, and, with
    several seeds per method, the probability of improvement ``P(a > b)`` over run pairs
    (rliable's definition; None for single runs)."""
    key: str
    delta: float
    low: float
    high: float
    p_value: float
    confidence: float
    method: str
    n_resamples: int
    num_images: int
    num_seeds: tuple = (1, 1)
    prob_improvement: Optional[float] = None

    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly on one side of 0 (the delta is 'real')."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f'{self.delta:+.4g} [{self.low:+.4g}, {self.high:+.4g}]'


def aligned_positions(a: ImageScorer, b: ImageScorer) -> np.ndarray:
    """Positions in ``b`` of ``a``'s images, in ``a``'s order; the two runs must have the
    same image ids (each once) and the same ground truth and metric settings."""
    for scorer in (a, b):
        if len(np.unique(scorer.image_ids)) != scorer.num_images:
            raise ImageSetError(f'{scorer.source} lists an image id more than once')
    only_a = np.setdiff1d(a.image_ids, b.image_ids)
    only_b = np.setdiff1d(b.image_ids, a.image_ids)
    if only_a.size or only_b.size:
        raise ImageSetError(
            f'{a.source} and {b.source} were evaluated on different images: '
            f'{only_a.size} only in the first (e.g. {only_a[:3].tolist()}), '
            f'{only_b.size} only in the second (e.g. {only_b[:3].tolist()})')
    if a.keys != b.keys:
        raise ImageSetError(f'{a.source} has the metrics {list(a.keys)}, {b.source} '
                            f'{list(b.keys)}')
    if a.truth != b.truth:
        raise ImageSetError(f'{a.source} and {b.source} differ in ground truth or metric '
                            'settings (labels, annotation file, classes, thresholds)')
    order_b = np.argsort(b.image_ids, kind='stable')
    return order_b[np.searchsorted(b.image_ids[order_b], a.image_ids)]


def p_values(deltas: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-values of ``(K, B)`` resampled deltas (at most 1)."""
    return np.minimum(1.0, 2 * np.minimum((deltas <= 0).mean(-1), (deltas >= 0).mean(-1)))


def make_deltas(keys: Sequence[str], values: np.ndarray, low, high, dist: np.ndarray,
                common: dict, prob_improvement=None) -> dict:
    """Each key -> :class:`Delta` from the values on the images and the resampled
    deltas."""
    pvalues = p_values(dist)
    improvement = [None] * len(keys) if prob_improvement is None else prob_improvement
    return {key: Delta(key, float(v), float(lo), float(hi), float(p), **common,
                       prob_improvement=poi)
            for key, v, lo, hi, p, poi in zip(keys, values, low, high, pvalues, improvement)}


def paired_deltas(a: ImageScorer, b: ImageScorer, *, confidence: float = 0.95,
                  n_resamples: int = 1000, method: str = 'percentile',
                  seed: int = 0) -> dict:
    """Each metric key -> :class:`Delta` of run ``a`` over baseline ``b`` (one run each),
    from resamples of the images drawn once and applied to both (``scipy.stats.bootstrap``
    with ``paired=True``)."""
    data = (np.arange(a.num_images), aligned_positions(a, b))
    low, high, dist = run_bootstrap(data, image_statistic((a, b), np.subtract),
                                    confidence=confidence, n_resamples=n_resamples,
                                    method=method, seed=seed)
    values = np.array(list(a.values().values())) - np.array(list(b.values().values()))
    return make_deltas(a.keys, values, low, high, dist, dict(
        confidence=confidence, method=method, n_resamples=n_resamples,
        num_images=a.num_images))
