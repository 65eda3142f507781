"""MixedAE pre-training modules, registered in mmpretrain's ``MODELS``.

Data flow: mixing -> encoder (homologous attention) -> unmixing -> decoder -> losses/head.
"""
from .decoder import MixedAEDecoder
from .encoder import MixedAEBlock, MixedAEViT, MixedEncoding
from .head import MixedAEHead
from .homologous_attention import HomologousAttention, topk_attention
from .losses import HomologousContrastiveLoss
from .mixedae import MixedAE

__all__ = [
    'HomologousAttention', 'HomologousContrastiveLoss', 'MixedAE', 'MixedAEBlock',
    'MixedAEDecoder', 'MixedAEHead', 'MixedAEViT', 'MixedEncoding', 'topk_attention'
]
