"""MixedAE encoder: a ViT that mixes groups of images and uses homologous attention.

``MixedAEViT(x)`` is a plain ViT (softmax attention, optional ViTDet-style windows) with
``mmpretrain.VisionTransformer``'s parameter names, so one checkpoint serves pre-training,
classification, detection and segmentation. ``MixedAEViT(x, mix=True)`` is the
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
from mmengine.model import ModuleList
from mmpretrain.models import VisionTransformer
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.models.utils import build_2d_sincos_position_embedding, resize_pos_embed
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
    """Pre-norm ViT block whose attention can be Top-K (homologous) or windowed."""

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 layer_scale_init_value: float = 0., drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0.,
                 qkv_bias: bool = True, window_size: int = 0, attn_impl: str = 'auto',
                 **kwargs) -> None:
        super().__init__(embed_dims, num_heads, feedforward_channels,
                         layer_scale_init_value=layer_scale_init_value,
                         drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                         drop_path_rate=drop_path_rate, qkv_bias=qkv_bias, **kwargs)
        self.attn = HomologousAttention(
            embed_dims=embed_dims, num_heads=num_heads, attn_drop=attn_drop_rate,
            proj_drop=drop_rate,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate),
            qkv_bias=qkv_bias, layer_scale_init_value=layer_scale_init_value,
            attn_impl=attn_impl)
        self.window_size = window_size

    def forward(self, x: torch.Tensor, topk: Optional[int] = None, num_full_rows: int = 1,
                hw: Optional[Tuple[int, int]] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        h = self.ln1(x)
        if self.window_size:
            windows, padded_hw = window_partition(h, hw, self.window_size)
            h, keep = self.attn(windows)
            h = window_unpartition(h, self.window_size, padded_hw, hw)
        else:
            h, keep = self.attn(h, topk, num_full_rows)
        x = x + h
        return self.ffn(self.ln2(x), identity=x), keep


@MODELS.register_module()
class MixedAEViT(VisionTransformer):
    """ViT encoder for MixedAE pre-training and for transfer.

    Args (beyond ``mmpretrain.models.VisionTransformer``'s):
        mix_ratio: images per mixed sequence, r (``None``: the encoder cannot mix).
        balanced_mixing: each image owns exactly N/r positions; else i.i.d. sources.
        segment_embed: add a learnable embedding of the source slot to mixed tokens.
        topk_ratio: keys kept per query as a fraction of N (``None``: 1/r); the [CLS]
            key is kept on top, so K = round(topk_ratio * N) + 1.
        homologous_layers: blocks that use Top-K attention in the mixed pass
            (``None``: all; ``[]``: none, i.e. naive mixing).
        cls_query: ``'full'`` — the [CLS] query attends to all keys; ``'topk'`` — it
            is restricted like the patch queries.
        fixed_sincos_pos_embed: 2-D sin-cos position embedding, frozen (MAE
            pre-training); ``False`` keeps it learnable (fine-tuning).
        window_size, window_block_indexes: ViTDet-style windowed attention in the
            listed blocks (needs ``with_cls_token=False``).
        attn_impl: kernel of the Top-K attention, see ``homologous_attention.py``
            (``'auto'``: fused SDPA on CUDA bf16/fp16, ``'topk_softmax'`` otherwise).
    """

    def __init__(self,
                 arch: str | dict = 'b',
                 img_size: int = 224,
                 patch_size: int = 16,
                 out_indices: int | Sequence[int] = -1,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 final_norm: bool = True,
                 out_type: str = 'raw',
                 with_cls_token: bool = True,
                 frozen_stages: int = -1,
                 interpolate_mode: str = 'bicubic',
                 layer_scale_init_value: float = 0.,
                 patch_cfg: dict = dict(),
                 layer_cfgs: dict | Sequence[dict] = dict(),
                 mix_ratio: Optional[int] = None,
                 balanced_mixing: bool = True,
                 segment_embed: bool = True,
                 topk_ratio: Optional[float] = None,
                 homologous_layers: Optional[Sequence[int]] = None,
                 cls_query: str = 'full',
                 fixed_sincos_pos_embed: bool = True,
                 window_size: int = 0,
                 window_block_indexes: Sequence[int] = (),
                 attn_impl: str = 'auto',
                 init_cfg: Optional[dict | List[dict]] = None) -> None:
        if img_size % patch_size:
            raise ValueError(f'img_size={img_size} is not divisible by '
                             f'patch_size={patch_size}')
        super().__init__(
            arch=arch, img_size=img_size, patch_size=patch_size, out_indices=out_indices,
            drop_rate=drop_rate, drop_path_rate=drop_path_rate, qkv_bias=qkv_bias,
            norm_cfg=norm_cfg, final_norm=final_norm, out_type=out_type,
            with_cls_token=with_cls_token, frozen_stages=-1,
            interpolate_mode=interpolate_mode,
            layer_scale_init_value=layer_scale_init_value, patch_cfg=patch_cfg,
            init_cfg=init_cfg)
        self.num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        self._build_blocks(drop_path_rate, layer_scale_init_value, drop_rate, qkv_bias,
                           norm_cfg, layer_cfgs, window_size, window_block_indexes,
                           attn_impl)
        self.fixed_sincos_pos_embed = fixed_sincos_pos_embed
        self.pos_embed.requires_grad = not fixed_sincos_pos_embed

        self.mix_ratio = mix_ratio
        self.balanced_mixing = balanced_mixing
        self.segment_embed = None
        if mix_ratio is not None:
            self._check_mixing_args(topk_ratio, homologous_layers, cls_query)
            self.topk = round((topk_ratio or 1 / mix_ratio) * self.num_patches) + 1
            self.homologous_layers = set(range(self.num_layers) if homologous_layers is None
                                         else homologous_layers)
            self.num_full_rows = 1 if cls_query == 'full' else 0
            if segment_embed:
                self.segment_embed = nn.Parameter(torch.zeros(mix_ratio, self.embed_dims))

        self.frozen_stages = frozen_stages
        if frozen_stages > 0:
            self._freeze_stages()

    def _build_blocks(self, drop_path_rate, layer_scale_init_value, drop_rate, qkv_bias,
                      norm_cfg, layer_cfgs, window_size, window_block_indexes,
                      attn_impl) -> None:
        """Replace mmpretrain's blocks by ``MixedAEBlock`` (same parameter names)."""
        if window_size and self.with_cls_token:
            raise ValueError('windowed attention needs with_cls_token=False')
        if isinstance(layer_cfgs, dict):
            layer_cfgs = [layer_cfgs] * self.num_layers
        # Python floats: torch.compile lifts a numpy scalar drop_prob to a graph input and
        # breaks the graph at DropPath's `if drop_prob == 0.` in every block.
        dpr = np.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.layers = ModuleList(
            MixedAEBlock(
                embed_dims=self.embed_dims,
                num_heads=self.arch_settings['num_heads'],
                feedforward_channels=self.arch_settings['feedforward_channels'],
                layer_scale_init_value=layer_scale_init_value, drop_rate=drop_rate,
                drop_path_rate=dpr[i], qkv_bias=qkv_bias, norm_cfg=norm_cfg,
                window_size=window_size if i in window_block_indexes else 0,
                attn_impl=attn_impl, **layer_cfgs[i]) for i in range(self.num_layers))

    def _check_mixing_args(self, topk_ratio, homologous_layers, cls_query) -> None:
        check_mix_config(self.num_patches, self.mix_ratio, self.balanced_mixing)
        if not self.with_cls_token:
            raise ValueError('the mixed pass needs with_cls_token=True')
        if topk_ratio is not None and not 1 <= round(topk_ratio * self.num_patches) \
                <= self.num_patches:
            raise ValueError(f'topk_ratio={topk_ratio} gives K='
                             f'{round(topk_ratio * self.num_patches)} patch keys, outside '
                             f'[1, N={self.num_patches}]')
        bad = [i for i in homologous_layers or () if not 0 <= i < self.num_layers]
        if bad:
            raise ValueError(f'homologous_layers {bad} outside [0, {self.num_layers})')
        if cls_query not in ('full', 'topk'):
            raise ValueError(f"cls_query must be 'full' or 'topk', got {cls_query!r}")

    def _prepare_pos_embed(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        """Load-time hook: drop a checkpoint's [CLS] position slot when this encoder has
        no [CLS] token, then resize the grid (mmpretrain drops the slot only when the
        grids already match, so a 224-px checkpoint would not load at 1024 px)."""
        name = prefix + 'pos_embed'
        if not self.with_cls_token and name in state_dict:
            length = state_dict[name].shape[1]
            if length > 1 and math.isqrt(length - 1)**2 == length - 1:
                state_dict[name] = state_dict[name][:, 1:]
        super()._prepare_pos_embed(state_dict, prefix, *args, **kwargs)

    def init_weights(self) -> None:
        """MAE initialisation: sin-cos positions, Xavier patch embedding, N(0, .02) tokens."""
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        if self.fixed_sincos_pos_embed:
            pos_embed = build_2d_sincos_position_embedding(
                self.patch_resolution, self.embed_dims, cls_token=self.with_cls_token)
            self.pos_embed.data.copy_(pos_embed.float())
        w = self.patch_embed.projection.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        if self.cls_token is not None:
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
        x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, hw,
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
