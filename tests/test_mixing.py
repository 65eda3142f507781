"""Mixing, unmixing and the reconstruction loss on foreign positions."""
import pytest
import torch
from mmengine.registry import DefaultScope

from mixedae.models.head import MixedAEHead
from mixedae.models.mixing import check_batch_size, check_mix_config, mix_tokens, \
    mixing_sources
from mixedae.models.unmixing import ownership, unmix_tokens


def test_balanced_mixing_gives_each_image_n_over_r_positions():
    src = mixing_sources(num_groups=5, num_patches=196, mix_ratio=4)
    assert src.shape == (5, 196)
    counts = torch.stack([(src == j).sum(1) for j in range(4)], dim=1)
    assert (counts == 49).all()
    assert not torch.equal(src[0], src[1])                              # random per group


def test_iid_mixing_uses_every_source():
    torch.manual_seed(0)
    src = mixing_sources(2, 196, 4, balanced=False)
    assert set(src.unique().tolist()) == {0, 1, 2, 3}


def test_mix_then_unmix_returns_own_tokens_and_mask_elsewhere():
    G, r, N, D = 3, 4, 16, 5
    tokens = torch.randn(G * r, N, D)
    src = mixing_sources(G, N, r)
    mixed = mix_tokens(tokens, src)                                      # (G, N, D)
    for g in range(G):
        for p in range(N):
            assert torch.equal(mixed[g, p], tokens[g * r + src[g, p], p])
    cls = torch.randn(G, 1, D)
    mask_token = torch.full((1, 1, D), 7.)
    unmixed = unmix_tokens(torch.cat([cls, mixed], 1), src, mask_token, r)
    assert unmixed.shape == (G * r, 1 + N, D)
    own = ownership(src, r)                                              # (B, N)
    patches = unmixed[:, 1:]
    assert torch.equal(patches[own], tokens[own])                       # own token, own place
    assert (patches[~own] == 7.).all()
    assert torch.equal(unmixed[:, 0], cls.repeat_interleave(r, 0)[:, 0])


def test_reconstruction_loss_ignores_own_positions():
    torch.manual_seed(0)
    # whatever scope an earlier test in this process left (mmseg's has no such loss)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        head = MixedAEHead(loss=dict(type='PixelReconstructionLoss', criterion='L2'),
                           patch_size=8)
    images = torch.randn(8, 3, 32, 32)
    src = mixing_sources(2, 16, 4)
    pred = torch.randn(8, 16, 192)
    latent = torch.randn(2, 17, 32)
    base = head.loss(pred, images, src, latent, 4)['loss_rec']
    own = ownership(src, 4)
    changed = pred.clone()
    changed[own] += 100.
    assert head.loss(changed, images, src, latent, 4)['loss_rec'] == base
    changed = pred.clone()
    changed[~own] += 1.
    assert head.loss(changed, images, src, latent, 4)['loss_rec'] != base


@pytest.mark.parametrize('args, match', [
    (dict(num_patches=16, mix_ratio=1, balanced=True), 'mix_ratio must be >= 2'),
    (dict(num_patches=18, mix_ratio=4, balanced=True), 'divide the number of patches'),
])
def test_bad_mix_config(args, match):
    with pytest.raises(ValueError, match=match):
        check_mix_config(**args)


def test_batch_not_divisible():
    with pytest.raises(ValueError, match='batch_size=6'):
        check_batch_size(6, 4)
