"""Train (and test): ``tools/train.py``, then ``tools/test.py`` on its last checkpoint."""
import functools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from mmengine.config import Config

from ...study import SCALARS, file_stamp, newest_run_with
from ..cli_options import to_cli_options
from ..digest import config_digest
from ..process import StageError
from .base import Attempt, Context, Stage

RECIPE_WORLD = re.compile(r'_(\d+)xb(\d+)')   # OpenMMLab's name of N processes x B images
BATCH = 'train_dataloader.batch_size'


@functools.lru_cache
def config_batch(config: Path) -> tuple[int, int, Optional[int], str]:
    """The config's per-process batch, accumulative counts, ``protocol.total_batch``
    and ``protocol.batch_mismatch``."""
    cfg = Config.fromfile(str(config))
    protocol = cfg.get('protocol') or {}
    return (cfg.train_dataloader.batch_size,
            (cfg.get('optim_wrapper') or {}).get('accumulative_counts', 1),
            protocol.get('total_batch'), protocol.get('batch_mismatch', 'error'))


def recipe_processes(config: Path, options: dict) -> Optional[int]:
    """The number of processes the recipe was written for: ``protocol.total_batch`` (the
    number ``tools/train.py`` holds, mixedae/engine/recipe_batch.py) over the config's
    ``batch_size x accumulative_counts``; for a config without it, N of a name
    ``..._NxbB_...``. None where neither tells, or where ``protocol.batch_mismatch`` is
    ``scale`` / ``accumulate`` (the launch then treats another batch as asked).

    Raises:
        ValueError: ``protocol.total_batch`` is not a multiple of that product.
    """
    batch, accumulate, total, mode = config_batch(config)
    total = options.get('protocol.total_batch', total)
    accumulate = options.get('optim_wrapper.accumulative_counts', accumulate)
    if total is None:
        match = RECIPE_WORLD.search(config.name)
        return int(match[1]) if match else None
    if options.get('protocol.batch_mismatch', mode) != 'error':
        return None
    if total % (batch * accumulate):
        raise ValueError(f'{config}: protocol.total_batch={total} is not a multiple of '
                         f'train_dataloader.batch_size x accumulative_counts = '
                         f'{batch} x {accumulate}')
    return total // (batch * accumulate)


def total_batch_options(config: Path, options: dict, world: int) -> dict:
    """``train_dataloader.batch_size`` keeping the recipe's total batch on ``world > 1``
    processes: the recipe's batch per process (512, or what ``options`` sets) times its
    processes (:func:`recipe_processes`: 4096 / 512 = 8 for MAE's pre-training) over
    ``world``; on 32 processes each takes 128. Nothing for one process (it keeps the
    config's batch), a recipe of unknown processes, or as many processes as the recipe's.

    Raises:
        ValueError: the total batch is not a multiple of ``world``.
    """
    if world == 1:   # before reading the config (a dry run imports no model library)
        return {}
    processes = recipe_processes(config, options)
    if processes is None or processes == world:
        return {}
    batch = options.get(BATCH, config_batch(config)[0])
    total = processes * batch
    if total % world:
        raise ValueError(f'{config}: the total batch {total} ({processes} x {batch}) is not '
                         f'a multiple of {world} processes')
    return {BATCH: total // world}


@dataclass
class TrainStage(Stage):
    """``tools/train.py`` (then ``tools/test.py`` on its last checkpoint if ``test``).

    ``checkpoint_from`` = (stage, output, config key): pass that stage's output file to
    the config key (e.g. the converted checkpoint to ``model.backbone.init_cfg.checkpoint``).
    ``env``: the pipeline's ``env``, part of the signature where set (the threads and
    float kernels it pins change the numbers).
    """
    config: Path = Path()
    cfg_options: dict = field(default_factory=dict)
    checkpoint_from: Optional[tuple[str, str, str]] = None
    test: bool = False
    env: dict = field(default_factory=dict)
    trains = True

    def options(self, ctx: Context) -> list[str]:
        options = dict(self.cfg_options)
        options.update(total_batch_options(self.config, options, ctx.world_size))
        if self.checkpoint_from:
            stage, key, option = self.checkpoint_from
            options[option] = ctx.output(stage, key)
        return ['--cfg-options', *to_cli_options(options)] if options else []

    def train_args(self, ctx: Context) -> list[str]:
        return [str(self.config), '--work-dir', str(self.dir), *self.options(ctx)]

    def test_args(self, ctx: Context, checkpoint: str) -> list[str]:
        return [str(self.config), checkpoint, '--work-dir', str(self.dir),
                *self.options(ctx)]

    def describe(self, ctx: Context) -> str:
        text = ' '.join(ctx.command('train.py', self.train_args(ctx)))
        if self.test:
            test = ctx.command('test.py', self.test_args(ctx, '<last checkpoint>'))
            text += '\n      then ' + ' '.join(test)
        return text

    def signature(self, ctx: Context) -> dict:
        inputs = []
        if self.checkpoint_from:
            inputs.append(file_stamp(ctx.output(*self.checkpoint_from[:2])))
        return {'train': self.train_args(ctx), 'config_sha256': config_digest(self.config),
                'test': self.test, 'inputs': inputs, **({'env': self.env} if self.env else {})}

    def run(self, ctx: Context, attempt: Attempt) -> dict[str, str]:
        # resume only an interrupted attempt at this very signature, else start afresh
        # (configs such as MAE's set `resume = True`); a fresh start forgets the checkpoint
        # of an earlier attempt, which a later `--resume` would otherwise pick up
        if not attempt.resume:
            (self.dir / 'last_checkpoint').unlink(missing_ok=True)
        args = self.train_args(ctx) + (['--resume'] if attempt.resume
                                       else ['--cfg-options', 'resume=False'])
        attempt.run(ctx.command('train.py', args), 'tools/train.py', ctx.env)
        outputs = {'checkpoint': self.last_checkpoint()}
        # what tabulate reads (absent if nothing was logged, e.g. fewer iterations than the
        # logger interval and no validation)
        scalars = newest_run_with(self.dir, lambda run: run / SCALARS)
        if scalars is not None:
            outputs['scalars'] = str(scalars)
        if self.test:
            started = time.strftime('%Y%m%d_%H%M%S')
            attempt.run(ctx.command('test.py', self.test_args(ctx, outputs['checkpoint'])),
                        'tools/test.py', ctx.env)
            results = newest_run_with(self.dir, lambda run: run / f'{run.name}.json')
            if results is None or results.parent.name < started:
                raise StageError(f'tools/test.py wrote no metrics file under {self.dir}')
            outputs['test_results'] = str(results)
        return outputs

    def last_checkpoint(self) -> str:
        """The checkpoint mmengine's CheckpointHook saved last (``work_dir/last_checkpoint``)."""
        pointer = self.dir / 'last_checkpoint'
        checkpoint = pointer.read_text().strip() if pointer.is_file() else ''
        if not checkpoint or not Path(checkpoint).is_file():
            raise StageError(f'training saved no checkpoint ({pointer} '
                             f'{"points to a missing file" if checkpoint else "is absent"})')
        return checkpoint
