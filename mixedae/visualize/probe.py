"""Run one group of r images through a mixing model and keep what a figure needs.

The encoder runs its own mixed pass (``MixedAEViT.forward_mixed``); a forward pre-hook
records the input of the attention of one block, from which the Top-K keep-mask of that
block is recomputed with the reference :func:`topk_threshold` (the same rule the model
uses, whatever attention kernel it runs).
"""
from typing import NamedTuple

import torch
from torch import nn

from ..models.homologous_attention import topk_threshold


class MixProbe(NamedTuple):
    """Pixel-space views of one mixed group (RGB float images in [0, 255], (H, W, 3))."""
    originals: torch.Tensor      # (r, H, W, 3)
    mixed: torch.Tensor          # (H, W, 3): position p shows image src[p]'s patch p
    pasted: torch.Tensor         # (r, H, W, 3): own patches + prediction elsewhere
    predicted: torch.Tensor      # (r, H, W, 3): the raw prediction everywhere
    src: torch.Tensor            # (N,) source image of each position
    kept: torch.Tensor           # (N,) share of heads keeping each key for the query
    layer: int                   # block whose keep-mask ``kept`` shows
    topk: bool                   # whether that block uses Top-K attention in the mix


def probed_layer(backbone: nn.Module) -> tuple[int, bool]:
    """The last Top-K block, or the last block if the model mixes with plain attention."""
    if backbone.homologous_layers:
        return max(backbone.homologous_layers), True
    return len(backbone.layers) - 1, False


def keep_mask(attn: nn.Module, x: torch.Tensor, topk: int, num_full_rows: int) -> torch.Tensor:
    """(G, h, 1+N, 1+N) Top-K keep-mask of ``attn`` (a ``HomologousAttention``) on ``x``."""
    B, L, _ = x.shape
    q, k = attn.qkv(x).reshape(B, L, 3, attn.num_heads, attn.head_dims)[:, :, :2] \
        .permute(2, 0, 3, 1, 4)                                          # 2 x (B, h, L, d)
    logits = (q * q.shape[-1]**-0.5) @ k.transpose(-2, -1)
    return topk_threshold(logits, topk, num_full_rows)


def to_pixels(model: nn.Module, patches: torch.Tensor) -> torch.Tensor:
    """(B, N, p*p*3) normalised patches -> (B, H, W, 3) RGB in [0, 255]."""
    images = model.head.unpatchify(patches)
    pre = model.data_preprocessor
    images = images * pre.std + pre.mean if pre._enable_normalize else images
    return images.clamp(0, 255).permute(0, 2, 3, 1)


def denormalise_prediction(pred: torch.Tensor, target: torch.Tensor,
                           norm_pix: bool) -> torch.Tensor:
    """Undo per-patch normalisation with the true patch statistics (MAE's visualisation)."""
    if not norm_pix:
        return pred
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)
    return pred * (var + 1e-6)**.5 + mean


@torch.no_grad()
def probe_group(model: nn.Module, images: torch.Tensor, query: int,
                seed: int = 0) -> MixProbe:
    """Mix ``images`` ((r, 3, H, W) uint8 BGR) as one group and decode them.

    ``query`` is a patch position (0..N-1, row-major); ``seed`` draws the mixing mask.
    """
    backbone = model.backbone
    r, n = backbone.mix_ratio, backbone.num_patches
    if images.shape[0] != r:
        raise ValueError(f'the model mixes mix_ratio={r} images, got {images.shape[0]}')
    if not 0 <= query < n:
        raise ValueError(f'query patch {query} outside [0, N={n})')
    inputs = model.data_preprocessor({'inputs': images, 'data_samples': None})['inputs']
    layer, topk = probed_layer(backbone)
    captured = []
    hook = backbone.layers[layer].attn.register_forward_pre_hook(
        lambda module, args: captured.append(args[0]))
    torch.manual_seed(seed)
    try:
        latent, src, _ = backbone(inputs, mix=True)
    finally:
        hook.remove()
    target = model.head.patchify(inputs)                                  # (r, N, p*p*3)
    pred = denormalise_prediction(model.neck(latent, src), target, model.head.norm_pix)
    own = (src[0][None] == torch.arange(r)[:, None])[..., None]           # (r, N, 1)
    mixed = target.gather(0, src[0][None, :, None].expand(1, -1, target.shape[-1]))
    keep = keep_mask(backbone.layers[layer].attn, captured[0], backbone.topk,
                     backbone.num_full_rows)                              # (1, h, 1+N, 1+N)
    return MixProbe(
        originals=to_pixels(model, target), mixed=to_pixels(model, mixed)[0],
        pasted=to_pixels(model, torch.where(own, target, pred)),
        predicted=to_pixels(model, pred), src=src[0],
        kept=keep[0, :, 1 + query, 1:].float().mean(0), layer=layer, topk=topk)
