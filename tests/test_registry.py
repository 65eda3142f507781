"""Importing mixedae registers its modules in mmpretrain's, mmdet's and mmseg's registries."""
import pytest
import torch
from mmengine.registry import DefaultScope

import mixedae.modules  # noqa: F401  (registers the modules)

TINY_VIT = dict(type='MixedAEViT', arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                             feedforward_channels=64),
                img_size=32, patch_size=8, out_type='featmap', final_norm=False)


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmseg'])
def test_backbone_builds_from_each_scope(scope):
    registry = {'mmpretrain': 'mmpretrain.registry', 'mmdet': 'mmdet.registry',
                'mmseg': 'mmseg.registry'}[scope]
    models = __import__(registry, fromlist=['MODELS']).MODELS
    assert models.scope == scope and 'MixedAEViT' in models.module_dict
    with DefaultScope.overwrite_default_scope(scope):
        backbone = models.build(TINY_VIT)
    feats = backbone(torch.randn(1, 3, 32, 32))
    assert feats[0].shape == (1, 32, 4, 4)


def test_pretraining_modules_registered_in_mmpretrain():
    from mmpretrain.registry import MODELS
    for name in ('MixedAE', 'MixedAEViT', 'MixedAEDecoder', 'MixedAEHead',
                 'HomologousContrastiveLoss'):
        assert name in MODELS.module_dict, name


def test_custom_imports_in_a_config_registers(tmp_path):
    import subprocess
    import sys
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("custom_imports = dict(imports=['mixedae.modules'], "
                   "allow_failed_imports=False)\n"
                   f"model = {TINY_VIT!r}\n")
    code = ('from mmengine.config import Config; from mmseg.registry import MODELS; '
            'from mmengine.registry import init_default_scope; '
            f'cfg = Config.fromfile({str(cfg)!r}); init_default_scope("mmseg"); '
            'print(type(MODELS.build(cfg.model)).__name__)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.stdout.strip().endswith('MixedAEViT'), out.stderr[-2000:]
