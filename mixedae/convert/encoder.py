"""The encoder of a pre-training checkpoint: its weights and its architecture."""
import re
from dataclasses import dataclass

import torch

# the plain ViT encoder in mmpretrain names: what a pre-training provides
ENCODER_KEY = re.compile(
    r'(cls_token|pos_embed|patch_embed\.projection\.(weight|bias)|ln1\.(weight|bias)'
    r'|layers\.\d+\.(ln1|ln2|attn\.qkv|attn\.proj|ffn\.layers\.0\.0|ffn\.layers\.1)'
    r'\.(weight|bias))')
BLOCK_KEYS = tuple(f'{layer}.{p}' for layer in ('ln1', 'attn.qkv', 'attn.proj', 'ln2',
                                               'ffn.layers.0.0', 'ffn.layers.1')
                   for p in ('weight', 'bias'))
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


def is_encoder_key(key: str) -> bool:
    """A parameter of the plain ViT encoder (mmpretrain names, no prefix)."""
    return ENCODER_KEY.fullmatch(key) is not None


def check_encoder_keys(encoder: dict, source: str) -> None:
    """A complete plain ViT encoder: patch embedding, position embedding, blocks 0..L-1
    with all their weights, nothing else (the [CLS] token and final norm are optional).

    Raises:
        ConversionError: naming ``source`` and the missing or unknown keys.
    """
    unknown = sorted(k for k in encoder if not is_encoder_key(k))
    if unknown:
        raise ConversionError(f'{source}: keys outside a plain ViT encoder: {unknown[:8]}'
                              + (f' and {len(unknown) - 8} more' if len(unknown) > 8 else ''))
    blocks = {int(k.split('.')[1]) for k in encoder if k.startswith('layers.')}
    required = ['patch_embed.projection.weight', 'patch_embed.projection.bias', 'pos_embed']
    required += [f'layers.{i}.{k}' for i in range(max(blocks, default=0) + 1)
                 for k in BLOCK_KEYS]
    missing = [k for k in required if k not in encoder]
    if missing:
        raise ConversionError(f'{source}: ViT encoder weights missing: {missing[:8]}'
                              + (f' and {len(missing) - 8} more' if len(missing) > 8 else ''))


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
