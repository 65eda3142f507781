"""COCO matching, run once: pycocotools' ``COCOeval.evaluate()`` and its per-image tables.

``evaluate()`` matches the detections of each (image, category, area range) to that
image's ground truth alone; only ``accumulate()`` pools images. The tables kept here are
``evaluate()``'s per-image results, ordered as ``accumulate()`` orders them (by score,
mergesort, images in ``params.imgIds`` order), so that any resampled list of images is
accumulated from them exactly (:mod:`.coco_accumulate`).
"""
import contextlib
import io
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


@dataclass
class MatchBlock:
    """One (category, area range): its detections in accumulation order.

    Attributes:
        image: ``(D,)`` each detection's image position.
        tp, fp: ``(T, D)`` true / false positive at each IoU threshold (neither: ignored).
        num_gt: ``(n,)`` each image's non-ignored ground-truth objects.
        group: ``(D,)`` runs of one image's equal scores, or None if there are none
            (then the copies of a drawn-twice image need no interleaving).
    """
    image: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    num_gt: np.ndarray
    group: Optional[np.ndarray]
    segments: Optional[object] = field(default=None, repr=False)  # coco_accumulate's


@dataclass
class CocoMatches:
    """``blocks[a][k]`` for area range a, category k, and the parameters to summarise."""
    blocks: list
    iou_thrs: np.ndarray
    rec_thrs: np.ndarray
    area_labels: list
    image_ids: np.ndarray


def quiet(fn, *args):
    """Call a pycocotools function without its progress prints."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def match_block(entries: Sequence[Optional[dict]], max_det: int, num_thrs: int) -> MatchBlock:
    """Collect one block's ``evalImgs`` entries (one per image, None where the image has
    neither ground truth nor detections) as arrays, the first ``max_det`` per image."""
    num_gt = np.array([0 if e is None else np.count_nonzero(e['gtIgnore'] == 0)
                       for e in entries], dtype=np.int64)
    kept = [(i, e, min(len(e['dtScores']), max_det)) for i, e in enumerate(entries)
            if e is not None]
    kept = [(i, e, d) for i, e, d in kept if d]
    if not kept:
        empty = np.zeros((num_thrs, 0), dtype=bool)
        return MatchBlock(np.zeros(0, np.int64), empty, empty, num_gt, None)
    scores = np.concatenate([e['dtScores'][:d] for _, e, d in kept])
    image = np.concatenate([np.full(d, i) for i, _, d in kept])
    matched = np.concatenate([e['dtMatches'][:, :d] for _, e, d in kept], axis=1) != 0
    ignored = np.concatenate([e['dtIgnore'][:, :d] for _, e, d in kept], axis=1) != 0
    order = np.argsort(-scores, kind='mergesort')      # as accumulate() sorts
    scores, image = scores[order], image[order]
    new_run = (scores[1:] != scores[:-1]) | (image[1:] != image[:-1])
    group = np.concatenate([[0], np.cumsum(new_run)])
    return MatchBlock(image, (matched & ~ignored)[:, order], (~matched & ~ignored)[:, order],
                      num_gt, group if group[-1] + 1 < len(group) else None)


def match_images(gt: COCO, detections: list, iou_type: str, cat_ids: Sequence[int],
                 img_ids: Sequence[int], iou_thrs: Sequence[float],
                 max_dets: Sequence[int]) -> CocoMatches:
    """Run ``COCOeval.evaluate()`` once with mmdet ``CocoMetric``'s parameters and keep
    its per-image tables for the AP summaries (``maxDets[2]`` detections per image)."""
    evaluator = COCOeval(gt, quiet(gt.loadRes, detections), iou_type)
    params = evaluator.params
    params.catIds, params.imgIds = list(cat_ids), list(img_ids)
    params.maxDets, params.iouThrs = list(max_dets), np.asarray(iou_thrs, dtype=np.float64)
    quiet(evaluator.evaluate)
    n, num_areas = len(params.imgIds), len(params.areaRng)

    def entries(k, a):
        start = (k * num_areas + a) * n
        return evaluator.evalImgs[start:start + n]
    blocks = [[match_block(entries(k, a), params.maxDets[2], len(params.iouThrs))
               for k in range(len(params.catIds))] for a in range(num_areas)]
    return CocoMatches(blocks, params.iouThrs, params.recThrs, list(params.areaRngLbl),
                       np.asarray(params.imgIds))
