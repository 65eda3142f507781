"""Layer-wise lr decay for detectors and segmentors whose backbone has ``get_layer_depth``.

mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` asks the *model* for each
parameter's depth, which mmdet/mmseg models lack; mmseg's own constructor accepts only
backbones whose class name contains ``BEiT``/``MAE``/``ConvNeXt``; ViTDet's keys on
``backbone.blocks.N``. This one asks ``model.backbone.get_layer_depth`` (mmpretrain's
``VisionTransformer`` and so ``MixedAEViT`` have it): patch/position embedding at depth 0,
block i at i + 1, everything else (final norm, neck, heads) at the top with lr scale 1;
scale = ``layer_decay_rate ** (max_depth - depth - 1)``. The weight-decay options
(``flat_decay_mult``, ``bias_decay_mult``, ``norm_decay_mult``, ``custom_keys`` with
``decay_mult``) are mmpretrain's. Registered in mmdet's and mmseg's
``OPTIM_WRAPPER_CONSTRUCTORS``.
"""
from functools import partial
from typing import Callable, List, Optional

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMDET_CONSTRUCTORS
from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_CONSTRUCTORS
from torch import nn


def backbone_layer_depth(model: nn.Module) -> Callable[[str], tuple]:
    """``name -> (depth, max_depth)`` for the full parameter names of ``model``."""
    backbone = getattr(model, 'backbone', None)
    if not hasattr(backbone, 'get_layer_depth'):
        raise TypeError(
            f'BackboneLayerDecayOptimWrapperConstructor: {type(model).__name__}.backbone '
            f'({type(backbone).__name__}) has no get_layer_depth(); use a ViT backbone '
            f'such as MixedAEViT or mmpretrain.VisionTransformer')
    return partial(backbone.get_layer_depth, prefix='backbone.')


class BackboneLayerDecayOptimWrapperConstructor(LearningRateDecayOptimWrapperConstructor):
    """``constructor`` for ``optim_wrapper``; ``paramwise_cfg.layer_decay_rate`` is
    required (a missing rate would silently mean no decay)."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        if 'layer_decay_rate' not in (paramwise_cfg or {}):
            raise KeyError('optim_wrapper.paramwise_cfg.layer_decay_rate is required by '
                           f'BackboneLayerDecayOptimWrapperConstructor, got paramwise_cfg='
                           f'{paramwise_cfg}')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   get_layer_depth: Optional[Callable] = None, **kwargs) -> None:
        """Add ``module``'s parameters with lr scaled by their backbone depth."""
        if get_layer_depth is None:
            get_layer_depth = backbone_layer_depth(module)
        super().add_params(params, module, prefix, get_layer_depth, **kwargs)


for _registry in (MMDET_CONSTRUCTORS, MMSEG_CONSTRUCTORS):
    _registry.register_module(module=BackboneLayerDecayOptimWrapperConstructor)
