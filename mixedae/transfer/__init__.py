"""Transfer of the pre-trained encoder to mmdet and mmseg.

Importing registers the same :class:`~mixedae.models.MixedAEViT` as a backbone in both
codebases, ViTDet's :class:`SimpleFPN` neck and ``LN2d`` in mmdet, and the layer-decay
optimizer constructor in both.
"""
from mmdet.registry import MODELS as MMDET_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from ..models import MixedAEViT
from . import norm  # noqa: F401  (registers LN2d in mmdet)
from .layer_decay import BackboneLayerDecayOptimWrapperConstructor, backbone_layer_depth
from .simple_fpn import SimpleFPN

for _registry in (MMDET_MODELS, MMSEG_MODELS):
    _registry.register_module(module=MixedAEViT)

__all__ = ['BackboneLayerDecayOptimWrapperConstructor', 'SimpleFPN', 'backbone_layer_depth']
