"""Transfer of the pre-trained encoder to mmdet and mmseg: registers the same
:class:`~mixedae.models.MixedAEViT` class as a backbone in both codebases."""
from mmdet.registry import MODELS as MMDET_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from ..models import MixedAEViT

for _registry in (MMDET_MODELS, MMSEG_MODELS):
    _registry.register_module(module=MixedAEViT)
