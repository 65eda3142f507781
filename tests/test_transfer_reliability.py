"""COCO and ADE20K transfer configs: bad data stops a run with the file's name (checked
loaders, DatasetCheckHook), the configs carry the reliability hooks, and the checked
pipelines give the samples the upstream loaders give."""
import copy
import functools
import json
import logging
import random
import re
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import HOOKS, DefaultScope
from mmengine.runner import Runner
from mmengine.utils import get_installed_path

from conftest import CONFIGS, unscoped
from mixedae.data import COCO_CLASSES, make_tiny_ade20k, make_tiny_coco
from mixedae.data.checks import DataLayoutError, check_dataset_annotations
from mixedae.data.loading import BadImageError, CheckedLoadAnnotations

DET = CONFIGS / 'benchmarks/detection'
SEG = CONFIGS / 'benchmarks/segmentation'
DET_CONFIGS = [DET / 'mask-rcnn_mixedae-vit-base-p16_simplefpn_lsj-100e_coco.py',
               DET / 'mask-rcnn_mixedae-vit-large-p16_simplefpn_lsj-100e_coco.py',
               CONFIGS / 'demo/det-coco_vit-tiny-p8_tiny.py']
SEG_CONFIGS = [SEG / 'upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py',
               SEG / 'upernet_mixedae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py',
               CONFIGS / 'demo/seg-ade20k_vit-tiny-p8_tiny.py']
# the large detection config inherits the ViT-B config's data settings unchanged
FULL_DET, TINY_DET = DET_CONFIGS[0], DET_CONFIGS[2]
FULL_SEG, TINY_SEG = SEG_CONFIGS[1], SEG_CONFIGS[2]
UPSTREAM_SEG = (Path(get_installed_path('mmseg')) /
                '.mim/configs/mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py')
SPLITS = ('train', 'val', 'test')
HOOK_TYPES = ['DatasetCheckHook', 'PerIterationSeedHook', 'NonFiniteLossHook', 'RunInfoHook',
              'PretrainedLoadCheckHook', 'PerSampleHook']


def unchecked(pipeline: list) -> list:
    """``pipeline`` with upstream's loaders in place of the checked ones."""
    return [dict(step, type=step['type'].replace('Checked', '')) for step in pipeline]


@functools.lru_cache(maxsize=None)
def parsed_config(path: Path) -> Config:
    return Config.fromfile(str(path))


def transfer_config(path: Path, data_root: Path) -> Config:
    """The config with every dataset at ``data_root`` (tiny COCO: its three classes)."""
    cfg = copy.deepcopy(parsed_config(path))
    for split in SPLITS:
        dataset = cfg[f'{split}_dataloader'].dataset
        dataset.data_root = str(data_root)
        if cfg.default_scope == 'mmdet':
            dataset.metainfo = dict(classes=COCO_CLASSES)
    return cfg


def build_dataset(cfg: Config, split: str, pipeline: list | None = None):
    """The ``split`` dataset of ``cfg``, built by its codebase (optionally on ``pipeline``)."""
    dataset_cfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
    if pipeline is not None:
        dataset_cfg.pipeline = pipeline
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import DATASETS
    else:
        from mmseg.registry import DATASETS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return DATASETS.build(dataset_cfg)


def index_of(dataset, key: str, path: Path) -> int:
    return next(i for i in range(len(dataset))
                if dataset.get_data_info(i)[key] == str(path))


class MMLoggerRecords(logging.Handler):
    """Collect what is logged to the current MMLogger inside the ``with`` block."""

    def __init__(self, records: list):
        super().__init__()
        self.records = records

    def emit(self, record):
        self.records.append(record.getMessage())

    def __enter__(self):
        MMLogger.get_current_instance().addHandler(self)

    def __exit__(self, *exc):
        MMLogger.get_current_instance().removeHandler(self)


def check_hook(cfg: Config):
    (hook,) = [h for h in cfg.custom_hooks if h.type == 'DatasetCheckHook']
    return HOOKS.build(hook)


