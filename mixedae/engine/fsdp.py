"""FSDP auto-wrap policy for ViT-L and larger (mmengine ``FSDPStrategy``).

Registered in mmengine's ``FUNCTIONS`` so a config can name it:
``strategy=dict(type='FSDPStrategy', model_wrapper=dict(auto_wrap_policy=dict(
type='vit_block_wrap_policy')))``. Every transformer block (the encoder's
:class:`~mixedae.models.MixedAEBlock` and the decoder's blocks) becomes one FSDP unit,
so only one block's full parameters are gathered at a time.
"""
import torch.nn as nn
from mmengine.registry import FUNCTIONS
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy


@FUNCTIONS.register_module()
def vit_block_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """FSDP policy: wrap each ViT block (mmpretrain ``TransformerEncoderLayer`` and
    subclasses) in its own FSDP unit."""
    return transformer_auto_wrap_policy(module, recurse, nonwrapped_numel,
                                        transformer_layer_cls={TransformerEncoderLayer})
