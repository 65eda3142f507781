"""MixedAE encoder: a ViT that mixes groups of images and uses homologous attention.

``MixedAEViT(x)`` is a plain ViT, a drop-in ``mmpretrain.VisionTransformer`` (same
arguments, defaults and parameter names) with ViTDet's options (windows, decomposed
relative position bias, position grid of the pre-training size), so one checkpoint serves
pre-training, classification, detection and segmentation. ``MixedAEViT(x, mix=True)`` is the
pre-training path::

    images (B, 3, H, W)
      -> patch embed + pos embed          (B, N, D)
      -> mix groups of r images           (G, N, D), src (G, N)       [mixing.py]
      -> + segment embedding, [CLS]       (G, 1 + N, D)
      -> blocks with Top-K attention      (G, 1 + N, D)               [homologous_attention.py]
"""
import math
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmengine.model import ModuleList
from mmpretrain.models import VisionTransformer
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.models.utils import (build_2d_sincos_position_embedding, resize_pos_embed,
                                     to_2tuple)
from mmpretrain.registry import MODELS
from torch import nn

from .homologous_attention import HomologousAttention
from .mixing import (check_batch_size, check_mix_config, mix_tokens, mixing_sources,
                     same_source)
from .windows import window_partition, window_unpartition


class MixedEncoding(NamedTuple):
    """Output of the mixed forward pass."""
    latent: torch.Tensor              # (G, 1 + N, D) encoder output, [CLS] first
    src: torch.Tensor                 # (G, N) source image of each position
    homo_acc: Optional[torch.Tensor]  # share of kept Top-K keys that are homologous


