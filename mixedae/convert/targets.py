"""Per downstream codebase: how the encoder's keys are renamed and which model checks them.

=========== ============================================= =====================================
target      keys                                          checked against
=========== ============================================= =====================================
mmpretrain  ``backbone.`` + mmpretrain ViT names          mmpretrain ``VisionTransformer``
mmdet       same, without [CLS] token/slot and final norm ``MixedAEViT`` as ViTDet backbone
                                                          (its relative position bias is
                                                          learnt in fine-tuning: missing
                                                          by design)
mmseg       mmpretrain ViT names, no prefix, no final     mmseg ``MAE`` (its layer scale and
            norm (mmseg's MAE does not apply one)         relative position bias are learnt
                                                          in fine-tuning, its relative
                                                          position index is derived: missing
                                                          by design)
timm        timm ``VisionTransformer`` names              timm ``VisionTransformer`` (no head)
=========== ============================================= =====================================
"""
import re
from dataclasses import dataclass
from typing import Callable

import torch
from mmengine.registry import DefaultScope

from .encoder import EncoderArch, drop_cls_position

# mmpretrain ViT name <-> timm ViT name, as key prefixes; ``{}`` is a block index. One
# table for both directions: ``to_timm`` and the readers of timm-named sources.
TIMM_NAMES = (
    ('patch_embed.projection.', 'patch_embed.proj.'),
    ('layers.{}.ln1.', 'blocks.{}.norm1.'),
    ('layers.{}.ln2.', 'blocks.{}.norm2.'),
    ('layers.{}.attn.', 'blocks.{}.attn.'),
    ('layers.{}.ffn.layers.0.0.', 'blocks.{}.mlp.fc1.'),
    ('layers.{}.ffn.layers.1.', 'blocks.{}.mlp.fc2.'),
    ('ln1.', 'norm.'),
)


def _prefix_rules(pairs: tuple, reverse: bool) -> list[tuple[re.Pattern, str]]:
    rules = []
    for ours, theirs in pairs:
        source, target = (theirs, ours) if reverse else (ours, theirs)
        rules.append((re.compile('^' + re.escape(source).replace(r'\{\}', r'(\d+)')),
                      target.replace('{}', r'\1')))
    return rules


def rename_keys(state_dict: dict, pairs: tuple = TIMM_NAMES, reverse: bool = False) -> dict:
    """Rename key prefixes by the first matching pair of ``pairs`` (ours -> theirs, or
    theirs -> ours with ``reverse``); keys matching none stay as they are."""
    rules = _prefix_rules(pairs, reverse)
    out = {}
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            if pattern.match(key):
                key = pattern.sub(replacement, key, count=1)
                break
        out[key] = value
    return out


def to_mmpretrain(encoder: dict) -> dict:
    return {'backbone.' + k: v for k, v in encoder.items()}


def to_mmdet(encoder: dict) -> dict:
    out = {'backbone.' + k: v for k, v in encoder.items()
           if k != 'cls_token' and not k.startswith('ln1.')}
    if 'cls_token' in encoder:
        out['backbone.pos_embed'] = drop_cls_position(encoder['pos_embed'])
    return out


def to_mmseg(encoder: dict) -> dict:
    return {k: v for k, v in encoder.items() if not k.startswith('ln1.')}


def to_timm(encoder: dict) -> dict:
    return rename_keys(encoder, TIMM_NAMES)


def mmpretrain_model(arch: EncoderArch) -> torch.nn.Module:
    from mmpretrain.models import VisionTransformer
    return VisionTransformer(arch=arch.arch, img_size=arch.img_size,
                             patch_size=arch.patch_size,
                             with_cls_token=arch.with_cls_token, out_type='raw')


def mmdet_model(arch: EncoderArch) -> torch.nn.Module:
    from mmdet.registry import MODELS

    from .. import transfer  # noqa: F401  (registers MixedAEViT in mmdet's registry)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(dict(type='MixedAEViT', arch=arch.arch, img_size=arch.img_size,
                                 patch_size=arch.patch_size, with_cls_token=False,
                                 final_norm=False, out_type='featmap',
                                 fixed_sincos_pos_embed=False, use_rel_pos=True))


def mmseg_model(arch: EncoderArch) -> torch.nn.Module:
    from mmseg.models.backbones import MAE
    return MAE(img_size=arch.img_size, patch_size=arch.patch_size,
               embed_dims=arch.embed_dims, num_layers=arch.num_layers,
               num_heads=arch.num_heads,
               mlp_ratio=arch.feedforward_channels // arch.embed_dims, init_values=1.0)


def timm_model(arch: EncoderArch) -> torch.nn.Module:
    from timm.models.vision_transformer import VisionTransformer
    return VisionTransformer(img_size=arch.img_size, patch_size=arch.patch_size,
                             embed_dim=arch.embed_dims, depth=arch.num_layers,
                             num_heads=arch.num_heads,
                             mlp_ratio=arch.feedforward_channels / arch.embed_dims,
                             num_classes=0, class_token=arch.with_cls_token,
                             global_pool='token' if arch.with_cls_token else 'avg')


@dataclass(frozen=True)
class Target:
    """Renaming, the model that checks the result, and its by-design missing keys."""
    rename: Callable[[dict], dict]
    build_model: Callable[[EncoderArch], torch.nn.Module]
    model_name: str
    prefix: str = ''                           # of the keys in the file, not in the model
    not_pretrained: tuple[str, ...] = ()       # key suffixes no pre-training provides
    wrap_state_dict: bool = True               # {'state_dict': ..., 'meta': ...} or plain


TARGETS = {
    'mmpretrain': Target(to_mmpretrain, mmpretrain_model, 'mmpretrain VisionTransformer',
                         prefix='backbone.'),
    'mmdet': Target(to_mmdet, mmdet_model, 'MixedAEViT (ViTDet mode)', prefix='backbone.',
                    not_pretrained=('rel_pos_h', 'rel_pos_w')),
    'mmseg': Target(to_mmseg, mmseg_model, 'mmseg MAE',
                    not_pretrained=('gamma_1', 'gamma_2', 'relative_position_bias_table',
                                    'relative_position_index')),
    'timm': Target(to_timm, timm_model, 'timm VisionTransformer', wrap_state_dict=False),
}
