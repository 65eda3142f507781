"""Per-sample evaluation results: the mmpretrain / mmseg / mmdet metrics that keep what is
needed to recompute them on any subset of the evaluation images, and the hook that
writes them into the run folder (read back by the light :mod:`mixedae.stats`).

Importing registers ``PerSampleAccuracy`` (mmpretrain), ``PerSampleIoUMetric`` (mmseg),
``PerSampleCocoMetric`` (mmdet) and ``PerSampleHook`` (mmengine).
"""
from .accuracy import PerSampleAccuracy
from .coco_metric import PerSampleCocoMetric
from .iou_metric import PerSampleIoUMetric
from .per_sample_hook import PerSampleHook

__all__ = ['PerSampleAccuracy', 'PerSampleCocoMetric', 'PerSampleHook',
           'PerSampleIoUMetric']
