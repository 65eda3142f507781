"""The encoder of a pre-training checkpoint: its weights and its architecture."""
import re
from dataclasses import dataclass

import torch

# keys of downstream models: such a checkpoint is a fine-tuned model, not a pre-training one
TASK_PREFIXES = ('rpn_head.', 'roi_head.', 'bbox_head.', 'mask_head.', 'decode_head.',
                 'auxiliary_head.', 'head.layers.', 'head.fc.')
# pre-training-only parameters of the encoder
PRETRAIN_ONLY = ('segment_embed',)
# head dimension of the standard ViT sizes (tiny to large: 64, huge: 80)
STANDARD_HEADS = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16}


class ConversionError(ValueError):
    """A checkpoint that cannot be converted; the message names the file and the keys."""


@dataclass(frozen=True)
class EncoderArch:
    """What the weights say about a plain ViT encoder (``num_heads`` is not in them)."""
    embed_dims: int
    num_layers: int
    num_heads: int
    feedforward_channels: int
    patch_size: int
    img_size: int
    with_cls_token: bool

    @property
    def arch(self) -> dict:
        """mmpretrain's ``arch`` dict."""
        return dict(embed_dims=self.embed_dims, num_layers=self.num_layers,
                    num_heads=self.num_heads, feedforward_channels=self.feedforward_channels)


def encoder_state_dict(checkpoint: dict, source: str) -> dict:
    """The ``backbone.*`` weights of a MixedAE / naive-mix / mmpretrain-MAE pre-training
    checkpoint without the prefix and without pre-training-only parameters.

    Raises:
        ConversionError: a downstream (detector, segmentor, classifier) checkpoint, or
            one without ViT encoder weights.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict):
        raise ConversionError(f'{source}: holds a {type(state_dict).__name__}, not a state '
                              'dict')
    task_keys = sorted(k for k in state_dict if k.startswith(TASK_PREFIXES))
    if task_keys:
        raise ConversionError(
            f'{source}: a downstream model checkpoint (keys such as {task_keys[0]!r}), not a '
            'MixedAE/MAE pre-training checkpoint; convert the pre-training checkpoint instead')
    encoder = {k[len('backbone.'):]: v for k, v in state_dict.items()
               if k.startswith('backbone.')}
    for name in ('patch_embed.projection.weight', 'pos_embed', 'layers.0.attn.qkv.weight'):
        if name not in encoder:
            raise ConversionError(
                f'{source}: no ViT encoder weights (no key backbone.{name}); expected a '
                'MixedAE/MAE pre-training checkpoint saved by mmengine')
    return {k: v for k, v in encoder.items() if k not in PRETRAIN_ONLY}


def infer_arch(encoder: dict, num_heads: int | None = None) -> EncoderArch:
    """Sizes of the encoder from its weights; ``num_heads`` defaults to the standard
    value of the width (else 64-dim heads) — it only matters for features, not for keys."""
    embed_dims, _, patch_size, _ = encoder['patch_embed.projection.weight'].shape
    num_layers = 1 + max(int(m.group(1)) for k in encoder
                         if (m := re.match(r'layers\.(\d+)\.', k)))
    with_cls_token = 'cls_token' in encoder
    num_patches = encoder['pos_embed'].shape[1] - with_cls_token
    grid = int(num_patches**0.5)
    if grid * grid != num_patches:
        raise ConversionError(f'pos_embed of {num_patches} patch positions is not a square '
                              'grid')
    if num_heads is None:
        num_heads = STANDARD_HEADS.get(embed_dims, max(1, embed_dims // 64))
    if num_heads < 1 or embed_dims % num_heads:
        raise ConversionError(f'num_heads={num_heads} does not divide the width '
                              f'{embed_dims}')
    return EncoderArch(
        embed_dims=embed_dims, num_layers=num_layers, num_heads=num_heads,
        feedforward_channels=encoder['layers.0.ffn.layers.0.0.weight'].shape[0],
        patch_size=patch_size, img_size=grid * patch_size, with_cls_token=with_cls_token)


def drop_cls_position(pos_embed: torch.Tensor) -> torch.Tensor:
    """(1, 1 + N, C) -> (1, N, C): the position embedding of an encoder without [CLS]."""
    return pos_embed[:, 1:]
