"""Bootstrap confidence intervals of a run's metrics over its evaluation images.

:func:`bootstrap_intervals` hands ``scipy.stats.bootstrap`` the image positions; each
resample of them becomes per-image counts and the scorer recomputes the metric on that
list (never an average of per-image metrics). Seeded: the same inputs and ``seed`` give
the same resamples, for every scorer with as many images.
"""
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

from .resample import draw_counts
from .scorer import ImageScorer

METHODS = ('percentile', 'bca')


@dataclass(frozen=True)
class Interval:
    """A metric's value on the evaluation images and its confidence interval.

    ``num_seeds`` runs (1: one run, the interval covers the images only)."""
    key: str
    value: float
    low: float
    high: float
    confidence: float
    method: str
    n_resamples: int
    num_images: int
    num_seeds: int = 1

    def __str__(self) -> str:
        return f'{self.value:.4g} [{self.low:.4g}, {self.high:.4g}]'


def resample_batch(num_images: int) -> int:
    """Resamples per statistic call: about 4M drawn indices at a time (32 MB)."""
    return max(1, (1 << 22) // num_images)


def image_statistic(scorers: tuple, combine: Callable) -> Callable:
    """``scipy.stats.bootstrap``'s vectorised statistic: one array of drawn positions per
    scorer ``(..., m)`` -> ``(K, ...)`` ``combine`` of the scorers' ``(B, K)`` scores."""
    def statistic(*positions, axis=-1):
        scores = [scorer.score(draw_counts(pos, scorer.num_images))
                  for scorer, pos in zip(scorers, positions)]
        return np.moveaxis(combine(*scores), -1, 0).reshape(-1, *positions[0].shape[:-1])
    return statistic


def run_bootstrap(data: tuple, statistic: Callable, *, confidence: float, n_resamples: int,
                  method: str, seed: int):
    """``scipy.stats.bootstrap`` over image positions (paired: one resample of positions
    applied to every array in ``data``); a degenerate distribution (every resample
    equal) gets the interval [value, value] rather than BCa's nan."""
    if method not in METHODS:
        raise ValueError(f'method {method!r} is not one of {METHODS}')
    with warnings.catch_warnings():     # BCa on a degenerate distribution: 0/0, nan
        warnings.simplefilter('ignore', stats.DegenerateDataWarning)
        warnings.simplefilter('ignore', RuntimeWarning)
        result = stats.bootstrap(data, statistic, n_resamples=n_resamples,
                                 batch=resample_batch(len(data[0])), vectorized=True,
                                 paired=len(data) > 1, confidence_level=confidence,
                                 method=method, random_state=seed)
    dist = np.atleast_2d(result.bootstrap_distribution)
    flat = dist.min(axis=-1) == dist.max(axis=-1)
    low = np.where(flat, dist[:, 0], np.atleast_1d(result.confidence_interval.low))
    high = np.where(flat, dist[:, 0], np.atleast_1d(result.confidence_interval.high))
    return low, high, dist


def bootstrap_intervals(scorer: ImageScorer, *, confidence: float = 0.95,
                        n_resamples: int = 1000, method: str = 'percentile',
                        seed: int = 0) -> dict:
    """Each metric key -> :class:`Interval` from ``n_resamples`` resamples of the
    evaluation images (``method``: ``percentile`` or ``bca``; BCa adds one jackknife
    evaluation per image)."""
    positions = (np.arange(scorer.num_images), )
    low, high, _ = run_bootstrap(positions, image_statistic((scorer, ), lambda s: s),
                                 confidence=confidence, n_resamples=n_resamples,
                                 method=method, seed=seed)
    return {key: Interval(key, value, float(lo), float(hi), confidence, method, n_resamples,
                          scorer.num_images)
            for key, value, lo, hi in zip(scorer.keys, scorer.values().values(), low, high)}
