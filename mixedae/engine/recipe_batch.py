"""Hold a recipe's total batch whatever the number of GPUs.

A pre-training or transfer config states what its recipe trains with and how to treat
another batch::

    protocol = dict(name='vitdet-mask-rcnn',   # benchmarks/published_results.json
                    total_batch=64,            # images per optimizer step in the recipe
                    batch_mismatch='error')    # or 'scale' / 'accumulate'
    auto_scale_lr = dict(base_batch_size=64)   # mmengine's statement of the same number

(the pre-training configs: ``name='mae-pretrain', total_batch=4096``, mmpretrain's MAE
recipe, in ``configs/_base_/pretrain_runtime.py``).

This run's batch is ``world size x train_dataloader.batch_size x
optim_wrapper.accumulative_counts``. When it differs from ``total_batch``,
``protocol.batch_mismatch`` decides (one option, e.g.
``--cfg-options protocol.batch_mismatch=scale``):

- ``'error'`` (default): stop before anything is built, naming both numbers.
- ``'scale'``: the linear scaling rule (Goyal et al. 2017; MAE's ``lr = blr x batch /
  256``; detectron2's ``DefaultTrainer.auto_scale_workers``): lr x k and every
  iteration count of the schedule x 1/k, k = run batch / recipe batch, so that the run
  sees as many images (epochs) as the recipe. Epoch-defined schedules keep their epochs,
  and their epoch-based schedulers (MAE's 40-epoch warm-up and cosine, with
  ``convert_to_iter_based``) are converted to iterations by mmengine from the run's own
  epoch length: the same lr curve over epochs, x k.
- ``'accumulate'``: the recipe's batch exactly, by gradient accumulation
  (``optim_wrapper.accumulative_counts``, mmengine): when the recipe batch is n times the
  run's, each optimizer step takes n micro-batches; the lr stays, and iteration counts
  (mmengine counts micro-batches) x n.

mmengine's own ``auto_scale_lr.enable`` scales the lr only (and ignores
``accumulative_counts``), so it is refused for these configs. "Iteration counts" are
``train_cfg.max_iters`` / ``val_interval`` / ``dynamic_intervals``, ``begin`` / ``end`` /
``milestones`` / ``T_max`` of iteration-based (``by_epoch=False``) param schedulers and an
iteration-based checkpoint interval. ``total_batch=None`` (the tiny demo configs) holds
nothing. What was applied is kept in ``cfg.protocol.applied`` (RunInfoHook records it).
"""
import os

from mmengine.config import Config

MODES = ('error', 'scale', 'accumulate')
WORLD_SIZE_ENV = {'pytorch': 'WORLD_SIZE', 'slurm': 'SLURM_NTASKS',
                  'mpi': 'OMPI_COMM_WORLD_SIZE'}


def launcher_world_size(launcher: str) -> int:
    """The number of processes the launcher starts (its environment tells, before mmengine
    initialises the process group); 1 without a launcher."""
    if launcher in (None, 'none'):
        return 1
    name = WORLD_SIZE_ENV[launcher]
    if not os.environ.get(name, '').isdigit():
        raise ValueError(f'--launcher {launcher}: environment variable {name} (the number '
                         f'of processes) is not set; start the run with torchrun / srun / '
                         'mpirun')
    return int(os.environ[name])


def scale_count(value: int, factor: float) -> int:
    return max(1, round(value * factor))


def scale_iterations(cfg: Config, factor: float) -> None:
    """Multiply every iteration count of the schedule by ``factor`` (rounded, >= 1)."""
    train = cfg.get('train_cfg') or {}
    if train.get('type') == 'IterBasedTrainLoop' or train.get('by_epoch') is False:
        for key in ('max_iters', 'val_interval'):
            if key in train:
                train[key] = scale_count(train[key], factor)
        if train.get('dynamic_intervals'):
            train['dynamic_intervals'] = [(scale_count(start, factor), scale_count(n, factor))
                                          for start, n in train['dynamic_intervals']]
    schedulers = cfg.get('param_scheduler') or []
    for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
        if scheduler.get('by_epoch', True):
            continue
        for key in ('begin', 'end', 'T_max'):
            if scheduler.get(key) is not None:
                scheduler[key] = scale_count(scheduler[key], factor)
        if 'milestones' in scheduler:
            scheduler['milestones'] = [scale_count(m, factor) for m in scheduler['milestones']]
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint') or {}
    if checkpoint.get('by_epoch') is False and 'interval' in checkpoint:
        checkpoint['interval'] = scale_count(checkpoint['interval'], factor)


def hold_recipe_batch(cfg: Config, world_size: int) -> dict:
    """Apply ``protocol.batch_mismatch`` for ``world_size`` processes (see the module
    docstring); return what was applied (also kept in ``cfg.protocol.applied``)."""
    protocol = cfg.get('protocol')
    if not protocol or protocol.get('total_batch') is None:
        return {}
    where = f'{cfg.filename or "config"}: protocol'
    recipe = protocol['total_batch']
    mode = protocol.get('batch_mismatch', 'error')
    if mode not in MODES:
        raise ValueError(f'{where}.batch_mismatch={mode!r}: expected one of {MODES}')
    if (cfg.get('auto_scale_lr') or {}).get('enable'):
        raise ValueError(f'{where}: auto_scale_lr.enable (--auto-scale-lr) scales the lr '
                         'only; this recipe also fixes its iterations: use --cfg-options '
                         'protocol.batch_mismatch=scale (or =accumulate) instead')
    per_gpu = cfg.train_dataloader.batch_size
    accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
    run = world_size * per_gpu * accumulate
    applied = dict(recipe_total_batch=recipe, world_size=world_size, batch_per_gpu=per_gpu,
                   accumulative_counts=accumulate, total_batch=run, lr_scale=1.0,
                   iteration_scale=1.0, batch_mismatch=mode)
    if run != recipe:
        mismatch = (f'{where}.total_batch={recipe}: the recipe trains with {recipe} images '
                    f'per optimizer step; this run has {world_size} process(es) x '
                    f'{per_gpu} images (train_dataloader.batch_size)'
                    + (f' x {accumulate} (accumulative_counts)' if accumulate > 1 else '')
                    + f' = {run}')
        if mode == 'error':
            raise ValueError(f'{mismatch}. Set train_dataloader.batch_size so that the '
                             'product matches, or pass --cfg-options '
                             f'protocol.batch_mismatch=scale (lr x {run / recipe:g}, '
                             f'iterations x {recipe / run:g}) or =accumulate')
        if mode == 'accumulate':
            if recipe % run:
                raise ValueError(f'{mismatch}; protocol.batch_mismatch=accumulate needs the '
                                 f'recipe batch to be a multiple of {run}: use =scale or '
                                 'another train_dataloader.batch_size')
            steps = recipe // run
            cfg.optim_wrapper.accumulative_counts = accumulate * steps
            scale_iterations(cfg, steps)
            applied.update(accumulative_counts=accumulate * steps, total_batch=recipe,
                           iteration_scale=float(steps))
        else:
            factor = run / recipe
            cfg.optim_wrapper.optimizer.lr *= factor
            scale_iterations(cfg, 1 / factor)
            applied.update(lr_scale=factor, iteration_scale=1 / factor)
    cfg.protocol.applied = applied
    return applied
