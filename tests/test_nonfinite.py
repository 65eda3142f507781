"""A NaN loss stops training (or skips the step) before it reaches weights or checkpoints."""
import json
import math

import pytest
import torch
from mmengine.runner import Runner

from conftest import tiny_pretrain_config
from mixedae.engine import NonFiniteLossError, NonFiniteLossHook, load_checkpoint_file

TINY = 'mixedae_vit-tiny-p8_1xb32-300i_tiny.py'


def tiny_runner(data_root, work_dir, max_iters: int, **overrides) -> Runner:
    return Runner.from_cfg(tiny_pretrain_config(
        TINY, data_root, work_dir,
        **{'train_cfg.max_iters': max_iters, 'default_hooks.checkpoint.interval': 2,
           'default_hooks.logger.interval': 1, 'log_processor.window_size': 1,
           **overrides}))


def poison_loss(runner: Runner, iterations: set) -> None:
    """Make MixedAE's ``loss_rec`` NaN at the given (1-based) iterations."""
    loss = runner.model.loss

    def poisoned(*args, **kwargs):
        losses = loss(*args, **kwargs)
        if runner.iter + 1 in iterations:
            losses['loss_rec'] = losses['loss_rec'] * float('nan')
        return losses

    runner.model.loss = poisoned


def skip_hooks(max_consecutive_skips: int) -> dict:
    return {'custom_hooks': [dict(type='PerIterationSeedHook'),
                             dict(type='NonFiniteLossHook', action='skip',
                                  max_consecutive_skips=max_consecutive_skips)]}


def test_pretrain_config_stops_before_step_and_checkpoint(pretrain_data_root, tmp_path):
    runner = tiny_runner(pretrain_data_root, tmp_path, max_iters=8)   # config: action='stop'
    poison_loss(runner, {5})
    with pytest.raises(NonFiniteLossError, match=r'iteration 5: non-finite loss '
                                                 r'\(loss_rec=nan\)'):
        runner.train()
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_4.pth')
    assert not (tmp_path / 'iter_6.pth').exists()
    saved = load_checkpoint_file(str(tmp_path / 'iter_4.pth'))['state_dict']
    for name, value in runner.model.state_dict().items():             # step 5 never ran
        assert torch.equal(value, saved[name]), name


def test_skip_drops_the_step_and_counts_it(pretrain_data_root, tmp_path):
    runner = tiny_runner(pretrain_data_root, tmp_path, max_iters=6, **skip_hooks(2))
    poison_loss(runner, {3})
    runner.train()
    assert runner.iter == 6
    assert runner.message_hub.get_info('nonfinite_skipped_steps') == 1
    saved = load_checkpoint_file(str(tmp_path / 'iter_6.pth'))         # count is resumable
    assert saved['message_hub']['runtime_info']['nonfinite_skipped_steps'] == 1
    state = next(iter(runner.optim_wrapper.optimizer.state.values()))
    assert int(state['step']) == 5                                     # 6 iterations, 5 steps
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
    rows = [json.loads(line) for line in (tmp_path / runner.timestamp / 'vis_data' /
                                          'scalars.json').read_text().splitlines()]
    logged = [row['loss_rec'] for row in rows]                        # NaN is logged as is
    assert math.isnan(logged[2]) and all(map(math.isfinite, logged[:2] + logged[3:]))


def test_skip_gives_up_on_a_diverged_run(pretrain_data_root, tmp_path):
    runner = tiny_runner(pretrain_data_root, tmp_path, max_iters=8, **skip_hooks(2))
    poison_loss(runner, {3, 4, 5, 6})
    with pytest.raises(NonFiniteLossError, match='iteration 5: .* 3 consecutive steps'):
        runner.train()


def test_unknown_action_is_refused():
    with pytest.raises(ValueError, match="'ignore'"):
        NonFiniteLossHook(action='ignore')
