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


@functools.lru_cache
def config_batch_size(config: Path) -> int:
    return Config.fromfile(str(config)).train_dataloader.batch_size


def total_batch_options(config: Path, options: dict, world: int) -> dict:
    """``train_dataloader.batch_size`` keeping the recipe's total batch on ``world > 1``
    processes: a config named ``..._8xb512_...`` was written for 8 processes of its batch
    size (512, or what ``options`` sets); on 32 processes each takes 128. Nothing for one
    process (it keeps the config's batch), a config whose name gives no process count, or
    as many processes as the recipe's.

    Raises:
        ValueError: the total batch is not a multiple of ``world``.
    """
    match = RECIPE_WORLD.search(config.name)
    if world == 1 or match is None or int(match[1]) == world:
        return {}
    key = 'train_dataloader.batch_size'
    batch = options[key] if key in options else config_batch_size(config)
    total = int(match[1]) * batch
    if total % world:
        raise ValueError(f'{config}: the total batch {total} ({match[1]} x {batch}) is not '
                         f'a multiple of {world} processes')
    return {key: total // world}


@dataclass
class TrainStage(Stage):
    """``tools/train.py`` (then ``tools/test.py`` on its last checkpoint if ``test``).

    ``checkpoint_from`` = (stage, output, config key): pass that stage's output file to
    the config key (e.g. the converted checkpoint to ``model.backbone.init_cfg.checkpoint``).
    """
    config: Path = Path()
    cfg_options: dict = field(default_factory=dict)
    checkpoint_from: Optional[tuple[str, str, str]] = None
    test: bool = False
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
                'test': self.test, 'inputs': inputs}

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
