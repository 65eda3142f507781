"""Step 2 of MixedAE: homologous attention — each query attends only to its Top-K keys.

For every query the attention logits to all keys are computed, the K largest are kept
(ties with the K-th value are kept too; K is a budget over all keys: the [CLS] key
competes like the others and is not forced in), the rest are set to -inf, and the
softmax runs over the kept keys only; gradients flow through the kept logits. The first
``num_full_rows`` queries (the [CLS] token) may keep full attention.

Implementations (``attn_impl``), all with the same keep rule (:func:`kth_largest`):

``'reference'``
    :func:`topk_attention`: materialised logits, ``masked_fill`` + softmax under autograd.
``'topk_softmax'``
    The same math with the masked softmax as one autograd node (:class:`TopKSoftmax`):
    no mask is stored, the backward needs only the probabilities (zero where dropped).
    Equal to the reference bit for bit; 20 % less time per layer on the CPU.
``'sdpa_mask'``
    A threshold pass under no-grad (logits -> K-th value -> additive mask), then fused
    ``F.scaled_dot_product_attention`` with that mask. The kernel recomputes q·k (the
    logits are formed twice in forward) but stores no probabilities: on CUDA this is the
    memory-efficient/cuDNN path. On the CPU it is no faster and stores the mask in the
    input dtype (measured), so it is not the CPU default.
``'flex'``
    The threshold pass, then ``torch.nn.attention.flex_attention`` with a ``score_mod``
    reading the keep-mask (1 byte per pair). Compiled for CUDA; torch 2.14 has no
    FlexAttention backward on the CPU, so there it serves inference only.
``'auto'``
    ``'sdpa_mask'`` for CUDA bf16/fp16 inputs, ``'topk_softmax'`` otherwise (CPU, fp32).
    The CUDA choice follows the fused-kernel argument above and is not yet measured
    here: ``benchmarks/pretrain_step_gpu.py --attn-impls`` compares them on a GPU.

Every implementation returns the keep-mask its threshold pass builds anyway, so the
logged ``homo_acc`` (``encoder.homologous_share``, mean over the Top-K blocks) costs one
boolean AND and two sums per block: 2.3 ms per ViT-B block at batch 16 on one CPU
thread, about 0.2 % of a pre-training step.
"""
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import MultiheadAttention
from torch import nn

from .rel_pos import decomposed_rel_pos_bias

ATTN_IMPLS = ('auto', 'reference', 'topk_softmax', 'sdpa_mask', 'flex')
Attention = Tuple[torch.Tensor, Optional[torch.Tensor]]


def check_attn_impl(attn_impl: str) -> None:
    """Raise a ``ValueError`` naming ``attn_impl`` if it is not an implementation."""
    if attn_impl not in ATTN_IMPLS:
        raise ValueError(f'attn_impl={attn_impl!r} is not one of {ATTN_IMPLS}')


def select_attn_impl(attn_impl: str, device_type: str, dtype: torch.dtype) -> str:
    """Resolve ``'auto'`` by the queries' device type and dtype; other names pass."""
    check_attn_impl(attn_impl)
    if attn_impl != 'auto':
        return attn_impl
    if device_type == 'cuda' and dtype in (torch.float16, torch.bfloat16):
        return 'sdpa_mask'
    return 'topk_softmax'


@torch.no_grad()
def kth_largest(logits: torch.Tensor, topk: int, num_full_rows: int = 0) -> torch.Tensor:
    """Per-query threshold: the K-th largest logit (-inf for the full rows).

    Args:
        logits: (..., Lq, Lk) attention logits.
        topk: keys kept per query, ``1 <= topk <= Lk``.
        num_full_rows: leading query rows that keep every key.

    Returns:
        (..., Lq, 1); a query keeps the keys whose logit is ``>=`` its threshold.
    """
    kth = logits.topk(topk, dim=-1, sorted=False).values.amin(dim=-1, keepdim=True)
    kth[..., :num_full_rows, :] = float('-inf')
    return kth


def topk_threshold(logits: torch.Tensor, topk: int, num_full_rows: int = 0) -> torch.Tensor:
    """Boolean (..., Lq, Lk) keep-mask of each query's Top-K keys (see :func:`kth_largest`)."""
    return logits >= kth_largest(logits, topk, num_full_rows)


def scaled_logits(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """(B, h, L, d) queries and keys -> (B, h, L, L) logits ``q·k / sqrt(d)``."""
    return (q * q.shape[-1]**-0.5) @ k.transpose(-2, -1)


def topk_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, topk: int,
                   num_full_rows: int = 0,
                   dropout_p: float = 0.) -> Tuple[torch.Tensor, torch.Tensor]:
    """Reference homologous attention (materialised logits, masked softmax).

    Args:
        q, k, v: (B, h, L, d).

    Returns:
        out (B, h, L, d) and the keep-mask (B, h, L, L).
    """
    logits = scaled_logits(q, k)                                          # (B, h, L, L)
    keep = topk_threshold(logits.detach(), topk, num_full_rows)
    attn = logits.masked_fill(~keep, float('-inf')).softmax(dim=-1)
    if dropout_p:
        attn = F.dropout(attn, dropout_p)
    return attn @ v, keep


