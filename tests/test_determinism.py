"""Fixed seed + deterministic flags: two pre-training runs give identical losses."""
import json

import pytest
import torch
from mmengine.runner import Runner

from conftest import tiny_pretrain_config

TINY = 'mixedae_vit-tiny-p8_1xb32-300i_tiny.py'
ITERS = 6


@pytest.fixture
def restore_determinism():
    """``deterministic=True`` flips process-wide torch flags: put them back afterwards."""
    flags = (torch.are_deterministic_algorithms_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(flags[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags[1:]


def first_losses(data_root, work_dir, seed: int, **options) -> list:
    """Per-iteration (unsmoothed) losses of the first ``ITERS`` iterations."""
    cfg = tiny_pretrain_config(
        TINY, data_root, work_dir,
        **{'train_cfg.max_iters': ITERS, 'default_hooks.logger.interval': 1,
           'log_processor.window_size': 1,
           'randomness': dict(seed=seed, deterministic=True), **options})
    runner = Runner.from_cfg(cfg)
    runner.train()
    rows = [json.loads(line) for line in
            (work_dir / runner.timestamp / 'vis_data' / 'scalars.json').read_text().splitlines()]
    assert [row['iter'] for row in rows] == list(range(1, ITERS + 1))
    return [(row['loss_rec'], row['loss_hc']) for row in rows]


def test_same_seed_same_losses(pretrain_data_root, tmp_path, restore_determinism):
    first = first_losses(pretrain_data_root, tmp_path / 'a', seed=7)
    assert torch.are_deterministic_algorithms_enabled()
    assert first_losses(pretrain_data_root, tmp_path / 'b', seed=7) == first
    assert first_losses(pretrain_data_root, tmp_path / 'c', seed=8) != first


@pytest.mark.slow
def test_compile_option_trains_the_same(pretrain_data_root, tmp_path, restore_determinism):
    """``compile=...`` in the config (mmengine compiles ``train_step`` with dynamo) trains
    MixedAE with the losses of the eager run. The ``eager`` backend keeps this a test of
    the capture; inductor on the encoder is tested in test_attention_impls. Each compiled
    function is traced at most twice in 6 iterations (a second time when a counter first
    moves): a batch's file names or indices in the traced inputs would recompile
    ``train_step`` every iteration, and raise here."""
    eager = first_losses(pretrain_data_root, tmp_path / 'eager', seed=7)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(recompile_limit=2, fail_on_recompile_limit_hit=True):
        compiled = first_losses(pretrain_data_root, tmp_path / 'compiled', seed=7,
                                compile=dict(backend='eager'))
    torch._dynamo.reset()
    torch.testing.assert_close(torch.tensor(compiled), torch.tensor(eager), rtol=1e-5,
                               atol=1e-6)
