"""ADE20K transfer: MixedAEViT as an mmseg backbone, parity with mmseg's MAE, layer decay,
configs."""
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.models.utils import resize_pos_embed

from conftest import (CONFIGS, assert_recomputes, per_sample_dir,
                      save_pretraining_checkpoint)
from mixedae.convert import convert_checkpoint
from mixedae.data import make_tiny_ade20k
from mixedae.stats import bootstrap_intervals, load_scorer
from test_transfer_detection import lr_and_decay, train_tiny

TINY_SEG = CONFIGS / 'demo/seg-ade20k_vit-tiny-p8_tiny.py'
SEG = CONFIGS / 'benchmarks/segmentation'
MIXEDAE_SEG = SEG / 'upernet_mixedae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py'
MAE_SEG = SEG / 'upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py'
TINY_ARCH = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256)


def build_seg(cfg_model: dict):
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg_model)


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('ade')
    make_tiny_ade20k(root, seed=0)
    return root / 'ADEChallengeData2016'


@pytest.fixture(scope='module')
def full_size_models() -> dict:
    """Both ViT-B UperNets, built once (mmseg's MAE cannot be built on the meta device)."""
    return {path: build_seg(Config.fromfile(str(path)).model)
            for path in (MIXEDAE_SEG, MAE_SEG)}


def test_backbone_loads_a_pretraining_checkpoint_in_mmseg(tmp_path):
    state = save_pretraining_checkpoint(tmp_path / 'pre.pth')
    cfg = Config.fromfile(str(TINY_SEG))
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'pre.pth')
    backbone = build_seg(cfg.model.backbone)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.init_weights()
    loaded = backbone.state_dict()
    size = cfg.model.backbone.img_size                     # the demo's crop (64 px)
    grid = size // cfg.model.backbone.patch_size
    expected_pos = resize_pos_embed(state['backbone.pos_embed'], (4, 4), (grid, grid))
    torch.testing.assert_close(loaded.pop('pos_embed'), expected_pos)
    for name, value in loaded.items():
        torch.testing.assert_close(value, state['backbone.' + name], msg=name)
        assert not torch.equal(value, before[name]), name
    feats = backbone(torch.randn(1, 3, size, size))
    assert [f.shape for f in feats] == [(1, 64, grid, grid)] * 4


def test_mmseg_mae_resizes_relative_position_tables(tmp_path):
    """mmseg 1.2.2's ``MAE`` resizes a checkpoint's relative position tables of another
    size with SciPy's ``interp2d`` (removed in SciPy 1.14: the set-up pins SciPy < 1.14).
    A 4x4-window table (7x7 offsets + 3 extra entries) into an 8x8-window model: offsets
    0 and +-1 are interpolation knots and keep their values, the extra entries are kept."""
    from mmseg.models.backbones import MAE
    arch = dict(patch_size=8, embed_dims=32, num_layers=1, num_heads=2, mlp_ratio=2)
    state = MAE(img_size=32, **arch).state_dict()
    table = torch.randn(7 * 7 + 3, 2)
    state['layers.0.attn.relative_position_bias_table'] = table
    torch.save({'state_dict': state}, tmp_path / 'small.pth')
    model = MAE(img_size=64, init_cfg=dict(type='Pretrained',
                                           checkpoint=str(tmp_path / 'small.pth')), **arch)
    model.init_weights()
    resized = model.layers[0].attn.relative_position_bias_table.detach()
    assert resized.shape == (15 * 15 + 3, 2)
    torch.testing.assert_close(resized[-3:], table[-3:])
    src, dst = table[:-3].view(7, 7, 2), resized[:-3].view(15, 15, 2)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            torch.testing.assert_close(dst[7 + dy, 7 + dx], src[3 + dy, 3 + dx], atol=1e-5,
                                       rtol=1e-5)


