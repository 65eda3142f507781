"""``MixedAEViT``'s plain path is mmpretrain's ``VisionTransformer`` (issue #14).

The assertions of mmpretrain 1.2.0's
``tests/test_models/test_backbones/test_vision_transformer.py`` with ``MixedAEViT``
substituted (tiny widths where an assertion does not need ViT-B; ViT-B structure on the
meta device), the same features as ``VisionTransformer`` under each of its arguments, and
the assertions of mmseg 1.2.2's ``tests/test_models/test_backbones/test_mae.py`` that
apply to the segmentation configs' backbone (``MixedAEViT`` in place of mmseg's ``MAE``).
"""
import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint, save_checkpoint
from mmpretrain.models import VisionTransformer
from torch import nn

from conftest import CONFIGS
from mixedae.models import MixedAEViT

TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
SEG_CONFIG = (CONFIGS / 'benchmarks/segmentation'
              / 'upernet_mixedae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py')


def test_same_arguments_and_defaults_as_vision_transformer():
    theirs = inspect.signature(VisionTransformer.__init__).parameters
    ours = inspect.signature(MixedAEViT.__init__).parameters
    assert list(ours)[:len(theirs)] == list(theirs)        # same order: positional calls too
    for name, param in theirs.items():
        assert ours[name].default == param.default, name


# ---- mmpretrain 1.2.0 test_vision_transformer.py, MixedAEViT substituted ----------------

def test_structure():
    with pytest.raises(AssertionError, match='not in default archs'):
        MixedAEViT(arch='unknown', drop_path_rate=0.1)
    with pytest.raises(AssertionError, match='Custom arch needs'):
        MixedAEViT(arch=dict(num_layers=24, num_heads=16, feedforward_channels=4096))
    with torch.device('meta'):
        model = MixedAEViT(arch=dict(embed_dims=128, num_layers=24, num_heads=16,
                                     feedforward_channels=1024))
    assert model.embed_dims == 128 and model.num_layers == 24
    for layer in model.layers:
        assert layer.attn.num_heads == 16 and layer.ffn.feedforward_channels == 1024

    with pytest.raises(AssertionError, match="get <class 'dict'>"):
        MixedAEViT(arch=TINY, out_indices={1: 1})
    with pytest.raises(AssertionError, match='Invalid out_indices 13'):
        MixedAEViT(arch='b', out_indices=[0, 13])

    with torch.device('meta'):
        model = MixedAEViT(arch='b', img_size=224, patch_size=16, drop_path_rate=0.1)
    assert len(model.layers) == 12
    for i, layer in enumerate(model.layers):
        assert layer.attn.embed_dims == 768 and layer.attn.num_heads == 12
        assert layer.ffn.feedforward_channels == 3072
        assert layer.attn.out_drop.drop_prob == pytest.approx(0.1 * i / 11)
        assert layer.ffn.dropout_layer.drop_prob == pytest.approx(0.1 * i / 11)

    model = MixedAEViT(arch=TINY, pre_norm=True)
    assert model.pre_norm.__class__ != nn.Identity


def test_init_weights(tmp_path):
    cfg = dict(arch=TINY, img_size=224, patch_size=16, drop_path_rate=0.1)
    model = MixedAEViT(**cfg, init_cfg=[dict(type='Kaiming', layer='Conv2d', mode='fan_in',
                                             nonlinearity='linear')])
    ori_weight = model.patch_embed.projection.weight.clone()
    assert torch.allclose(model.pos_embed, torch.tensor(0.))   # all zero before init
    model.init_weights()
    assert not torch.allclose(ori_weight, model.patch_embed.projection.weight)
    assert not torch.allclose(model.pos_embed, torch.tensor(0.))

    pretrain_pos_embed = model.pos_embed.detach().clone()
    checkpoint = str(tmp_path / 'test.pth')
    save_checkpoint(model.state_dict(), checkpoint)
    model = MixedAEViT(**cfg)
    load_checkpoint(model, checkpoint, strict=True)
    assert torch.allclose(model.pos_embed, pretrain_pos_embed)

    model = MixedAEViT(**dict(cfg, img_size=384))              # another img_size: resized
    load_checkpoint(model, checkpoint, strict=True)
    grid = pretrain_pos_embed[:, 1:].reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(24, 24), mode='bicubic', align_corners=False)
    expected = torch.cat([pretrain_pos_embed[:, :1], grid.flatten(2).transpose(1, 2)], 1)
    assert torch.allclose(model.pos_embed, expected)


