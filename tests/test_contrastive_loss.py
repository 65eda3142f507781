"""Homologous contrastive loss: near its minimum when clustered, ~log(N-1) when random."""
import math

import torch

from mixedae.models.losses import HomologousContrastiveLoss
from mixedae.models.mixing import mixing_sources


def test_clustered_features_reach_the_minimum():
    G, N, r, C = 4, 64, 4, 32
    src = mixing_sources(G, N, r)
    centres = torch.nn.functional.normalize(torch.randn(r, C), dim=-1) * 10
    centres -= centres.mean(0)                                           # spread apart
    loss = HomologousContrastiveLoss(temperature=0.05, loss_weight=1.)(centres[src], src)
    # minimum: each positive gets 1/(N/r - 1) of the probability mass
    assert abs(loss.item() - math.log(N // r - 1)) < 0.05


def test_random_features_sit_near_log_n():
    torch.manual_seed(0)
    G, N, r = 4, 64, 4
    src = mixing_sources(G, N, r)
    loss = HomologousContrastiveLoss(temperature=0.2, loss_weight=1.)(
        torch.randn(G, N, 256), src)
    assert abs(loss.item() - math.log(N - 1)) < 0.3


def test_loss_weight_scales():
    src = mixing_sources(1, 16, 4)
    x = torch.randn(1, 16, 8)
    full = HomologousContrastiveLoss(loss_weight=1.)(x, src)
    torch.testing.assert_close(HomologousContrastiveLoss(loss_weight=0.1)(x, src), 0.1 * full)
