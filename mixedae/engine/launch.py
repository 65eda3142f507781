"""Shared command-line handling of ``tools/train.py`` and ``tools/test.py``.

One entry point serves mmpretrain, mmdet and mmseg configs: the config's
``default_scope`` decides which codebase's registries (and ``runner_type``, if set)
build the Runner.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..data.checks import check_data_config
from .config_checks import check_pretrain_config
from .cpu_distributed import setup_cpu_distributed
from .recipe_batch import hold_recipe_batch, launcher_world_size


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Arguments every entry point takes."""
    parser.add_argument('config', help='config file (mmpretrain, mmdet or mmseg)')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. model.backbone.mix_ratio=2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (torchrun: pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """Read the config and apply the common arguments."""
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config} does not exist')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def apply_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """``--resume``, ``--amp``, ``--auto-scale-lr``, ``--no-validate``; then the checks,
    and the recipe's total batch held for this run's number of processes."""
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.amp:
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print('[mixedae] --amp: the config already uses AmpOptimWrapper')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    check_pretrain_config(cfg)
    applied = hold_recipe_batch(cfg, launcher_world_size(cfg.launcher))
    if applied.get('iteration_scale', 1.0) != 1.0 and os.environ.get('RANK', '0') == '0':
        print(f'[mixedae] recipe batch {applied["recipe_total_batch"]}, this run '
              f'{applied["world_size"]} x {applied["batch_per_gpu"]}: '
              f'protocol.batch_mismatch={applied["batch_mismatch"]!r} -> lr x '
              f'{applied["lr_scale"]:g}, iterations x {applied["iteration_scale"]:g}, '
              f'accumulative_counts {applied["accumulative_counts"]}')
    check_data_config(cfg, ('train_dataloader', 'val_dataloader'))
    return cfg


def build_runner(cfg: Config) -> Runner:
    """Build the Runner the config asks for (``runner_type``) or mmengine's."""
    setup_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
