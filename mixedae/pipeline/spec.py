"""Read and check a pipeline config (an mmengine ``Config`` file under ``configs/pipelines/``).

Keys (paths are relative to the current directory, like mmengine's tools)::

    work_root = 'work_dirs/demo'            # the study root (mixedae.study.layout)
    prepare = dict(tiny_datasets=dict(out='data/tiny', seed=0))   # optional; sizes=dict(
                                            # coco_val=32, ...): other than the demo's
    methods = dict(
        mae=dict(config='configs/demo/mae_....py', cfg_options={}),  # pre-trained here
        mixedae=dict(config='configs/demo/mixedae_....py', seeds=[0, 1]),  # twice
        # weights you already have (any format tools/convert_checkpoint.py reads): no
        # pre-training stage; the table names the file and its sha256
        mae_official=dict(checkpoint='checkpoints/mae_pretrain_vit_base.pth'),
        supervised=dict(checkpoint='vit_base_patch16_224.safetensors', supervised=True),
        scratch=dict(checkpoint=None))      # random initialisation: the positive control
    tasks = dict(cls_finetune=dict(config='configs/demo/cls-finetune_....py',
                                   convert_to='mmpretrain',
                                   checkpoint_key='model.backbone.init_cfg.checkpoint',
                                   test=False, seeds=[0, 1], cfg_options={}), ...)
    seeds = [0, 1, 2]                       # optional: every transfer run once per seed
    cfg_options = dict(pretrain={'train_cfg.max_iters': 100},     # per stage: a task
                       det_coco={...}, **{'mixedae/pretrain': {...}})  # or <method>/<task>
    tabulate = dict(baseline='mae', resamples=1000, confidence=0.95)   # intervals' bootstrap
    cost = dict(repeats=20, steps=5, warmup=2)   # optional: the cost stage's measurement
    launcher = dict(nproc_per_node=8)       # optional: torchrun for train/test stages
    env = dict(OMP_NUM_THREADS='1')         # optional: environment of the subprocesses
    executor = dict(type='slurm', partition='gpu', nodes=1, gpus_per_node=8,   # optional:
                    stages={'*/pretrain': dict(nodes=4)})   # every stage a SLURM job
    executor = dict(type='local', workers=2)   # or: up to 2 stages at once on this machine

Names starting with ``_`` are free for helper variables; any other unknown key is an
error, as is a missing config file, so a typo fails before hours of training.
"""
import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Optional, Sequence

from mmengine.config import Config

from ..study import CONVERT_TARGETS, TRANSFER_TASKS, Method
from ..study.layout import RESERVED, TINY_SIZES
from .cli_options import to_cli_options

METHOD_NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*')
TOP_KEYS = {'work_root', 'prepare', 'methods', 'tasks', 'seeds', 'cfg_options', 'tabulate',
            'launcher', 'env', 'cost', 'executor'}
COST_KEYS = {'repeats', 'steps', 'warmup', 'batch'}
METHOD_KEYS = {'config', 'cfg_options', 'checkpoint', 'supervised', 'seeds'}
TASK_KEYS = {'config', 'convert_to', 'checkpoint_key', 'test', 'seeds', 'cfg_options'}


# the slurm executor's resources (for every stage, or per stage under `stages`) and types
SLURM_RESOURCES = {'partition': str, 'account': str, 'qos': str, 'nodes': int,
                   'gpus_per_node': int, 'tasks_per_node': int, 'cpus_per_task': int,
                   'mem_gb': (int, float), 'timeout_min': int, 'sbatch': dict, 'setup': list}
SLURM_DEFAULTS = dict(nodes=1, gpus_per_node=0, timeout_min=24 * 60, sbatch={}, setup=[])


class PipelineConfigError(ValueError):
    """A pipeline config that cannot be run; the message names the file, key and value."""


def matches(name: str, patterns: Sequence[str]) -> bool:
    """``mixedae/det_coco`` matches ``mixedae``, ``det_coco``, ``*/det_*`` or itself (the
    patterns of ``--only``, ``--force-stage`` and ``executor.stages``)."""
    return any(fnmatch(name, p) or p in name.split('/') for p in patterns)


