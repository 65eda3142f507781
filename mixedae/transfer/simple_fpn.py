"""ViTDet's simple feature pyramid (Li et al., ECCV 2022) as an mmdet neck.

A plain ViT gives one stride-p map. Each pyramid level resamples it on its own, with no
top-down path::

    x (B, C, H/p, W/p) --x4: deconv, LN2d, GELU, deconv -> C/4 --+
                       --x2: deconv ---------------------> C/2 --+-> 1x1 conv + LN2d
                       --x1: identity -------------------> C   --+   3x3 conv + LN2d
                       --x1/2: max-pool -----------------> C   --+   -> out_channels
    then 1x1 max-pools of stride 2 on the last level until ``num_outs`` levels.

ViT-B/16 with the default ``scale_factors=(4, 2, 1, 0.5)`` gives strides 4, 8, 16, 32
(+64), what mmdet's Mask R-CNN heads expect; a ViT with 8-px patches gets the same
strides from ``(2, 1, 0.5, 0.25)``.
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import nn


def resampler(scale: float, channels: int, norm_cfg: dict) -> Tuple[nn.Module, int]:
    """The module that resizes the ViT map by ``scale``, and its output width."""
    if scale == 4:
        return nn.Sequential(
            nn.ConvTranspose2d(channels, channels // 2, 2, stride=2),
            build_norm_layer(norm_cfg, channels // 2)[1],
            nn.GELU(),
            nn.ConvTranspose2d(channels // 2, channels // 4, 2, stride=2)), channels // 4
    if scale == 2:
        return nn.ConvTranspose2d(channels, channels // 2, 2, stride=2), channels // 2
    if scale == 1:
        return nn.Identity(), channels
    if scale in (0.5, 0.25):
        stride = round(1 / scale)
        return nn.MaxPool2d(stride, stride=stride), channels
    raise ValueError(f'SimpleFPN scale_factors: {scale} is not one of 4, 2, 1, 0.5, 0.25')


@MODELS.register_module()
class SimpleFPN(BaseModule):
    """Pyramid of ``num_outs`` maps with ``out_channels`` from a single ViT map.

    Args:
        backbone_channel: width C of the ViT feature map.
        out_channels: width of every output level.
        num_outs: number of outputs; levels beyond ``len(scale_factors)`` are
            stride-2 subsamplings of the last one (ViTDet's ``LastLevelMaxPool``).
        scale_factors: resampling of the ViT map per level, finest first.
        norm_cfg: norm after the deconvs and in the lateral/output convs.
    """

    def __init__(self, backbone_channel: int, out_channels: int = 256, num_outs: int = 5,
                 scale_factors: Sequence[float] = (4, 2, 1, 0.5),
                 norm_cfg: dict = dict(type='LN2d', eps=1e-6),
                 init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_outs < len(scale_factors):
            raise ValueError(f'SimpleFPN: num_outs={num_outs} is fewer than the '
                             f'{len(scale_factors)} scale_factors {tuple(scale_factors)}')
        self.num_outs = num_outs
        self.resamplers = nn.ModuleList()
        self.lateral_convs = nn.ModuleList()
        self.output_convs = nn.ModuleList()
        for scale in scale_factors:
            module, channels = resampler(scale, backbone_channel, norm_cfg)
            self.resamplers.append(module)
            self.lateral_convs.append(
                ConvModule(channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None))
            self.output_convs.append(
                ConvModule(out_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg,
                           act_cfg=None))

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """``inputs``: the backbone's outputs, exactly one (B, C, h, w) map."""
        if len(inputs) != 1:
            raise ValueError(f'SimpleFPN takes one backbone map (out_indices=-1), got '
                             f'{len(inputs)}')
        x = inputs[0]
        outs = [output(lateral(resample(x))) for resample, lateral, output in
                zip(self.resamplers, self.lateral_convs, self.output_convs)]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)