def tiny_runner(cfg: Config, work_dir: Path) -> Runner:
    """A Runner of a tiny config, no pre-trained weights."""
    cfg.work_dir = str(work_dir)
    cfg.model.backbone.init_cfg = None
    if cfg.default_scope == 'mmdet':
        ann = f'{cfg.val_dataloader.dataset.data_root}/annotations/instances_val2017.json'
        cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = ann
    return Runner.from_cfg(cfg)


@pytest.fixture
def coco_root(tmp_path) -> Path:
    make_tiny_coco(tmp_path / 'coco', seed=0, num_train=4, num_val=2, size=64)
    return tmp_path / 'coco'


@pytest.fixture
def ade_root(tmp_path) -> Path:
    make_tiny_ade20k(tmp_path / 'ade', seed=0, num_train=3, num_val=2, size=64)
    return tmp_path / 'ade/ADEChallengeData2016'


# ---------------------------------------------------------------- the configs


@pytest.mark.parametrize('path', DET_CONFIGS + SEG_CONFIGS, ids=lambda p: p.stem)
def test_configs_use_checked_loaders_and_reliability_hooks(path):
    cfg = Config.fromfile(str(path))
    assert [h.type for h in cfg.custom_hooks] == HOOK_TYPES
    assert cfg.custom_hooks[2].action == 'stop'
    for hook in cfg.custom_hooks:
        HOOKS.build(hook)
    assert 'mixedae.modules' in cfg.custom_imports.imports
    if cfg.default_scope == 'mmdet':
        label_loader = 'mmdet.CheckedLoadAnnotations'     # COCO: instances without masks
    else:   # the demo names mmseg's transforms with the prefix, as it did before
        label_loader = ('mmseg.' if 'demo' in path.parts else '') + 'CheckedLoadAnnotations'
    for split in SPLITS:
        types = [step.type for step in cfg[f'{split}_dataloader'].dataset.pipeline]
        assert types[0] == 'CheckedLoadImageFromFile', (split, types)
        labels = [t for t in types if t.split('.')[-1].endswith('LoadAnnotations')]
        assert labels == [label_loader], (split, types)
        assert not any(t.split('.')[-1] == 'LoadImageFromFile' for t in types)


@pytest.mark.parametrize('path', SEG_CONFIGS[:2], ids=lambda p: p.stem)
def test_segmentation_pipelines_are_mmseg_ade20k_with_checked_loaders(path):
    ours, upstream = Config.fromfile(str(path)), Config.fromfile(str(UPSTREAM_SEG))
    for split in SPLITS:
        pipeline = ours[f'{split}_dataloader'].dataset.pipeline
        assert unscoped(unchecked(pipeline)) == unscoped(
            upstream[f'{split}_dataloader'].dataset.pipeline), split
        assert [s.type for s in pipeline][:2] == ['CheckedLoadImageFromFile', (
            'CheckedLoadAnnotations' if split == 'train' else 'Resize')]


def seeded_sample(dataset, index: int, seed: int = 3) -> dict:
    np.random.seed(seed)
    random.seed(seed)
    torch.manual_seed(seed)
    return dataset[index]


def assert_same_sample(a: dict, b: dict) -> None:
    assert torch.equal(a['inputs'], b['inputs'])
    sa, sb = a['data_samples'], b['data_samples']
    np.testing.assert_equal(dict(sa.metainfo), dict(sb.metainfo))
    if 'gt_instances' in sa:
        ga, gb = sa.gt_instances, sb.gt_instances
        assert torch.equal(ga.bboxes.tensor, gb.bboxes.tensor)
        assert torch.equal(ga.labels, gb.labels) and len(ga) > 0
        np.testing.assert_array_equal(ga.masks.masks, gb.masks.masks)
    if 'gt_sem_seg' in sa:
        assert torch.equal(sa.gt_sem_seg.data, sb.gt_sem_seg.data)


@pytest.mark.parametrize('path', [FULL_DET, TINY_DET, FULL_SEG, TINY_SEG],
                         ids=lambda p: p.stem)
