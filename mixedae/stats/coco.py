"""COCO AP box / mask (mmdet ``CocoMetric``) on resampled lists of images: matched once,
accumulated per resample."""
from typing import Optional

import numpy as np
from pycocotools.coco import COCO

from .coco_accumulate import accumulate_precisions, summarize_ap
from .coco_matching import match_images, quiet
from .per_sample_files import (PerSampleFileError, checked_file, data_file, read_json,
                               setting)
from .scorer import ImageScorer, digest

ROWS = 64   # resamples accumulated together (their precision arrays held at once)


class CocoScorer(ImageScorer):
    """CocoMetric's AP items (0-1, unrounded) of each IoU type on a resampled list.

    Args:
        matches: iou type (``bbox``, ``segm``) -> its :class:`CocoMatches`.
        items: keys -> (iou type, AP item), e.g. ``coco/bbox_mAP -> (bbox, mAP)``.
    """

    def __init__(self, source: str, matches: dict, items: dict, truth: str) -> None:
        first = next(iter(matches.values()))
        super().__init__(source, first.image_ids, list(items), truth)
        self.matches = matches
        self.items = items

    def compute(self, counts: np.ndarray) -> np.ndarray:
        out = np.empty((len(counts), len(self.items)))
        targets = list(self.items.values())
        for iou_type, matches in self.matches.items():
            columns = [c for c, (kind, _) in enumerate(targets) if kind == iou_type]
            wanted = [targets[c][1] for c in columns]
            for start in range(0, len(counts), ROWS):
                precision = accumulate_precisions(matches, counts[start:start + ROWS])
                for r, p in enumerate(precision, start):
                    out[r, columns] = summarize_ap(matches, p, wanted)
        return out


def load_detections(path: str, iou_type: str) -> list:
    """A COCO results file as CocoMetric evaluates it (``segm`` without ``bbox``)."""
    detections = read_json(path)
    if not isinstance(detections, list) or not detections:
        raise PerSampleFileError(f'per-sample file {path} holds no detections (CocoMetric '
                                 'reports no metric for an empty result)')
    if iou_type == 'segm':
        for det in detections:
            det.pop('bbox', None)
    return detections


def load_coco(manifest_path: str, manifest: dict,
              ann_file: Optional[str] = None) -> CocoScorer:
    """Match the manifest's detections against its annotation file (or ``ann_file``,
    the same file elsewhere; its sha256 must be the recorded one)."""
    settings = {key: setting(manifest_path, manifest, key) for key in (
        'ann_file', 'ann_sha256', 'cat_ids', 'image_ids', 'iou_thrs', 'max_dets',
        'iou_types', 'metric_items', 'prefix')}
    ann_file = checked_file(ann_file or settings['ann_file'], settings['ann_sha256'],
                            'settings.ann_file', manifest_path, 'annotation file')
    gt = quiet(COCO, ann_file)
    matches = {iou_type: match_images(
        gt, load_detections(data_file(manifest_path, manifest, iou_type), iou_type),
        iou_type, settings['cat_ids'], settings['image_ids'], settings['iou_thrs'],
        settings['max_dets']) for iou_type in settings['iou_types']}
    prefix = f'{settings["prefix"]}/' if settings['prefix'] else ''
    items = {f'{prefix}{iou_type}_{item}': (iou_type, item)
             for iou_type in settings['iou_types'] for item in settings['metric_items']}
    if list(items) != manifest['metric_keys']:
        raise PerSampleFileError(f'per-sample manifest {manifest_path}: metric_keys '
                                 f'{manifest["metric_keys"]} are not {list(items)}')
    truth = digest(settings['ann_sha256'], settings['cat_ids'], settings['iou_thrs'],
                   settings['max_dets'])
    return CocoScorer(manifest_path, matches, items, truth)
