"""``LN2d``: LayerNorm over the channels of NCHW maps, for ViTDet's neck and heads.

mmpretrain's ``LayerNorm2d`` under ViTDet's name, registered as ``mixedae.LN2d`` (see
``mixedae/registry.py``), so ``norm_cfg=dict(type='mixedae.LN2d')`` builds through
``mmcv.cnn.build_norm_layer`` in the mmdet scope (``ConvModule``, ``FCNMaskHead``,
``ConvFCBBoxHead``).
"""
from mmpretrain.models.utils.norm import LayerNorm2d

from ..registry import MODELS


@MODELS.register_module()
class LN2d(LayerNorm2d):
    """mmpretrain's ``LayerNorm2d`` with ViTDet's parameter names: ViTDet's ``LN2d`` is
    no ``nn.LayerNorm``, so ``ConvModule`` calls it ``norm_layer`` (mmcv's
    ``infer_abbr``), not ``ln``; the same abbreviation here lets ViTDet's neck and head
    checkpoints load."""
    _abbr_ = 'norm_layer'