def test_checked_pipelines_give_upstream_samples(path, coco_root, ade_root):
    """Same transforms in the same order with the same arguments (the loaders are
    subclasses of upstream's), hence the same samples under the same seed."""
    cfg = transfer_config(path, coco_root if 'coco' in path.name else ade_root)
    for split in ('train', 'val'):
        pipeline = cfg[f'{split}_dataloader'].dataset.pipeline
        checked, plain = (build_dataset(cfg, split), build_dataset(cfg, split,
                                                                    unchecked(pipeline)))
        pairs = list(zip(checked.pipeline.transforms, plain.pipeline.transforms,
                         strict=True))
        for ours, theirs in pairs:
            assert isinstance(ours, type(theirs))
            if type(ours) is type(theirs):
                assert repr(ours) == repr(theirs)
            else:   # a checked loader: upstream's settings, plus skip_bad
                assert type(ours).__name__.startswith('Checked')
                assert vars(theirs).items() <= vars(ours).items() and not ours.skip_bad
        assert sum(type(a) is not type(b) for a, b in pairs) == 2   # image + labels
        for index in range(min(len(checked), 2)):
            assert_same_sample(seeded_sample(checked, index), seeded_sample(plain, index))


# ---------------------------------------------------------------- COCO


@pytest.mark.parametrize('path', [FULL_DET, TINY_DET], ids=lambda p: p.stem)
def test_coco_empty_or_missing_image_is_named(path, coco_root):
    cfg = transfer_config(path, coco_root)
    train, val = build_dataset(cfg, 'train'), build_dataset(cfg, 'val')
    empty = Path(train.get_data_info(1)['img_path'])
    empty.write_bytes(b'')
    with pytest.raises(BadImageError, match=re.escape(f'{empty}: empty file (0 bytes)')):
        train[1]
    missing = Path(val.get_data_info(0)['img_path'])
    missing.unlink()
    with pytest.raises(BadImageError, match=re.escape(f'{missing}: no such file')):
        val[0]

    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=train),
                             val_dataloader=SimpleNamespace(dataset=val), val_loop=object())
    with pytest.raises(DataLayoutError, match=re.escape(
            f'val_dataloader.dataset ({coco_root}/annotations/instances_val2017.json): '
            f'1 of 2 referenced files do not exist: {missing}')):
        check_hook(cfg).before_train(runner)
    with pytest.raises(DataLayoutError, match=re.escape('test_dataloader.dataset (')):
        check_hook(cfg).before_test(SimpleNamespace(
            test_dataloader=SimpleNamespace(dataset=val)))


def test_coco_json_with_a_missing_image_stops_the_tiny_run(coco_root, tmp_path):
    """In mmdet's Runner the hook fails the run before the first iteration."""
    cfg = transfer_config(TINY_DET, coco_root)
    runner = tiny_runner(cfg, tmp_path / 'work')
    missing = sorted((coco_root / 'train2017').glob('*.jpg'))[2]
    missing.unlink()
    with pytest.raises(DataLayoutError, match=re.escape(
            f'train_dataloader.dataset ({coco_root}/annotations/instances_train2017.json): '
            f'1 of 4 referenced files do not exist: {missing}')):
        runner.train()
    assert runner.iter == 0 and not list((tmp_path / 'work').glob('*.pth'))


# ---------------------------------------------------------------- ADE20K


def resize_label(label: Path, width: int, height: int) -> None:
    cv2.imwrite(str(label), cv2.resize(cv2.imread(str(label), cv2.IMREAD_UNCHANGED),
                                       (width, height), interpolation=cv2.INTER_NEAREST))


