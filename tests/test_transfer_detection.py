"""COCO transfer: MixedAEViT as an mmdet backbone, SimpleFPN, LN2d, layer decay, configs."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmcv.cnn import build_norm_layer
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from conftest import (CONFIGS, ROOT, assert_recomputes, per_sample_dir,
                      save_pretraining_checkpoint)
from mixedae.data import COCO_CLASSES, make_tiny_coco
from mixedae.stats.per_sample_files import file_sha256

TINY_DET = CONFIGS / 'demo/det-coco_vit-tiny-p8_tiny.py'
DET_CONFIGS = sorted((CONFIGS / 'benchmarks/detection').glob('*.py'))


def build_det(cfg_model: dict, device: str = 'cpu'):
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'), torch.device(device):
        return MODELS.build(cfg_model)


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('coco')
    make_tiny_coco(root, seed=0)
    return root


@pytest.fixture(scope='module')
def pretrain_ckpt(tmp_path_factory) -> tuple:
    path = tmp_path_factory.mktemp('pretrain') / 'iter_300.pth'
    return path, save_pretraining_checkpoint(path)


def test_backbone_loads_a_pretraining_checkpoint_in_mmdet(pretrain_ckpt):
    """Every backbone weight but the relative position tables (zero: fine-tuning learns
    them) comes from the checkpoint: the [CLS] slot of the 4x4 position embedding is
    dropped (no [CLS] token here) and the grid kept at 4x4 (``pretrain_img_size``)."""
    path, state = pretrain_ckpt
    cfg = Config.fromfile(str(TINY_DET))
    cfg.model.backbone.init_cfg.checkpoint = str(path)
    backbone = build_det(cfg.model.backbone)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.init_weights()
    loaded = backbone.state_dict()
    torch.testing.assert_close(loaded.pop('pos_embed'), state['backbone.pos_embed'][:, 1:])
    rel_pos = [name for name in loaded if name.endswith(('rel_pos_h', 'rel_pos_w'))]
    assert len(rel_pos) == 8 and not any(loaded.pop(name).any() for name in rel_pos)
    for name, value in loaded.items():
        torch.testing.assert_close(value, state['backbone.' + name], msg=name)
        assert not torch.equal(value, before[name]), name
    feats = backbone(torch.randn(1, 3, 128, 128))     # windows of 6 on a 16x16 grid
    assert len(feats) == 1 and feats[0].shape == (1, 64, 16, 16)


def test_window_blocks_follow_the_config():
    cfg = Config.fromfile(str(DET_CONFIGS[0]))
    backbone = build_det(cfg.model.backbone, device='meta')
    assert [blk.window_size for blk in backbone.layers] == [14, 14, 0, 14, 14, 0,
                                                           14, 14, 0, 14, 14, 0]
    assert backbone.cls_token is None and backbone.pos_embed.shape == (1, 14 * 14, 768)


@pytest.mark.parametrize('scales, sizes', [((4, 2, 1, 0.5), (64, 32, 16, 8, 4)),
                                           ((2, 1, 0.5, 0.25), (32, 16, 8, 4, 2))])
def test_simple_fpn_levels(scales, sizes):
    neck = build_det(dict(type='mixedae.SimpleFPN', backbone_channel=64, out_channels=32,
                          num_outs=5, scale_factors=scales))
    outs = neck((torch.randn(2, 64, 16, 16),))
    assert [o.shape for o in outs] == [(2, 32, s, s) for s in sizes]
    widths = [lat.conv.in_channels for lat in neck.lateral_convs]
    assert widths == [{4: 16, 2: 32}.get(s, 64) for s in scales]


@pytest.mark.parametrize('kwargs, inputs, match', [
    (dict(scale_factors=(3, 1)), 1, '3 is not one of'),
    (dict(num_outs=3), 1, 'num_outs=3 is fewer'),
    (dict(), 2, 'one backbone map'),
])
def test_simple_fpn_rejects_bad_input(kwargs, inputs, match):
    with pytest.raises(ValueError, match=match):
        neck = build_det(dict(type='mixedae.SimpleFPN', backbone_channel=64, out_channels=32,
                              **kwargs))
        neck((torch.randn(1, 64, 8, 8),) * inputs)


def test_ln2d_normalises_channels_in_mmdet_scope():
    with DefaultScope.overwrite_default_scope('mmdet'):
        name, norm = build_norm_layer(dict(type='mixedae.LN2d', eps=1e-6), 8)
    out = norm(torch.randn(2, 8, 5, 5) * 3 + 1)
    torch.testing.assert_close(out.mean(1), torch.zeros(2, 5, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(1, unbiased=False), torch.ones(2, 5, 5), atol=1e-3,
                               rtol=0)


def lr_and_decay(model, optim_wrapper) -> dict:
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: (group['lr'], group['weight_decay'])
            for group in optim_wrapper.optimizer.param_groups for p in group['params']}


@pytest.mark.parametrize('config, num_layers, rate, base_lr, wd', [
    (TINY_DET, 4, 0.7, 1e-3, 0.1), (DET_CONFIGS[0], 12, 0.7, 1e-4, 0.1)])
def test_layer_decay_scales_lr_by_backbone_depth(config, num_layers, rate, base_lr, wd):
    cfg = Config.fromfile(str(config))
    model = build_det(cfg.model, device='meta')
    cfg.optim_wrapper.type = 'OptimWrapper'          # AmpOptimWrapper needs a GPU
    cfg.optim_wrapper.pop('loss_scale', None)
    with DefaultScope.overwrite_default_scope('mmdet'):
        groups = lr_and_decay(model, build_optim_wrapper(model, cfg.optim_wrapper))
    assert len(groups) == sum(1 for p in model.parameters() if p.requires_grad)
    top = num_layers + 1

    def scale(depth):
        return pytest.approx(base_lr * rate**(top - depth))
    assert groups['backbone.patch_embed.projection.weight'] == (scale(0), wd)
    assert groups['backbone.pos_embed'] == (scale(0), 0.0)
    for i in range(num_layers):
        assert groups[f'backbone.layers.{i}.attn.qkv.weight'] == (scale(i + 1), wd)
        assert groups[f'backbone.layers.{i}.ln1.weight'] == (scale(i + 1), 0.0)
    assert groups['neck.lateral_convs.0.conv.weight'] == (scale(top), wd)
    assert groups['roi_head.bbox_head.fc_cls.weight'] == (scale(top), wd)
    # weight decay as detectron2's ViTDet: none on the position embedding and the
    # backbone's LayerNorms only; biases and the neck's / heads' channel LayerNorms decay
    assert groups['roi_head.bbox_head.fc_cls.bias'] == (scale(top), wd)
    assert groups['backbone.layers.0.attn.qkv.bias'] == (scale(1), wd)
    assert groups['neck.lateral_convs.0.norm_layer.weight'] == (scale(top), wd)
    assert {n for n, (_, d) in groups.items() if d == 0} == {'backbone.pos_embed', *(
        f'backbone.layers.{i}.{ln}.{p}' for i in range(num_layers) for ln in ('ln1', 'ln2')
        for p in ('weight', 'bias'))}


def test_layer_decay_needs_a_rate_and_a_vit_backbone():
    from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
    from mmengine.registry import DefaultScope
    optim = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4))
    with pytest.raises(KeyError, match='layer_decay_rate is required'), \
            DefaultScope.overwrite_default_scope('mmdet'):
        OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type='BackboneLayerDecayOptimWrapperConstructor', optim_wrapper_cfg=optim,
            paramwise_cfg=dict(flat_decay_mult=0.0)))
    cfg = Config.fromfile(str(DET_CONFIGS[0]))
    cfg.model.backbone = dict(type='ResNet', depth=18, init_cfg=None)
    cfg.model.neck = dict(type='FPN', in_channels=[64, 128, 256, 512], out_channels=256,
                          num_outs=5)
    model = build_det(cfg.model, device='meta')
    with DefaultScope.overwrite_default_scope('mmdet'):
        constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type='BackboneLayerDecayOptimWrapperConstructor', optim_wrapper_cfg=optim,
            paramwise_cfg=dict(layer_decay_rate=0.7)))
    with pytest.raises(TypeError, match=r'MaskRCNN.backbone \(ResNet\) has no get_layer'):
        constructor(model)


def test_all_detection_configs_found():
    assert [p.name for p in DET_CONFIGS] == [
        'mask-rcnn_mixedae-vit-base-p16_simplefpn_lsj-100e_coco.py',
        'mask-rcnn_mixedae-vit-large-p16_simplefpn_lsj-100e_coco.py']


@pytest.mark.parametrize('config', DET_CONFIGS, ids=lambda p: p.stem)
def test_detection_config_builds_model_and_pipeline(config, coco_root):
    """Full-size model built on the meta device (structure only, no memory); one tiny COCO
    image through the 1024-px large-scale-jitter pipeline."""
    from mmdet.registry import DATASETS
    cfg = Config.fromfile(str(config))
    large = 'large' in config.name
    model = build_det(cfg.model, device='meta')
    assert type(model).__name__ == 'MaskRCNN' and type(model.neck).__name__ == 'SimpleFPN'
    assert model.backbone.num_layers == (24 if large else 12)
    assert sum(blk.window_size == 0 for blk in model.backbone.layers) == 4
    assert model.backbone.init_cfg['prefix'] == 'backbone.'
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == (0.8 if large else 0.7)
    assert cfg.train_cfg.max_iters * cfg.auto_scale_lr.base_batch_size == 184375 * 64
    assert cfg.val_evaluator.metric == ['bbox', 'segm']
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'mmdet.PerSampleCocoMetric'

    cfg.train_dataloader.dataset.update(data_root=str(coco_root),
                                        metainfo=dict(classes=COCO_CLASSES))
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        sample = dataset[0]
    assert sample['inputs'].shape == (3, 1024, 1024)
    gt = sample['data_samples'].gt_instances
    assert len(gt) > 0 and gt.masks.masks.shape[1:] == (1024, 1024)


def train_tiny(config: Path, work_dir: Path, options: list,
               expect_missing: str | None = None) -> dict:
    """``tools/train.py`` on a tiny config; returns the last validation scalars. The
    backbone must load its checkpoint with no missing keys but ``expect_missing``."""
    cmd = [sys.executable, str(ROOT / 'tools/train.py'), str(config), '--work-dir',
           str(work_dir), '--cfg-options', *options]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'load backbone. in model from' in log, log[-3000:]
    missing = re.findall(r'missing keys in source state_dict: (.*)', log)
    assert missing == ([expect_missing] if expect_missing else []), missing
    scalars = next(work_dir.glob('*/vis_data/scalars.json')).read_text().splitlines()
    return json.loads(scalars[-1])


@pytest.mark.slow
def test_tiny_detection_trains_and_evaluates(coco_root, pretrain_ckpt, tmp_path):
    root = f'{coco_root}/'
    ann = f'{root}annotations/instances_val2017.json'
    metrics = train_tiny(TINY_DET, tmp_path, [
        f'model.backbone.init_cfg.checkpoint={pretrain_ckpt[0]}',
        *(f'{split}_dataloader.dataset.data_root={root}' for split in ('train', 'val',
                                                                       'test')),
        f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}'],
        expect_missing=', '.join(f'layers.{i}.attn.rel_pos_{axis}' for i in range(4)
                                 for axis in 'hw'))
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'coco/segm_mAP_50'):
        assert 0.0 <= metrics[key] <= 1.0, (key, metrics)
    assert (tmp_path / 'iter_12.pth').is_file()
    # the evaluation kept its detections (COCO results files) and recomputes its AP
    folder = per_sample_dir(tmp_path)
    manifest = json.loads((folder / 'val.json').read_text())
    assert sorted(manifest['files']) == ['bbox', 'segm']
    assert manifest['settings']['ann_sha256'] == file_sha256(ann)
    images = json.loads(Path(ann).read_text())['images']
    assert sorted(manifest['settings']['image_ids']) == sorted(i['id'] for i in images)
    detections = json.loads((folder / manifest['files']['segm']['name']).read_text())
    assert detections and {'image_id', 'category_id', 'score', 'segmentation'} <= set(
        detections[0])
    values = assert_recomputes(folder / 'val.json', metrics, 0.0005 + 1e-9)
    assert {'coco/bbox_mAP', 'coco/segm_mAP_l'} <= set(values)