@dataclass(frozen=True)
class TaskSpec:
    """One transfer task: config, converter target, where the checkpoint goes, seeds."""
    name: str
    config: Path
    convert_to: str
    checkpoint_key: str = 'model.backbone.init_cfg.checkpoint'
    test: bool = False
    cfg_options: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = ()   # empty: one run with the config's own seed


@dataclass(frozen=True)
class SlurmSpec:
    """The slurm executor: resources of every stage's job, per-stage overrides (stage
    name patterns, as ``--only`` takes them, applied in order), requeues allowed."""
    resources: dict
    stages: tuple[tuple[str, dict], ...] = ()
    max_requeues: int = 3

    def stage_resources(self, stage: str, trains: bool) -> dict:
        """A stage's job resources: the executor's, one task without GPU for a stage that
        does not train, then the matching per-stage overrides in order."""
        res = dict(self.resources)
        if not trains:
            res.update(nodes=1, gpus_per_node=0, tasks_per_node=1)
        for pattern, given in self.stages:
            if matches(stage, [pattern]):
                res.update(given)
        res.setdefault('tasks_per_node', max(1, res['gpus_per_node']))
        return res


@dataclass(frozen=True)
class PipelineSpec:
    """A checked pipeline config."""
    path: Path
    work_root: Path
    methods: tuple[Method, ...]
    tasks: tuple[TaskSpec, ...]
    tiny_datasets: Optional[dict] = None
    cfg_options: dict = field(default_factory=dict)
    baseline: str = 'mae'
    bootstrap: dict = field(default_factory=dict)   # mixedae.tabulate.Bootstrap's settings
    nproc_per_node: Optional[int] = None
    env: dict = field(default_factory=dict)
    cost: dict = field(default_factory=dict)   # measure_costs() settings of the cost stage
    slurm: Optional[SlurmSpec] = None   # None: the local executor
    workers: int = 1                    # the local executor's stages at once

    def stage_options(self, method: str, task: str) -> dict:
        """Per-stage overrides: ``cfg_options[task]`` then ``cfg_options['method/task']``."""
        return {**self.cfg_options.get(task, {}),
                **self.cfg_options.get(f'{method}/{task}', {})}

    def world_size(self, stage: str, trains: bool = True) -> int:
        """Processes a stage's commands run on (torchrun locally, srun in a job)."""
        if self.slurm is None:
            return (self.nproc_per_node or 1) if trains else 1
        res = self.slurm.stage_resources(stage, trains)
        return res['nodes'] * res['tasks_per_node']


def _fail(path: Path, key: str, message: str) -> PipelineConfigError:
    return PipelineConfigError(f'{path}: {key}: {message}')


def _check_keys(path: Path, where: str, given: dict, allowed: set, required: set) -> None:
    unknown = sorted(k for k in given if k not in allowed and not k.startswith('_'))
    if unknown:
        raise _fail(path, where, f'unknown key(s) {unknown}; allowed: {sorted(allowed)}')
    missing = sorted(required - set(given))
    if missing:
        raise _fail(path, where, f'missing key(s) {missing}')


