"""ViTDet mode (issues #13, #14): the project's ViTDet pieces beside mmdet's
``projects/ViTDet`` in one process, ViTDet's neck arguments and checkpoint names, one
interpolation of the position grid, and the decomposed relative position bias checked
against timm's SAM ViT (an implementation someone else wrote) with equal weights."""
import subprocess
import sys
from functools import partial

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.models.utils import resize_pos_embed
from torch import nn

from conftest import CONFIGS, ROOT
from mixedae.models import MixedAEBlock, MixedAEViT

TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)

# Stand-ins for mmdet's projects/ViTDet (not in the mmdet wheel): modules under its names,
# registered in mmdet's MODELS as its package does (LN2d: an nn.Module, as ViTDet's).
VITDET_PROJECT = '''
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

@MODELS.register_module()
class ViT(BaseModule):
    def __init__(self, embed_dim=768):
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, 16, 16)

@MODELS.register_module()
class SimpleFPN(BaseModule):
    def __init__(self, backbone_channel, in_channels, out_channels, num_outs,
                 conv_cfg=None, norm_cfg=None, act_cfg=None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)

@MODELS.register_module()
class LN2d(nn.Module):
    def __init__(self, normalized_shape, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
'''
BUILD_BOTH = '''
import torch
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.registry import init_default_scope
init_default_scope('mmdet')
neck = dict(backbone_channel=64, in_channels=[16, 32, 64, 64], out_channels=32, num_outs=5)
built = [MODELS.build(dict(type='ViT', embed_dim=32)),
         MODELS.build(dict(type='MixedAEViT', arch='deit-tiny', img_size=32, patch_size=8)),
         MODELS.build(dict(type='SimpleFPN', **neck)),
         MODELS.build(dict(type='mixedae.SimpleFPN', **neck)),
         build_norm_layer(dict(type='LN2d'), 8)[1],
         build_norm_layer(dict(type='mixedae.LN2d'), 8)[1]]
print(*[f'{type(m).__module__}.{type(m).__name__}' for m in built])
print(*[ConvModule(8, 8, 1, norm_cfg=dict(type=t)).norm_name for t in ('LN2d', 'mixedae.LN2d')])
'''


@pytest.fixture(scope='module')
def both_orders() -> dict:
    """Stdout of one process per import order, the two run side by side."""
    orders = {'vitdet-first': (VITDET_PROJECT, 'import mixedae.modules\n'),
              'mixedae-first': ('import mixedae.modules\n', VITDET_PROJECT)}
    procs = {order: subprocess.Popen(
        [sys.executable, '-c', 'import torch\n' + first + second
         + 'from mmdet.registry import MODELS\n' + BUILD_BOTH],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for order, (first, second) in orders.items()}
    outputs = {order: proc.communicate(timeout=300) for order, proc in procs.items()}
    return {order: (procs[order].returncode, *out) for order, out in outputs.items()}


@pytest.mark.parametrize('order', ['vitdet-first', 'mixedae-first'])
def test_vitdet_project_and_mixedae_register_in_either_order(both_orders, order):
    returncode, stdout, stderr = both_orders[order]
    assert returncode == 0, stderr[-3000:]
    modules, norm_names = stdout.strip().splitlines()[-2:]
    assert modules.split() == [
        '__main__.ViT', 'mixedae.models.encoder.MixedAEViT', '__main__.SimpleFPN',
        'mixedae.transfer.simple_fpn.SimpleFPN', '__main__.LN2d', 'mixedae.transfer.norm.LN2d']
    # ConvModule names ViTDet's norm and ours alike: neck/head checkpoints port
    assert norm_names.split() == ['norm_layer', 'norm_layer']


def build_det(cfg: dict) -> nn.Module:
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg)


