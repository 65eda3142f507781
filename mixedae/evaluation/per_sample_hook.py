"""Write each evaluation's per-sample results into the run folder."""
import json
import os
import os.path as osp
import warnings
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..atomic_write import remove_partial_files, write_atomically
from ..stats.per_sample_files import FORMAT


def scalar(value):
    """A logged metric value as JSON takes it (numpy / torch scalars to float)."""
    return value if isinstance(value, (str, int, float)) else float(value)


@HOOKS.register_module()
class PerSampleHook(Hook):
    """After every validation and test, write ``<log_dir>/per_sample/<mode>.json`` and the
    files it names, from the evaluator's per-sample metric (``PerSampleAccuracy``,
    ``PerSampleIoUMetric``, ``PerSampleCocoMetric``); rank 0 only.

    The data files are written first, named after the step (``val-iter_5000.npz``), the
    manifest last, atomically; then the previous evaluation's files of that mode go. A
    reader thus finds the latest complete evaluation (format:
    :mod:`mixedae.stats.per_sample_files`).
    """

    priority = 'LOW'

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        step = dict(iter=runner.iter, epoch=runner.epoch)
        self.write(runner, 'val', f'val-iter_{runner.iter}', step, metrics)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        step = dict(checkpoint=runner.cfg.get('load_from'))
        self.write(runner, 'test', 'test-checkpoint', step, metrics)

    def write(self, runner, mode: str, stem: str, step: dict,
              metrics: Optional[dict]) -> None:
        if not is_main_process():
            return
        loop = runner.val_loop if mode == 'val' else runner.test_loop
        keeping = [m for m in loop.evaluator.metrics if hasattr(m, 'dump_per_sample')]
        if len(keeping) > 1:
            raise ValueError(f'{mode}_evaluator has {len(keeping)} per-sample metrics; '
                             'PerSampleHook writes one')
        if not keeping:
            warnings.warn(f'PerSampleHook: {mode}_evaluator keeps no per-sample results '
                          '(use PerSampleAccuracy / PerSampleIoUMetric / PerSampleCocoMetric)')
            return
        write_evaluation(osp.join(runner.log_dir, 'per_sample'), mode, stem, step, metrics,
                         keeping[0], getattr(loop.dataloader.dataset, 'data_root', None))


def write_evaluation(directory: str, mode: str, stem: str, step: dict,
                     metrics: Optional[dict], metric, data_root: Optional[str]) -> None:
    """Write what ``metric`` kept (files named ``<stem>.*``), then ``<mode>.json``; remove
    the earlier evaluation's files of ``mode``."""
    os.makedirs(directory, exist_ok=True)
    fields = metric.dump_per_sample(directory, stem, data_root)
    if fields is None:
        return
    manifest = dict(format=FORMAT, mode=mode, step=step,
                    metrics={k: scalar(v) for k, v in (metrics or {}).items()}, **fields)
    write_atomically(osp.join(directory, f'{mode}.json'),
                     (json.dumps(manifest, indent=1) + '\n').encode())
    remove_stale_files(directory, mode, {entry['name'] for entry in fields['files'].values()})


def remove_stale_files(directory: str, mode: str, keep: set) -> None:
    """Remove the data files of earlier evaluations of ``mode`` and killed writers'
    temporary files."""
    remove_partial_files(directory)
    for name in os.listdir(directory):
        if name.startswith(f'{mode}-') and name not in keep:
            os.unlink(osp.join(directory, name))
