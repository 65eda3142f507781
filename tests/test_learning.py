"""A tiny MixedAE learns: the loss falls and homologous recognition beats chance."""
import numpy as np
from mmengine.runner import Runner

from conftest import tiny_pretrain_config


def test_tiny_mixedae_learns_homologous_recognition(pretrain_data_root, tmp_path):
    cfg = tiny_pretrain_config('mixedae_vit-tiny-p8_1xb32-300i_tiny.py',
                               pretrain_data_root, tmp_path,
                               **{'default_hooks.logger.interval': 1,
                                  'default_hooks.checkpoint.interval': 1000})
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    loss = np.array(hub.get_scalar('train/loss').data[0])
    homo_acc = np.array(hub.get_scalar('train/homo_acc').data[0])
    loss_hc = np.array(hub.get_scalar('train/loss_hc').data[0])
    chance = 1 / cfg.model.backbone.mix_ratio
    first, last = slice(0, 20), slice(-20, None)
    print(f'loss {loss[first].mean():.3f} -> {loss[last].mean():.3f}; '
          f'loss_hc {loss_hc[first].mean():.3f} -> {loss_hc[last].mean():.3f}; '
          f'homo_acc {homo_acc[first].mean():.3f} -> {homo_acc[last].mean():.3f} '
          f'(chance {chance})')
    assert len(loss) == 300
    assert loss[last].mean() < 0.8 * loss[first].mean()
    assert loss_hc[last].mean() < loss_hc[first].mean()
    assert homo_acc[last].mean() > chance + 0.15
