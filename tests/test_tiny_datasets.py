"""Tiny ImageNet / COCO / ADE20K generators: determinism, layouts read by the real OpenMMLab
dataset classes, perfect scores from the real metrics on GT-as-prediction, and the CLI."""
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from mixedae.data import (COCO_CLASSES, SHAPES, imagenet_class_names, make_tiny_ade20k,
                          make_tiny_coco, make_tiny_imagenet, object_hues, render_scene)

REPO = Path(__file__).resolve().parents[1]


def load_cli():
    spec = importlib.util.spec_from_file_location('make_tiny_datasets',
                                                  REPO / 'tools' / 'make_tiny_datasets.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file's bytes, but the record of how the tool made the folder."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file() and p.name != 'tiny_dataset.json'}


@pytest.fixture(scope='module')
def cli():
    return load_cli()


# the generators' own defaults, spelled out for the CLI (whose defaults are the demo's)
SMALL = ['--imagenet-classes', '4', '--imagenet-train', '16', '--imagenet-val', '4',
         '--coco-train', '16', '--coco-val', '8', '--coco-size', '128',
         '--ade-train', '16', '--ade-val', '8', '--ade-size', '128', '--max-objects', '4',
         '--scene-radius', '0.08', '0.2', '--scene-hue-classes', 'none',
         '--ade-background', 'ignore']


@pytest.fixture(scope='module')
def tiny_root(cli, tmp_path_factory) -> Path:
    """All three datasets at the generators' default sizes, written by the CLI (seed 0)."""
    root = tmp_path_factory.mktemp('data') / 'tiny'
    assert cli.main(['--out', str(root), '--seed', '0', *SMALL]) == 0
    return root


def test_same_seed_gives_identical_bytes(tiny_root, tmp_path):
    make_tiny_imagenet(tmp_path / 'imagenet', seed=0)
    make_tiny_coco(tmp_path / 'coco', seed=0)
    make_tiny_ade20k(tmp_path / 'ade', seed=0)
    for name in ('imagenet', 'coco', 'ade'):
        assert read_tree(tmp_path / name) == read_tree(tiny_root / name), name
    make_tiny_coco(tmp_path / 'coco_seed1', seed=1)
    assert read_tree(tmp_path / 'coco_seed1') != read_tree(tiny_root / 'coco')


def test_renderer_masks_are_the_drawn_pixels():
    rng = np.random.default_rng(0)
    for _ in range(10):
        scene = render_scene(rng, 96, [0, 1, 2, 0])
        assert scene.masks.sum(axis=0).max() <= 1  # objects never overlap
        free = ~scene.masks.any(axis=0)
        for mask in scene.masks:
            ring = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & free
            inside, outside = scene.image[mask].astype(float), scene.image[ring].astype(float)
            assert inside.std(axis=0).max() < 10  # one flat colour + noise
            assert np.abs(inside.mean(axis=0) - outside.mean(axis=0)).max() > 30


def test_coco_boxes_and_areas_agree_with_masks(tiny_root):
    from pycocotools.coco import COCO
    coco = COCO(str(tiny_root / 'coco/annotations/instances_train2017.json'))
    anns = coco.loadAnns(coco.getAnnIds())
    assert len({a['id'] for a in anns}) == len(anns) > len(coco.getImgIds())
    assert {c['name'] for c in coco.loadCats(coco.getCatIds())} == set(COCO_CLASSES)
    for ann in anns:
        mask = coco.annToMask(ann)
        ys, xs = np.nonzero(mask)
        x, y, w, h = ann['bbox']
        mask_box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        # the mask lies in the box; only sub-pixel polygon tips fall outside the mask
        assert (mask_box[:2] >= np.array([x, y]) - 0.5).all()
        assert (mask_box[2:] <= np.array([x + w, y + h]) + 0.5).all()
        assert np.abs(mask_box - [x, y, x + w, y + h]).max() <= 1.5
        assert mask.sum() == ann['area'] and ann['iscrowd'] == 0


def test_imagenet_layout_loads_with_custom_dataset(tiny_root):
    from mmpretrain.datasets import CustomDataset
    root = str(tiny_root / 'imagenet')
    train = CustomDataset(data_root=root, data_prefix='train')
    assert train.metainfo['classes'] == tuple(imagenet_class_names(4))
    assert np.bincount([train.get_data_info(i)['gt_label'] for i in range(len(train))]).tolist() \
        == [16] * 4
    val_folders = CustomDataset(data_root=root, data_prefix='val')
    val_meta = CustomDataset(data_root=root, data_prefix='val', ann_file='meta/val.txt')
    assert [val_folders.get_data_info(i)['gt_label'] for i in range(16)] \
        == [val_meta.get_data_info(i)['gt_label'] for i in range(16)]
    unlabeled = CustomDataset(data_root=root, data_prefix='train', with_label=False)
    assert len(unlabeled) == 64 and 'gt_label' not in unlabeled.get_data_info(0)


def test_imagenet_classes_are_separable_by_colour(tiny_root):
    def hue_histogram(path: str) -> np.ndarray:
        hsv = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2HSV)
        hues = hsv[..., 0][(hsv[..., 1] > 100) & (hsv[..., 2] > 150)]  # the object
        return np.bincount(hues // 10, minlength=18) / max(len(hues), 1)

    def features(split: str) -> tuple[np.ndarray, np.ndarray]:
        lines = (tiny_root / f'imagenet/meta/{split}.txt').read_text().split('\n')[:-1]
        paths, labels = zip(*(line.split() for line in lines))
        feats = [hue_histogram(str(tiny_root / 'imagenet' / split / p)) for p in paths]
        return np.array(feats), np.array(labels, int)

    x_train, y_train = features('train')
    x_val, y_val = features('val')
    centroids = np.stack([x_train[y_train == c].mean(0) for c in range(4)])
    pred = np.linalg.norm(x_val[:, None] - centroids[None], axis=-1).argmin(1)
    assert (pred == y_val).mean() >= 0.9


def test_coco_layout_loads_and_gt_gets_perfect_map(tiny_root):
    from mmdet.datasets import CocoDataset
    from mmdet.evaluation import CocoMetric
    root = tiny_root / 'coco'
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    with DefaultScope.overwrite_default_scope('mmdet'):
        train = CocoDataset(data_root=str(root), ann_file='annotations/instances_train2017.json',
                            data_prefix=dict(img='train2017/'), pipeline=pipeline,
                            metainfo=dict(classes=COCO_CLASSES))
        val = CocoDataset(data_root=str(root), ann_file='annotations/instances_val2017.json',
                          data_prefix=dict(img='val2017/'), pipeline=pipeline,
                          metainfo=dict(classes=COCO_CLASSES), test_mode=True)
        samples = [val[i] for i in range(len(val))]
    assert len(train) == 16 and len(val) == 8
    assert all(len(train.get_data_info(i)['instances']) > 0 for i in range(len(train)))
    metric = CocoMetric(ann_file=str(root / 'annotations/instances_val2017.json'),
                        metric=['bbox', 'segm'])
    metric.dataset_meta = val.metainfo
    for s in samples:
        assert len(s['gt_bboxes']) > 0 and s['img'].shape == (128, 128, 3)
        pred = dict(bboxes=s['gt_bboxes'].tensor, scores=torch.ones(len(s['gt_bboxes'])),
                    labels=torch.as_tensor(s['gt_bboxes_labels']),
                    masks=torch.from_numpy(s['gt_masks'].masks.astype(bool)))
        metric.process({}, [dict(img_id=s['img_id'], ori_shape=s['ori_shape'],
                                 pred_instances=pred)])
    results = metric.evaluate(len(samples))
    assert results['coco/bbox_mAP'] == pytest.approx(1.0)
    assert results['coco/segm_mAP'] == pytest.approx(1.0)


def test_ade20k_layout_loads_and_gt_gets_perfect_miou(tiny_root):
    from mmengine.structures import PixelData
    from mmseg.datasets import ADE20KDataset
    from mmseg.evaluation import IoUMetric
    root = str(tiny_root / 'ade/ADEChallengeData2016')
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', reduce_zero_label=True), dict(type='PackSegInputs')]
    with DefaultScope.overwrite_default_scope('mmseg'):
        train = ADE20KDataset(data_root=root, pipeline=pipeline, data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'))
        val = ADE20KDataset(data_root=root, pipeline=pipeline, data_prefix=dict(
            img_path='images/validation', seg_map_path='annotations/validation'))
        packed = [val[i] for i in range(len(val))]
    assert len(train) == 16 and len(val) == 8
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = val.metainfo
    for item in packed:
        sample = item['data_samples']
        gt = sample.gt_sem_seg.data  # (1, H, W): 0..2 shapes, 255 = "other"
        assert set(gt.unique().tolist()) <= {0, 1, 2, 255} and (gt != 255).any()
        sample.pred_sem_seg = PixelData(data=gt.clone())
        metric.process({}, [sample.to_dict()])
    results = metric.evaluate(len(packed))
    assert results['mIoU'] == pytest.approx(100.0) and results['aAcc'] == pytest.approx(100.0)


def test_demo_ade20k_labels_the_background_and_loads_with_the_demo_classes(tmp_path):
    """The demo's ADE set (background labelled, hues by shape) through the demo config's
    dataset settings: every pixel is one of its four classes, and GT scores 100 mIoU."""
    from mmengine.config import Config
    from mmengine.structures import PixelData
    from mmseg.datasets import ADE20KDataset
    from mmseg.evaluation import IoUMetric
    make_tiny_ade20k(tmp_path / 'ade', seed=0, num_train=1, num_val=6, size=64, max_objects=3,
                     label_background=True, radius_range=(0.15, 0.3), object_classes=3,
                     hue_jitter=40.)
    demo = Config.fromfile(str(REPO / 'configs/demo/seg-ade20k_vit-tiny-p8_tiny.py'))
    classes = demo.val_dataloader.dataset.metainfo['classes']
    assert len(classes) == 1 + len(SHAPES) == demo.model.decode_head.num_classes
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', reduce_zero_label=True), dict(type='PackSegInputs')]
    with DefaultScope.overwrite_default_scope('mmseg'):
        val = ADE20KDataset(data_root=str(tmp_path / 'ade/ADEChallengeData2016'),
                            metainfo=dict(classes=classes), pipeline=pipeline,
                            data_prefix=dict(img_path='images/validation',
                                             seg_map_path='annotations/validation'))
        packed = [val[i] for i in range(len(val))]
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = val.metainfo
    seen = set()
    for item in packed:
        sample = item['data_samples']
        gt = sample.gt_sem_seg.data  # 0 = background ("wall"), 1..3 = the shapes
        seen |= set(gt.unique().tolist())
        sample.pred_sem_seg = PixelData(data=gt.clone())
        metric.process({}, [sample.to_dict()])
    assert seen == {0, 1, 2, 3}
    assert metric.evaluate(len(packed))['mIoU'] == pytest.approx(100.0)


def test_scene_hues_follow_the_shape_bands():
    rng = np.random.default_rng(0)
    for _ in range(20):
        kinds = rng.integers(0, len(SHAPES), size=3).tolist()
        hues = object_hues(rng, kinds, 3, 40.)
        scene = render_scene(rng, 64, kinds, hues, radius_range=(0.15, 0.3))
        hsv = cv2.cvtColor(scene.image, cv2.COLOR_BGR2HSV).astype(float)
        for kind, mask in zip(scene.kinds, scene.masks):
            hue = np.median(hsv[..., 0][mask])
            assert abs((hue - kind * 60 + 90) % 180 - 90) <= 40 + 3, (kind, hue)
    # 16 classes: a shape takes the hues of its classes (c % 3 == shape), one per object
    hues = object_hues(np.random.default_rng(1), [1] * 200, 16, 0.)
    assert set(np.round(hues, 2)) == {c * 180 / 16 for c in range(1, 16, 3)}
    assert object_hues(rng, [0, 1], None, 40.) is None
    with pytest.raises(ValueError, match='at least 3 classes'):
        object_hues(rng, [0, 1], 2, 40.)


def test_demo_datasets_fit_the_demo_configs(cli):
    """The CLI's defaults (the demo's datasets) are what configs/demo/* are set up for."""
    from mmengine.config import Config
    args = cli.parse_args([])
    demo = {name: Config.fromfile(str(REPO / 'configs/demo' / f'{name}_vit-tiny-p8_tiny.py'))
            for name in ('cls-finetune', 'cls-linear', 'det-coco', 'seg-ade20k')}
    for name in ('cls-finetune', 'cls-linear'):
        assert demo[name].model.head.num_classes == args.imagenet_classes, name
        assert demo[name].model.backbone.img_size == args.imagenet_size, name
    assert demo['det-coco'].image_size == (args.coco_size, ) * 2
    assert demo['det-coco'].metainfo['classes'] == COCO_CLASSES
    assert demo['seg-ade20k'].crop_size == (args.ade_size, ) * 2
    assert args.ade_background == 'label'
    assert len(demo['seg-ade20k'].metainfo['classes']) == 1 + len(SHAPES)
    assert (args.imagenet_train * args.imagenet_classes, args.imagenet_val *
            args.imagenet_classes, args.coco_val, args.ade_val) == (1024, 512, 256, 256)


def test_cli_rejects_an_empty_radius_range(cli, tmp_path):
    with pytest.raises(SystemExit, match='--scene-radius MIN 0.3 > MAX 0.1'):
        cli.main(['--out', str(tmp_path), '--which', 'coco', '--scene-radius', '0.3', '0.1'])


def test_cli_refuses_to_overwrite_without_force(cli, tmp_path, capsys):
    args = ['--out', str(tmp_path), '--which', 'coco', '--coco-train', '1', '--coco-val', '1',
            '--coco-size', '32']
    (tmp_path / 'coco').mkdir()  # an empty target is fine
    assert cli.main(args) == 0
    before = read_tree(tmp_path)
    assert cli.main(args + ['--seed', '1']) == 1
    assert 'not empty' in capsys.readouterr().err
    assert read_tree(tmp_path) == before
    assert cli.main(args + ['--seed', '1', '--force']) == 0
    assert read_tree(tmp_path) != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['coco']


def test_cli_interrupted_run_leaves_nothing(cli, tmp_path, monkeypatch):
    def interrupted(root, *args, **kwargs):
        (root / 'half-written.json').write_text('{')
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, 'make_tiny_coco', interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.main(['--out', str(tmp_path / 'tiny'), '--which', 'coco'])
    assert list((tmp_path / 'tiny').iterdir()) == []
