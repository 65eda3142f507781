"""pycocotools' ``accumulate()`` and AP summary on a resampled list of images.

A resample is a count per image. Its list is taken in image order, a drawn-twice image's
copies side by side; ``accumulate()`` on that list concatenates each image's detections
copy after copy and sorts them by score, stably. :func:`block_precision` builds the same
sequence from the tables sorted once (:mod:`.coco_matching`) by repeating each detection
as often as its image was drawn (interleaving the copies where one image has equal
scores), then computes precision at the recall thresholds with ``accumulate()``'s
arithmetic: with every count 1 it gives pycocotools' numbers.

Where no image has equal scores in a block, :func:`weighted_precision` gets the same
numbers for many resamples at once without repeating anything: each detection stands for
its copies, weighted by its image's count, and each run of detections that are true
positives at no IoU threshold for one position (:class:`Segments`). A detection's copies
are adjacent in the list, so the cumulative counts at a segment's end are exact; and the
interpolated precision that ``accumulate()`` reads at a recall threshold is the same
there (precision only rises along a true positive's copies and only falls along a run of
false positives, and recall changes only at true positives).
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import sparse

from .coco_matching import CocoMatches, MatchBlock

CELLS = 1 << 22   # (resample, IoU threshold, segment) cells per weighted batch

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


def first_reaching(thresholds: np.ndarray, num_gt: np.ndarray) -> np.ndarray:
    """``(B, R)`` the fewest true positives k whose recall ``k / num_gt`` (float, as
    ``accumulate()`` divides) is at least each threshold."""
    n = num_gt[:, None].astype(float)
    k = np.ceil(thresholds[None] * n)
    k = np.where((k - 1 >= 0) & ((k - 1) / n >= thresholds[None]), k - 1, k)
    return np.where(k / n < thresholds[None], k + 1, k).astype(np.int64)


@dataclass(frozen=True)
class Segments:
    """A block's detections in runs for :func:`weighted_precision`: each detection that is
    a true positive at some IoU threshold alone, each run of the others as one.

    ``tp``, ``fp``: ``(T * S, n)`` sparse, how many of image i's detections are true /
    false positives at threshold t in segment s (row ``t * S + s``)."""
    num: int
    tp: sparse.csr_matrix
    fp: sparse.csr_matrix


def segments_of(block: MatchBlock) -> Segments:
    """The block's :class:`Segments`, made once."""
    if block.segments is None:
        ever_tp = block.tp.any(axis=0)
        starts = ever_tp | np.concatenate([[True], ever_tp[:-1]])   # a run ends at a TP
        seg = np.cumsum(starts) - 1
        num_t, num_s, n = block.tp.shape[0], int(seg[-1]) + 1, len(block.num_gt)

        def counts(mask):
            t, d = np.nonzero(mask)
            return sparse.csr_matrix((np.ones(len(d), np.int64), (t * num_s + seg[d],
                                                                  block.image[d])),
                                     shape=(num_t * num_s, n))
        block.segments = Segments(num_s, counts(block.tp), counts(block.fp))
    return block.segments


def weighted_precision(block: MatchBlock, counts: np.ndarray, num_gt: np.ndarray,
                       rec_thrs: np.ndarray) -> np.ndarray:
    """``(B, T, R)`` :func:`block_precision` of a block without equal scores in an image,
    for ``(B, n)`` counts whose lists have ``(B,)`` ``num_gt`` > 0 ground-truth objects.

    Only a segment's last position matters: precision falls along a run of false
    positives (the position before it bounds the envelope there), and a recall threshold
    is first reached at a true positive."""
    seg, num_t = segments_of(block), block.tp.shape[0]
    shape = (num_t, seg.num, len(counts))
    tp = np.cumsum(np.moveaxis((seg.tp @ counts.T).reshape(shape), -1, 0), axis=2)
    fp = np.cumsum(np.moveaxis((seg.fp @ counts.T).reshape(shape), -1, 0), axis=2)
    precision = tp / (fp + tp + np.spacing(1))                       # (B, T, S)
    envelope = np.maximum.accumulate(precision[..., ::-1], axis=2)[..., ::-1]
    need = first_reaching(rec_thrs, num_gt)                           # (B, R)
    # the first segment whose true positives reach `need`: one sorted search over every
    # (resample, threshold) row, each row's integers shifted past the previous row's
    b, t, d = tp.shape
    shift = (np.arange(b * t) * (max(tp.max(initial=0), need.max()) + 1)).reshape(b, t, 1)
    pos = np.searchsorted((tp + shift).ravel(), need[:, None] + shift, side='left') - \
        np.arange(b * t).reshape(b, t, 1) * d                         # (B, T, R)
    q = np.take_along_axis(envelope, np.minimum(pos, d - 1), axis=2)
    return np.where(pos < d, q, 0.0)


def block_precisions(block: MatchBlock, counts: np.ndarray,
                     rec_thrs: np.ndarray) -> np.ndarray:
    """``(B, T, R)`` :func:`block_precision` of each of ``(B, n)`` counts' lists, -1 where a
    list has no non-ignored ground truth."""
    num_t = block.tp.shape[0]
    out = -np.ones((len(counts), num_t, len(rec_thrs)))
    num_gt = counts @ block.num_gt
    rows = np.flatnonzero(num_gt)
    if block.group is not None:       # equal scores in an image: the copies interleave
        for r in rows:
            out[r] = block_precision(block, counts[r], rec_thrs)
        return out
    if len(block.image) == 0:
        out[rows] = 0.0
        return out
    step = max(1, CELLS // (num_t * segments_of(block).num))
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        out[chunk] = weighted_precision(block, counts[chunk], num_gt[chunk], rec_thrs)
    return out


def accumulate_precisions(matches: CocoMatches, counts: np.ndarray) -> np.ndarray:
    """``(B, T, R, K, A)`` precision, -1 where absent (``eval['precision']`` at
    ``maxDets[2]``), of each of the lists ``(B, n)`` counts describe."""
    blocks = matches.blocks
    out = np.empty((len(counts), len(matches.iou_thrs), len(matches.rec_thrs),
                    len(blocks[0]), len(blocks)))
    for a, area_blocks in enumerate(blocks):
        for k, block in enumerate(area_blocks):
            out[..., k, a] = block_precisions(block, counts, matches.rec_thrs)
    return out


def accumulate_precision(matches: CocoMatches, counts: np.ndarray) -> np.ndarray:
    """``(T, R, K, A)``: :func:`accumulate_precisions` of one list ``(n,)``."""
    return accumulate_precisions(matches, counts[None])[0]


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
