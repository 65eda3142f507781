"""Transfer of the pre-trained encoder to mmdet and mmseg.

Importing registers the same :class:`~mixedae.models.MixedAEViT` as a backbone in both
codebases (``MixedAEViT``, a name no upstream uses), ViTDet's :class:`SimpleFPN` neck and
:class:`LN2d` as ``mixedae.SimpleFPN`` / ``mixedae.LN2d`` (the ``mixedae`` scope of
mmdet's registry, ``mixedae/registry.py``: mmdet's ``projects/ViTDet`` keeps its own
``SimpleFPN``/``LN2d``), and the layer-decay optimizer constructor in both.
"""
from mmdet.registry import MODELS as MMDET_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from ..models import MixedAEViT
from .layer_decay import BackboneLayerDecayOptimWrapperConstructor, backbone_layer_depth
from .norm import LN2d
from .simple_fpn import SimpleFPN

for _registry in (MMDET_MODELS, MMSEG_MODELS):
    _registry.register_module(module=MixedAEViT)

__all__ = ['BackboneLayerDecayOptimWrapperConstructor', 'LN2d', 'SimpleFPN',
           'backbone_layer_depth']
