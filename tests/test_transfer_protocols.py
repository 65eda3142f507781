"""Transfer configs implement their protocol: each declares it and its recipe's total
batch, which any GPU count keeps (documented lr / iteration scaling, gradient
accumulation, or an error naming both numbers; 8-GPU world sizes simulated, also through
the study presets), run_info.json for the tables, and per-rank randomness that stays
exact under resume (two gloo ranks)."""
import argparse
import copy
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from conftest import CONFIGS, ROOT, save_pretraining_checkpoint
from mixedae.data import make_tiny_ade20k
from mixedae.engine import RunInfoHook, hold_recipe_batch, launch, launcher_world_size
from mixedae.engine.launch import apply_train_args
from mixedae.engine.run_info import eval_resize, precision, run_info
from mixedae.pipeline import load_spec
from mixedae.tabulate import load_published
from mixedae.tabulate.protocol_check import check_run

BENCHMARKS = CONFIGS / 'benchmarks'
DET_B = BENCHMARKS / 'detection/mask-rcnn_mixedae-vit-base-p16_simplefpn_lsj-100e_coco.py'
CLS_FT = BENCHMARKS / 'classification/mixedae-vit-base-p16_8xb128-coslr-100e_in1k.py'
SEG = BENCHMARKS / 'segmentation/upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py'
PUBLISHED = json.loads((ROOT / 'benchmarks/published_results.json').read_text())
TASK_OF_FOLDER = {'classification': ('cls_finetune', 'cls_linear'),
                  'detection': ('det_coco',), 'segmentation': ('seg_ade20k',)}


@functools.lru_cache(maxsize=None)
def parsed(path: Path) -> Config:
    return Config.fromfile(str(path))


def load(path: Path) -> Config:
    """A fresh copy of the config (each file is parsed once per session: mmdet's and
    mmseg's inheritance trees take seconds)."""
    return copy.deepcopy(parsed(Path(path)))


def det(mode: str = 'error', batch_per_gpu: int = 4) -> Config:
    cfg = load(DET_B)
    cfg.protocol.batch_mismatch = mode
    cfg.train_dataloader.batch_size = batch_per_gpu
    return cfg


def iteration_counts(cfg: Config) -> dict:
    warmup, steps = cfg.param_scheduler
    return dict(max_iters=cfg.train_cfg.max_iters, val=cfg.train_cfg.val_interval,
                dynamic=[tuple(d) for d in cfg.train_cfg.dynamic_intervals],
                warmup=warmup.end, end=steps.end, milestones=list(steps.milestones),
                checkpoint=cfg.default_hooks.checkpoint.interval)


RECIPE = dict(max_iters=184375, val=5000, dynamic=[(180001, 184375)], warmup=250,
              end=184375, milestones=[163889, 177546], checkpoint=5000)


# ------------------------------------------------------ the recipe's total batch


@pytest.mark.parametrize('path', sorted(BENCHMARKS.rglob('*.py')), ids=lambda p: p.stem)
def test_every_transfer_config_declares_its_protocol(path):
    """Protocol (a key of published_results.json, of this config's task), the recipe's
    total batch (= auto_scale_lr.base_batch_size), and per-rank randomness."""
    cfg = load(path)
    protocol = PUBLISHED['protocols'][cfg.protocol.name]
    assert protocol['task'] in TASK_OF_FOLDER[path.parent.name]
    assert cfg.protocol.total_batch == cfg.auto_scale_lr.base_batch_size
    assert cfg.protocol.get('batch_mismatch', 'error') == 'error'
    assert cfg.randomness.diff_rank_seed is True
    assert {'PerIterationSeedHook', 'RunInfoHook'} <= {h.type for h in cfg.custom_hooks}


@pytest.mark.parametrize('path', sorted((CONFIGS / 'demo').glob('*-*_vit-tiny-p8_tiny.py')),
                         ids=lambda p: p.stem)
def test_demo_transfer_configs_hold_no_recipe_batch(path):
    cfg = load(path)
    if 'protocol' in cfg:   # the transfer ones (pre-training demo configs have none)
        assert cfg.protocol.name == 'tiny-demo' and cfg.protocol.total_batch is None
        assert hold_recipe_batch(cfg, world_size=8) == {}
        assert cfg.randomness.diff_rank_seed is True


def test_eight_gpus_stop_with_both_numbers():
    """ViTDet's 64 images per step vs 8 GPUs x 4 = 32: an error, nothing changed."""
    cfg = det()
    with pytest.raises(ValueError) as error:
        hold_recipe_batch(cfg, world_size=8)
    message = str(error.value)
    assert 'protocol.total_batch=64' in message and '8 process(es) x 4 images' in message
    assert '= 32' in message and 'protocol.batch_mismatch=scale (lr x 0.5, iterations x 2)' \
        in message
    assert iteration_counts(cfg) == RECIPE and cfg.optim_wrapper.optimizer.lr == 1e-4
    assert hold_recipe_batch(det(), world_size=16)['lr_scale'] == 1.0   # 16 x 4 = 64