def test_forward():
    imgs = torch.randn(1, 3, 224, 224)
    cfg = dict(arch=TINY, img_size=224, patch_size=16)
    with pytest.raises(ValueError, match='must be True'):
        MixedAEViT(**cfg, with_cls_token=False, out_type='cls_token')

    outs = MixedAEViT(**cfg, with_cls_token=False, out_type='featmap')(imgs)
    assert isinstance(outs, tuple) and len(outs) == 1 and outs[0].shape == (1, 32, 14, 14)

    outs = MixedAEViT(**cfg)(imgs)                             # default: the [CLS] token
    assert isinstance(outs, tuple) and len(outs) == 1 and outs[0].shape == (1, 32)

    outs = MixedAEViT(**dict(cfg, arch=dict(TINY, num_layers=3)), out_indices=[-3, -2, -1])(imgs)
    assert len(outs) == 3 and all(out.shape == (1, 32) for out in outs)

    model = MixedAEViT(**cfg, out_type='featmap')
    for size in [(224, 224), (256, 256), (256, 309)]:        # dynamic input size
        outs = model(torch.randn(1, 3, *size))
        assert len(outs) == 1
        assert outs[0].shape == (1, 32, math.ceil(size[0] / 16), math.ceil(size[1] / 16))


# ---- the same features as VisionTransformer, argument by argument ------------------------

@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(in_channels=1, pre_norm=True, out_type='avg_featmap', qkv_bias=False),
    dict(img_size=(24, 40), with_cls_token=False, out_type='featmap', final_norm=False),
    dict(out_indices=[0, 1], out_type='raw', frozen_stages=1, layer_scale_init_value=0.1),
    dict(layer_cfgs=dict(drop_path_rate=0.3, norm_cfg=dict(type='LN', eps=1e-5))),
    dict(layer_cfgs=[dict(drop_path_rate=0.2), dict(act_cfg=dict(type='ReLU'))],
         interpolate_mode='bilinear', out_type='featmap'),
], ids=['defaults', 'in_channels-pre_norm', 'tuple-img_size', 'frozen-layer_scale',
        'layer_cfgs', 'layer_cfgs-list'])
def test_same_model_as_vision_transformer(kwargs):
    args = dict(dict(arch=TINY, img_size=32, patch_size=8), **kwargs)
    torch.manual_seed(0)
    theirs = VisionTransformer(**args)
    theirs.init_weights()
    ours = MixedAEViT(**args)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ({n: p.requires_grad for n, p in ours.named_parameters()}
            == {n: p.requires_grad for n, p in theirs.named_parameters()})
    for mine, their in zip(ours.layers, theirs.layers):
        assert mine.attn.out_drop.drop_prob == their.attn.out_drop.drop_prob
        assert mine.ln1.eps == their.ln1.eps
        assert type(mine.ffn.layers[0][1]) is type(their.ffn.layers[0][1])   # activation
    x = torch.randn(2, args.get('in_channels', 3), 44, 52)    # padded to 48x56 by both
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        for mine, their in zip(ours(x), theirs(x), strict=True):
            torch.testing.assert_close(mine, their)


