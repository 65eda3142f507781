"""MixedAE (Chen et al., CVPR 2023): the algorithm tying the steps together."""
from typing import Dict, List

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class MixedAE(BaseSelfSupervisor):
    """Mixed Autoencoder: mix -> encode (homologous attention) -> unmix -> decode -> losses.

    ``backbone`` is a :class:`MixedAEViT` with ``mix_ratio`` set, ``neck`` a
    :class:`MixedAEDecoder`, ``head`` a :class:`MixedAEHead`. With the contrastive loss
    and Top-K attention switched off the same code is the naive-mixing baseline.
    Logged per iteration: ``loss`` (total), ``loss_rec``, ``loss_hc`` (already weighted
    by lambda) and ``homo_acc``.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, **kwargs) -> None:
        neck.setdefault('mix_ratio', backbone.get('mix_ratio'))
        if neck['mix_ratio'] != backbone.get('mix_ratio'):
            raise ValueError(f"neck.mix_ratio={neck['mix_ratio']} differs from "
                             f"backbone.mix_ratio={backbone.get('mix_ratio')}")
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)

    def extract_feat(self, inputs: torch.Tensor):
        """Plain (unmixed) encoder features."""
        return self.backbone(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        latent, src, homo_acc = self.backbone(inputs, mix=True)
        pred = self.neck(latent, src)                                     # (B, N, p*p*3)
        losses = self.head.loss(pred, inputs, src, latent, self.backbone.mix_ratio)
        if homo_acc is not None:
            losses['homo_acc'] = homo_acc
        return losses
