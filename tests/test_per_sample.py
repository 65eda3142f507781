"""Per-sample results: written by the tiny transfer runs (configs/demo) next to their
metrics (detection and segmentation: checked in their transfer tests), and by each metric
on synthetic predictions, and read back by mixedae.stats to the logged values; bad files
named."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import (CONFIGS, ROOT, assert_recomputes, per_sample_dir,
                      save_pretraining_checkpoint)
from mixedae.convert import convert_checkpoint
from mixedae.data import COCO_CLASSES, make_tiny_coco, make_tiny_imagenet
from mixedae.evaluation.per_sample_hook import write_evaluation
from mixedae.evaluation.per_sample_writer import save_npz
from mixedae.stats import PerSampleFileError, load_scorer
from mixedae.stats.per_sample_files import FORMAT, file_sha256
from test_transfer_detection import train_tiny

TINY_LINEAR = CONFIGS / 'demo/cls-linear_vit-tiny-p8_tiny.py'
TWO_ITERS = ['train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2']


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('pretrain') / 'pre.pth'
    save_pretraining_checkpoint(path)
    return path


@pytest.mark.slow
def test_classification_runs_write_per_sample_results(tmp_path, pretrained):
    """Two validations (iterations 1 and 2) leave the second's files only; tools/test.py
    writes test.json; both recompute the logged top-1 from per-image 0/1."""
    make_tiny_imagenet(tmp_path / 'imagenet', seed=0)
    convert_checkpoint(str(pretrained), 'mmpretrain', str(tmp_path / 'cls.pth'), num_heads=4)
    roots = [f'{s}_dataloader.dataset.data_root={tmp_path / "imagenet"}'
             for s in ('train', 'val', 'test')]
    work = tmp_path / 'work'
    logged = train_tiny(TINY_LINEAR, work, [
        f'model.backbone.init_cfg.checkpoint={tmp_path / "cls.pth"}', *TWO_ITERS,
        'train_cfg.val_interval=1', *roots])
    folder = per_sample_dir(work)
    assert sorted(p.name for p in folder.iterdir()) == ['val-iter_2.npz', 'val.json']
    manifest = json.loads((folder / 'val.json').read_text())
    assert (manifest['kind'], manifest['mode'], manifest['step']['iter']) == (
        'classification', 'val', 2)
    assert manifest['num_images'] == 16 and manifest['metric_keys'] == ['accuracy/top1']
    assert manifest['metrics']['accuracy/top1'] == pytest.approx(logged['accuracy/top1'])
    with np.load(folder / 'val-iter_2.npz', allow_pickle=False) as npz:
        assert npz['image_ids'][0].startswith('val/')       # relative to the data root
        np.testing.assert_array_equal(npz['correct'][:, 0], npz['pred_label'] == npz['gt_label'])
    assert_recomputes(folder / 'val.json', logged, 1e-4)

    out = subprocess.run([sys.executable, str(ROOT / 'tools/test.py'), str(TINY_LINEAR),
                          str(work / 'iter_2.pth'), '--work-dir', str(tmp_path / 'test'),
                          '--cfg-options', *roots], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    test_manifest = per_sample_dir(tmp_path / 'test') / 'test.json'
    test = json.loads(test_manifest.read_text())
    assert test['mode'] == 'test' and test['step'] == {'checkpoint': str(work / 'iter_2.pth')}
    assert_recomputes(test_manifest, test['metrics'], 1e-4)
    assert test['metrics'] == manifest['metrics']        # same weights, same images


# ------------------------------------------------------------------ metric -> files -> metric


def round_trip(metric, samples: list, folder: Path, data_root=None) -> tuple:
    """Evaluate ``samples`` with ``metric``, write its per-sample files as the hook does,
    read them back: (logged metrics, recomputed metrics)."""
    metric.process({}, samples)
    logged = metric.evaluate(len(samples))
    write_evaluation(str(folder), 'val', 'val-iter_1', dict(iter=1), logged, metric,
                     data_root)
    return logged, load_scorer(str(folder / 'val.json')).values()


def test_accuracy_round_trip(tmp_path):
    """Scores for 200 images (top-5 of 10 classes): the files give back the logged
    top-1 and top-5, with ids relative to the data root."""
    from mixedae.evaluation import PerSampleAccuracy
    rng = np.random.default_rng(0)
    metric = PerSampleAccuracy(topk=(1, 5))
    metric.dataset_meta = dict(classes=[str(c) for c in range(10)])
    samples = [dict(pred_score=torch.softmax(torch.randn(10) + 3 * torch.eye(10)[i % 10], 0),
                    gt_label=torch.tensor([i % 10 if rng.random() < .7 else (i + 1) % 10]),
                    img_path=f'{tmp_path}/val/{i:03d}.png') for i in range(200)]
    logged, values = round_trip(metric, samples, tmp_path / 'per_sample', str(tmp_path))
    assert 40 < logged['accuracy/top1'] < logged['accuracy/top5'] < 100
    assert values == pytest.approx(logged, abs=1e-4)
    with np.load(tmp_path / 'per_sample/val-iter_1.npz', allow_pickle=False) as npz:
        assert npz['image_ids'][:2].tolist() == ['val/000.png', 'val/001.png']


def test_iou_round_trip(tmp_path):
    """Label maps of 3 classes and predictions 80 % right: the per-image areas give back
    the logged aAcc, mIoU, mAcc."""
    from mixedae.evaluation import PerSampleIoUMetric
    rng = np.random.default_rng(0)
    metric = PerSampleIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=['a', 'b', 'c', 'd'])
    samples = []
    for i in range(10):
        label = torch.from_numpy(rng.integers(0, 3, (1, 32, 32)))
        pred = torch.where(torch.from_numpy(rng.random((1, 32, 32)) < .8), label,
                           torch.from_numpy(rng.integers(0, 4, (1, 32, 32))))
        samples.append(dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=label),
                            img_path=f'img_{i}.jpg'))
    logged, values = round_trip(metric, samples, tmp_path)
    assert set(values) == {'aAcc', 'mIoU', 'mAcc'} and logged['mIoU'] > 50
    assert values == pytest.approx({k: float(v) for k, v in logged.items()}, abs=0.005 + 1e-9)


def test_coco_round_trip(tmp_path):
    """Jittered ground-truth boxes and masks, plus a false positive an image (AP well
    above 0): the detections written with results2json give back the logged box and
    mask AP."""
    from pycocotools.coco import COCO
    from mixedae.evaluation import PerSampleCocoMetric
    make_tiny_coco(tmp_path / 'coco', seed=0, num_train=1, num_val=8)
    ann = tmp_path / 'coco/annotations/instances_val2017.json'
    gt, rng = COCO(str(ann)), np.random.default_rng(0)
    metric = PerSampleCocoMetric(ann_file=str(ann), metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=COCO_CLASSES)
    samples = []
    for img_id, info in gt.imgs.items():
        anns = gt.loadAnns(gt.getAnnIds(imgIds=img_id))
        boxes = np.array([a['bbox'] for a in anns] + [[5, 5, 30, 30]], np.float32)
        boxes[:, 2:] += boxes[:, :2]
        masks = np.stack([gt.annToMask(a) for a in anns]
                         + [np.ones((info['height'], info['width']), np.uint8)])
        labels = [COCO_CLASSES.index(gt.cats[a['category_id']]['name']) for a in anns] + [0]
        samples.append(dict(img_id=img_id, ori_shape=(info['height'], info['width']),
                            pred_instances=dict(
                                bboxes=torch.from_numpy(boxes + rng.normal(0, 2, boxes.shape)),
                                scores=torch.from_numpy(rng.uniform(.2, 1, len(labels))),
                                labels=torch.tensor(labels),
                                masks=torch.from_numpy(masks.astype(bool)))))
    logged, values = round_trip(metric, samples, tmp_path)
    assert logged['coco/bbox_mAP'] > 0.3 and logged['coco/segm_mAP'] > 0.3
    assert values == pytest.approx(logged, abs=0.0005 + 1e-9)


# ------------------------------------------------------------------ bad files


def write_classification_files(folder: Path, **arrays) -> Path:
    """A valid classification per-sample set of 4 images (``arrays`` replace some)."""
    data = dict(image_ids=np.array([f'val/{i}.png' for i in range(4)]),
                gt_label=np.arange(4), pred_label=np.array([0, 1, 0, 0]),
                correct=np.array([[1], [1], [0], [0]], np.uint8))
    data.update(arrays)
    entry = save_npz(str(folder / 'val-iter_2.npz'), data)
    manifest = dict(format=FORMAT, kind='classification', mode='val', step=dict(iter=2),
                    metrics={'accuracy/top1': 50.0}, metric_keys=['accuracy/top1'],
                    class_names=list('abcd'), num_images=4, files=dict(arrays=entry),
                    ids=dict(where='arrays:image_ids', meaning='path'),
                    settings=dict(topk=[1], thrs=[0.0]))
    (folder / 'val.json').write_text(json.dumps(manifest))
    return folder / 'val.json'


def test_valid_files_load(tmp_path):
    assert load_scorer(str(write_classification_files(tmp_path))).values() == {
        'accuracy/top1': 50.0}


def rewrite_manifest(path: Path, **changes) -> None:
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize('damage, message', [
    (lambda m: m.unlink(), r'per-sample manifest .*val.json does not exist'),
    (lambda m: m.write_text(m.read_text()[:40]), r'val.json is not valid JSON \(truncated'),
    (lambda m: rewrite_manifest(m, format='other/9'), r"format 'other/9', expected"),
    (lambda m: rewrite_manifest(m, files={}), r'val.json lacks files.arrays'),
    (lambda m: (m.parent / 'val-iter_2.npz').unlink(),
     r'val-iter_2.npz \(files.arrays of .*val.json\) does not exist'),
    (lambda m: (m.parent / 'val-iter_2.npz').write_bytes(
        (m.parent / 'val-iter_2.npz').read_bytes()[:100]),
     r'val-iter_2.npz does not match the sha256 that .*val.json records'),
    (lambda m: rewrite_manifest(m, num_images=5),
     r"val-iter_2.npz: array 'image_ids' has shape \(4,\), expected \(5,\)"),
])
def test_bad_files_are_named(tmp_path, damage, message):
    manifest = write_classification_files(tmp_path)
    damage(manifest)
    with pytest.raises(PerSampleFileError, match=message):
        load_scorer(str(manifest))


def test_missing_and_pickled_arrays_are_refused(tmp_path):
    manifest = write_classification_files(tmp_path)
    npz = tmp_path / 'val-iter_2.npz'
    np.savez(npz, image_ids=np.arange(4), gt_label=np.arange(4), pred_label=np.arange(4))
    rewrite_manifest(manifest, files=dict(arrays=dict(name=npz.name,
                                                      sha256=file_sha256(str(npz)))))
    with pytest.raises(PerSampleFileError, match=r"val-iter_2.npz has no array 'correct'"):
        load_scorer(str(manifest))
    np.savez(npz, image_ids=np.array([{'x': 1}] * 4, dtype=object), gt_label=np.arange(4),
             pred_label=np.arange(4), correct=np.ones((4, 1)))
    rewrite_manifest(manifest, files=dict(arrays=dict(name=npz.name,
                                                      sha256=file_sha256(str(npz)))))
    with pytest.raises(PerSampleFileError, match=r'val-iter_2.npz cannot be read: Object '
                       'arrays cannot be loaded'):
        load_scorer(str(manifest))
    with pytest.raises(TypeError, match="'image_ids' holds Python objects"):
        write_classification_files(tmp_path, image_ids=np.array([None] * 4))


def test_changed_annotation_file_is_named(tmp_path):
    """A detection manifest whose annotation file changed since the evaluation."""
    ann = tmp_path / 'instances_val.json'
    ann.write_text(json.dumps(dict(
        images=[dict(id=1, width=10, height=10)], categories=[dict(id=1, name='a')],
        annotations=[dict(id=1, image_id=1, category_id=1, bbox=[1, 1, 4, 4], area=16,
                          iscrowd=0)])))
    (tmp_path / 'val-iter_2.bbox.json').write_text(json.dumps(
        [dict(image_id=1, category_id=1, bbox=[1, 1, 4, 4], score=0.9)]))
    files = dict(bbox=dict(name='val-iter_2.bbox.json',
                           sha256=file_sha256(str(tmp_path / 'val-iter_2.bbox.json'))))
    items = ['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']
    manifest = tmp_path / 'val.json'
    manifest.write_text(json.dumps(dict(
        format=FORMAT, kind='detection', mode='val', step=dict(iter=2), metrics={},
        metric_keys=[f'coco/bbox_{i}' for i in items], class_names=['a'], num_images=1,
        ids=dict(where='settings:image_ids', meaning='COCO image id'),
        files=files, settings=dict(
            ann_file=str(ann), ann_sha256=file_sha256(str(ann)), cat_ids=[1], image_ids=[1],
            iou_thrs=np.linspace(.5, .95, 10).tolist(), max_dets=[100, 300, 1000],
            iou_types=['bbox'], metric_items=items, prefix='coco'))))
    assert load_scorer(str(manifest)).values()['coco/bbox_mAP'] == pytest.approx(1.0)
    ann.write_text(ann.read_text().replace('"area": 16', '"area": 15'))
    with pytest.raises(PerSampleFileError, match=r'annotation file .*instances_val.json '
                       r'does not match the sha256 that .*val.json records'):
        load_scorer(str(manifest))
