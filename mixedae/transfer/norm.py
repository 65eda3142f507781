"""``LN2d``: LayerNorm over the channels of NCHW maps, for ViTDet's neck and heads.

mmpretrain's ``LayerNorm2d`` (registered there as ``LN2d``) is registered under the same
name in mmdet's ``MODELS``, so ``norm_cfg=dict(type='LN2d')`` builds through
``mmcv.cnn.build_norm_layer`` in the mmdet scope (``ConvModule``, ``FCNMaskHead``,
``ConvFCBBoxHead``).
"""
from mmdet.registry import MODELS
from mmpretrain.models.utils.norm import LayerNorm2d

MODELS.register_module('LN2d', module=LayerNorm2d)
