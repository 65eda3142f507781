"""Hierarchical bootstrap over seeds and images, for S runs (seeds) per method.

Each replicate draws S runs with replacement from each method's runs, independently per
method, and one resample of the evaluation images; every drawn run is re-scored on that
resample and the method's value is the mean over its drawn runs. The image resample is
shared by all drawn runs, of both methods (pairing by image id): the runs share one test
set, whose sampling error does not average out over seeds. With S = 2 or 3 the seed
level is crude; ``num_seeds`` says S beside every interval.
"""
from typing import Sequence

import numpy as np
from scipy import stats

from .bootstrap import Interval, resample_batch
from .paired import aligned_positions, make_deltas
from .resample import draw_counts
from .scorer import ImageScorer


def run_values(runs: Sequence[ImageScorer]) -> np.ndarray:
    """``(S, K)`` each run's metrics on the evaluation images."""
    return np.array([list(run.values().values()) for run in runs])


def hierarchical_distribution(methods: Sequence[Sequence[ImageScorer]], n_resamples: int,
                              seed: int) -> list:
    """For each method ``(K, n_resamples)`` mean-over-drawn-runs metrics, replicate by
    replicate on the same image resample (in the first run's image order)."""
    reference = methods[0][0]
    positions = [[aligned_positions(reference, run) for run in runs] for runs in methods]
    rng = np.random.default_rng(seed)
    n, batch = reference.num_images, resample_batch(reference.num_images)
    dists = [[] for _ in methods]
    for start in range(0, n_resamples, batch):
        size = min(batch, n_resamples - start)
        counts = draw_counts(rng.integers(n, size=(size, n)), n)
        for dist, runs, run_positions in zip(dists, methods, positions):
            drawn = rng.integers(len(runs), size=(size, len(runs)))
            scores = np.stack([run.score(reordered(counts, pos))
                               for run, pos in zip(runs, run_positions)])   # (S, B, K)
            dist.append(scores[drawn, np.arange(size)[:, None]].mean(axis=1).T)
    return [np.concatenate(dist, axis=-1) for dist in dists]


def reordered(counts: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Counts in the reference's image order -> in a run's (``positions``: where each
    reference image sits in the run)."""
    out = np.empty_like(counts)
    out[:, positions] = counts
    return out


def percentile_bounds(dist: np.ndarray, confidence: float) -> tuple:
    alpha = (1 - confidence) / 2
    return tuple(np.percentile(dist, [100 * alpha, 100 * (1 - alpha)], axis=-1))


def seed_intervals(runs: Sequence[ImageScorer], *, confidence: float = 0.95,
                   n_resamples: int = 1000, seed: int = 0) -> dict:
    """Each key -> :class:`Interval` of the mean over the runs (percentile, hierarchical:
    runs with replacement, then the images)."""
    dist, = hierarchical_distribution([runs], n_resamples, seed)
    low, high = percentile_bounds(dist, confidence)
    values = run_values(runs).mean(axis=0)
    return {key: Interval(key, float(v), float(lo), float(hi), confidence, 'percentile',
                          n_resamples, runs[0].num_images, len(runs))
            for key, v, lo, hi in zip(runs[0].keys, values, low, high)}


def prob_improvement(values_a: np.ndarray, values_b: np.ndarray) -> list:
    """rliable's probability of improvement ``P(a > b) + P(a = b) / 2`` over all pairs of
    runs (the Mann-Whitney U / (S_a S_b)), per key; None unless each method has >= 2."""
    if min(len(values_a), len(values_b)) < 2:
        return None
    u = stats.mannwhitneyu(values_a, values_b, axis=0).statistic
    return (u / (len(values_a) * len(values_b))).tolist()


def seed_paired_deltas(runs_a: Sequence[ImageScorer], runs_b: Sequence[ImageScorer], *,
                       confidence: float = 0.95, n_resamples: int = 1000,
                       seed: int = 0) -> dict:
    """Each key -> :class:`~.paired.Delta` of the mean over ``runs_a`` minus the mean over
    ``runs_b`` (seeds drawn independently per method, images paired)."""
    dist_a, dist_b = hierarchical_distribution([runs_a, runs_b], n_resamples, seed)
    dist = dist_a - dist_b
    low, high = percentile_bounds(dist, confidence)
    values_a, values_b = run_values(runs_a), run_values(runs_b)
    return make_deltas(runs_a[0].keys, values_a.mean(0) - values_b.mean(0), low, high, dist,
                       dict(confidence=confidence, method='percentile',
                            n_resamples=n_resamples, num_images=runs_a[0].num_images,
                            num_seeds=(len(runs_a), len(runs_b))),
                       prob_improvement(values_a, values_b))
