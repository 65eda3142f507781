"""Step 2 of MixedAE: homologous attention — each query attends only to its Top-K keys.

For every query the attention logits to all keys are computed once, the K largest are
kept (ties with the K-th value are kept too), the rest are set to -inf, and the softmax
runs over the kept keys only; gradients flow through the kept logits. The first
``num_full_rows`` queries (the [CLS] token) may keep full attention.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import MultiheadAttention


def topk_threshold(logits: torch.Tensor, topk: int, num_full_rows: int = 0) -> torch.Tensor:
    """Boolean keep-mask of each query's Top-K keys.

    Args:
        logits: (..., Lq, Lk) attention logits (no gradient needed).
        topk: keys kept per query, ``1 <= topk <= Lk``.
        num_full_rows: leading query rows that keep every key.

    Returns:
        (..., Lq, Lk) bool.
    """
    kth = logits.topk(topk, dim=-1).values[..., -1:]                      # (..., Lq, 1)
    keep = logits >= kth
    if num_full_rows:
        keep[..., :num_full_rows, :] = True
    return keep


def topk_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, topk: int,
                   num_full_rows: int = 0,
                   dropout_p: float = 0.) -> Tuple[torch.Tensor, torch.Tensor]:
    """Reference homologous attention (materialised logits, masked softmax).

    Args:
        q, k, v: (B, h, L, d).

    Returns:
        out (B, h, L, d) and the keep-mask (B, h, L, L).
    """
    logits = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)              # (B, h, L, L)
    keep = topk_threshold(logits.detach(), topk, num_full_rows)
    attn = logits.masked_fill(~keep, float('-inf')).softmax(dim=-1)
    if dropout_p:
        attn = F.dropout(attn, dropout_p)
    return attn @ v, keep


class HomologousAttention(MultiheadAttention):
    """mmpretrain ``MultiheadAttention`` (same parameters) with optional Top-K attention.

    ``forward(x)`` is plain softmax attention (fused SDPA), as a downstream ViT needs;
    ``forward(x, topk=K)`` is homologous attention and also returns the keep-mask.
    """

    def forward(self, x: torch.Tensor, topk: Optional[int] = None,
                num_full_rows: int = 1) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        B, L, _ = x.shape
        qkv = self.qkv(x).reshape(B, L, 3, self.num_heads, self.head_dims)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)                              # 3 x (B, h, L, d)
        dropout_p = self.attn_drop if self.training else 0.
        if topk is None:
            out, keep = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p), None
        else:
            out, keep = topk_attention(q, k, v, topk, num_full_rows, dropout_p)
        out = out.transpose(1, 2).reshape(B, L, self.embed_dims)
        return self.out_drop(self.gamma1(self.proj_drop(self.proj(out)))), keep
