"""pycocotools' ``accumulate()`` and AP summary on a resampled list of images.

A resample is a count per image. Its list is taken in image order, a drawn-twice image's
copies side by side; ``accumulate()`` on that list concatenates each image's detections
copy after copy and sorts them by score, stably. :func:`block_precision` builds the same
sequence from the tables sorted once (:mod:`.coco_matching`) by repeating each detection
as often as its image was drawn (interleaving the copies where one image has equal
scores), then computes precision at the recall thresholds with ``accumulate()``'s
arithmetic: with every count 1 it gives pycocotools' numbers.
"""
from typing import Optional

import numpy as np

from .coco_matching import CocoMatches, MatchBlock

# CocoMetric's default metric_items: pycocotools' stats[0:6] (IoU threshold, area range)
AP_ITEMS = {'mAP': (None, 'all'), 'mAP_50': (.5, 'all'), 'mAP_75': (.75, 'all'),
            'mAP_s': (None, 'small'), 'mAP_m': (None, 'medium'), 'mAP_l': (None, 'large')}


def copies_in_list_order(order: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Reorder repeated detections so that, within a run of one image's equal scores,
    copy 0 of every detection comes before copy 1 (as in the concatenated list)."""
    copy = np.arange(len(order)) - np.searchsorted(order, order)
    return order[np.lexsort((order, copy, group[order]))]


def block_precision(block: MatchBlock, counts: np.ndarray,
                    rec_thrs: np.ndarray) -> Optional[np.ndarray]:
    """``(T, R)`` interpolated precision of one block on the list ``counts`` describes;
    None where the list has no non-ignored ground truth (pycocotools leaves -1)."""
    num_gt = int(counts @ block.num_gt)
    if num_gt == 0:
        return None
    order = np.repeat(np.arange(len(block.image)), counts[block.image])
    if block.group is not None:
        order = copies_in_list_order(order, block.group)
    tp = np.cumsum(block.tp[:, order], axis=1).astype(float)
    fp = np.cumsum(block.fp[:, order], axis=1).astype(float)
    recall = tp / num_gt
    precision = tp / (fp + tp + np.spacing(1))
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    q = np.zeros((len(tp), len(rec_thrs)))
    for t in range(len(tp)):
        inds = np.searchsorted(recall[t], rec_thrs, side='left')
        found = inds < len(order)
        q[t, found] = envelope[t, inds[found]]
    return q


def accumulate_precision(matches: CocoMatches, counts: np.ndarray) -> np.ndarray:
    """``(T, R, K, A)`` precision, -1 where absent (``eval['precision']`` at
    ``maxDets[2]``), of the list ``counts`` describes."""
    blocks = matches.blocks
    out = -np.ones((len(matches.iou_thrs), len(matches.rec_thrs), len(blocks[0]),
                    len(blocks)))
    for a, area_blocks in enumerate(blocks):
        for k, block in enumerate(area_blocks):
            q = block_precision(block, counts, matches.rec_thrs)
            if q is not None:
                out[:, :, k, a] = q
    return out


def summarize_ap(matches: CocoMatches, precision: np.ndarray, items) -> np.ndarray:
    """The AP ``items`` (keys of :data:`AP_ITEMS`) as ``COCOeval.summarize()`` takes them
    (-1 where no category has ground truth)."""
    out = []
    for item in items:
        iou_thr, area = AP_ITEMS[item]
        s = precision[..., matches.area_labels.index(area)]
        if iou_thr is not None:
            s = s[np.where(iou_thr == matches.iou_thrs)[0]]
        valid = s[s > -1]
        out.append(np.mean(valid) if valid.size else -1.0)
    return np.array(out)
