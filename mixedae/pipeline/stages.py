"""The stages of a study: make data, pre-train, convert, transfer, tabulate.

Every stage has a folder (its ``stage.json`` state and ``stage.log``), the names of the
stages it needs, a *signature* (its command and input files: when it changes the stage
runs again) and ``run``, which returns the stage's outputs (name -> path). Training and
testing run as subprocesses of ``tools/train.py`` / ``tools/test.py`` (one Runner and one
default registry scope per process); data generation, conversion and tabulation run in
this process.
"""
import functools
import hashlib
import importlib.util
import json
import re
import sys
import time
import traceback
from abc import ABC, abstractmethod
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable, Optional, TextIO

from mmengine.config import Config

from ..tabulate.collect import WEIGHTS_FILE, run_dirs
from .cli_options import to_cli_options
from .lock import StageLock
from .process import StageError, run_logged
from .state import STATE_FILE, file_stamp

LineSink = Callable[[str], None]


@dataclass
class Context:
    """What stages share: where the tools are, how to launch them, finished outputs, and
    the running stage's lock (handed to its commands)."""
    tools: Path
    python: str = sys.executable
    nproc_per_node: Optional[int] = None   # torchrun with this many processes
    srun: Optional[dict] = None   # in a SLURM job: srun options (ntasks, ...), --launcher slurm
    env: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    lock: Optional[StageLock] = None

    @property
    def world_size(self) -> int:
        """Processes a training stage runs on."""
        return self.srun['ntasks'] if self.srun else self.nproc_per_node or 1

    def output(self, stage: str, key: str) -> str:
        """A finished stage's output path (a ``<stage:key>`` placeholder before that)."""
        return self.outputs.get(stage, {}).get(key, f'<{stage}:{key}>')

    def command(self, script: str, args: list[str]) -> list[str]:
        """argv running ``tools/<script>`` (under srun or torchrun if asked)."""
        tool = str(self.tools / script)
        if self.srun is not None:
            return ['srun', *(f'--{k.replace("_", "-")}={v}' for k, v in self.srun.items()),
                    '--kill-on-bad-exit=1', self.python, tool, *args, '--launcher', 'slurm']
        if self.nproc_per_node is None:
            return [self.python, tool, *args]
        return [self.python, '-m', 'torch.distributed.run',
                f'--nproc_per_node={self.nproc_per_node}', tool, *args,
                '--launcher', 'pytorch']


@dataclass
class Stage(ABC):
    """Base of all stages; ``task`` groups stages of different methods (for the ETA)."""
    name: str
    dir: Path
    task: str
    needs: tuple[str, ...] = ()
    trains = False  # a training subprocess (else quick work in this process)

    @property
    def log(self) -> Path:
        return self.dir / 'stage.log'

    @abstractmethod
    def describe(self, ctx: Context) -> str:
        """One line for ``--dry-run``: what the stage would do."""

    @abstractmethod
    def signature(self, ctx: Context) -> dict:
        """JSON-able command and input stamps; a change makes the stage run again."""

    @abstractmethod
    def run(self, ctx: Context, log: TextIO, on_line: LineSink, resume: bool) -> dict:
        """Do the work (``resume``: continue an interrupted attempt); return the outputs.

        Raises:
            StageError: the stage did not finish.
        """


