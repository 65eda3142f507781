"""Runner training, checkpoint loading under torch >= 2.6, and resume."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.runner import Runner

from conftest import ROOT, tiny_pretrain_config
from mixedae.engine import UnsafeCheckpointError, load_checkpoint_file

TINY = 'mixedae_vit-tiny-p8_1xb32-300i_tiny.py'


def short_run(data_root, work_dir, max_iters):
    return tiny_pretrain_config(
        TINY, data_root, work_dir,
        **{'train_cfg.max_iters': max_iters, 'default_hooks.checkpoint.interval': 5,
           'default_hooks.logger.interval': 1,
           'param_scheduler': [dict(type='ConstantLR', factor=1., by_epoch=False)]})


def test_train_save_resume_continue(pretrain_data_root, tmp_path):
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ
    runner = Runner.from_cfg(short_run(pretrain_data_root, tmp_path, 10))
    runner.train()
    ckpt = tmp_path / 'iter_10.pth'
    assert ckpt.is_file()
    state = load_checkpoint_file(str(ckpt))                   # weights_only + allow-list
    assert 'message_hub' in state and state['meta']['iter'] == 10

    cfg = short_run(pretrain_data_root, tmp_path, 15)
    cfg.resume = True                                         # auto: latest in work_dir
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == 15 and (tmp_path / 'iter_15.pth').is_file()
    # optimizer state came back from the checkpoint (AdamW step counter continued)
    step = next(iter(resumed.optim_wrapper.optimizer.state.values()))['step']
    assert int(step) == 15


def test_crafted_checkpoint_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': Path('/etc/passwd')}, path)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint_file(str(path))
    # getattr is only allowed for HistoryBuffer's statistics methods
    from mmengine.logging.history_buffer import HistoryBuffer
    torch.save({'f': HistoryBuffer.update}, path)          # pickled as getattr(...)
    with pytest.raises(UnsafeCheckpointError, match='getattr'):
        load_checkpoint_file(str(path))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_checkpoint_file(str(tmp_path / 'missing.pth'))


@pytest.mark.slow
def test_train_cli_resume(pretrain_data_root, tmp_path):
    """tools/train.py, then tools/train.py --resume, in fresh processes."""
    base = [sys.executable, str(ROOT / 'tools/train.py'),
            str(ROOT / 'configs/demo' / TINY), '--work-dir', str(tmp_path),
            '--cfg-options', f'train_dataloader.dataset.data_root={pretrain_data_root}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'default_hooks.checkpoint.interval=4']
    env = {k: v for k, v in os.environ.items() if k != 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'}
    subprocess.run(base + ['train_cfg.max_iters=4'], check=True, env=env, cwd=ROOT)
    out = subprocess.run(base + ['train_cfg.max_iters=8', '--resume'], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 4' in out.stdout + out.stderr
    assert (tmp_path / 'iter_8.pth').is_file()