def test_plain_mixedae_vit_equals_mmseg_mae(tmp_path):
    """Same weights, same 512-px features: the two segmentation configs' backbones (tiny
    width/depth, else as configured) each load a 224-px checkpoint their own way."""
    state = save_pretraining_checkpoint(tmp_path / 'pre.pth', img_size=224, patch_size=16)
    convert_checkpoint(str(tmp_path / 'pre.pth'), 'mmseg', str(tmp_path / 'mmseg.pth'),
                       num_heads=4)

    ours_cfg = Config.fromfile(str(MIXEDAE_SEG)).model.backbone
    ours_cfg.update(arch=TINY_ARCH, out_indices=[0, 1, 2, 3],
                    init_cfg=dict(ours_cfg.init_cfg, checkpoint=str(tmp_path / 'pre.pth')))
    mae_cfg = Config.fromfile(str(MAE_SEG)).model.backbone
    mae_cfg.update(embed_dims=64, num_layers=4, num_heads=4, out_indices=[0, 1, 2, 3],
                   init_cfg=dict(mae_cfg.init_cfg, checkpoint=str(tmp_path / 'mmseg.pth')))
    ours, mae = build_seg(ours_cfg), build_seg(mae_cfg)
    assert type(mae).__name__ == 'MAE' and mae_cfg.init_values == 1.0
    ours.init_weights()
    mae.init_weights()
    torch.testing.assert_close(mae.layers[2].attn.qkv.weight,
                               state['backbone.layers.2.attn.qkv.weight'])

    ours.eval()          # mmpretrain's BaseBackbone.train() returns None: no chaining
    mae.eval()
    x = torch.randn(2, 3, 512, 512)
    with torch.no_grad():
        pairs = list(zip(ours(x), mae(x)))
    assert len(pairs) == 4
    for a, b in pairs:
        assert a.shape == (2, 64, 32, 32)
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_layer_decay_matches_mmseg_constructor_on_mae(full_size_models):
    """Ours on MixedAEViT gives each parameter the lr and weight decay that mmseg's
    LayerDecayOptimizerConstructor gives the same-named parameter of mmseg's MAE."""
    tables = {}
    for path, model in full_size_models.items():
        cfg = Config.fromfile(str(path))
        cfg.optim_wrapper.type = 'OptimWrapper'       # AmpOptimWrapper needs a GPU
        cfg.optim_wrapper.pop('loss_scale')
        with DefaultScope.overwrite_default_scope('mmseg'):
            tables[path] = lr_and_decay(model, build_optim_wrapper(model,
                                                                   cfg.optim_wrapper))
    ours, mae = tables[MIXEDAE_SEG], tables[MAE_SEG]
    only_mae = {n.split('.')[-1] for n in set(mae) - set(ours)}
    assert set(ours) <= set(mae) and only_mae == {'gamma_1', 'gamma_2',
                                                  'relative_position_bias_table'}
    for name, (lr, wd) in ours.items():
        assert lr == pytest.approx(mae[name][0]) and wd == mae[name][1], name
    assert ours['backbone.patch_embed.projection.weight'] == (pytest.approx(1e-4 * .65**13),
                                                              0.05)
    assert ours['backbone.layers.11.ffn.layers.1.bias'] == (pytest.approx(1e-4 * .65), 0.0)
    assert ours['decode_head.conv_seg.weight'] == (pytest.approx(1e-4), 0.05)


@pytest.mark.parametrize('path', [MIXEDAE_SEG, MAE_SEG], ids=lambda p: p.stem)
def test_segmentation_config_builds_model_and_pipeline(path, full_size_models, ade_root):
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(str(path))
    model = full_size_models[path]
    assert type(model.backbone).__name__ == ('MAE' if path == MAE_SEG else 'MixedAEViT')
    assert model.backbone.init_cfg['type'] == 'Pretrained' and cfg.model.pretrained is None
    assert [type(m).__name__ for m in (model.neck, model.decode_head,
                                       model.auxiliary_head)] == [
        'Feature2Pyramid', 'UPerHead', 'FCNHead']
    assert model.decode_head.num_classes == 150
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.fp16 is None
    assert cfg.train_cfg.max_iters == 160000 and cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'mmseg.PerSampleIoUMetric'
    assert cfg.val_evaluator.iou_metrics == ['mIoU']

    cfg.train_dataloader.dataset.data_root = str(ade_root)
    with DefaultScope.overwrite_default_scope('mmseg'):
        sample = DATASETS.build(cfg.train_dataloader.dataset)[0]
    # a 128-px image resized by 4 x (0.5..2) and cropped to at most 512 px
    side = sample['inputs'].shape[-1]
    assert sample['inputs'].shape == (3, side, side) and 256 <= side <= 512
    labels = sample['data_samples'].gt_sem_seg.data.unique().tolist()
    assert set(labels) <= {0, 1, 2, 255} and len(labels) > 1


@pytest.mark.slow
def test_tiny_segmentation_trains_and_evaluates(ade_root, tmp_path):
    save_pretraining_checkpoint(tmp_path / 'pre.pth')
    metrics = train_tiny(TINY_SEG, tmp_path / 'work', [
        f'model.backbone.init_cfg.checkpoint={tmp_path / "pre.pth"}',
        *(f'{split}_dataloader.dataset.data_root={ade_root}' for split in ('train', 'val',
                                                                         'test'))])
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert 0.0 <= metrics[key] <= 100.0, (key, metrics)
    assert (tmp_path / 'work/iter_12.pth').is_file()
    # the evaluation kept each image's per-class areas and recomputes its metrics
    manifest = per_sample_dir(tmp_path / 'work') / 'val.json'
    values = assert_recomputes(manifest, metrics, 0.005 + 1e-9)
    assert set(values) == {'aAcc', 'mIoU', 'mAcc'}
    assert json.loads(manifest.read_text())['class_names'][:2] == ['wall', 'building']
    intervals = bootstrap_intervals(load_scorer(str(manifest)), n_resamples=50)
    assert intervals['mIoU'].low <= intervals['mIoU'].value <= intervals['mIoU'].high
