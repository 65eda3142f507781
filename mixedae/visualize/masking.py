"""What a masking model (mmpretrain's MAE) does with a few images, as in the MAE paper's
figure: the visible patches, the reconstruction with them pasted back, the prediction."""
from typing import NamedTuple

import torch
from torch import nn

from .probe import denormalise_prediction, to_pixels


class MaskProbe(NamedTuple):
    """Pixel-space views of masked images (RGB float in [0, 255], (n, H, W, 3))."""
    originals: torch.Tensor
    visible: torch.Tensor        # the unmasked patches, black elsewhere
    pasted: torch.Tensor         # visible patches + prediction elsewhere
    predicted: torch.Tensor      # the raw prediction everywhere
    mask_ratio: float            # share of patches hidden


@torch.no_grad()
def probe_masking(model: nn.Module, images: torch.Tensor, seed: int = 0) -> MaskProbe:
    """Mask ``images`` ((n, 3, H, W) uint8 BGR) with the model's own random masking
    (drawn from ``seed``) and decode them."""
    inputs = model.data_preprocessor({'inputs': images, 'data_samples': None})['inputs']
    torch.manual_seed(seed)
    latent, mask, ids_restore = model.backbone(inputs)                # mask: (n, N), 1 hidden
    target = model.head.patchify(inputs)                                # (n, N, p*p*3)
    pred = denormalise_prediction(model.neck(latent, ids_restore), target,
                                  model.head.norm_pix)
    hidden = mask.bool()[..., None]
    shown = model.head.unpatchify((~hidden).expand_as(target).float()).permute(0, 2, 3, 1)
    originals = to_pixels(model, target)
    return MaskProbe(originals=originals, visible=originals * shown,
                     pasted=to_pixels(model, torch.where(hidden, pred, target)),
                     predicted=to_pixels(model, pred), mask_ratio=float(mask.float().mean()))
