"""Uncertainty of transfer metrics: bootstrap intervals over the evaluation images (and
seeds), paired deltas between methods, from the per-sample files that every evaluation
writes (``<run>/per_sample/``). Light: numpy, scipy and pycocotools only (no torch, no
OpenMMLab), for the table tool. Method and file format: ``docs/uncertainty.md``.

    from mixedae.stats import load_scorer, bootstrap_intervals, paired_deltas
    ours, base = load_scorer('ours/.../per_sample/test.json'), load_scorer('mae/...')
    bootstrap_intervals(ours)['coco/bbox_mAP']     # Interval: value [low, high]
    paired_deltas(ours, base)['coco/bbox_mAP'].excludes_zero()
"""
from .bootstrap import Interval, bootstrap_intervals
from .load import load_scorer
from .paired import Delta, ImageSetError, paired_deltas
from .per_sample_files import PerSampleFileError
from .scorer import ImageScorer
from .seeds import seed_intervals, seed_paired_deltas

__all__ = ['Delta', 'ImageScorer', 'ImageSetError', 'Interval', 'PerSampleFileError',
           'bootstrap_intervals', 'load_scorer', 'paired_deltas', 'seed_intervals',
           'seed_paired_deltas']
