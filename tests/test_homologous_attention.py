"""Homologous (Top-K) attention against fused attention and by construction."""
import torch
import torch.nn.functional as F

from mixedae.models.homologous_attention import HomologousAttention, topk_attention


def test_topk_all_keys_equals_sdpa():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 17, 8).unbind(0)
    out, keep = topk_attention(q, k, v, topk=17)
    assert keep.all()
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


def test_heterologous_weights_are_exactly_zero():
    """Logits built so that homologous keys dominate: K = N/r keeps only them."""
    torch.manual_seed(0)
    N, r, d = 16, 4, 16
    src = torch.randperm(N) % r                                         # 4 images x 4
    centres = torch.randn(r, d) * 10
    q = k = (centres[src] + 0.01 * torch.randn(N, d))[None, None]       # (1, 1, N, d)
    v = torch.eye(N)[None, None]                                         # out = weights
    weights, keep = topk_attention(q, k, v, topk=N // r)
    hetero = src[:, None] != src[None, :]
    assert (weights[0, 0][hetero] == 0).all()
    assert keep[0, 0][hetero].sum() == 0
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 1, N))


def test_full_rows_and_gradients_only_through_kept_logits():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 1, 9, 4).unbind(0)
    q.requires_grad_(True)
    out, keep = topk_attention(q, k, v, topk=3, num_full_rows=1)
    assert keep[0, 0, 0].all() and (keep[0, 0, 1:].sum(-1) == 3).all()
    out.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_module_plain_path_matches_mmpretrain_attention():
    """Without ``topk`` the module is mmpretrain's MultiheadAttention."""
    from mmpretrain.models.utils import MultiheadAttention
    torch.manual_seed(0)
    ours, theirs = HomologousAttention(32, 4).eval(), MultiheadAttention(32, 4).eval()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 10, 32)
    out, keep = ours(x)
    assert keep is None
    torch.testing.assert_close(out, theirs(x))
    out_all, _ = ours(x, topk=10, num_full_rows=0)
    torch.testing.assert_close(out_all, out, rtol=1e-5, atol=1e-5)
