"""Every Top-K attention implementation equals the reference; the selector; compile."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from conftest import CONFIGS
from mixedae.models.homologous_attention import (TOPK_ATTENTION, HomologousAttention,
                                                 select_attn_impl, topk_attention)

TRAINABLE_ON_CPU = ('topk_softmax', 'sdpa_mask')
TINY = 'demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py'


def tied_qkv(dtype=torch.float32, L=33, d=16):
    """Small-integer q and k (d=16: the 1/4 scale is exact), so many logits tie with a
    query's K-th value; the first query row is the full [CLS] row."""
    g = torch.Generator().manual_seed(0)
    q, k = torch.randint(-2, 3, (2, 2, 3, L, d), generator=g).to(dtype).unbind(0)
    v = torch.randn(2, 3, L, d, generator=g).to(dtype)
    return q, k, v


def run(impl, q, k, v, topk, grad_out):
    q, k, v = (t.clone().requires_grad_() for t in (q, k, v))
    out, keep = TOPK_ATTENTION[impl](q, k, v, topk, 1, 0.)
    out.backward(grad_out)
    return out.detach(), keep, (q.grad, k.grad, v.grad)


@pytest.mark.parametrize('impl', TRAINABLE_ON_CPU)
def test_equals_reference_with_ties_fp32(impl):
    q, k, v = tied_qkv()
    grad_out = torch.randn_like(v)
    ref_out, ref_keep, ref_grads = run('reference', q, k, v, 8, grad_out)
    assert (ref_keep[..., 1:, :].sum(-1) > 8).any(), 'the inputs must contain ties'
    assert ref_keep[..., 0, :].all()
    out, keep, grads = run(impl, q, k, v, 8, grad_out)
    assert torch.equal(keep, ref_keep)
    torch.testing.assert_close(out, ref_out)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad)


def test_topk_softmax_is_bitwise_the_reference():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 50, 64).unbind(0)
    grad_out = torch.randn_like(v)
    ref = run('reference', q, k, v, 13, grad_out)
    ours = run('topk_softmax', q, k, v, 13, grad_out)
    assert torch.equal(ours[0], ref[0])
    assert all(torch.equal(a, b) for a, b in zip(ours[2], ref[2]))


@pytest.mark.parametrize('impl', TRAINABLE_ON_CPU)
def test_equals_reference_in_bf16(impl):
    q, k, v = tied_qkv(torch.bfloat16)
    grad_out = torch.randn_like(v)
    ref_out, ref_keep, ref_grads = run('reference', q, k, v, 8, grad_out)
    out, keep, grads = run(impl, q, k, v, 8, grad_out)
    assert out.dtype == torch.bfloat16 and torch.equal(keep, ref_keep)
    torch.testing.assert_close(out, ref_out, atol=2e-2, rtol=2e-2)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad, atol=5e-2, rtol=5e-2)


@pytest.mark.parametrize('impl', TRAINABLE_ON_CPU)
def test_module_under_cpu_autocast_matches_reference(impl):
    torch.manual_seed(0)
    ref = HomologousAttention(64, 4, attn_impl='reference')
    ours = HomologousAttention(64, 4, attn_impl=impl)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 17, 64)
    results = []
    for module in (ref, ours):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out, keep = module(x, topk=5)
        out.float().square().sum().backward()
        results.append((out.float(), keep, module.qkv.weight.grad))
    (ref_out, ref_keep, ref_grad), (out, keep, grad) = results
    assert torch.equal(keep, ref_keep)
    torch.testing.assert_close(out, ref_out, atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(grad, ref_grad, atol=0.1, rtol=5e-2)


def test_flex_forward_equals_reference_and_refuses_cpu_training():
    q, k, v = tied_qkv()
    ref_out, ref_keep = topk_attention(q, k, v, 8, num_full_rows=1)
    with torch.no_grad():
        out, keep = TOPK_ATTENTION['flex'](q, k, v, 8, 1, 0.)
    assert torch.equal(keep, ref_keep)
    torch.testing.assert_close(out, ref_out)
    with pytest.raises(ValueError, match="attn_impl='flex' cannot train on the CPU"):
        TOPK_ATTENTION['flex'](q.requires_grad_(), k, v, 8, 1, 0.)


@pytest.mark.parametrize('device, dtype, expected', [
    ('cpu', torch.float32, 'topk_softmax'),
    ('cpu', torch.bfloat16, 'topk_softmax'),
    ('cuda', torch.float32, 'topk_softmax'),
    ('cuda', torch.bfloat16, 'sdpa_mask'),
    ('cuda', torch.float16, 'sdpa_mask'),
])
def test_auto_selects_by_device_and_dtype(device, dtype, expected):
    assert select_attn_impl('auto', device, dtype) == expected


def test_explicit_choice_overrides_auto():
    assert select_attn_impl('reference', 'cuda', torch.bfloat16) == 'reference'
    assert select_attn_impl('sdpa_mask', 'cpu', torch.float32) == 'sdpa_mask'


def build_tiny_model(**backbone):
    cfg = Config.fromfile(str(CONFIGS / TINY))
    cfg.model.backbone.update(backbone)
    init_default_scope('mmpretrain')
    return MODELS.build(cfg.model)


def test_config_choice_reaches_every_block_and_runs():
    model = build_tiny_model(attn_impl='flex')
    assert {layer.attn.attn_impl for layer in model.backbone.layers} == {'flex'}
    with pytest.raises(ValueError, match="attn_impl='flex'"):   # flex really runs
        model(torch.randn(8, 3, 32, 32), mode='loss')


def test_unknown_implementation_is_named():
    with pytest.raises(ValueError, match="attn_impl='fused_magic' is not one of"):
        build_tiny_model(attn_impl='fused_magic')
    with pytest.raises(ValueError, match="attn_impl='fused_magic'"):
        select_attn_impl('fused_magic', 'cpu', torch.float32)


def mixed_pass(encoder, images: torch.Tensor):
    """Loss, homo_acc and parameter gradients of one mixed encoder pass."""
    torch.manual_seed(0)
    latent, _, homo_acc = encoder(images, mix=True)
    loss = latent.square().mean()
    params = [p for p in encoder.parameters() if p.requires_grad]
    return loss.detach(), homo_acc, torch.autograd.grad(loss, params)


def test_traced_encoder_equals_eager():
    """The encoder's mixed pass, forward and backward, traced as one graph by dynamo and
    AOTAutograd (``backend='aot_eager'``: the graphs ``torch.compile`` hands to inductor,
    run without inductor's code generation) gives eager's loss, ``homo_acc`` and
    gradients. Inductor itself runs once, on the whole training step, in
    tests/test_determinism.py::test_compile_option_trains_the_same."""
    model = build_tiny_model()
    model.init_weights()
    images = torch.randn(8, 3, 32, 32)
    eager = mixed_pass(model.backbone, images)
    traced = mixed_pass(torch.compile(model.backbone, fullgraph=True, backend='aot_eager'),
                        images)
    torch.testing.assert_close(traced[:2], eager[:2])
    torch.testing.assert_close(traced[2], eager[2], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('attn_impl', ['auto', 'sdpa_mask'])
def test_whole_pretraining_loss_is_one_graph(attn_impl):
    """Dynamo captures MixedAE's loss (mixing, Top-K attention, unmixing, decoder, both
    losses, homo_acc) without a graph break."""
    model = build_tiny_model(attn_impl=attn_impl)
    explained = torch._dynamo.explain(model)(torch.randn(8, 3, 32, 32), mode='loss')
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1
