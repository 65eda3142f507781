"""mmseg's ``IoUMetric`` that keeps each image's per-class areas."""
from typing import Optional

import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from ..stats.iou import AREAS
from .per_sample_writer import dump_arrays, logged_keys


@METRICS.register_module()
class PerSampleIoUMetric(IoUMetric):
    """``IoUMetric`` (same arguments, same metrics) whose evaluation also keeps, per image,
    its id (``img_path``) and the four per-class areas ``IoUMetric.process`` computes
    (intersection, union, predicted, label; pixels), for
    :class:`~.per_sample_hook.PerSampleHook` to write."""

    per_sample_kind = 'segmentation'

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kept: Optional[dict] = None

    def process(self, data_batch, data_samples) -> None:
        super().process(data_batch, data_samples)
        if not self.format_only:
            new = self.results[-len(data_samples):]
            self.results[-len(data_samples):] = [
                (*areas, sample['img_path']) for areas, sample in zip(new, data_samples)]

    def compute_metrics(self, results: list) -> dict:
        if self.format_only:
            return super().compute_metrics(results)
        areas = [result[:4] for result in results]
        metrics = super().compute_metrics(areas)
        self.kept = dict(keys=logged_keys(self.prefix, metrics),
                         image_ids=[result[4] for result in results],
                         **{name: np.stack([a[i].numpy() for a in areas]).round().astype(
                             np.int64) for i, name in enumerate(AREAS)})
        return metrics

    def dump_per_sample(self, directory: str, stem: str,
                        data_root: Optional[str]) -> Optional[dict]:
        """Write ``<stem>.npz``; return the manifest's fields (None: nothing kept)."""
        kept, self.kept = self.kept, None
        return dump_arrays(kept, self.per_sample_kind, directory, stem, data_root,
                           list(self.dataset_meta['classes']),
                           dict(iou_metrics=list(self.metrics), nan_to_num=self.nan_to_num,
                                beta=self.beta, prefix=self.prefix,
                                ignore_index=self.ignore_index))