def _int_at_least(path: Path, key: str, value, minimum: int) -> int:
    """``value`` if it is an integer (not a bool) >= ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _fail(path, key, f'expected an integer >= {minimum}, got {value!r}')
    return value


def _dict_of_dicts(path: Path, key: str, value) -> dict:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise _fail(path, key, f'expected a dict of dicts, got {value!r}')
    return value


def _options(path: Path, key: str, value) -> dict:
    """A dict of config overrides that survives ``--cfg-options``."""
    if not isinstance(value, dict):
        raise _fail(path, key, f'expected a dict of config overrides, got {value!r}')
    try:
        to_cli_options(value)
    except ValueError as e:
        raise _fail(path, key, str(e)) from None
    return dict(value)


def _config_file(path: Path, key: str, value) -> Path:
    if not isinstance(value, str) or not Path(value).is_file():
        raise _fail(path, key, f'config file {value!r} does not exist')
    return Path(value)


def _seeds(path: Path, key: str, value) -> tuple[int, ...]:
    """A non-empty list of distinct seeds >= 0."""
    ok = (isinstance(value, (list, tuple)) and value and len(set(value)) == len(value)
          and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value))
    if not ok:
        raise _fail(path, key, f'expected a non-empty list of distinct integers >= 0, '
                    f'got {value!r}')
    return tuple(value)


def _method(path: Path, name: str, entry: dict, pretrain_options: dict) -> Method:
    """One ``methods`` entry: a pre-training config, given weights, or neither."""
    where = f'methods.{name}'
    if not METHOD_NAME.fullmatch(name) or name in RESERVED:
        raise _fail(path, where, 'a method name is a folder name of letters, digits, "_", '
                    f'"-" and "." (not one of {sorted(RESERVED)})')
    _check_keys(path, where, entry, METHOD_KEYS, set())
    if 'checkpoint' not in entry:
        if 'config' not in entry:
            raise _fail(path, where, 'give a pre-training config, a checkpoint, or '
                        'checkpoint=None (random initialisation)')
        if 'supervised' in entry:
            raise _fail(path, f'{where}.supervised', 'labels given weights (checkpoint=...), '
                        'not a method pre-trained in the study')
        options = _options(path, f'{where}.cfg_options', entry.get('cfg_options', {}))
        seeds = _seeds(path, f'{where}.seeds', entry['seeds']) if 'seeds' in entry else ()
        return Method(name, _config_file(path, f'{where}.config', entry['config']),
                      {**options, **pretrain_options}, seeds=seeds)
    if 'config' in entry or entry.get('cfg_options') or 'seeds' in entry:
        raise _fail(path, where, 'a method is a pre-training config or a checkpoint, not both '
                    '(a checkpoint has no pre-training to configure or seed)')
    value, supervised = entry['checkpoint'], entry.get('supervised', False)
    if not isinstance(supervised, bool):
        raise _fail(path, f'{where}.supervised', f'expected True or False, got {supervised!r}')
    if value is None:
        if supervised:
            raise _fail(path, f'{where}.supervised', 'random initialisation (checkpoint=None) '
                        'is not supervised')
        return Method(name)
    if not isinstance(value, str) or not Path(value).is_file():
        raise _fail(path, f'{where}.checkpoint', f'checkpoint file {value!r} does not exist')
    return Method(name, checkpoint=Path(value), supervised=supervised)


def _task(path: Path, name: str, entry: dict, seeds: tuple[int, ...]) -> TaskSpec:
    where = f'tasks.{name}'
    if name not in TRANSFER_TASKS:
        raise _fail(path, where, f'unknown task {name!r}; tasks: {TRANSFER_TASKS}')
    _check_keys(path, where, entry, TASK_KEYS, {'config', 'convert_to'})
    if entry['convert_to'] not in CONVERT_TARGETS:
        raise _fail(path, f'{where}.convert_to',
                    f'{entry["convert_to"]!r} is not one of {CONVERT_TARGETS}')
    return TaskSpec(
        name, _config_file(path, f'{where}.config', entry['config']), entry['convert_to'],
        entry.get('checkpoint_key', TaskSpec.checkpoint_key), bool(entry.get('test', False)),
        _options(path, f'{where}.cfg_options', entry.get('cfg_options', {})),
        _seeds(path, f'{where}.seeds', entry['seeds']) if 'seeds' in entry else seeds)


def _cfg_options(path: Path, options, methods: dict, tasks: dict) -> dict:
    options = _dict_of_dicts(path, 'cfg_options', options)
    names = {'pretrain', *tasks}
    names |= {f'{m}/{t}' for m, entry in methods.items() for t in names
              if t != 'pretrain' or 'config' in entry}
    for key, value in options.items():
        if key not in names:
            raise _fail(path, f'cfg_options.{key}', 'no such stage; keys are a task '
                        f'({", ".join(sorted(n for n in names if "/" not in n))}) '
                        'or <method>/<task>')
        _options(path, f'cfg_options.{key}', value)
    return options


def _nproc(path: Path, launcher) -> Optional[int]:
    if launcher is None:
        return None
    if not isinstance(launcher, dict) or set(launcher) != {'nproc_per_node'} \
            or not isinstance(launcher['nproc_per_node'], int) \
            or launcher['nproc_per_node'] < 1:
        raise _fail(path, 'launcher', f'expected dict(nproc_per_node=<int >= 1>), '
                    f'got {launcher!r}')
    return launcher['nproc_per_node']


def _env(path: Path, env) -> dict:
    if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise _fail(path, 'env', f'expected a dict of strings, got {env!r}')
    return env


def _cost(path: Path, cost) -> dict:
    if not isinstance(cost, dict):
        raise _fail(path, 'cost', f'expected a dict, got {cost!r}')
    _check_keys(path, 'cost', cost, COST_KEYS, set())
    for key, value in cost.items():
        minimum = 0 if key == 'warmup' else 1
        if value is not None and (not isinstance(value, int) or value < minimum):
            raise _fail(path, f'cost.{key}', f'expected an integer >= {minimum}, got {value!r}')
    return dict(cost)


def _resource_error(name: str, value) -> Optional[str]:
    """What is wrong with a value of a slurm resource, or None."""
    kind = SLURM_RESOURCES[name]
    if kind is str:
        return None if isinstance(value, str) else 'expected a string'
    if kind is dict:
        ok = isinstance(value, dict) and all(isinstance(k, str) for k in value)
        return None if ok else 'expected a dict of sbatch options'
    if kind is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else 'expected a list of shell lines'
    minimum = 0 if name == 'gpus_per_node' else 1
    ok = isinstance(value, kind) and not isinstance(value, bool) and value >= minimum
    return None if ok else f'expected a number >= {minimum}'


def _resources(path: Path, key: str, given) -> dict:
    if not isinstance(given, dict):
        raise _fail(path, key, f'expected a dict, got {given!r}')
    _check_keys(path, key, given, set(SLURM_RESOURCES), set())
    resources = {k: v for k, v in given.items() if not k.startswith('_')}
    for name, value in resources.items():
        error = _resource_error(name, value)
        if error:
            raise _fail(path, f'{key}.{name}', f'{value!r} is not valid: {error}')
    return resources


def _executor(path: Path, executor, launcher) -> tuple[Optional[SlurmSpec], int]:
    """The slurm executor's settings (None: the local executor; its per-stage patterns are
    checked against the planned stages by :func:`mixedae.pipeline.plan.plan_stages`) and
    the local executor's stages at once; either refused beside a ``launcher`` where they
    would clash with its torchrun."""
    executor = {} if executor is None else executor
    if not isinstance(executor, dict) or executor.get('type', 'local') not in ('local', 'slurm'):
        raise _fail(path, 'executor', f"expected dict(type='local' or 'slurm', ...), "
                    f'got {executor!r}')
    if executor.get('type', 'local') == 'local':
        _check_keys(path, 'executor', executor, {'type', 'workers'}, set())
        workers = _int_at_least(path, 'executor.workers', executor.get('workers', 1), 1)
        if workers > 1 and launcher is not None:
            raise _fail(path, 'executor.workers', f'{workers} stages at once would each '
                        'start torchrun on all of this node\'s devices: one at a time with a '
                        "launcher (or executor = dict(type='slurm', ...))")
        return None, workers
    _check_keys(path, 'executor', executor,
                {'type', 'stages', 'max_requeues', *SLURM_RESOURCES}, set())
    resources = _resources(path, 'executor', {
        k: v for k, v in executor.items() if k not in ('type', 'stages', 'max_requeues')})
    stages = tuple((pattern, _resources(path, f'executor.stages.{pattern}', given))
                   for pattern, given in _dict_of_dicts(path, 'executor.stages',
                                                        executor.get('stages', {})).items())
    requeues = executor.get('max_requeues', SlurmSpec.max_requeues)
    if not isinstance(requeues, int) or isinstance(requeues, bool) or requeues < 0:
        raise _fail(path, 'executor.max_requeues', f'{requeues!r} is not an int >= 0')
    if launcher is not None:
        raise _fail(path, 'launcher', 'starts torchrun on the local node; with the slurm '
                    'executor give executor.gpus_per_node / tasks_per_node instead')
    return SlurmSpec({**SLURM_DEFAULTS, **resources}, stages, requeues), 1


def _bootstrap(path: Path, tabulate: dict) -> dict:
    """The intervals' settings: resamples an integer >= 100, confidence in (0, 1)."""
    resamples = _int_at_least(path, 'tabulate.resamples', tabulate.get('resamples', 1000), 100)
    confidence = tabulate.get('confidence', 0.95)
    if not isinstance(confidence, float) or not 0 < confidence < 1:
        raise _fail(path, 'tabulate.confidence', f'expected a number in (0, 1), got '
                    f'{confidence!r}')
    return dict(resamples=resamples, confidence=confidence)


