"""A load that loads nothing is an error: every transfer config stops, naming the file,
when its backbone checkpoint does not fill the encoder (PretrainedLoadCheckHook)."""
from importlib import import_module
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import HOOKS, DefaultScope
from mmengine.runner import Runner

from conftest import CONFIGS
from mixedae.convert import convert_checkpoint
from mixedae.data import make_tiny_imagenet
from mixedae.convert import PretrainedLoadError
from mixedae.convert.pretrained_check import check_coverage, recorded_loads
from test_convert_sources import timm_vit

TINY_ARCH = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256)
MAE_SEG = (CONFIGS / 'benchmarks/segmentation'
           / 'upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py')


@pytest.fixture(scope='module')
def official_mae(tmp_path_factory) -> Path:
    """The official MAE release layout (``{'model': encoder}``, timm names) of the tiny
    transfer configs' ViT (64 wide, 4 blocks, 8-px patches, 32 px)."""
    path = tmp_path_factory.mktemp('weights') / 'mae_pretrain_vit_tiny.pth'
    torch.save({'model': timm_vit(depth=4).state_dict()}, path)
    return path


def mmseg_mae_config() -> Config:
    """The mmseg-MAE ADE20K config with a tiny backbone and heads, fp32."""
    cfg = Config.fromfile(str(MAE_SEG))
    cfg.model.backbone.update(img_size=128, patch_size=8, embed_dims=64, num_layers=4,
                              num_heads=4, out_indices=[0, 1, 2, 3])
    cfg.model.neck.update(embed_dim=64, rescales=[2, 1, 0.5, 0.25])
    cfg.model.decode_head.update(in_channels=[64] * 4, channels=32)
    cfg.model.auxiliary_head.update(in_channels=64, channels=32)
    cfg.optim_wrapper.type = 'OptimWrapper'
    cfg.optim_wrapper.pop('loss_scale')
    return cfg


CASES = {   # transfer config, converter target the error recommends
    'cls': (lambda: Config.fromfile(str(CONFIGS / 'demo/cls-finetune_vit-tiny-p8_tiny.py')),
            'mmpretrain'),
    'det': (lambda: Config.fromfile(str(CONFIGS / 'demo/det-coco_vit-tiny-p8_tiny.py')),
            'mmdet'),
    'seg-plain': (lambda: Config.fromfile(str(CONFIGS / 'demo/seg-ade20k_vit-tiny-p8_tiny.py')),
                  'mmpretrain'),
    'seg-mmseg-MAE': (mmseg_mae_config, 'mmseg'),
}


def assert_names_the_file(error: PretrainedLoadError, path: Path, target: str) -> None:
    message = str(error)
    assert message.startswith(f'{path}: ')
    assert 'official MAE checkpoint (facebookresearch/mae), torch zip file' in message
    assert f'convert_checkpoint.py {path} --to {target} OUT.pth' in message


@pytest.mark.parametrize('case', sorted(CASES))
def test_transfer_config_given_an_unconverted_official_mae_file_stops(case, official_mae):
    """Each transfer config's model with its own load-check hook, initialised as the
    Runner does (``before_run`` hooks, then ``model.init_weights()``)."""
    make_config, target = CASES[case]
    cfg = make_config()
    cfg.model.backbone.init_cfg.checkpoint = str(official_mae)
    registry = import_module(f'{cfg.default_scope}.registry')
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = registry.MODELS.build(cfg.model)
        hooks = [HOOKS.build(h) for h in cfg.custom_hooks
                 if h['type'] == 'PretrainedLoadCheckHook']
    assert len(hooks) == 1
    hooks[0].before_run(SimpleNamespace(model=model, cfg=cfg))
    with pytest.raises(PretrainedLoadError) as error:
        model.init_weights()
    assert_names_the_file(error.value, official_mae, target)


def test_runner_stops_before_the_first_iteration(official_mae, tmp_path):
    """A real Runner (the fine-tuning config; the cheapest to build: mmengine formats the
    whole config several times) stops in ``train()`` before any iteration and writes no
    checkpoint."""
    make_tiny_imagenet(tmp_path / 'imagenet', seed=0, train_per_class=4, val_per_class=1)
    cfg = CASES['cls'][0]()
    cfg.work_dir = str(tmp_path / 'work')
    cfg.model.backbone.init_cfg.checkpoint = str(official_mae)
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = str(tmp_path / 'imagenet')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(PretrainedLoadError) as error:
        runner.train()
    assert_names_the_file(error.value, official_mae, 'mmpretrain')
    assert runner.iter == 0 and not list((tmp_path / 'work').glob('*.pth'))


def build_backbone(scope: str, backbone: dict):
    if scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(backbone)


def initialised(backbone) -> set[str]:
    """Initialise through the hook's recorder; return what the loads filled."""
    with recorded_loads(backbone) as loaded:
        backbone.init_weights()
    return loaded


def test_partial_checkpoint_names_the_missing_keys(official_mae, tmp_path):
    """A converted file without the last block: MixedAEViT loads the rest, the check names
    the block's tensors; the complete file passes."""
    convert_checkpoint(str(official_mae), 'mmpretrain', str(tmp_path / 'full.pth'))
    full = torch.load(tmp_path / 'full.pth', weights_only=True)
    partial = {k: v for k, v in full['state_dict'].items() if '.layers.3.' not in k}
    torch.save({'state_dict': partial}, tmp_path / 'partial.pth')
    for name, ok in (('full.pth', True), ('partial.pth', False)):
        backbone = build_backbone('mmpretrain', dict(
            type='MixedAEViT', arch=TINY_ARCH, img_size=32, patch_size=8,
            init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / name),
                          prefix='backbone.')))
        loaded = initialised(backbone)
        if ok:
            check_coverage(backbone, loaded, name, 'mmpretrain')
            continue
        with pytest.raises(PretrainedLoadError) as error:
            check_coverage(backbone, loaded, str(tmp_path / name), 'mmpretrain')
        assert 'filled 42 of the 54 encoder tensors' in str(error.value)
        assert 'layers.*.attn.qkv.weight (1 blocks)' in str(error.value)


def test_mmseg_mae_needs_the_mmseg_conversion(official_mae, tmp_path):
    """mmseg's MAE, which loads strict=False and ignores ``prefix``: the --to mmseg file
    fills its encoder (layer scale, relative position bias: fine-tuning's), the --to
    mmpretrain file (``backbone.`` keys) fills nothing."""
    for target in ('mmseg', 'mmpretrain'):
        convert_checkpoint(str(official_mae), target, str(tmp_path / f'{target}.pth'))
        backbone = build_backbone('mmseg', dict(
            type='MAE', img_size=32, patch_size=8, embed_dims=64, num_layers=4, num_heads=4,
            init_values=1.0, init_cfg=dict(type='Pretrained',
                                           checkpoint=str(tmp_path / f'{target}.pth'))))
        loaded = initialised(backbone)
        if target == 'mmseg':
            check_coverage(backbone, loaded, 'mmseg.pth', 'mmseg')
        else:
            assert not loaded
            with pytest.raises(PretrainedLoadError, match='filled 0 of the 52 encoder'):
                check_coverage(backbone, loaded, 'mmpretrain.pth', 'mmseg')