class TopKSoftmax(torch.autograd.Function):
    """``softmax`` of the logits at or above a per-query threshold, as one autograd node.

    Saves only the probabilities: a dropped key has probability 0, so softmax's backward
    ``p * (g - sum(p * g))`` already gives it no gradient and no mask needs storing.
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, kth: torch.Tensor) -> torch.Tensor:
        probs = logits.masked_fill(logits < kth, float('-inf')).softmax(dim=-1)
        ctx.save_for_backward(probs)
        ctx.logits_dtype = logits.dtype
        return probs

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> Tuple[torch.Tensor, None]:
        probs, = ctx.saved_tensors
        grad_logits = torch._softmax_backward_data(grad.to(probs.dtype), probs, -1,
                                                   probs.dtype)
        return grad_logits.to(ctx.logits_dtype), None


def topk_softmax_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, topk: int,
                           num_full_rows: int, dropout_p: float) -> Attention:
    """``'topk_softmax'``: the reference's math with :class:`TopKSoftmax`."""
    logits = scaled_logits(q, k)
    kth = kth_largest(logits, topk, num_full_rows)
    attn = TopKSoftmax.apply(logits, kth)
    if dropout_p:
        attn = F.dropout(attn, dropout_p)
    return attn @ v, logits.detach() >= kth


def sdpa_mask_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, topk: int,
                        num_full_rows: int, dropout_p: float) -> Attention:
    """``'sdpa_mask'``: no-grad threshold pass, then fused SDPA with an additive mask."""
    with torch.no_grad():
        logits = scaled_logits(q, k)
        keep = topk_threshold(logits, topk, num_full_rows)
        bias = torch.where(keep, logits.new_zeros(()), float('-inf')).to(q.dtype)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)
    return out, keep


_compiled_flex: Optional[Callable] = None


def flex_kernel(q: torch.Tensor) -> Callable:
    """``flex_attention``; on CUDA compiled once (it is only fast compiled) unless the
    caller is already being compiled."""
    global _compiled_flex
    from torch.nn.attention.flex_attention import flex_attention
    if not q.is_cuda or torch.compiler.is_compiling():
        return flex_attention
    if _compiled_flex is None:
        _compiled_flex = torch.compile(flex_attention, dynamic=False)
    return _compiled_flex


def flex_attention_topk(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, topk: int,
                        num_full_rows: int, dropout_p: float) -> Attention:
    """``'flex'``: no-grad threshold pass, then FlexAttention reading the keep-mask."""
    if dropout_p:
        raise ValueError(f"attn_impl='flex' has no attention dropout, got "
                         f'attn_drop={dropout_p}')
    if not q.is_cuda and torch.is_grad_enabled() and q.requires_grad:
        raise ValueError("attn_impl='flex' cannot train on the CPU (torch's FlexAttention "
                         "has no CPU backward); use attn_impl='auto'")
    with torch.no_grad():
        keep = topk_threshold(scaled_logits(q, k), topk, num_full_rows)

    def keep_topk(score, b, h, q_idx, kv_idx):
        return torch.where(keep[b, h, q_idx, kv_idx], score, float('-inf'))

    return flex_kernel(q)(q, k, v, score_mod=keep_topk), keep


TOPK_ATTENTION: Dict[str, Callable[..., Attention]] = {
    'reference': topk_attention,
    'topk_softmax': topk_softmax_attention,
    'sdpa_mask': sdpa_mask_attention,
    'flex': flex_attention_topk,
}


class HomologousAttention(MultiheadAttention):
    """mmpretrain ``MultiheadAttention`` (same parameters) with optional Top-K attention.

    ``forward(x)`` is plain softmax attention (fused SDPA), as a downstream ViT needs;
    ``forward(x, topk=K)`` is homologous attention, computed by ``attn_impl`` (see the
    module docstring), and also returns its (B, h, L, L) keep-mask.

    ``rel_pos_size=(h, w)`` adds ViTDet's decomposed relative position bias to the plain
    attention (tables ``rel_pos_h`` (2h - 1, d), ``rel_pos_w`` (2w - 1, d), zero at
    initialisation; see ``rel_pos.py``); ``forward`` then needs the token grid ``hw``.
    """

    def __init__(self, *args, attn_impl: str = 'auto',
                 rel_pos_size: Optional[Tuple[int, int]] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        check_attn_impl(attn_impl)
        self.attn_impl = attn_impl
        self.rel_pos_h = self.rel_pos_w = None
        if rel_pos_size is not None:
            h, w = rel_pos_size
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * h - 1, self.head_dims))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * w - 1, self.head_dims))

    def forward(self, x: torch.Tensor, topk: Optional[int] = None, num_full_rows: int = 1,
                hw: Optional[Tuple[int, int]] = None) -> Attention:
        B, L, _ = x.shape
        qkv = self.qkv(x).reshape(B, L, 3, self.num_heads, self.head_dims)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)                              # 3 x (B, h, L, d)
        dropout_p = self.attn_drop if self.training else 0.
        if topk is None:
            bias = None if self.rel_pos_h is None else self.rel_pos_bias(q, hw)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)
            keep = None
        else:
            if self.rel_pos_h is not None:
                raise ValueError('Top-K attention has no relative position bias; build '
                                 'the attention without rel_pos_size')
            attend = TOPK_ATTENTION[select_attn_impl(self.attn_impl, q.device.type,
                                                     q.dtype)]
            out, keep = attend(q, k, v, topk, num_full_rows, dropout_p)
        out = out.transpose(1, 2).reshape(B, L, self.embed_dims)
        return self.out_drop(self.gamma1(self.proj_drop(self.proj(out)))), keep

    def rel_pos_bias(self, q: torch.Tensor, hw: Optional[Tuple[int, int]]) -> torch.Tensor:
        """(B, h, L, L) decomposed relative position bias of the queries on grid ``hw``."""
        if hw is None or hw[0] * hw[1] != q.shape[2]:
            raise ValueError(f'relative position bias needs the token grid of the '
                             f'{q.shape[2]} tokens, got hw={hw}')
        return decomposed_rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w, hw)
