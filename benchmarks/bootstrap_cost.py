"""Seconds the bootstrap takes on synthetic per-sample results of full size, this CPU.

ImageNet-1K val (50,000 images, 1000 classes), ADE20K val (2,000 images, 150 classes),
COCO val2017 (5,000 images, 80 categories, about 7 objects and 100 detections per
image; ``--iou-types bbox segm``, box masks for segm): the interval of every metric from
``--resamples`` resamples (default 200). COCO prints the matching (``COCOeval.evaluate()``,
once) and the accumulation (once per resample) apart.

    python benchmarks/bootstrap_cost.py [--resamples 200] [--tasks cls seg det]
        [--iou-types bbox segm]
"""
import argparse
import time

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from mixedae.stats import bootstrap_intervals
from mixedae.stats.accuracy import AccuracyScorer
from mixedae.stats.coco import CocoScorer
from mixedae.stats.coco_accumulate import AP_ITEMS
from mixedae.stats.coco_matching import match_images, quiet
from mixedae.stats.iou import AREAS, IoUScorer

COCO_IOU_THRS = np.linspace(.5, 0.95, 10)


def classification(rng: np.random.Generator, n: int = 50000, classes: int = 1000):
    gt = rng.integers(classes, size=n)
    top1 = rng.random(n) < 0.83
    top5 = top1 | (rng.random(n) < 0.8)
    return AccuracyScorer('synthetic', np.arange(n), ['accuracy/top1', 'accuracy/top5'],
                          np.stack([top1, top5], 1), gt)


def segmentation(rng: np.random.Generator, n: int = 2000, classes: int = 150):
    label = np.zeros((n, classes), np.int64)
    for i in range(n):                       # ~10 classes an image, 512 x 683 pixels
        present = rng.choice(classes, 10, replace=False)
        label[i, present] = rng.multinomial(512 * 683, rng.dirichlet(np.ones(10)))
    inter = (label * rng.uniform(0.3, 0.95, label.shape)).astype(np.int64)
    pred = inter + rng.permuted(label - inter, axis=1)    # misses go to other classes
    areas = dict(zip(AREAS, (inter, pred + label - inter, pred, label)))
    return IoUScorer('synthetic', np.arange(n), ['aAcc', 'mIoU', 'mAcc'], areas, ['mIoU'])


def box_polygon(box) -> list:
    x, y, w, h = box
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def coco_data(rng: np.random.Generator, n: int = 5000, cats: int = 80, dets: int = 100,
              segm: bool = False):
    """A COCO ground truth and a results list of ``dets`` detections per image: a
    jittered copy of each object (mostly its class) and random boxes."""
    images = [dict(id=i + 1, width=640, height=480) for i in range(n)]
    anns, results = [], []
    for img in images:
        num_obj = rng.integers(1, 15)
        boxes = np.column_stack([rng.uniform(0, 540, num_obj), rng.uniform(0, 380, num_obj),
                                 rng.uniform(4, 100, (num_obj, 2))])
        labels = rng.integers(1, cats + 1, num_obj)
        jitter = boxes + rng.normal(0, 4, boxes.shape)
        noise = np.column_stack([rng.uniform(0, 540, dets), rng.uniform(0, 380, dets),
                                 rng.uniform(4, 100, (dets, 2))])
        noise[:num_obj] = np.abs(jitter) + 1
        det_labels = rng.integers(1, cats + 1, dets)
        det_labels[:num_obj] = np.where(rng.random(num_obj) < .8, labels, det_labels[:num_obj])
        for box, label in zip(boxes, labels):
            anns.append(dict(id=len(anns) + 1, image_id=img['id'], category_id=int(label),
                             bbox=box.tolist(), area=float(box[2] * box[3]), iscrowd=0,
                             segmentation=box_polygon(box)))
        for box, label, score in zip(noise, det_labels, rng.random(dets).astype(np.float32)):
            det = dict(image_id=img['id'], category_id=int(label), bbox=box.tolist(),
                       score=float(score))
            if segm:
                det['segmentation'] = mask_utils.merge(mask_utils.frPyObjects(
                    box_polygon(box), 480, 640))
            results.append(det)
    gt = COCO()
    gt.dataset = dict(images=images, annotations=anns,
                      categories=[dict(id=c + 1, name=str(c)) for c in range(cats)])
    quiet(gt.createIndex)
    return gt, results


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--resamples', type=int, default=200)
    parser.add_argument('--tasks', nargs='+', default=['cls', 'seg', 'det'])
    parser.add_argument('--iou-types', nargs='+', default=['bbox'], choices=['bbox', 'segm'])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    if 'cls' in args.tasks:
        scorer = classification(rng)
        _, seconds = timed(bootstrap_intervals, scorer, n_resamples=args.resamples)
        print(f'classification  50,000 images, top-1/top-5: {seconds:7.2f} s')
    if 'seg' in args.tasks:
        scorer = segmentation(rng)
        _, seconds = timed(bootstrap_intervals, scorer, n_resamples=args.resamples)
        print(f'segmentation     2,000 images x 150 classes: {seconds:7.2f} s')
    if 'det' in args.tasks:
        for iou_type in args.iou_types:
            gt, results = coco_data(rng, segm=iou_type == 'segm')
            matches, matching = timed(match_images, gt, results, iou_type, sorted(gt.cats),
                                      sorted(gt.imgs), COCO_IOU_THRS, [100, 300, 1000])
            scorer = CocoScorer('synthetic', {iou_type: matches},
                                {f'coco/{iou_type}_{i}': (iou_type, i) for i in AP_ITEMS}, '')
            _, accumulation = timed(bootstrap_intervals, scorer, n_resamples=args.resamples)
            print(f'detection {iou_type}  5,000 images x 100 detections: matching '
                  f'{matching:7.1f} s (once), accumulation {accumulation:7.1f} s '
                  f'({args.resamples} resamples, {accumulation / args.resamples:.2f} s each)')


if __name__ == '__main__':
    main()
