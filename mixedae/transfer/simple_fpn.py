"""ViTDet's simple feature pyramid (Li et al., ECCV 2022) as an mmdet neck, with the
arguments and parameter names of mmdet's ``projects/ViTDet`` ``SimpleFPN``.

A plain ViT gives one stride-p map. Each pyramid level resamples it on its own, with no
top-down path::

    x (B, C, H/p, W/p) --x4:   fpn1 = deconv, LN2d, GELU, deconv -> C/4 --+
                       --x2:   fpn2 = deconv ------------------> C/2 --+-> lateral_convs
                       --x1:   fpn3 = identity ----------------> C   --+   (1x1 conv + norm)
                       --x1/2: fpn4 = max-pool ----------------> C   --+   fpn_convs (3x3
                                                                           conv + norm)
    then 1x1 max-pools of stride 2 on the last level until ``num_outs`` levels.

ViT-B/16 with the default ``scale_factors=(4, 2, 1, 0.5)`` (ViTDet's, fixed there) gives
strides 4, 8, 16, 32 (+64), what mmdet's Mask R-CNN heads expect; a ViT with 8-px patches
gets the same strides from ``(2, 1, 0.5, 0.25)``. Registered as ``mixedae.SimpleFPN``
(``mixedae/registry.py``): ViTDet's own ``SimpleFPN`` keeps its name in mmdet.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from ..registry import MODELS
from .norm import LN2d


def resampler(scale: float, channels: int, norm_cfg: dict) -> Tuple[nn.Sequential, int]:
    """The module that resizes the ViT map by ``scale``, and its output width."""
    if scale == 4:
        return nn.Sequential(
            nn.ConvTranspose2d(channels, channels // 2, 2, stride=2),
            build_norm_layer(norm_cfg, channels // 2)[1],
            nn.GELU(),
            nn.ConvTranspose2d(channels // 2, channels // 4, 2, stride=2)), channels // 4
    if scale == 2:
        return nn.Sequential(nn.ConvTranspose2d(channels, channels // 2, 2, stride=2)), \
            channels // 2
    if scale == 1:
        return nn.Sequential(nn.Identity()), channels
    if scale in (0.5, 0.25):
        stride = round(1 / scale)
        return nn.Sequential(nn.MaxPool2d(stride, stride=stride)), channels
    raise ValueError(f'SimpleFPN scale_factors: {scale} is not one of 4, 2, 1, 0.5, 0.25')


@MODELS.register_module()
class SimpleFPN(BaseModule):
    """Pyramid of ``num_outs`` maps with ``out_channels`` from a single ViT map.

    Args (ViTDet's, in its order, then ``scale_factors``):
        backbone_channel: width C of the ViT feature map.
        in_channels: width of each resampled level ([C/4, C/2, C, C] for the default
            ``scale_factors``); ``None``: derived from ``scale_factors``.
        out_channels: width of every output level.
        num_outs: number of outputs; levels beyond ``len(scale_factors)`` are
            stride-2 subsamplings of the last one (ViTDet's ``LastLevelMaxPool``).
        conv_cfg, norm_cfg, act_cfg: of the lateral and output ``ConvModule``s;
            ``norm_cfg`` also after the first deconv of a x4 level.
        scale_factors: resampling of the ViT map per level, finest first.
    """

    def __init__(self, backbone_channel: int, in_channels: Optional[Sequence[int]] = None,
                 out_channels: int = 256, num_outs: int = 5,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type=LN2d, eps=1e-6),
                 act_cfg: Optional[dict] = None,
                 init_cfg: dict | list | None = None,
                 scale_factors: Sequence[float] = (4, 2, 1, 0.5)) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_outs < len(scale_factors):
            raise ValueError(f'SimpleFPN: num_outs={num_outs} is fewer than the '
                             f'{len(scale_factors)} scale_factors {tuple(scale_factors)}')
        self.num_ins = len(scale_factors)
        self.num_outs = num_outs
        widths = []
        for level, scale in enumerate(scale_factors, start=1):
            module, width = resampler(scale, backbone_channel, norm_cfg)
            self.add_module(f'fpn{level}', module)
            widths.append(width)
        if in_channels is not None and list(in_channels) != widths:
            raise ValueError(f'SimpleFPN: in_channels={list(in_channels)} differ from the '
                             f'widths {widths} that backbone_channel={backbone_channel} '
                             f'and scale_factors={tuple(scale_factors)} give')
        self.in_channels = widths
        self.lateral_convs = nn.ModuleList(
            ConvModule(width, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                       act_cfg=act_cfg) for width in widths)
        self.fpn_convs = nn.ModuleList(
            ConvModule(out_channels, out_channels, 3, padding=1, conv_cfg=conv_cfg,
                       norm_cfg=norm_cfg, act_cfg=act_cfg) for _ in widths)

    def forward(self, inputs: torch.Tensor | Sequence[torch.Tensor]
                ) -> Tuple[torch.Tensor, ...]:
        """``inputs``: the backbone's (B, C, h, w) map, alone (ViTDet's ``ViT``) or as
        the one-element tuple of ``MixedAEViT(out_indices=-1)``."""
        if not isinstance(inputs, torch.Tensor):
            if len(inputs) != 1:
                raise ValueError(f'SimpleFPN takes one backbone map (out_indices=-1), got '
                                 f'{len(inputs)}')
            inputs = inputs[0]
        levels = [getattr(self, f'fpn{i + 1}')(inputs) for i in range(self.num_ins)]
        outs = [fpn_conv(lateral(level)) for level, lateral, fpn_conv in
                zip(levels, self.lateral_convs, self.fpn_convs)]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)
