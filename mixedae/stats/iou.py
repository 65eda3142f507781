"""mIoU, mAcc, aAcc ... (mmseg ``IoUMetric``) from per-image class areas.

mIoU is a dataset-level ratio: the areas are summed over the resampled list first, then
each class's IoU is taken, then the mean over the classes whose IoU is a number (mmseg's
``np.nanmean``: a class with union 0 over the list is 0/0 = nan and left out; a class
predicted but absent from the labels has IoU 0 and counts).
"""
import warnings

import numpy as np

from .per_sample_files import data_file, load_arrays, setting
from .scorer import ImageScorer, digest

AREAS = ('area_intersect', 'area_union', 'area_pred_label', 'area_label')


def class_ratios(inter: np.ndarray, union: np.ndarray, pred: np.ndarray, label: np.ndarray,
                 iou_metrics, beta: float) -> dict:
    """``IoUMetric.total_area_to_metrics`` on ``(B, C)`` summed areas: ``aAcc`` ``(B,)``,
    the per-class ratios ``(B, C)`` (IoU, Acc, Dice, Fscore, Precision, Recall)."""
    ratios = {'aAcc': inter.sum(-1) / label.sum(-1)}
    for metric in iou_metrics:
        if metric == 'mIoU':
            ratios.update(IoU=inter / union, Acc=inter / label)
        elif metric == 'mDice':
            ratios.update(Dice=2 * inter / (pred + label), Acc=inter / label)
        elif metric == 'mFscore':
            precision, recall = inter / pred, inter / label
            fscore = (1 + beta**2) * precision * recall / (beta**2 * precision + recall)
            ratios.update(Fscore=fscore, Precision=precision, Recall=recall)
        else:
            raise ValueError(f'IoUMetric has no metric {metric!r}')
    return ratios


class IoUScorer(ImageScorer):
    """IoUMetric's summary (in %, unrounded) on a resampled list of images.

    Args:
        areas: :data:`AREAS` -> ``(n, C)`` per-image pixel counts per class.
        iou_metrics, nan_to_num, beta, prefix: the IoUMetric's arguments.
    """

    def __init__(self, source: str, image_ids: np.ndarray, keys, areas: dict,
                 iou_metrics, nan_to_num=None, beta: float = 1, prefix=None) -> None:
        order = np.argsort(image_ids, kind='stable')
        super().__init__(source, image_ids, keys,
                         digest(image_ids[order], areas['area_label'][order], iou_metrics,
                                nan_to_num, beta))
        self.areas = [areas[name].astype(np.float64) for name in AREAS]
        self.iou_metrics, self.nan_to_num, self.beta = list(iou_metrics), nan_to_num, beta
        self.names = [key[len(prefix) + 1:] if prefix else key for key in self.keys]

    def compute(self, counts: np.ndarray) -> np.ndarray:
        totals = [counts @ area for area in self.areas]
        with np.errstate(divide='ignore', invalid='ignore'), warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)    # nanmean of all-nan
            ratios = class_ratios(*totals, self.iou_metrics, self.beta)
            if self.nan_to_num is not None:
                ratios = {k: np.nan_to_num(v, nan=self.nan_to_num) for k, v in ratios.items()}
            summary = {('aAcc' if k == 'aAcc' else 'm' + k):
                       100 * (v if k == 'aAcc' else np.nanmean(v, axis=-1))
                       for k, v in ratios.items()}
        return np.stack([summary[name] for name in self.names], axis=-1)


def load_iou(manifest_path: str, manifest: dict) -> IoUScorer:
    n, c = manifest['num_images'], len(manifest['class_names'])
    arrays = load_arrays(data_file(manifest_path, manifest, 'arrays'),
                         {'image_ids': (n, ), **{name: (n, c) for name in AREAS}})
    args = {key: setting(manifest_path, manifest, key)
            for key in ('iou_metrics', 'nan_to_num', 'beta', 'prefix')}
    return IoUScorer(manifest_path, arrays['image_ids'], manifest['metric_keys'], arrays,
                     **args)
