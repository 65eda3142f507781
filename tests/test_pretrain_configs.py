"""Every pre-training config builds its model and its dataset pipeline."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS, MODELS

from conftest import CONFIGS
from mixedae.data import make_tiny_imagenet
from mixedae.engine.config_checks import check_pretrain_config

PRETRAIN_CONFIGS = sorted(str(p.relative_to(CONFIGS)) for d in ('mae', 'mixedae', 'naive_mix')
                          for p in (CONFIGS / d).glob('*.py'))


@pytest.fixture(scope='module')
def imagenet_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('imagenet')
    make_tiny_imagenet(root, seed=0, size=64)
    return root


def test_all_pretrain_configs_found():
    assert len(PRETRAIN_CONFIGS) == 19


@pytest.mark.parametrize('name', PRETRAIN_CONFIGS)
def test_pretrain_config_builds(name, imagenet_root):
    cfg = Config.fromfile(str(CONFIGS / name))
    check_pretrain_config(cfg)
    assert cfg.auto_scale_lr.base_batch_size == 4096
    assert cfg.protocol == dict(name='mae-pretrain', total_batch=4096, batch_mismatch='error')
    assert cfg.train_dataloader.batch_size * 8 == 4096
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        cfg.train_dataloader.dataset.data_root = str(imagenet_root)
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        sample = dataset[0]
    assert sample['inputs'].shape == (3, 224, 224)
    method = name.split('/')[0]
    expected = {'mae': 'MAE', 'mixedae': 'MixedAE', 'naive_mix': 'MixedAE'}[method]
    assert type(model).__name__ == expected
    width = {'base': 768, 'large': 1024}['large' if 'large' in name else 'base']
    assert model.backbone.embed_dims == width
    if method != 'mae':
        assert model.backbone.mix_ratio == 4 and model.neck.mix_ratio == 4
        assert (model.head.contrastive_loss is None) == (method == 'naive_mix')


def test_vit_b_mixedae_forward_at_224():
    """The full-size model runs one loss step on a small batch (shapes, masks, losses)."""
    cfg = Config.fromfile(str(CONFIGS / 'mixedae/mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    losses = model(torch.randn(4, 3, 224, 224), mode='loss')
    assert model.backbone.topk == 196 // 4 + 1
    assert set(losses) == {'loss_rec', 'loss_hc', 'homo_acc'}
    assert all(torch.isfinite(v) for v in losses.values())