@pytest.mark.parametrize('path', [SEG_CONFIGS[0], FULL_SEG, TINY_SEG], ids=lambda p: p.stem)
def test_ade20k_label_map_of_another_size_or_empty_image_is_named(path, ade_root):
    cfg = transfer_config(path, ade_root)
    for split, folder in (('train', 'training'), ('val', 'validation')):
        dataset = build_dataset(cfg, split)
        label = sorted((ade_root / 'annotations' / folder).glob('*.png'))[1]
        image = ade_root / 'images' / folder / label.with_suffix('.jpg').name
        index = index_of(dataset, 'seg_map_path', label)
        assert dataset.get_data_info(index)['img_path'] == str(image)
        resize_label(label, 48, 64)
        with pytest.raises(BadImageError, match=re.escape(
                f'{label}: label map is 48x64 (WxH) but its image {image} is 64x64')):
            dataset[index]
        image.write_bytes(b'')
        with pytest.raises(BadImageError, match=re.escape(f'{image}: empty file (0 bytes)')):
            dataset[index]


def test_ade20k_missing_label_map_stops_the_tiny_run(ade_root, tmp_path):
    """Upstream lists ADE20K's images and derives the label maps' names: the hook finds a
    label map that is not there (here in the validation set) before training starts."""
    cfg = transfer_config(TINY_SEG, ade_root)
    runner = tiny_runner(cfg, tmp_path / 'work')
    missing = sorted((ade_root / 'annotations/validation').glob('*.png'))[0]
    missing.unlink()
    with pytest.raises(DataLayoutError, match=re.escape(
            f'val_dataloader.dataset ({ade_root}/images/validation, {ade_root}/annotations/'
            f'validation): 1 of 4 referenced files do not exist: {missing}')):
        runner.train()
    assert runner.iter == 0 and not list((tmp_path / 'work').glob('*.pth'))


@pytest.mark.parametrize('path', [TINY_DET, TINY_SEG], ids=lambda p: p.stem)
def test_skip_bad_opt_in_draws_another_training_sample(path, coco_root, ade_root):
    """``--cfg-options train_dataloader.dataset.pipeline.0.skip_bad=True`` (and .1 for
    ADE20K's label loader) skips a bad training file instead of stopping."""
    seg = 'ade20k' in path.name
    cfg = transfer_config(path, ade_root if seg else coco_root)
    cfg.merge_from_dict({f'train_dataloader.dataset.pipeline.{i}.skip_bad': True
                         for i in ((0, 1) if seg else (0,))})
    dataset = build_dataset(cfg, 'train')
    bad = [dataset.get_data_info(0)['img_path']]
    Path(bad[0]).write_bytes(b'')
    if seg:   # and a label map of another size in another sample
        bad.append(dataset.get_data_info(1)['img_path'])
        resize_label(Path(dataset.get_data_info(1)['seg_map_path']), 48, 64)
    samples = [seeded_sample(dataset, i) for i in range(2)]
    assert all(s['data_samples'].img_path not in bad for s in samples)
    skipped = sum(t.num_skipped for t in dataset.pipeline.transforms[:2]
                  if hasattr(t, 'num_skipped'))
    assert skipped >= (2 if seg else 1)
    if seg:
        assert isinstance(dataset.pipeline.transforms[1], CheckedLoadAnnotations)


# ---------------------------------------------------------------- annotation faults


