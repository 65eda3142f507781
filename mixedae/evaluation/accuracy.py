"""mmpretrain's ``Accuracy`` that keeps, per image, the classes and whether it is correct."""
from typing import List, Optional

import numpy as np
import torch
from mmpretrain.evaluation import Accuracy
from mmpretrain.registry import METRICS

from .per_sample_writer import dump_arrays, logged_keys


def per_image_correct(metric: Accuracy, result: dict) -> list:
    """1/0 per metric name for one image, by ``Accuracy.calculate`` itself."""
    target = result['gt_label']
    if 'pred_score' in result:
        acc = metric.calculate(result['pred_score'][None], target, metric.topk, metric.thrs)
        return [float(a) / 100 for row in acc for a in row]
    return [float(metric.calculate(result['pred_label'], target)) / 100]


@METRICS.register_module()
class PerSampleAccuracy(Accuracy):
    """``Accuracy`` (same arguments, same metrics) whose evaluation also keeps, per image,
    its id (``img_path``, else the dataset index), true and predicted (top-1) class and
    0/1 per logged key, for :class:`~.per_sample_hook.PerSampleHook` to write."""

    per_sample_kind = 'classification'

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kept: Optional[dict] = None

    def process(self, data_batch, data_samples) -> None:
        super().process(data_batch, data_samples)
        for result, sample in zip(self.results[-len(data_samples):], data_samples):
            result['image_id'] = str(sample.get('img_path', sample.get('sample_idx')))

    def compute_metrics(self, results: List[dict]) -> dict:
        metrics = super().compute_metrics(results)
        predicted = [r['pred_score'].argmax() if 'pred_score' in r else r['pred_label'][0]
                     for r in results]
        self.kept = dict(
            keys=logged_keys(self.prefix, metrics),
            image_ids=[r['image_id'] for r in results],
            gt_label=torch.cat([r['gt_label'] for r in results]).numpy().astype(np.int64),
            pred_label=torch.stack(predicted).numpy().astype(np.int64).reshape(-1),
            correct=np.array([per_image_correct(self, r) for r in results], dtype=np.uint8))
        return metrics

    def dump_per_sample(self, directory: str, stem: str,
                        data_root: Optional[str]) -> Optional[dict]:
        """Write ``<stem>.npz``; return the manifest's fields (None: nothing kept)."""
        kept, self.kept = self.kept, None
        return dump_arrays(kept, self.per_sample_kind, directory, stem, data_root,
                           list(self.dataset_meta.get('classes') or []),
                           dict(topk=list(self.topk), thrs=list(self.thrs)))
