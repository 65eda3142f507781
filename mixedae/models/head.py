"""Step 5 of MixedAE: the head computing both losses."""
from typing import Dict, Optional

import torch
from mmpretrain.models.heads import MAEPretrainHead
from mmpretrain.registry import MODELS
from torch import nn

from .unmixing import ownership


@MODELS.register_module()
class MixedAEHead(MAEPretrainHead):
    """MAE's pixel head (patchify, norm_pix, ``PixelReconstructionLoss``) on the positions
    an image did *not* contribute, plus an optional homologous contrastive loss.

    Args (beyond ``MAEPretrainHead``'s):
        contrastive_loss: config of :class:`HomologousContrastiveLoss`, or ``None``
            (naive mixing).
        projector: optional MLP config applied to the encoder tokens before the
            contrastive loss, ``dict(in_channels, hidden_channels, out_channels)``.
    """

    def __init__(self, loss: dict, norm_pix: bool = True, patch_size: int = 16,
                 in_channels: int = 3, contrastive_loss: Optional[dict] = None,
                 projector: Optional[dict] = None) -> None:
        super().__init__(loss, norm_pix, patch_size, in_channels)
        self.contrastive_loss = MODELS.build(contrastive_loss) if contrastive_loss else None
        self.projector = nn.Identity() if projector is None else nn.Sequential(
            nn.Linear(projector['in_channels'], projector['hidden_channels']),
            nn.GELU(),
            nn.Linear(projector['hidden_channels'], projector['out_channels']))

    def loss(self, pred: torch.Tensor, images: torch.Tensor, src: torch.Tensor,
             latent: torch.Tensor, mix_ratio: int) -> Dict[str, torch.Tensor]:
        """pred (B, N, p*p*3), images (B, 3, H, W), src (G, N), latent (G, 1+N, D)."""
        foreign = ~ownership(src, mix_ratio)                              # (B, N)
        losses = dict(loss_rec=super().loss(pred, images, foreign.to(pred.dtype)))
        if self.contrastive_loss is not None:
            losses['loss_hc'] = self.contrastive_loss(self.projector(latent[:, 1:]), src)
        return losses