def test_eight_gpus_scale_lr_and_iterations():
    """The linear rule: batch 32 takes lr x 0.5 and twice every iteration count (the same
    100 epochs); 32 GPUs x 4 = 128 the other way round."""
    cfg = det('scale')
    applied = hold_recipe_batch(cfg, world_size=8)
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(5e-5)
    assert iteration_counts(cfg) == dict(
        max_iters=368750, val=10000, dynamic=[(360002, 368750)], warmup=500, end=368750,
        milestones=[327778, 355092], checkpoint=10000)
    assert applied == dict(recipe_total_batch=64, world_size=8, batch_per_gpu=4,
                           accumulative_counts=1, total_batch=32, lr_scale=0.5,
                           iteration_scale=2.0, batch_mismatch='scale')
    assert cfg.protocol.applied == applied        # RunInfoHook records it
    cfg = det('scale')
    hold_recipe_batch(cfg, world_size=32)
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(2e-4)
    assert iteration_counts(cfg)['max_iters'] == 92188           # 184375 / 2, rounded
    assert iteration_counts(cfg)['milestones'] == [81944, 88773]


def test_eight_gpus_accumulate_to_the_recipe_batch():
    """8 GPUs x 4, two micro-batches per optimizer step: batch 64 exactly, lr 1e-4,
    mmengine's iteration (micro-batch) counts doubled; 128 cannot be reached that way."""
    cfg = det('accumulate')
    applied = hold_recipe_batch(cfg, world_size=8)
    assert cfg.optim_wrapper.accumulative_counts == 2
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    assert iteration_counts(cfg)['max_iters'] == 368750
    assert applied['total_batch'] == 64 and applied['lr_scale'] == 1.0
    with pytest.raises(ValueError, match='needs the recipe batch to be a multiple of 128'):
        hold_recipe_batch(det('accumulate'), world_size=32)


def test_epoch_recipes_scale_lr_only():
    """ImageNet fine-tuning is defined in epochs: 4 GPUs x 128 = 512 of the recipe's 1024
    halve the lr (MAE's lr = blr x batch / 256) and keep 100 epochs."""
    cfg = load(CLS_FT)
    with pytest.raises(ValueError, match=r'total_batch=1024.*4 process\(es\) x 128'):
        hold_recipe_batch(load(CLS_FT), world_size=4)
    cfg.protocol.batch_mismatch = 'scale'
    schedulers = [dict(s) for s in cfg.param_scheduler]
    hold_recipe_batch(cfg, world_size=4)
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1e-3)
    assert cfg.train_cfg.max_epochs == 100
    assert [dict(s) for s in cfg.param_scheduler] == schedulers   # epoch-based: unchanged
    assert hold_recipe_batch(load(SEG), world_size=8)['lr_scale'] == 1.0


def test_train_entry_point_sees_the_launchers_world_size(monkeypatch):
    """tools/train.py under torchrun with 8 ranks (WORLD_SIZE=8, simulated): the check runs
    on the merged config; --auto-scale-lr (lr only) is refused for these recipes."""
    monkeypatch.setenv('WORLD_SIZE', '8')
    monkeypatch.setattr(launch, 'check_data_config', lambda *args: None)   # no COCO here
    assert launcher_world_size('pytorch') == 8 and launcher_world_size('none') == 1
    args = argparse.Namespace(resume=None, amp=False, auto_scale_lr=False, no_validate=True)
    cfg = det()
    cfg.launcher = 'pytorch'
    with pytest.raises(ValueError, match='= 32'):
        apply_train_args(cfg, args)
    cfg = det('accumulate')
    cfg.launcher = 'pytorch'
    assert apply_train_args(cfg, args).optim_wrapper.accumulative_counts == 2
    cfg = det('scale')
    cfg.launcher = 'pytorch'
    with pytest.raises(ValueError, match='scales the lr only'):
        apply_train_args(cfg, argparse.Namespace(**{**vars(args), 'auto_scale_lr': True}))
    monkeypatch.delenv('WORLD_SIZE')
    with pytest.raises(ValueError, match='WORLD_SIZE'):
        launcher_world_size('pytorch')


# ----------------------------------------------------------- the study presets


@pytest.mark.parametrize('name, arch, det_batch', [
    ('imagenet_vit-base.py', 'vit-base-p16', 4),
    ('imagenet_vit-base-1600e.py', 'vit-base-p16', 4),
    ('imagenet_vit-large-1600e.py', 'vit-large-p16', 2)])
