"""mixedae.stats: metrics recomputed from per-image results, bootstrap intervals, paired
deltas, seeds (synthetic per-sample results, seconds)."""
import copy
import subprocess
import sys

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from scipy import stats

from conftest import ROOT
from mixedae.stats import (ImageSetError, bootstrap_intervals, paired_deltas,
                           seed_intervals, seed_paired_deltas)
from mixedae.stats.accuracy import AccuracyScorer
from mixedae.stats.coco import CocoScorer
from mixedae.stats.coco_accumulate import (AP_ITEMS, accumulate_precision,
                                           accumulate_precisions)
from mixedae.stats.coco_matching import match_images, quiet
from mixedae.stats.iou import AREAS, IoUScorer

HEAVY = {'torch', 'torchvision', 'mmengine', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg', 'timm'}
IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
MAX_DETS = [100, 300, 1000]


# ------------------------------------------------------------------ light package


def test_stats_package_loads_without_torch_or_openmmlab():
    """A plain ``import mixedae.stats`` leaves torch and OpenMMLab unimported."""
    code = ('import sys, mixedae.stats; '
            f'print(sorted(set({sorted(HEAVY)!r}) & {{n.split(".")[0] for n in sys.modules}}))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == '[]', out


# ------------------------------------------------------------------ classification


def accuracy_scorer(correct, name='a.json', ids=None, gt=None) -> AccuracyScorer:
    n = len(correct)
    ids = np.array([f'val/{i:05d}.JPEG' for i in range(n)]) if ids is None else ids
    gt = np.zeros(n, np.int64) if gt is None else gt
    return AccuracyScorer(name, ids, ['accuracy/top1'], np.asarray(correct)[:, None], gt)


def test_accuracy_interval_matches_wilson_at_1000_images():
    correct = np.random.default_rng(0).random(1000) < 0.7
    interval = bootstrap_intervals(accuracy_scorer(correct), n_resamples=2000,
                                   seed=1)['accuracy/top1']
    wilson = stats.binomtest(int(correct.sum()), 1000).proportion_ci(method='wilson')
    assert interval.value == pytest.approx(100 * correct.mean())
    assert interval.low == pytest.approx(100 * wilson.low, abs=1.0)
    assert interval.high == pytest.approx(100 * wilson.high, abs=1.0)
    assert (interval.num_images, interval.n_resamples, interval.num_seeds) == (1000, 2000, 1)


def test_intervals_are_seeded():
    scorer = accuracy_scorer(np.random.default_rng(0).random(300) < 0.5)
    runs = [bootstrap_intervals(scorer, n_resamples=200, seed=s) for s in (3, 3, 4)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
    bca = bootstrap_intervals(scorer, n_resamples=200, method='bca', seed=3)
    assert bca['accuracy/top1'].method == 'bca'
    assert bca['accuracy/top1'].low < bca['accuracy/top1'].value < bca['accuracy/top1'].high


def test_planted_accuracy_gain_excludes_zero_and_pairs_by_id():
    """b = a with 50 of its errors corrected, its rows shuffled: +5 points, found."""
    rng = np.random.default_rng(0)
    a = accuracy_scorer(rng.random(1000) < 0.7)
    fixed = a.correct[:, 0].copy()
    fixed[rng.choice(np.flatnonzero(fixed == 0), 50, replace=False)] = 1
    perm = rng.permutation(1000)
    b = accuracy_scorer(fixed[perm], 'b.json', ids=a.image_ids[perm])
    delta = paired_deltas(b, a, n_resamples=1000)['accuracy/top1']
    assert delta.delta == pytest.approx(5.0)
    assert delta.excludes_zero() and 0 < delta.low < 5 < delta.high and delta.p_value < 0.01
    # unpaired, the same +5 would hide in the two runs' own +-2.8 points
    assert delta.high - delta.low < 4


@pytest.mark.parametrize('method', ['percentile', 'bca'])
def test_identical_predictions_give_an_exact_zero_delta(method):
    a = accuracy_scorer(np.random.default_rng(0).random(500) < 0.6)
    delta = paired_deltas(a, accuracy_scorer(a.correct[:, 0], 'b.json'), method=method,
                          n_resamples=300)['accuracy/top1']
    assert (delta.delta, delta.low, delta.high, delta.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert not delta.excludes_zero()


def test_different_image_sets_are_refused_naming_both_files():
    a = accuracy_scorer(np.ones(10), 'runs/a/per_sample/val.json')
    ids = a.image_ids.copy()
    ids[3] = 'val/other.JPEG'
    b = accuracy_scorer(np.ones(10), 'runs/b/per_sample/val.json', ids=ids)
    with pytest.raises(ImageSetError, match=r'runs/a/per_sample/val.json and '
                       r'runs/b/per_sample/val.json were evaluated on different images: '
                       r"1 only in the first \(e.g. \['val/00003.JPEG'\]\)"):
        paired_deltas(a, b)
    other_labels = accuracy_scorer(np.ones(10), 'c.json', gt=np.ones(10, np.int64))
    with pytest.raises(ImageSetError, match='a/per_sample/val.json and c.json differ in '
                       'ground truth'):
        paired_deltas(a, other_labels)


def test_seed_intervals_and_deltas():
    """Three seeds per method on shared hard and easy images, ours +5 points: the
    hierarchical interval is wider than one run's, the delta excludes 0, P(a > b) = 1."""
    rng = np.random.default_rng(0)
    difficulty = rng.random(800)

    def runs(level, name):
        return [accuracy_scorer((difficulty < level + offset) ^ (rng.random(800) < 0.03),
                                f'{name}{i}.json') for i, offset in enumerate((-.01, 0, .01))]
    ours, base = runs(0.65, 'a'), runs(0.60, 'b')
    one = bootstrap_intervals(ours[0], n_resamples=500)['accuracy/top1']
    several = seed_intervals(ours, n_resamples=500)['accuracy/top1']
    assert several.num_seeds == 3
    assert several.value == pytest.approx(np.mean([r.values()['accuracy/top1']
                                                   for r in ours]))
    assert several.low < several.value < several.high
    assert several.high - several.low > one.high - one.low
    delta = seed_paired_deltas(ours, base, n_resamples=500)['accuracy/top1']
    assert delta.excludes_zero() and delta.num_seeds == (3, 3)
    assert delta.prob_improvement == 1.0 and delta.p_value < 0.01
    assert seed_paired_deltas(ours[:1], base[:1], n_resamples=50)[
        'accuracy/top1'].prob_improvement is None


def test_probability_of_improvement_counts_run_pairs():
    """rliable's P(a > b): over all pairs of runs, a win 1, a tie 1/2."""
    from mixedae.stats.seeds import prob_improvement
    a, b = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 4.0], [2.0, 6.0]])
    assert prob_improvement(a, b) == [(0 + 0 + .5 + .5 + 1 + 1) / 6, 3 / 6]
    assert prob_improvement(a[:1], b) is None


# ------------------------------------------------------------------ segmentation


def random_seg_results(rng, num_images=12, classes=6, size=24, quality=0.7):
    """IoUMetric's per-image areas of random label maps and predictions: class 4 is
    never there (union 0: left out), class 5 only predicted (IoU 0: counted)."""
    from mmseg.evaluation import IoUMetric
    results = []
    for _ in range(num_images):
        label = torch.from_numpy(rng.integers(0, 4, (size, size)))
        label[:2] = 255
        pred = torch.where(torch.from_numpy(rng.random((size, size)) < quality), label,
                           torch.from_numpy(rng.choice([0, 1, 2, 3, 5], (size, size))))
        pred[pred == 255] = 0
        results.append(IoUMetric.intersect_and_union(pred, label, classes, 255))
    return results


def iou_scorer(results, name='a.json', iou_metrics=('mIoU', )) -> IoUScorer:
    areas = {n: np.stack([r[i].numpy() for r in results]).astype(np.int64)
             for i, n in enumerate(AREAS)}
    keys = ['aAcc', 'mIoU', 'mAcc', 'mDice', 'mFscore', 'mPrecision', 'mRecall']
    keys = keys[:3] if list(iou_metrics) == ['mIoU'] else keys
    return IoUScorer(name, np.arange(len(results)), keys, areas, list(iou_metrics))


def mmseg_metrics(results, iou_metrics) -> dict:
    from mmseg.evaluation import IoUMetric
    metric = IoUMetric(iou_metrics=list(iou_metrics))
    metric.dataset_meta = dict(classes=[str(c) for c in range(6)])
    return metric.compute_metrics(list(results))


def test_iou_from_areas_equals_iou_metric_on_every_resampled_list():
    """The scorer on counts = IoUMetric on the list with the drawn images repeated."""
    rng = np.random.default_rng(0)
    results = random_seg_results(rng)
    metrics = ('mIoU', 'mDice', 'mFscore')
    scorer = iou_scorer(results, iou_metrics=metrics)
    for counts in [np.ones(12, np.int64), np.bincount(rng.integers(12, size=12),
                                                      minlength=12)]:
        ours = dict(zip(scorer.keys, scorer.score(counts[None])[0]))
        theirs = mmseg_metrics([r for r, c in zip(results, counts) for _ in range(c)], metrics)
        assert set(ours) == set(theirs)
        for key, value in theirs.items():       # IoUMetric rounds to 2 decimals
            assert ours[key] == pytest.approx(float(value), abs=0.005 + 1e-9), key


def test_planted_miou_gain_excludes_zero():
    rng = np.random.default_rng(1)
    worse = random_seg_results(rng, num_images=40, quality=0.6)
    better = random_seg_results(np.random.default_rng(1), num_images=40, quality=0.75)
    delta = paired_deltas(iou_scorer(better, 'b.json'), iou_scorer(worse),
                          n_resamples=500)['mIoU']
    assert delta.delta > 0 and delta.excludes_zero() and delta.p_value < 0.01
    same = paired_deltas(iou_scorer(worse, 'b.json'), iou_scorer(worse), n_resamples=100)
    assert all((d.delta, d.low, d.high) == (0, 0, 0) for d in same.values())


# ------------------------------------------------------------------ detection


def synthetic_coco(rng, num_images=40, num_cats=3, detect=0.8):
    """A COCO ground truth and results: jittered copies of the objects (a fraction
    ``detect`` of them), random boxes, a crowd object now and then; scores rounded to 0.1
    so that one image often has equal scores in a category (the accumulation's tie
    order)."""
    images = [dict(id=i + 1, width=200, height=200) for i in range(num_images)]
    anns, dets = [], []
    for img in images:
        for _ in range(rng.integers(0, 5)):
            x, y, w, h = *rng.uniform(0, 150, 2), *rng.uniform(5, 60, 2)
            cat = int(rng.integers(1, num_cats + 1))
            anns.append(dict(id=len(anns) + 1, image_id=img['id'], category_id=cat,
                             bbox=[x, y, w, h], area=w * h, iscrowd=int(rng.random() < .05)))
            for _ in range(rng.integers(1, 3) if rng.random() < detect else 0):
                j = rng.normal(0, 4, 4)
                dets.append(dict(image_id=img['id'], category_id=cat, score=float(
                    np.round(rng.uniform(.3, 1), 1)), bbox=[x + j[0], y + j[1],
                                                            abs(w + j[2]) + 1, abs(h + j[3]) + 1]))
        for _ in range(rng.integers(0, 3)):
            dets.append(dict(image_id=img['id'], category_id=int(rng.integers(1, num_cats + 1)),
                             bbox=[*rng.uniform(0, 150, 2), *rng.uniform(5, 50, 2)],
                             score=float(np.round(rng.random(), 1))))
    gt = COCO()
    gt.dataset = dict(images=images, annotations=anns,
                      categories=[dict(id=c + 1, name=str(c)) for c in range(num_cats)])
    quiet(gt.createIndex)
    return gt, dets


def coco_scorer(gt, dets, name='a.json') -> CocoScorer:
    matches = match_images(gt, copy.deepcopy(dets), 'bbox', sorted(gt.cats), sorted(gt.imgs),
                           IOU_THRS, MAX_DETS)
    return CocoScorer(name, {'bbox': matches},
                      {f'coco/bbox_{item}': ('bbox', item) for item in AP_ITEMS}, 'gt')


def pycocotools_on_list(gt, dets, image_list) -> COCOeval:
    """pycocotools' evaluate, then its accumulate and summarize on ``image_list`` (image
    positions, duplicates allowed), by handing accumulate the per-image entries of that
    list."""
    evaluator = COCOeval(gt, quiet(gt.loadRes, copy.deepcopy(dets)), 'bbox')
    params = evaluator.params
    params.catIds, params.imgIds = sorted(gt.cats), sorted(gt.imgs)
    params.maxDets, params.iouThrs = MAX_DETS, IOU_THRS
    quiet(evaluator.evaluate)
    n, areas = len(params.imgIds), len(params.areaRng)
    evaluator.evalImgs = [evaluator.evalImgs[(k * areas + a) * n + i]
                          for k in range(len(params.catIds)) for a in range(areas)
                          for i in image_list]
    evaluator._paramsEval.imgIds = params.imgIds = list(range(len(image_list)))
    quiet(evaluator.accumulate)
    quiet(evaluator.summarize)
    return evaluator


def test_coco_identity_resample_is_pycocotools_ap():
    gt, dets = synthetic_coco(np.random.default_rng(0))
    reference = pycocotools_on_list(gt, dets, range(40))
    values = coco_scorer(gt, dets).values()
    assert list(values.values()) == reference.stats[:6].tolist()
    assert values['coco/bbox_mAP'] > 0.1


def test_coco_resampled_accumulation_is_pycocotools_on_the_resampled_list():
    """Exactly pycocotools' precision array on lists with duplicated images, equal scores
    within an image included."""
    rng = np.random.default_rng(1)
    gt, dets = synthetic_coco(rng)
    scorer = coco_scorer(gt, dets)
    matches = scorer.matches['bbox']
    assert any(b.group is not None for blocks in matches.blocks for b in blocks)
    for _ in range(3):
        counts = np.bincount(rng.integers(40, size=40), minlength=40)
        reference = pycocotools_on_list(gt, dets, np.repeat(np.arange(40), counts))
        np.testing.assert_array_equal(accumulate_precision(matches, counts),
                                      reference.eval['precision'][..., 2])
        assert scorer.score(counts[None])[0].tolist() == reference.stats[:6].tolist()


def test_coco_batched_accumulation_is_pycocotools_on_each_list():
    """Many resamples at once (the weighted path where an image has no equal scores, the
    copy-by-copy one where it has) give pycocotools' precision on each list."""
    rng = np.random.default_rng(3)
    for rounded in (False, True):
        gt, dets = synthetic_coco(rng)
        if not rounded:                              # distinct scores: no ties anywhere
            for i, det in enumerate(dets):
                det['score'] = float(rng.random()) + 1e-9 * i
        matches = coco_scorer(gt, dets).matches['bbox']
        tied = any(b.group is not None for blocks in matches.blocks for b in blocks)
        assert tied == rounded
        counts = np.stack([np.bincount(rng.integers(40, size=40), minlength=40)
                           for _ in range(4)] + [np.zeros(40, np.int64)])
        precision = accumulate_precisions(matches, counts)
        for row, c in zip(precision, counts):
            reference = pycocotools_on_list(gt, dets, np.repeat(np.arange(40), c))
            np.testing.assert_array_equal(row, reference.eval['precision'][..., 2])


def test_planted_coco_gain_excludes_zero():
    """b = a's detections less a random third: lower recall, lower AP, found."""
    rng = np.random.default_rng(2)
    gt, dets = synthetic_coco(rng, num_images=60, detect=0.9)
    fewer = [det for det in dets if rng.random() > 1 / 3]
    a, b = coco_scorer(gt, dets), coco_scorer(gt, fewer, 'b.json')
    deltas = paired_deltas(a, b, n_resamples=200)
    assert deltas['coco/bbox_mAP'].delta > 0 and deltas['coco/bbox_mAP'].excludes_zero()
    same = paired_deltas(a, coco_scorer(gt, dets, 'c.json'), n_resamples=50)
    assert all((d.delta, d.low, d.high) == (0, 0, 0) for d in same.values())