def break_coco_annotations(ann_file: Path) -> dict:
    """Four faults, one per annotation: a box of negative width, an unknown image id, an
    unknown category, no segmentation. Returns their annotation ids by fault."""
    coco = json.loads(ann_file.read_text())
    anns = coco['annotations']
    anns[0]['bbox'][2] = -3.0
    anns[1]['image_id'] = 999
    anns[2]['category_id'] = 77
    del anns[3]['segmentation']
    ann_file.write_text(json.dumps(coco))
    return {fault: f'annotation {ann["id"]} (image {ann["image_id"]})'
            for fault, ann in zip(('box', 'image', 'category', 'segmentation'), anns)}


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_annotation_faults_are_named_before_training(split, coco_root):
    """mmdet drops the first three silently and fails on the fourth with a bare
    KeyError: 'mask'; the hook names the file and the ids (training and evaluation)."""
    ann_file = coco_root / f'annotations/instances_{split}2017.json'
    faults = break_coco_annotations(ann_file)
    cfg = transfer_config(TINY_DET, coco_root)
    dataset = build_dataset(cfg, split)
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset),
                             val_dataloader=SimpleNamespace(dataset=dataset), val_loop=None,
                             test_dataloader=SimpleNamespace(dataset=dataset))
    with pytest.raises(DataLayoutError) as error:
        (check_hook(cfg).before_train if split == 'train' else
         check_hook(cfg).before_test)(runner)
    message = str(error.value)
    assert message.startswith(f'{split if split == "train" else "test"}_dataloader.dataset '
                               f'({ann_file}): ')
    for fault, where in faults.items():
        assert where in message, fault
    assert 'non-positive width' in message and 'no segmentation' in message

    records = []
    with MMLoggerRecords(records):                          # opted in: counted, logged
        assert check_dataset_annotations(dataset, 'x', skip_bad=True) == 4
    (warning,) = [m for m in records if str(ann_file) in m]
    assert '1 with box of non-positive width' in warning
    assert warning.endswith('(skip_bad=True: training goes on without them)')


def test_coco_instance_without_segmentation_is_named_by_the_loader(coco_root):
    """The issue-14 case: mmdet's LoadAnnotations raises a bare KeyError: 'mask'."""
    ann_file = coco_root / 'annotations/instances_train2017.json'
    coco = json.loads(ann_file.read_text())
    image_id = coco['annotations'][0]['image_id']
    del coco['annotations'][0]['segmentation']
    ann_file.write_text(json.dumps(coco))
    cfg = transfer_config(TINY_DET, coco_root)
    dataset = build_dataset(cfg, 'train')
    index = next(i for i in range(len(dataset))
                 if dataset.get_data_info(i)['img_id'] == image_id)
    path = dataset.get_data_info(index)['img_path']
    with pytest.raises(BadImageError, match=re.escape(
            f'{path}: instance(s) [0] of image id {image_id} have no segmentation')):
        dataset[index]
    unchecked_dataset = build_dataset(cfg, 'train', unchecked(
        cfg.train_dataloader.dataset.pipeline))
    with pytest.raises(KeyError, match='mask'):          # upstream: no file, no id
        unchecked_dataset[index]


def write_label_values(label: Path, values: list, dtype=np.uint8) -> None:
    seg = cv2.imread(str(label), cv2.IMREAD_UNCHANGED).astype(dtype)
    for i, value in enumerate(values):
        seg[i, :8] = value
    cv2.imwrite(str(label), seg)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_ade20k_label_values_outside_the_classes_are_named(split, ade_root):
    """Upstream: silently out of the metric (val) or an IndexError in the loss (train)."""
    cfg = transfer_config(TINY_SEG, ade_root)
    dataset = build_dataset(cfg, split)
    folder = 'training' if split == 'train' else 'validation'
    label = sorted((ade_root / 'annotations' / folder).glob('*.png'))[0]
    index = index_of(dataset, 'seg_map_path', label)
    # the demo's four classes of ADE20K's 150 (metainfo): mmseg maps ADE20K's other ids
    # to 255 (ignored); values that are no ADE20K id are named
    write_label_values(label, [0, 4, 150, 255])        # ignored, a class, ignored, ignored
    check_hook(cfg).before_test(SimpleNamespace(test_dataloader=SimpleNamespace(
        dataset=dataset)))                                  # binds the 4 classes
    dataset[index]
    write_label_values(label, [151, 200])
    with pytest.raises(BadImageError, match=re.escape(
            f'{label}: label values 151, 200 are not among the 150 classes (valid: 0..150, '
            '0 and 255 ignored (reduce_zero_label); the ids of classes outside the 4 of '
            'metainfo are ignored)')):
        dataset[index]
    write_label_values(label, [300], dtype=np.uint16)      # a 16-bit map: mmseg wraps 300
    with pytest.raises(BadImageError, match=re.escape(f'{label}: 16-bit label map')):
        dataset[index]
