"""mmdet's ``CocoMetric`` that keeps its detections, as its own ``results2json`` writes
them, and what is needed to match them again."""
import os.path as osp
from typing import Optional

from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS
from mmengine.fileio import get_local_path

from ..stats.coco_accumulate import AP_ITEMS
from ..stats.per_sample_files import file_sha256
from .per_sample_writer import logged_keys, save_with


@METRICS.register_module()
class PerSampleCocoMetric(CocoMetric):
    """``CocoMetric`` (same arguments, same metrics) whose evaluation also keeps the
    detections (``results2json``: ``bbox`` and ``segm`` COCO results files) with the
    annotation file (path and sha256), the evaluated image and category ids and the
    evaluation parameters, for :class:`~.per_sample_hook.PerSampleHook` to write.

    Needs ``ann_file`` (the files refer to it) and the ``bbox`` / ``segm`` metrics with
    AP items (``mAP``, ``mAP_50``, ``mAP_75``, ``mAP_s``, ``mAP_m``, ``mAP_l``).
    """

    per_sample_kind = 'detection'

    def __init__(self, ann_file: Optional[str] = None, **kwargs) -> None:
        super().__init__(ann_file=ann_file, **kwargs)
        if ann_file is None:
            raise ValueError('PerSampleCocoMetric needs ann_file: its per-sample files '
                             'refer to the annotation file the detections were matched to')
        unsupported = [m for m in self.metrics if m not in ('bbox', 'segm')]
        items = self.metric_items or list(AP_ITEMS)
        if unsupported or not set(items) <= set(AP_ITEMS):
            raise ValueError(f'PerSampleCocoMetric keeps bbox/segm AP only, not metric '
                             f'{unsupported} / metric_items {self.metric_items}')
        with get_local_path(ann_file, backend_args=self.backend_args) as local:
            self.ann_sha256 = file_sha256(local)
        self.ann_file = osp.abspath(ann_file) if osp.isfile(ann_file) else ann_file
        self.kept: Optional[list] = None

    def compute_metrics(self, results: list) -> dict:
        metrics = super().compute_metrics(results)
        if not self.format_only:
            self.kept = [pred for _, pred in results]
        return metrics

    def dump_per_sample(self, directory: str, stem: str,
                        data_root: Optional[str]) -> Optional[dict]:
        """Write ``<stem>.bbox.json`` (and ``.segm.json``) with ``results2json``; return
        the manifest's fields (None: nothing kept)."""
        kept, self.kept = self.kept, None
        if kept is None:
            return None

        def write(prefix: str) -> dict:
            written = self.results2json(kept, prefix)
            return {m: written[m] for m in self.metrics}
        items = list(self.metric_items or AP_ITEMS)
        return dict(
            kind=self.per_sample_kind, files=save_with(write, directory, stem),
            num_images=len(self.img_ids),
            ids=dict(where='settings:image_ids', meaning='COCO image id'),
            metric_keys=logged_keys(self.prefix, [f'{m}_{i}' for m in self.metrics
                                                  for i in items]),
            class_names=list(self.dataset_meta['classes']),
            settings=dict(ann_file=self.ann_file, ann_sha256=self.ann_sha256,
                          cat_ids=list(self.cat_ids), image_ids=list(self.img_ids),
                          iou_thrs=[float(t) for t in self.iou_thrs],
                          max_dets=list(self.proposal_nums), iou_types=list(self.metrics),
                          metric_items=items, prefix=self.prefix))