class MixedAEBlock(TransformerEncoderLayer):
    """Pre-norm ViT block whose attention can be Top-K (homologous) or windowed, and,
    as ViTDet's, carry a decomposed relative position bias (``use_rel_pos``: tables for
    the window in a window block, for ``input_size``, the token grid, in a global one)."""

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 layer_scale_init_value: float = 0., drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0.,
                 qkv_bias: bool = True, window_size: int = 0, use_rel_pos: bool = False,
                 input_size: Optional[Tuple[int, int]] = None, attn_impl: str = 'auto',
                 **kwargs) -> None:
        super().__init__(embed_dims, num_heads, feedforward_channels,
                         layer_scale_init_value=layer_scale_init_value,
                         drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                         drop_path_rate=drop_path_rate, qkv_bias=qkv_bias, **kwargs)
        rel_pos_size = None
        if use_rel_pos:
            rel_pos_size = (window_size, window_size) if window_size else input_size
            if rel_pos_size is None:
                raise ValueError('use_rel_pos in a global block needs input_size')
        self.attn = HomologousAttention(
            embed_dims=embed_dims, num_heads=num_heads, attn_drop=attn_drop_rate,
            proj_drop=drop_rate,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate),
            qkv_bias=qkv_bias, layer_scale_init_value=layer_scale_init_value,
            attn_impl=attn_impl, rel_pos_size=rel_pos_size)
        self.window_size = window_size

    def forward(self, x: torch.Tensor, topk: Optional[int] = None, num_full_rows: int = 1,
                hw: Optional[Tuple[int, int]] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        h = self.ln1(x)
        if self.window_size:
            windows, padded_hw = window_partition(h, hw, self.window_size)
            h, keep = self.attn(windows, hw=(self.window_size, self.window_size))
            h = window_unpartition(h, self.window_size, padded_hw, hw)
        else:
            h, keep = self.attn(h, topk, num_full_rows, hw=hw)
        x = x + h
        return self.ffn(self.ln2(x), identity=x), keep


def image_size_2d(img_size: int | Sequence[int]) -> Tuple[int, int]:
    """``img_size`` as (h, w): an int, or a tuple of one or two ints (mmseg's configs
    write ``(512, 512)``)."""
    if isinstance(img_size, int):
        return img_size, img_size
    if (isinstance(img_size, (tuple, list)) and len(img_size) in (1, 2)
            and all(isinstance(s, int) for s in img_size)):
        return img_size[0], img_size[-1]
    raise TypeError(f'img_size must be an int or a tuple of one or two ints, got '
                    f'{img_size!r}')


@MODELS.register_module()
class MixedAEViT(VisionTransformer):
    """ViT encoder for MixedAE pre-training and for transfer.

    The plain path is a drop-in ``mmpretrain.models.VisionTransformer``: the same
    arguments in the same order with the same defaults (``out_type='cls_token'``), the
    same parameter names, initialisation and features; inputs not divisible by the patch
    are padded as there (``patch_cfg=dict(padding=0)`` crops instead, as mmseg's ``MAE``
    and ViTDet do).

    Args (beyond ``VisionTransformer``'s; ViTDet's names where ViTDet has the option):
        mix_ratio: images per mixed sequence, r (``None``: the encoder cannot mix).
        balanced_mixing: each image owns exactly N/r positions; else i.i.d. sources.
        segment_embed: add a learnable embedding of the source slot to mixed tokens.
        topk_ratio: sets K, the keys each query keeps: K = round(topk_ratio * N) + 1,
            chosen among all 1 + N keys (the [CLS] key competes like any other; it is
            not forced into the kept set). ``None``: topk_ratio = 1/r.
        homologous_layers: blocks that use Top-K attention in the mixed pass
            (``None``: all; ``[]``: none, i.e. naive mixing).
        cls_query: ``'full'`` — the [CLS] query attends to all keys; ``'topk'`` — it
            is restricted like the patch queries.
        fixed_sincos_pos_embed: 2-D sin-cos position embedding, frozen (MAE
            pre-training; the pre-training configs set it). ``False``: learnable.
        window_size, window_block_indexes: ViTDet's windowed attention in the listed
            blocks (needs ``with_cls_token=False``).
        use_rel_pos: ViTDet's decomposed relative position bias in every block, zero at
            initialisation (needs ``with_cls_token=False``; plain path only).
        pretrain_img_size: ViTDet's: the position embedding keeps the grid of this
            pre-training size and is interpolated once per forward to the input's grid
            (``None``: it has ``img_size``'s grid, as in ``VisionTransformer``).
        attn_impl: kernel of the Top-K attention, see ``homologous_attention.py``
            (``'auto'``: fused SDPA on CUDA bf16/fp16, ``'topk_softmax'`` otherwise).

    A plain encoder (``mix_ratio=None``) initialises as ``VisionTransformer``; a
    pre-training one as MAE's (Xavier patch embedding, N(0, .02) [CLS] and segment
    embeddings).
    """

    def __init__(self,
                 arch: str | dict = 'base',
                 img_size: int | Sequence[int] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 out_indices: int | Sequence[int] = -1,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 final_norm: bool = True,
                 out_type: str = 'cls_token',
                 with_cls_token: bool = True,
                 frozen_stages: int = -1,
                 interpolate_mode: str = 'bicubic',
                 layer_scale_init_value: float = 0.,
                 patch_cfg: dict = dict(),
                 layer_cfgs: dict | Sequence[dict] = dict(),
                 pre_norm: bool = False,
                 init_cfg: Optional[dict | List[dict]] = None,
                 mix_ratio: Optional[int] = None,
                 balanced_mixing: bool = True,
                 segment_embed: bool = True,
                 topk_ratio: Optional[float] = None,
                 homologous_layers: Optional[Sequence[int]] = None,
                 cls_query: str = 'full',
                 fixed_sincos_pos_embed: bool = False,
                 window_size: int = 0,
                 window_block_indexes: Sequence[int] = (),
                 use_rel_pos: bool = False,
                 pretrain_img_size: Optional[int | Sequence[int]] = None,
                 attn_impl: str = 'auto') -> None:
        super().__init__(
            arch=arch, img_size=image_size_2d(img_size), patch_size=patch_size,
            in_channels=in_channels, out_indices=out_indices, drop_rate=drop_rate,
            drop_path_rate=drop_path_rate, qkv_bias=qkv_bias, norm_cfg=norm_cfg,
            final_norm=final_norm, out_type=out_type, with_cls_token=with_cls_token,
            frozen_stages=-1, interpolate_mode=interpolate_mode,
            layer_scale_init_value=layer_scale_init_value, patch_cfg=patch_cfg,
            pre_norm=pre_norm, init_cfg=init_cfg)
        self.num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        self.mix_ratio = mix_ratio
        self.balanced_mixing = balanced_mixing
        if mix_ratio is not None:
            self._check_mixing_args(topk_ratio, homologous_layers, cls_query, patch_size,
                                    use_rel_pos, pretrain_img_size)
        if (window_size or use_rel_pos) and self.with_cls_token:
            raise ValueError('windowed attention and relative position bias need '
                             'with_cls_token=False')
        self._build_blocks(
            dict(layer_scale_init_value=layer_scale_init_value, drop_rate=drop_rate,
                 qkv_bias=qkv_bias, norm_cfg=norm_cfg, use_rel_pos=use_rel_pos,
                 input_size=self.patch_resolution, attn_impl=attn_impl),
            drop_path_rate, layer_cfgs, window_size, window_block_indexes)
        self.pos_embed_grid = tuple(self.patch_resolution)
        if pretrain_img_size is not None:
            self._store_pos_embed_at(pretrain_img_size, patch_size)
        self.fixed_sincos_pos_embed = fixed_sincos_pos_embed
        self.pos_embed.requires_grad = not fixed_sincos_pos_embed

        self.segment_embed = None
        if mix_ratio is not None:
            self.topk = round((topk_ratio or 1 / mix_ratio) * self.num_patches) + 1
            self.homologous_layers = set(range(self.num_layers) if homologous_layers is None
                                         else homologous_layers)
            self.num_full_rows = 1 if cls_query == 'full' else 0
            if segment_embed:
                self.segment_embed = nn.Parameter(torch.zeros(mix_ratio, self.embed_dims))

        self.frozen_stages = frozen_stages
        if frozen_stages > 0:
            self._freeze_stages()

    def _build_blocks(self, block_cfg: dict, drop_path_rate: float,
                      layer_cfgs: dict | Sequence[dict], window_size: int,
                      window_block_indexes: Sequence[int]) -> None:
        """Replace mmpretrain's blocks by ``MixedAEBlock`` (same parameter names); as
        there, ``layer_cfgs`` (one dict, or one per block) override the block defaults."""
        if isinstance(layer_cfgs, dict):
            layer_cfgs = [layer_cfgs] * self.num_layers
        # Python floats: torch.compile lifts a numpy scalar drop_prob to a graph input and
        # breaks the graph at DropPath's `if drop_prob == 0.` in every block.
        dpr = np.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.layers = ModuleList(
            MixedAEBlock(**{**block_cfg,
                            'embed_dims': self.embed_dims,
                            'num_heads': self.arch_settings['num_heads'],
                            'feedforward_channels':
                                self.arch_settings['feedforward_channels'],
                            'drop_path_rate': dpr[i],
                            'window_size': window_size if i in window_block_indexes else 0,
                            **layer_cfgs[i]})
            for i in range(self.num_layers))

    def _store_pos_embed_at(self, pretrain_img_size: int | Sequence[int],
                            patch_size: int) -> None:
        """ViTDet's ``pretrain_img_size``: ``pos_embed`` rebuilt at that size's grid."""
        size, patch = image_size_2d(pretrain_img_size), to_2tuple(patch_size)
        if size[0] % patch[0] or size[1] % patch[1]:
            raise ValueError(f'pretrain_img_size={pretrain_img_size} is not divisible by '
                             f'patch_size={patch_size}')
        self.pos_embed_grid = (size[0] // patch[0], size[1] // patch[1])
        num_positions = self.pos_embed_grid[0] * self.pos_embed_grid[1]
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_extra_tokens + num_positions, self.embed_dims))

    def _check_mixing_args(self, topk_ratio, homologous_layers, cls_query, patch_size,
                           use_rel_pos, pretrain_img_size) -> None:
        if any(s % p for s, p in zip(self.img_size, to_2tuple(patch_size))):
            raise ValueError(f'img_size={self.img_size} is not divisible by '
                             f'patch_size={patch_size}')
        check_mix_config(self.num_patches, self.mix_ratio, self.balanced_mixing)
        if use_rel_pos or pretrain_img_size is not None:
            raise ValueError('use_rel_pos and pretrain_img_size are fine-tuning (ViTDet) '
                             'options; the mixed pre-training pass has neither')
        if not self.with_cls_token:
            raise ValueError('the mixed pass needs with_cls_token=True')
        if topk_ratio is not None and not 1 <= round(topk_ratio * self.num_patches) \
                <= self.num_patches:
            raise ValueError(f'topk_ratio={topk_ratio} gives round(topk_ratio * N)='
                             f'{round(topk_ratio * self.num_patches)}, outside '
                             f'[1, N={self.num_patches}]')
        bad = [i for i in homologous_layers or () if not 0 <= i < self.num_layers]
        if bad:
            raise ValueError(f'homologous_layers {bad} outside [0, {self.num_layers})')
        if cls_query not in ('full', 'topk'):
            raise ValueError(f"cls_query must be 'full' or 'topk', got {cls_query!r}")

    def _prepare_pos_embed(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        """Load-time hook: a checkpoint's position embedding onto ``pos_embed_grid``. Its
        [CLS] slot is dropped when this encoder has no [CLS] token, and its (square) grid
        resized when it differs (mmpretrain drops the slot only when the grids already
        match, so a 224-px checkpoint would not load at 1024 px)."""
        name = prefix + 'pos_embed'
        if name not in state_dict:
            return
        pos_embed = state_dict[name]
        length = pos_embed.shape[1]
        if not self.with_cls_token and length > 1 and math.isqrt(length - 1)**2 == length - 1:
            pos_embed = pos_embed[:, 1:]
        if pos_embed.shape != self.pos_embed.shape:
            grid = math.isqrt(pos_embed.shape[1] - self.num_extra_tokens)
            MMLogger.get_current_instance().info(
                f'Resize the pos_embed shape from {tuple(pos_embed.shape)} to '
                f'{tuple(self.pos_embed.shape)}.')
            pos_embed = resize_pos_embed(pos_embed, (grid, grid), self.pos_embed_grid,
                                         self.interpolate_mode, self.num_extra_tokens)
        state_dict[name] = pos_embed

    def init_weights(self) -> None:
        """``VisionTransformer``'s initialisation (or checkpoint); then, unless loaded from
        a checkpoint, the sin-cos positions and, for pre-training, MAE's initialisation."""
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        if self.fixed_sincos_pos_embed:
            pos_embed = build_2d_sincos_position_embedding(
                self.pos_embed_grid, self.embed_dims, cls_token=self.with_cls_token)
            self.pos_embed.data.copy_(pos_embed.float())
        if self.mix_ratio is None:
            return
        w = self.patch_embed.projection.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=.02)
        if self.segment_embed is not None:
            nn.init.normal_(self.segment_embed, std=.02)

    def forward(self, x: torch.Tensor, mix: bool = False):
        """Plain ViT features (tuple, per ``out_indices``/``out_type``), or, with
        ``mix=True``, the pre-training pass returning a :class:`MixedEncoding`."""
        if mix:
            return self.forward_mixed(x)
        x, hw = self.patch_embed(x)                                       # (B, N, D)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.pos_embed_grid, hw,
                                 mode=self.interpolate_mode,
                                 num_extra_tokens=self.num_extra_tokens)
        x = self.pre_norm(self.drop_after_pos(x))
        outs = []
        for i, layer in enumerate(self.layers):
            x, _ = layer(x, hw=hw)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, hw))
        return tuple(outs)

    def forward_mixed(self, images: torch.Tensor) -> MixedEncoding:
        """Mix groups of ``mix_ratio`` images and encode them with homologous attention."""
        if self.mix_ratio is None:
            raise ValueError('this MixedAEViT was built with mix_ratio=None')
        check_batch_size(images.shape[0], self.mix_ratio)
        x = self.patch_embed(images)[0] + self.pos_embed[:, 1:]            # (B, N, D)
        src = mixing_sources(images.shape[0] // self.mix_ratio, self.num_patches,
                             self.mix_ratio, self.balanced_mixing, images.device)
        x = mix_tokens(x, src)                                            # (G, N, D)
        if self.segment_embed is not None:
            x = x + self.segment_embed[src]
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)                                    # (G, 1+N, D)

        homo_acc = []
        for i, layer in enumerate(self.layers):
            topk = self.topk if i in self.homologous_layers else None
            x, keep = layer(x, topk, self.num_full_rows)
            if keep is not None:
                homo_acc.append(homologous_share(keep, src))
        if self.final_norm:
            x = self.ln1(x)
        return MixedEncoding(x, src, torch.stack(homo_acc).mean() if homo_acc else None)


@torch.no_grad()
def homologous_share(keep: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """Share of the patch keys kept by patch queries that come from the query's image.

    Args:
        keep: (G, h, 1 + N, 1 + N) keep-mask of one Top-K layer.
        src: (G, N) source map. Chance level is about 1/r.
    """
    kept = keep[:, :, 1:, 1:]                                             # (G, h, N, N)
    return (kept & same_source(src)[:, None]).sum() / kept.sum().clamp(min=1)