def test_study_presets_hold_every_recipe_batch_on_their_gpus(name, arch, det_batch,
                                                            monkeypatch):
    """Each preset's stages, with the preset's options on its 8 GPUs, train every
    transfer task at its recipe's total batch (detection: 64, by accumulation)."""
    monkeypatch.chdir(ROOT)   # the presets name configs relative to the repository
    spec = load_spec(CONFIGS / 'pipelines' / name)
    epochs = 800 if name == 'imagenet_vit-base.py' else 1600
    assert [m.config.name.split('_')[1:] for m in spec.methods] == 3 * [
        [arch, f'8xb512-amp-coslr-{epochs}e', 'in1k.py']]
    info = run_info(load(spec.methods[-1].config))            # mixedae's pre-training
    assert info['arch'] == arch and info['schedule'] == {'max_epochs': epochs}
    for task in spec.tasks:
        cfg = load(ROOT / task.config)
        cfg.merge_from_dict(spec.stage_options('mixedae', task.name))
        applied = hold_recipe_batch(cfg, world_size=spec.nproc_per_node)
        assert applied['total_batch'] == applied['recipe_total_batch'], task.name
        assert applied['lr_scale'] == 1.0 and run_info(cfg)['arch'] == arch
        if task.name == 'det_coco':
            assert applied['batch_per_gpu'] == det_batch
            assert applied['accumulative_counts'] == 64 // (8 * det_batch)


# ------------------------------------------------------------------ run_info.json


def test_run_info_names_protocol_backbone_and_schedule(tmp_path):
    cfg = det('accumulate')
    hold_recipe_batch(cfg, world_size=8)
    info = run_info(cfg)
    assert info['protocol'] == 'vitdet-mask-rcnn' and info['arch'] == 'vit-base-p16'
    assert info['schedule'] == {'max_iters': 368750}
    assert info['batch']['accumulative_counts'] == 2
    assert info['precision'] == 'amp-fp16'
    assert info['eval_resize'] == [{'type': 'mmdet.Resize', 'interpolation': 'bilinear'}]
    assert info['weights'] == cfg.model.backbone.init_cfg.checkpoint   # pre-trained weights
    pretrain = load(CONFIGS / 'mae/mae_vit-large-p16_8xb512-amp-coslr-1600e_in1k.py')
    assert run_info(pretrain) == {'protocol': 'mae-pretrain', 'arch': 'vit-large-p16',
                                  'schedule': {'max_epochs': 1600}, 'batch': {},
                                  'weights': None, 'precision': 'amp-fp16',
                                  'eval_resize': []}
    runner = argparse.Namespace(cfg=cfg, log_dir=str(tmp_path))
    RunInfoHook().before_run(runner)
    assert json.loads((tmp_path / 'run_info.json').read_text()) == json.loads(json.dumps(info))


@pytest.mark.parametrize('optim_wrapper, recorded', [
    (dict(type='OptimWrapper'), 'fp32'), (dict(), 'fp32'),
    (dict(type='AmpOptimWrapper'), 'amp-fp16'),
    (dict(type='AmpOptimWrapper', dtype='bfloat16'), 'amp-bf16'),
    (dict(type='mmengine.AmpOptimWrapper', dtype='float16'), 'amp-fp16')])
def test_run_info_records_the_precision(optim_wrapper, recorded):
    assert precision(optim_wrapper) == recorded


def test_run_info_records_the_evaluation_interpolation():
    """The test pipeline's resize with its interpolation, the transform's default where the
    config sets none (mmpretrain's ResizeEdge: bilinear)."""
    cfg = load(CONFIGS / 'demo/cls-linear_vit-tiny-p8_tiny.py')
    assert eval_resize(cfg) == [{'type': 'ResizeEdge', 'interpolation': 'bilinear'}]
    cfg.test_dataloader.dataset.pipeline[1].interpolation = 'bicubic'
    assert eval_resize(cfg) == [{'type': 'ResizeEdge', 'interpolation': 'bicubic'}]


@pytest.mark.parametrize('path, differences', [
    (CLS_FT, ['precision AMP fp16, recipe fp32']),
    (BENCHMARKS / 'classification/mixedae-vit-base-p16_8xb2048-linear-coslr-90e_in1k.py',
     ['evaluation resize bicubic, recipe bilinear']),
    (DET_B, []), (SEG, [])], ids=lambda p: getattr(p, 'stem', ''))
