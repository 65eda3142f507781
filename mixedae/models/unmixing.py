"""Step 3 of MixedAE: give every image of a group its own full-length sequence back.

Image ``j`` of group ``g`` keeps the tokens at the positions it owns (``src[g, p] == j``);
every other position gets the shared [MASK] token. The [CLS] token is copied to all.
"""
import torch


def ownership(src: torch.Tensor, mix_ratio: int) -> torch.Tensor:
    """(G, N) source map -> (B, N) bool, True where image b owns position p."""
    images = torch.arange(mix_ratio, device=src.device)
    own = src[:, None, :] == images[None, :, None]                        # (G, r, N)
    return own.flatten(0, 1)                                              # (B, N)


def unmix_tokens(tokens: torch.Tensor, src: torch.Tensor, mask_token: torch.Tensor,
                 mix_ratio: int) -> torch.Tensor:
    """Split mixed sequences into one sequence per image.

    Args:
        tokens: (G, 1 + N, C) mixed sequences, [CLS] first.
        src: (G, N) source index per position.
        mask_token: (1, 1, C) the learnable [MASK] token.
        mix_ratio: images per group, r.

    Returns:
        (B, 1 + N, C) with B = G * r: own tokens in place, [MASK] elsewhere.
    """
    cls, patches = tokens[:, :1], tokens[:, 1:]
    own = ownership(src, mix_ratio).unflatten(0, (-1, mix_ratio))         # (G, r, N)
    patches = torch.where(own[..., None], patches[:, None],
                          mask_token.to(patches.dtype))                   # (G, r, N, C)
    cls = cls[:, None].expand(-1, mix_ratio, -1, -1)                      # (G, r, 1, C)
    return torch.cat([cls, patches], dim=2).flatten(0, 1)                 # (B, 1+N, C)
