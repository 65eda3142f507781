"""ImageNet transfer: fine-tuning and linear probing with mmpretrain's MAE protocol on the
project's encoder, configs, and the tiny end-to-end runs."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.utils import get_installed_path

from conftest import CONFIGS, save_pretraining_checkpoint, unscoped
from mixedae.convert import convert_checkpoint
from mixedae.data import make_tiny_imagenet
from mixedae.engine.checkpoint_loading import load_checkpoint_file
from test_transfer_detection import lr_and_decay, train_tiny

CLS = CONFIGS / 'benchmarks/classification'
CLS_CONFIGS = sorted(CLS.glob('*.py'))
FINETUNE = CLS / 'mixedae-vit-base-p16_8xb128-coslr-100e_in1k.py'
TINY_FINETUNE = CONFIGS / 'demo/cls-finetune_vit-tiny-p8_tiny.py'
TINY_LINEAR = CONFIGS / 'demo/cls-linear_vit-tiny-p8_tiny.py'
UPSTREAM = Path(get_installed_path('mmpretrain')) / '.mim/configs/mae/benchmarks'
TINY_ARCH = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256)


def build_cls(cfg_model: dict):
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg_model)


@pytest.fixture(scope='module')
def imagenet_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('imagenet')
    make_tiny_imagenet(root, seed=0)
    return root


def test_config_list():
    assert [p.name for p in CLS_CONFIGS] == [
        'mixedae-vit-base-p16_8xb128-coslr-100e_in1k.py',
        'mixedae-vit-base-p16_8xb2048-linear-coslr-90e_in1k.py',
        'mixedae-vit-large-p16_8xb128-coslr-50e_in1k.py',
        'mixedae-vit-large-p16_8xb2048-linear-coslr-90e_in1k.py']


@pytest.mark.parametrize('path', CLS_CONFIGS, ids=lambda p: p.stem)
def test_classification_config_builds_model_and_pipeline(path, imagenet_root):
    """The MAE protocol of mmpretrain's config on MixedAEViT, on an ImageNet-layout set."""
    from mmpretrain.registry import DATASETS
    cfg = Config.fromfile(str(path))
    upstream = Config.fromfile(str(UPSTREAM / path.name[len('mixedae-'):]))
    large = 'large' in path.name
    with torch.device('meta'):
        model = build_cls(cfg.model)
    assert type(model.backbone).__name__ == 'MixedAEViT'
    assert model.backbone.segment_embed is None and model.backbone.mix_ratio is None
    assert model.backbone.embed_dims == (1024 if large else 768)
    assert model.backbone.init_cfg == dict(type='Pretrained', prefix='backbone.',
                                           checkpoint=cfg.model.backbone.init_cfg.checkpoint)
    for key in ('neck', 'head', 'train_cfg'):
        assert unscoped(cfg.model.get(key)) == unscoped(upstream.model.get(key)), key
    # mmpretrain's schedule, but AMP as MAE fine-tunes, and linear probing's own batch
    # (mmpretrain's linear config inherits base_batch_size 1024)
    assert unscoped({**cfg.optim_wrapper, 'type': 'AmpOptimWrapper'}) == unscoped(
        {**upstream.optim_wrapper, 'type': 'AmpOptimWrapper'})
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    for key in ('param_scheduler', 'train_cfg'):
        assert unscoped(cfg.get(key)) == unscoped(upstream.get(key)), key
    assert cfg.auto_scale_lr.base_batch_size == 8 * cfg.train_dataloader.batch_size
    if 'linear' in path.name:
        assert model.backbone.frozen_stages == model.backbone.num_layers
        assert not any(p.requires_grad for p in model.backbone.parameters())
    else:
        assert cfg.model.train_cfg.augments[0].type == 'Mixup'
        assert model.backbone.pos_embed.requires_grad       # learnt in fine-tuning
    assert {h.type for h in cfg.custom_hooks} == {'DatasetCheckHook', 'PerIterationSeedHook',
                                                  'NonFiniteLossHook', 'RunInfoHook',
                                                  'PretrainedLoadCheckHook', 'PerSampleHook'}
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'mmpretrain.PerSampleAccuracy'
    assert cfg.val_evaluator.topk == (1, 5)
    # upstream pipelines with the checked loader (linear probing: resizing bicubic, as
    # MAE's main_linprobe.py)
    bicubic = {'RandomResizedCrop', 'ResizeEdge'} if 'linear' in path.name else set()
    for split in ('train', 'val', 'test'):
        ours = cfg[f'{split}_dataloader'].dataset.pipeline
        theirs = upstream[f'{split}_dataloader'].dataset.pipeline
        assert ours[0].type == 'CheckedLoadImageFromFile'
        assert unscoped(ours[1:]) == unscoped(
            [dict(s, interpolation='bicubic') if s.type in bicubic else s for s in theirs[1:]])

    cfg.train_dataloader.dataset.data_root = str(imagenet_root)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 64
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 224, 224)


def test_plain_mixedae_vit_is_mmpretrain_vit():
    """Same weights, same features, same layer-decay table as mmpretrain's
    VisionTransformer in the fine-tuning config (tiny width and depth)."""
    cfg = Config.fromfile(str(FINETUNE))
    cfg.model.backbone.update(arch=TINY_ARCH, img_size=32, patch_size=8)
    cfg.model.head.in_channels = 64
    ours = build_cls(cfg.model)
    cfg.model.backbone.type = 'VisionTransformer'
    cfg.model.backbone.pop('fixed_sincos_pos_embed')
    theirs = build_cls(cfg.model)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    ours.eval()
    theirs.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours.extract_feat(x), theirs.extract_feat(x))

    cfg.optim_wrapper.type = 'OptimWrapper'          # AMP needs a GPU
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        tables = [lr_and_decay(m, build_optim_wrapper(m, cfg.optim_wrapper))
                  for m in (ours, theirs)]
    assert tables[0] == tables[1]
    assert tables[0]['backbone.layers.3.attn.qkv.weight'] == (pytest.approx(2e-3 * .65),
                                                               0.05)


def pretrained_state(path: Path) -> dict:
    return load_checkpoint_file(str(path))['state_dict']


@pytest.mark.slow
@pytest.mark.parametrize('config', [TINY_FINETUNE, TINY_LINEAR], ids=['finetune', 'linear'])
def test_tiny_classification_trains_and_evaluates(config, imagenet_root, tmp_path):
    save_pretraining_checkpoint(tmp_path / 'pre.pth')
    converted = tmp_path / 'mmpretrain.pth'
    convert_checkpoint(str(tmp_path / 'pre.pth'), 'mmpretrain', str(converted), num_heads=4)
    work_dir = tmp_path / 'work'
    metrics = train_tiny(config, work_dir, [
        f'model.backbone.init_cfg.checkpoint={converted}', 'train_cfg.max_iters=12',
        'train_cfg.val_interval=12', 'default_hooks.checkpoint.interval=12',
        'param_scheduler.1.end=12',
        *(f'{split}_dataloader.dataset.data_root={imagenet_root}'
          for split in ('train', 'val', 'test'))], expect_missing=(
        'ln2.weight, ln2.bias' if config == TINY_FINETUNE else None))
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    trained = pretrained_state(work_dir / 'iter_12.pth')
    source = pretrained_state(converted)
    if config == TINY_LINEAR:     # frozen encoder: exactly the pre-trained weights
        for key, value in source.items():
            torch.testing.assert_close(trained[key], value, msg=key)
    else:                         # loaded, then fine-tuned
        assert not torch.equal(trained['backbone.layers.0.attn.qkv.weight'],
                               source['backbone.layers.0.attn.qkv.weight'])