def test_configs_against_their_published_recipes(path, differences, tmp_path):
    """What RunInfoHook records for each transfer config, run to its end on the recipe's
    GPUs, against the recipe of its protocol: ViTDet's and mmseg's are matched; the
    ImageNet configs train with AMP (MAE's main_finetune.py; mmpretrain: fp32) and
    resize bicubic (MAE's main_linprobe.py; mmpretrain: bilinear)."""
    cfg = load(path)
    hold_recipe_batch(cfg, cfg.protocol.total_batch // cfg.train_dataloader.batch_size)
    info = run_info(cfg)
    run = tmp_path / '20240101_000000'
    (run / 'vis_data').mkdir(parents=True)
    (unit, length), = info['schedule'].items()
    line = dict(lr=1e-4, time=1.0, iter=length, step=length,
                **({'epoch': length} if unit == 'max_epochs' else {}))
    (run / 'vis_data/scalars.json').write_text(json.dumps(line) + '\n')
    (run / 'run_info.json').write_text(json.dumps(info))
    recipe = load_published(ROOT / 'benchmarks/published_results.json').protocols[
        info['protocol']].recipe
    assert check_run(run, recipe, info['arch']).differences == differences


# ------------------------------------------ per-rank randomness, exact under resume

DRIVER = """
# Under torchrun: the tiny ADE20K config trained 4 iterations (checkpoints at 2 and 4),
# then, in the same processes, a new Runner resumed from iteration 2 (tools/train.py's
# functions; one launch, one import of the OpenMMLab stack). Each rank records, per
# iteration, which samples every DropPath dropped, and its loss.
import argparse
import json
import sys

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mixedae.engine.launch import apply_train_args, build_runner, load_config


@HOOKS.register_module()
class RecordDropPath(Hook):
    priority = 'LOWEST'

    def __init__(self, out):
        self.out, self.masks = out, []

    def before_run(self, runner):
        for module in runner.model.modules():
            if type(module).__name__ == 'DropPath':
                module.register_forward_hook(self.record)

    def record(self, module, inputs, output):
        if module.training:
            x, y = inputs[0].flatten(1), output.flatten(1)
            self.masks.append(((y == 0).all(1) & (x != 0).any(1)).int().tolist())

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        line = dict(iter=runner.iter + 1, masks=self.masks, loss=float(outputs['loss']))
        with open(f'{self.out}/rank{get_rank()}.jsonl', 'a') as f:
            f.write(json.dumps(line) + '\\n')
        self.masks = []


config, out, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
for work, resume in (('through', None), ('resumed', f'{out}/through/iter_2.pth')):
    args = argparse.Namespace(config=config, work_dir=f'{out}/{work}', cfg_options=options,
                              launcher='pytorch', local_rank=0, resume=resume, amp=False,
                              auto_scale_lr=False, no_validate=True)
    cfg = apply_train_args(load_config(args), args)
    cfg.experiment_name = work
    cfg.custom_hooks.append(dict(type='RecordDropPath', out=f'{out}/{work}'))
    build_runner(cfg).train()
"""


def recorded(out: Path, rank: int) -> dict:
    lines = (out / f'rank{rank}.jsonl').read_text().splitlines()
    return {row['iter']: row for row in map(json.loads, lines)}


@pytest.mark.slow
def test_ranks_draw_their_own_masks_and_resume_exactly(tmp_path):
    """Two gloo ranks of a transfer config (PerIterationSeedHook, diff_rank_seed) drop
    different samples in their drop paths; resumed from iteration 2, each rank draws the
    masks and gets the losses of the run that went through."""
    make_tiny_ade20k(tmp_path / 'ade', seed=0, num_train=4, num_val=2, size=64)
    save_pretraining_checkpoint(tmp_path / 'pre.pth')
    (tmp_path / 'driver.py').write_text(DRIVER)
    options = {'train_dataloader.dataset.data_root': f'{tmp_path / "ade/ADEChallengeData2016"}/',
               'model.backbone.init_cfg.checkpoint': str(tmp_path / 'pre.pth'),
               'model.backbone.drop_path_rate': 0.5, 'train_cfg.max_iters': 4,
               'default_hooks.checkpoint.interval': 2,
               'default_hooks.checkpoint.max_keep_ckpts': 2}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node',
           '2', str(tmp_path / 'driver.py'), str(CONFIGS / 'demo/seg-ade20k_vit-tiny-p8_tiny.py'),
           str(tmp_path), json.dumps(options)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    through = [recorded(tmp_path / 'through', rank) for rank in (0, 1)]
    resumed = [recorded(tmp_path / 'resumed', rank) for rank in (0, 1)]
    assert sorted(through[0]) == [1, 2, 3, 4] and sorted(resumed[1]) == [3, 4]
    masks = [[through[rank][it]['masks'] for it in range(1, 5)] for rank in (0, 1)]
    assert masks[0] != masks[1]                                  # each rank its own draws
    assert sum(map(sum, (m for it in masks[0] for m in it))) > 0  # and some were dropped
    for rank in (0, 1):
        for it in (3, 4):
            assert resumed[rank][it] == through[rank][it], (rank, it)
    info = json.loads(next((tmp_path / 'through').glob('*/run_info.json')).read_text())
    assert info['protocol'] == 'tiny-demo' and info['arch'] == 'vit-64x4-p8'