def vitdet_neck_state(c: int, out: int) -> dict:
    """A state dict with the names and shapes of mmdet projects/ViTDet's ``SimpleFPN``
    (``fpn1`` deconv-LN2d-GELU-deconv, ``fpn2`` deconv, ``fpn3``/``fpn4`` no weights;
    ``lateral_convs``/``fpn_convs``: ``ConvModule`` without bias, ``LN2d``)."""
    shapes = {'fpn1.0.weight': (c, c // 2, 2, 2), 'fpn1.0.bias': (c // 2, ),
              'fpn1.1.weight': (c // 2, ), 'fpn1.1.bias': (c // 2, ),
              'fpn1.3.weight': (c // 2, c // 4, 2, 2), 'fpn1.3.bias': (c // 4, ),
              'fpn2.0.weight': (c, c // 2, 2, 2), 'fpn2.0.bias': (c // 2, )}
    for i, width in enumerate([c // 4, c // 2, c, c]):
        for convs, (cin, k) in (('lateral_convs', (width, 1)), ('fpn_convs', (out, 3))):
            shapes[f'{convs}.{i}.conv.weight'] = (out, cin, k, k)
            shapes[f'{convs}.{i}.norm_layer.weight'] = (out, )
            shapes[f'{convs}.{i}.norm_layer.bias'] = (out, )
    return {k: torch.randn(shape) for k, shape in shapes.items()}


def test_simple_fpn_takes_vitdet_config_and_checkpoint():
    """mmdet projects/ViTDet's neck config (``vitdet_mask-rcnn_vit-b-mae_lsj-100e``,
    widths scaled down) builds, loads a state dict with ViTDet's names strictly, and
    takes the bare map ViTDet's ``ViT`` returns as well as MixedAEViT's tuple."""
    neck = build_det(dict(type='mixedae.SimpleFPN', backbone_channel=64,
                          in_channels=[16, 32, 64, 64], out_channels=32, num_outs=5,
                          norm_cfg=dict(type='mixedae.LN2d', requires_grad=True)))
    state = vitdet_neck_state(64, 32)
    neck.load_state_dict(state, strict=True)
    for name, value in neck.state_dict().items():
        torch.testing.assert_close(value, state[name])
    x = torch.randn(1, 64, 8, 8)
    outs = neck(x)
    assert [o.shape[2:] for o in outs] == [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]
    for mine, theirs in zip(neck((x, )), outs):
        torch.testing.assert_close(mine, theirs)
    with pytest.raises(ValueError, match=r'in_channels=\[16, 32, 64, 128\] differ'):
        build_det(dict(type='mixedae.SimpleFPN', backbone_channel=64,
                       in_channels=[16, 32, 64, 128], out_channels=32, num_outs=5))


def test_position_grid_is_interpolated_once(tmp_path):
    """ViTDet keeps the pre-training position grid and interpolates it once to the input's
    grid. With ``pretrain_img_size``: a 4x4 checkpoint grid, input grid 6x5 -> one bicubic
    resize 4x4 -> 6x5 (not 4x4 -> 8x8 at load, then 8x8 -> 6x5)."""
    ckpt_pos = torch.randn(1, 1 + 16, 32)                      # with a [CLS] slot
    model = MixedAEViT(arch=TINY, img_size=64, patch_size=8, pretrain_img_size=32,
                       with_cls_token=False, out_type='featmap', use_rel_pos=True,
                       window_size=4, window_block_indexes=[0])
    model.eval()
    model.load_state_dict({'pos_embed': ckpt_pos}, strict=False)
    torch.testing.assert_close(model.pos_embed, ckpt_pos[:, 1:])   # stored as given
    seen = []
    model.drop_after_pos.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    x = torch.randn(1, 3, 48, 40)
    model(x)
    tokens = model.patch_embed(x)[0]
    once = resize_pos_embed(ckpt_pos[:, 1:], (4, 4), (6, 5), 'bicubic', 0)
    torch.testing.assert_close(seen[0], tokens + once)
    twice = resize_pos_embed(resize_pos_embed(ckpt_pos[:, 1:], (4, 4), (8, 8), 'bicubic', 0),
                             (8, 8), (6, 5), 'bicubic', 0)
    assert (twice - once).abs().max() > 1e-3                   # the test can tell them apart


def timm_sam_block(ours: MixedAEBlock, window_size: int, input_size: tuple) -> nn.Module:
    """timm's SAM ViT block with ``ours``' weights (timm names, as the converter maps)."""
    from timm.models.vision_transformer_sam import Block
    dim = ours.embed_dims
    block = Block(dim, ours.attn.num_heads, mlp_ratio=ours.ffn.feedforward_channels / dim,
                  norm_layer=partial(nn.LayerNorm, eps=1e-6), use_rel_pos=True,
                  window_size=window_size, input_size=input_size)
    renames = {'ln1.': 'norm1.', 'ln2.': 'norm2.', 'ffn.layers.0.0.': 'mlp.fc1.',
               'ffn.layers.1.': 'mlp.fc2.'}
    state = {}
    for key, value in ours.state_dict().items():
        for old, new in renames.items():
            if key.startswith(old):
                key = new + key[len(old):]
        state[key] = value
    block.load_state_dict(state, strict=True)
    return block


@pytest.mark.parametrize('window_size, input_size, grid', [
    (4, (6, 6), (6, 7)),        # window block; 6x7 grid padded to 8x8 windows
    (0, (6, 6), (6, 6)),        # global block at its own size
    (0, (6, 6), (5, 7)),        # global block at another size: tables interpolated
])
def test_rel_pos_block_equals_timm_sam_block(window_size, input_size, grid):
    torch.manual_seed(0)
    ours = MixedAEBlock(32, 2, 64, window_size=window_size, use_rel_pos=True,
                        input_size=input_size, norm_cfg=dict(type='LN', eps=1e-6))
    ours.init_weights()
    expected_len = [2 * (window_size or s) - 1 for s in input_size]
    assert [ours.attn.rel_pos_h.shape[0], ours.attn.rel_pos_w.shape[0]] == expected_len
    assert not ours.attn.rel_pos_h.any() and not ours.attn.rel_pos_w.any()  # zero init
    with torch.no_grad():
        for param in ours.parameters():                        # non-zero tables, LN, biases
            param.add_(torch.randn_like(param) * 0.2)
    theirs = timm_sam_block(ours, window_size, input_size)
    x = torch.randn(2, grid[0] * grid[1], 32)
    mine = ours(x, hw=grid)[0]
    their = theirs(x.view(2, *grid, 32)).view(2, -1, 32)
    torch.testing.assert_close(mine, their, rtol=1e-5, atol=1e-5)
    mine.square().sum().backward()
    their.square().sum().backward()
    for name in ('rel_pos_h', 'rel_pos_w'):
        grad = getattr(ours.attn, name).grad
        assert grad.abs().sum() > 0
        torch.testing.assert_close(grad, getattr(theirs.attn, name).grad, rtol=1e-4,
                                   atol=1e-5)


def test_rel_pos_is_fine_tuning_only():
    """The detection configs turn it on in every block; pre-training has none and refuses
    it; it needs an encoder without [CLS] token."""
    cfg = Config.fromfile(str(CONFIGS / 'benchmarks/detection/'
                              'mask-rcnn_mixedae-vit-base-p16_simplefpn_lsj-100e_coco.py'))
    with torch.device('meta'):
        backbone = build_det(cfg.model.backbone)
    sizes = [(blk.attn.rel_pos_h.shape, blk.attn.rel_pos_w.shape) for blk in backbone.layers]
    window, full = ((27, 64), (27, 64)), ((127, 64), (127, 64))
    assert sizes == [window, window, full] * 4
    assert backbone.pos_embed.shape == (1, 14 * 14, 768)       # pretrain_img_size=224
    assert cfg.model.backbone.patch_cfg == dict(padding=0)     # crops, as ViTDet's conv

    pretrain = Config.fromfile(str(CONFIGS / 'demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py'))
    encoder = MixedAEViT(**{k: v for k, v in pretrain.model.backbone.items() if k != 'type'})
    assert all(blk.attn.rel_pos_h is None for blk in encoder.layers)
    for option in (dict(use_rel_pos=True), dict(pretrain_img_size=32)):
        with pytest.raises(ValueError, match='fine-tuning'):
            MixedAEViT(arch=TINY, img_size=32, patch_size=8, mix_ratio=2, **option)
    with pytest.raises(ValueError, match='with_cls_token=False'):
        MixedAEViT(arch=TINY, img_size=32, patch_size=8, use_rel_pos=True)