def load_tool(path: Path) -> ModuleType:
    """Import a script of ``tools/`` as a module (to call its ``main`` in this process)."""
    spec = importlib.util.spec_from_file_location(f'mixedae_tools_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class PrepareTinyDatasets(Stage):
    """Write the tiny ImageNet / COCO / ADE20K sets that are absent, with
    ``tools/make_tiny_datasets.py`` (run in this process: it needs no Runner)."""
    out: Path = Path('data/tiny')
    seed: int = 0

    def folders(self, tool: ModuleType) -> dict[str, Path]:
        return {name: self.out / folder for name, folder in tool.FOLDERS.items()}

    def missing(self, tool: ModuleType) -> list[str]:
        return [name for name, path in self.folders(tool).items()
                if not tool.is_non_empty(path)]

    def describe(self, ctx: Context) -> str:
        missing = self.missing(load_tool(ctx.tools / 'make_tiny_datasets.py'))
        return (f'tiny datasets in {self.out} (seed {self.seed}); to make: '
                f'{" ".join(missing) or "none"}')

    def signature(self, ctx: Context) -> dict:
        return {'tiny_datasets': str(self.out), 'seed': self.seed}

    def run(self, ctx: Context, log: TextIO, on_line: LineSink, resume: bool) -> dict:
        tool = load_tool(ctx.tools / 'make_tiny_datasets.py')
        missing = self.missing(tool)
        if missing:
            argv = ['--out', str(self.out), '--seed', str(self.seed), '--which', *missing]
            log.write('$ make_tiny_datasets.py ' + ' '.join(argv) + '\n')
            with redirect_stdout(log), redirect_stderr(log):
                if tool.main(argv):
                    raise StageError('tools/make_tiny_datasets.py failed')
        return {name: str(path) for name, path in self.folders(tool).items()}


def config_files(config: Path) -> list[Path]:
    """``config`` and the files it inherits from (``_base_``, recursively, as mmengine
    reads it); bases of installed packages (``mmdet::...``) are left out."""
    files, todo = [], [config.resolve()]
    while todo:
        path = todo.pop(0)
        if path in files or not path.is_file():
            continue
        files.append(path)
        try:
            bases = Config._get_base_files(str(path))
        except (SyntaxError, ValueError, TypeError, NameError):
            continue  # mmengine names the error when the stage runs
        todo += [(path.parent / base).resolve() for base in bases
                 if isinstance(base, str) and '::' not in base]
    return files


def config_digest(config: Path) -> str:
    """SHA-256 of the contents of a config and its base files: editing any of them makes
    the stage run again."""
    digest = hashlib.sha256()
    for path in config_files(config):
        digest.update(str(path).encode() + b'\0' + path.read_bytes() + b'\0')
    return digest.hexdigest()


def newest_run_with(work_dir: Path, relative: Callable[[Path], Path]) -> Optional[Path]:
    """``relative(run)`` of the newest mmengine run folder where that file exists."""
    for run in run_dirs(work_dir):
        if relative(run).is_file():
            return relative(run)
    return None


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

    def run(self, ctx: Context, log: TextIO, on_line: LineSink, resume: bool) -> dict:
        # resume only an interrupted attempt at this very signature, else start afresh
        # (configs such as MAE's set `resume = True`); a fresh start forgets the checkpoint
        # of an earlier attempt, which a later `--resume` would otherwise pick up
        if not resume:
            (self.dir / 'last_checkpoint').unlink(missing_ok=True)
        args = self.train_args(ctx) + (['--resume'] if resume
                                       else ['--cfg-options', 'resume=False'])
        run_logged(ctx.command('train.py', args), log, on_line, 'tools/train.py', ctx.env,
                   ctx.lock)
        outputs = {'checkpoint': self.last_checkpoint()}
        # what tabulate reads (absent if nothing was logged, e.g. fewer iterations than the
        # logger interval and no validation)
        scalars = newest_run_with(self.dir, lambda run: run / 'vis_data' / 'scalars.json')
        if scalars is not None:
            outputs['scalars'] = str(scalars)
        if self.test:
            started = time.strftime('%Y%m%d_%H%M%S')
            run_logged(ctx.command('test.py', self.test_args(ctx, outputs['checkpoint'])),
                       log, on_line, 'tools/test.py', ctx.env, ctx.lock)
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


@dataclass
class ConvertStage(Stage):
    """Convert the pre-trained checkpoint for each downstream codebase (``<target>.pth``):
    the ``source`` stage's checkpoint, or ``source_file`` (weights the user holds, in any
    format the converter reads; their name and sha256 go to ``weights.json`` for the
    table)."""
    source: str = ''
    source_file: Optional[Path] = None
    targets: tuple[str, ...] = ()

    def out(self, target: str) -> Path:
        return self.dir / f'{target}.pth'

    def source_path(self, ctx: Context) -> str:
        return str(self.source_file) if self.source_file else ctx.output(self.source,
                                                                         'checkpoint')

    def describe(self, ctx: Context) -> str:
        outs = ', '.join(str(self.out(t)) for t in self.targets)
        return f'convert {self.source_path(ctx)} -> {outs}'

    def signature(self, ctx: Context) -> dict:
        return {'convert': list(self.targets), 'inputs': [file_stamp(self.source_path(ctx))]}

    def run(self, ctx: Context, log: TextIO, on_line: LineSink, resume: bool) -> dict:
        from ..convert import convert_checkpoint
        source = self.source_path(ctx)
        outputs = {}
        with redirect_stdout(log), redirect_stderr(log):
            for target in self.targets:
                print(f'$ convert_checkpoint({source!r}, {target!r}, {str(self.out(target))!r})')
                try:
                    report = convert_checkpoint(source, target, str(self.out(target)))
                except Exception as e:
                    traceback.print_exc()
                    raise StageError(f'converting to {target}: {type(e).__name__}: {e}') from e
                print(report)
                outputs[target] = str(self.out(target))
        if self.source_file:
            outputs['weights'] = str(self.write_weights_record(report.source))
        else:   # a pre-trained method now: the table must not name earlier given weights
            (self.dir / WEIGHTS_FILE).unlink(missing_ok=True)
        return outputs

    def write_weights_record(self, description: str) -> Path:
        """``weights.json``: the given file's name, path, sha256 and format."""
        with open(self.source_file, 'rb') as f:
            sha256 = hashlib.file_digest(f, 'sha256').hexdigest()
        record = self.dir / WEIGHTS_FILE
        record.write_text(json.dumps(dict(file=self.source_file.name,
                                          path=str(self.source_file), sha256=sha256,
                                          format=description), indent=1) + '\n')
        return record


@dataclass
class TabulateStage(Stage):
    """Tables and plots of everything under the study root (missing results stay blank)."""
    root: Path = Path()
    published: Path = Path()
    baseline: str = 'mae'

    def inputs(self) -> list[Path]:
        return sorted([*self.root.glob(f'*/*/{STATE_FILE}'),
                       *self.root.glob('cost/step_time.json')])

    def describe(self, ctx: Context) -> str:
        return (f'tabulate {self.root} (baseline {self.baseline}) -> '
                f'{self.dir}/results.{{txt,md,csv,tex}}, deltas_vs_mae.png, '
                'accuracy_vs_cost.png, training_curves.png')

    def signature(self, ctx: Context) -> dict:
        return {'tabulate': self.baseline, 'inputs': [file_stamp(p) for p in self.inputs()]}

    def run(self, ctx: Context, log: TextIO, on_line: LineSink, resume: bool) -> dict:
        from ..tabulate import TabulateError, tabulate, write_replacing
        try:
            text, written = tabulate([self.root], self.published, self.dir, self.baseline)
        except TabulateError as e:
            raise StageError(str(e)) from e
        table = self.dir / 'results.txt'
        write_replacing(table, text + '\n')
        log.write(text + '\n')
        return {path.name: str(path) for path in (table, *written)}
