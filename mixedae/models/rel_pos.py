"""ViTDet's decomposed relative position bias (Li et al. 2022, after MViTv2).

A query at (y, x) of an h x w token grid and a key at (y', x') of the same grid get the
additive attention bias ``q·R_h[y - y'] + q·R_w[x - x']`` (q unscaled, per head), with
one learnt table per axis of ``2 * size - 1`` relative offsets::

    R_h (2h - 1, d), R_w (2w - 1, d)  -> per-axis offset tables (h, h, d), (w, w, d)
    q (B, heads, h*w, d)              -> bias (B, heads, h*w, h*w)

A table learnt for another grid size is linearly resized to ``2 * size - 1`` entries
(ViTDet's ``get_rel_pos``): a global block whose input grid differs from the one it was
built for (``img_size // patch_size``) interpolates its tables; a window block always
sees its window and never does.
"""
from typing import Tuple

import torch
import torch.nn.functional as F


def offset_table(table: torch.Tensor, size: int) -> torch.Tensor:
    """(L, d) table -> (size, size, d): entry [i, j] embeds the offset i - j."""
    length = 2 * size - 1
    if table.shape[0] != length:
        table = F.interpolate(table.T[None], size=length, mode='linear')[0].T
    coords = torch.arange(size, device=table.device)
    return table[coords[:, None] - coords[None, :] + size - 1]


def decomposed_rel_pos_bias(q: torch.Tensor, rel_pos_h: torch.Tensor,
                            rel_pos_w: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """Additive attention bias (B, heads, h*w, h*w) of queries (B, heads, h*w, d) on an
    ``hw`` grid, in the queries' dtype."""
    h, w = hw
    B, heads, L, d = q.shape
    q = q.reshape(B, heads, h, w, d)
    table_h = offset_table(rel_pos_h, h).to(q.dtype)                  # (h, h, d)
    table_w = offset_table(rel_pos_w, w).to(q.dtype)                  # (w, w, d)
    bias_h = torch.einsum('bnyxd,ykd->bnyxk', q, table_h)             # (B, n, h, w, h)
    bias_w = torch.einsum('bnyxd,xkd->bnyxk', q, table_w)             # (B, n, h, w, w)
    return (bias_h[..., :, None] + bias_w[..., None, :]).reshape(B, heads, L, L)
