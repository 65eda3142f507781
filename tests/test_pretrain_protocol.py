"""Pre-training holds its recipe's total batch (MAE's 8 x 512 = 4096) as the transfer
configs hold theirs: another world size is refused naming both numbers, or scaled (lr x k,
epochs and the epoch-based warm-up / cosine kept) or accumulated; the pipeline's
per-process batch follows the same number."""
import argparse
import copy
import functools
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS

from conftest import CONFIGS
from mixedae.engine import hold_recipe_batch, launch
from mixedae.engine.launch import apply_train_args
from mixedae.pipeline.stages import total_batch_options

MAE_300E = CONFIGS / 'mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'
MIXEDAE = CONFIGS / 'mixedae/mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'
DET = CONFIGS / 'benchmarks/detection/mask-rcnn_mixedae-vit-base-p16_simplefpn_lsj-100e_coco.py'
BATCH = 'train_dataloader.batch_size'


@functools.lru_cache(maxsize=None)
def parsed(path: Path) -> Config:
    return Config.fromfile(str(path))


def load(path: Path, mode: str = 'error') -> Config:
    cfg = copy.deepcopy(parsed(path))
    cfg.protocol.batch_mismatch = mode
    return cfg


def test_pretraining_on_four_gpus_is_refused_naming_both_numbers(monkeypatch):
    """tools/dist_train.sh CONFIG 4 (torchrun: WORLD_SIZE=4) with the 8 x 512 config."""
    monkeypatch.setenv('WORLD_SIZE', '4')
    monkeypatch.setattr(launch, 'check_data_config', lambda *args: None)   # no ImageNet here
    args = argparse.Namespace(resume=None, amp=False, auto_scale_lr=False, no_validate=False)
    cfg = load(MIXEDAE)
    cfg.launcher = 'pytorch'
    with pytest.raises(ValueError) as error:
        apply_train_args(cfg, args)
    message = str(error.value)
    assert 'protocol.total_batch=4096' in message
    assert '4 process(es) x 512 images (train_dataloader.batch_size) = 2048' in message
    assert 'protocol.batch_mismatch=scale (lr x 0.5' in message
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1.5e-4 * 4096 / 256)  # unchanged
    monkeypatch.setenv('WORLD_SIZE', '8')
    cfg = load(MIXEDAE)
    cfg.launcher = 'pytorch'
    assert apply_train_args(cfg, args).protocol.applied['lr_scale'] == 1.0


def lr_curve(cfg: Config, epoch_length: int) -> list[float]:
    """The lr of every iteration of the config's schedule, its schedulers built by mmengine
    as the Runner builds them (epoch-based ones converted with the run's epoch length)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)],
                                lr=cfg.optim_wrapper.optimizer.lr)
    schedulers = [PARAM_SCHEDULERS.build(dict(s), default_args=dict(
        optimizer=optimizer, epoch_length=epoch_length)) for s in cfg.param_scheduler]
    curve = []
    for _ in range(cfg.train_cfg.max_epochs * epoch_length):
        curve.append(optimizer.param_groups[0]['lr'])
        for scheduler in schedulers:
            scheduler.step()
    return curve


def test_scaling_keeps_the_epochs_and_scales_the_lr_curve():
    """4 GPUs x 512 with batch_mismatch=scale: MAE's lr = 1.5e-4 x 2048 / 256, 300 epochs
    and the 40-epoch warm-up + cosine kept; with twice the iterations per epoch, the lr
    at every point of the schedule is half the recipe's (8192 images: 2 vs 4 iterations
    per epoch; mmengine converts the epoch-based schedulers with each run's own length)."""
    recipe, run = load(MAE_300E), load(MAE_300E, 'scale')
    applied = hold_recipe_batch(run, world_size=4)
    assert applied['total_batch'] == 2048 and applied['lr_scale'] == 0.5
    assert run.optim_wrapper.optimizer.lr == pytest.approx(1.5e-4 * 2048 / 256)
    assert run.train_cfg.max_epochs == 300
    assert run.param_scheduler == recipe.param_scheduler   # epoch-based: kept
    recipe_curve, run_curve = lr_curve(recipe, 2), lr_curve(run, 4)
    assert len(run_curve) == 2 * len(recipe_curve) == 1200
    assert max(recipe_curve) == pytest.approx(2.4e-3)
    assert max(run_curve) == pytest.approx(1.2e-3)
    # the peak in the last iterations of the 40-epoch warm-up (epoch index 39) in both
    assert run_curve.index(max(run_curve)) // 4 == recipe_curve.index(max(recipe_curve)) // 2 == 39
    half = [0.5 * lr for lr in recipe_curve]
    assert run_curve[160::2] == pytest.approx(half[80:])   # cosine: the same curve, x 0.5
    # warm-up: per-iteration linear steps of another count, within 1 %
    assert run_curve[:160:2] == pytest.approx(half[:80], rel=1e-2)


def test_accumulation_holds_the_recipe_batch():
    cfg = load(MIXEDAE, 'accumulate')
    applied = hold_recipe_batch(cfg, world_size=4)
    assert cfg.optim_wrapper.accumulative_counts == 2 and applied['total_batch'] == 4096
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(2.4e-3)
    assert cfg.train_cfg.max_epochs == 800


@pytest.mark.parametrize('name', ['mae_vit-tiny-p8_1xb32-300i_tiny.py',
                                  'mixedae_vit-tiny-p8_1xb32-300i_tiny.py',
                                  'naive-mix_vit-tiny-p8_1xb32-300i_tiny.py'])
def test_demo_pretraining_holds_no_recipe_batch(name):
    cfg = load(CONFIGS / 'demo' / name)
    assert cfg.protocol.total_batch is None and hold_recipe_batch(cfg, world_size=2) == {}


def test_pipeline_batch_follows_the_protocol():
    """The pipeline's per-process batch keeps protocol.total_batch (the launch's number):
    ViTDet's 64 (16 x 4) on 8 processes is 8 each, nothing when the stage accumulates; a
    total set in the options is held; a total the batch does not divide is named."""
    assert total_batch_options(DET, {}, 8) == {BATCH: 8}
    assert total_batch_options(DET, {}, 16) == {}
    assert total_batch_options(DET, {'protocol.batch_mismatch': 'accumulate'}, 8) == {}
    assert total_batch_options(MIXEDAE, {'protocol.total_batch': 2048}, 8) == {BATCH: 256}
    with pytest.raises(ValueError, match=r'protocol.total_batch=1000 is not a multiple of '
                       r'train_dataloader.batch_size x accumulative_counts = 512 x 1'):
        total_batch_options(MIXEDAE, {'protocol.total_batch': 1000}, 8)