def _tiny_datasets(path: Path, prepare) -> Optional[dict]:
    if not prepare:
        return None
    _check_keys(path, 'prepare', prepare, {'tiny_datasets'}, set())
    tiny = prepare.get('tiny_datasets')
    if tiny is not None:
        _check_keys(path, 'prepare.tiny_datasets', tiny, {'out', 'seed', 'sizes'}, {'out'})
        sizes = dict(tiny.get('sizes') or {})
        _check_keys(path, 'prepare.tiny_datasets.sizes', sizes, set(TINY_SIZES), set())
        for key, value in sizes.items():
            _int_at_least(path, f'prepare.tiny_datasets.sizes.{key}', value, 1)
        tiny = dict(out=Path(tiny['out']), seed=int(tiny.get('seed', 0)), sizes=sizes)
    return tiny


def load_spec(path: str | Path, work_root: Optional[str | Path] = None) -> PipelineSpec:
    """Read ``path`` into a :class:`PipelineSpec`; ``work_root`` overrides the config's."""
    path = Path(path)
    if not path.is_file():
        raise PipelineConfigError(f'pipeline config {path} does not exist')
    cfg = Config.fromfile(str(path)).to_dict()
    _check_keys(path, 'top level', cfg, TOP_KEYS, {'work_root', 'methods'})
    entries = _dict_of_dicts(path, 'methods', cfg['methods'])
    if not entries:
        raise _fail(path, 'methods', 'no method given')
    tasks = _dict_of_dicts(path, 'tasks', cfg.get('tasks', {}))
    seeds = _seeds(path, 'seeds', cfg['seeds']) if 'seeds' in cfg else ()
    options = _cfg_options(path, cfg.get('cfg_options', {}), entries, tasks)
    methods = tuple(_method(path, name, entry, {**options.get('pretrain', {}),
                                                **options.get(f'{name}/pretrain', {})})
                    for name, entry in entries.items())
    tasks_spec = tuple(_task(path, name, entry, seeds) for name, entry in tasks.items())
    tabulate = cfg.get('tabulate', {})
    _check_keys(path, 'tabulate', tabulate, {'baseline', 'resamples', 'confidence'}, set())
    slurm, workers = _executor(path, cfg.get('executor'), cfg.get('launcher'))
    both = [f'{m.name}/{t.name}' for m in methods for t in tasks_spec if m.seeds and t.seeds]
    if both:
        raise _fail(path, 'seeds', f'{", ".join(both)}: pre-training seeds and transfer seeds '
                    'together are not supported (one seed axis per run); seed one of them')
    return PipelineSpec(
        path=path,
        work_root=Path(work_root or cfg['work_root']),
        methods=methods,
        tasks=tasks_spec,
        tiny_datasets=_tiny_datasets(path, cfg.get('prepare')),
        cfg_options=options,
        baseline=tabulate.get('baseline', 'mae'),
        bootstrap=_bootstrap(path, tabulate),
        nproc_per_node=_nproc(path, cfg.get('launcher')),
        env=_env(path, cfg.get('env', {})),
        cost=_cost(path, cfg.get('cost', {})),
        slurm=slurm,
        workers=workers)