def test_initialisation_as_vision_transformer_unless_pre_training():
    """Plain: VisionTransformer's (learnable truncated-normal positions, zero [CLS]);
    with ``mix_ratio`` (pre-training) and ``fixed_sincos_pos_embed``: MAE's."""
    from mmpretrain.models.utils import build_2d_sincos_position_embedding
    sincos = build_2d_sincos_position_embedding((4, 4), 32, cls_token=True)
    plain = MixedAEViT(arch=TINY, img_size=32, patch_size=8)
    plain.init_weights()
    assert plain.pos_embed.requires_grad and not torch.allclose(plain.pos_embed, sincos)
    assert 0.01 < plain.pos_embed.std() < 0.03 and not plain.cls_token.any()
    mixed = MixedAEViT(arch=TINY, img_size=32, patch_size=8, mix_ratio=2,
                       fixed_sincos_pos_embed=True, out_type='raw')
    mixed.init_weights()
    assert not mixed.pos_embed.requires_grad and torch.allclose(mixed.pos_embed, sincos)
    assert mixed.cls_token.any() and mixed.segment_embed.any()


# ---- inputs the patch does not divide -------------------------------------------------

def test_padding_follows_vision_transformer_and_cropping_is_an_option():
    """234x345 with 16-px patches: VisionTransformer pads (15x22), mmseg's MAE crops
    (14x21); MixedAEViT pads by default and crops with ``patch_cfg=dict(padding=0)``,
    which the segmentation and detection configs set (mmseg's MAE, ViTDet's conv; checked
    with those configs' other tests)."""
    from mmseg.models.backbones import MAE
    x = torch.randn(1, 3, 234, 345)
    cfg = dict(arch=TINY, img_size=(234, 345), with_cls_token=False, out_type='featmap')
    assert VisionTransformer(**cfg)(x)[0].shape[2:] == (15, 22)
    assert MixedAEViT(**cfg)(x)[0].shape[2:] == (15, 22)
    mae = MAE(img_size=(234, 345), embed_dims=32, num_layers=1, num_heads=2, mlp_ratio=2,
              out_indices=[0])
    assert mae(x)[0].shape[2:] == (14, 21)
    assert MixedAEViT(**cfg, patch_cfg=dict(padding=0))(x)[0].shape[2:] == (14, 21)


# ---- mmseg 1.2.2 test_mae.py, on the segmentation configs' backbone ---------------------

@pytest.fixture(scope='module')
def seg_backbone_cfg() -> dict:
    cfg = Config.fromfile(str(SEG_CONFIG)).model.backbone
    cfg.update(arch=TINY, init_cfg=None, out_indices=[1])
    return cfg.to_dict()


def build_seg(cfg: dict, **kwargs) -> nn.Module:
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(dict(cfg, **kwargs))


@pytest.mark.parametrize('img_size, input_size, grid', [
    ((224, ), (224, 224), (14, 14)),
    ((224, 224), (224, 224), (14, 14)),
    (256, (256, 256), (16, 16)),
    (32, (32, 32), (2, 2)),
    ((112, 224), (112, 224), (7, 14)),
    ((234, 345), (234, 345), (14, 21)),                        # irregular input: cropped
])
def test_mmseg_mae_shapes(seg_backbone_cfg, img_size, input_size, grid):
    model = build_seg(seg_backbone_cfg, img_size=img_size)
    model.init_weights()
    model.train()
    feat = model(torch.randn(1, 3, *input_size))
    assert feat[-1].shape == (1, 32, *grid)


def test_mmseg_mae_options(seg_backbone_cfg):
    assert seg_backbone_cfg['patch_cfg'] == dict(padding=0)   # crops, as mmseg's MAE
    x = torch.randn(1, 3, 224, 224)
    assert build_seg(seg_backbone_cfg, final_norm=True)(x)[-1].shape == (1, 32, 14, 14)
    feats = build_seg(seg_backbone_cfg, out_indices=[0, 1])(x)
    assert [f.shape for f in feats] == [(1, 32, 14, 14)] * 2
    for bad in (512.0, (224, 224, 224)):                      # mmseg: TypeError / assert
        with pytest.raises(TypeError, match='img_size must be an int or a tuple'):
            build_seg(seg_backbone_cfg, img_size=bad)
