"""The plan of a study: its stages, what they need, and what to do with each.

:func:`plan_stages` turns a :class:`PipelineSpec` into the ordered stages::

    prepare                                   (if the config asks for tiny datasets)
    <method>/pretrain -> <method>/convert -> <method>/<task>[/seed_<s>] ...   pre-trained
                         <method>/convert -> <method>/<task>[/seed_<s>] ...   given weights
                                             <method>/<task>[/seed_<s>] ...   scratch
    cost                                      (if a method is pre-trained in the study)
    tabulate                                  (after all others, with whatever finished)
    report                                    (report.html: tables, costs, curves, mixes)

:class:`Plan` decides, once for every executor, which stages are selected (``--only``),
forced (``--force-stage``) and, for a stage about to start, whether it is up to date,
resumes an interrupted attempt, runs afresh or is blocked by a stage it needs. The
outputs of finished stages come from their state files, whoever ran them.
"""
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

from ..study import Method, Study, finished_outputs, read_state, seed_folder
from .spec import PipelineConfigError, PipelineSpec, TaskSpec, matches
from .stages import (Context, ConvertStage, CostStage, PrepareTinyDatasets, ReportStage,
                     Stage, TabulateStage, TrainStage)


@dataclass(frozen=True)
class Decision:
    """What to do with a stage now: ``run`` it afresh, ``resume`` an attempt with the same
    signature (``reason``: it was ``running`` or ``failed``), ``skip`` it (up to date), or
    leave it ``blocked`` (a stage it needs has no outputs, or an input is missing)."""
    action: str
    reason: str = ''
    signature: Optional[dict] = None


def is_up_to_date(state: Optional[dict], signature: dict) -> bool:
    """Done with this signature, and every listed output still exists."""
    return (state is not None and state.get('status') == 'done'
            and state.get('signature') == signature
            and all(Path(p).exists() for p in state.get('outputs', {}).values()))


def can_resume(state: Optional[dict], signature: dict) -> bool:
    """An earlier attempt with the same signature stopped before finishing."""
    return (state is not None and state.get('status') in ('running', 'failed')
            and state.get('signature') == signature)


class Plan:
    """The stages of a study, the selected ones (``only``: name patterns, all if empty)
    and the forced ones (``force``: run even if up to date)."""

    def __init__(self, stages: Sequence[Stage], only: Sequence[str] = (),
                 force: Sequence[str] = ()) -> None:
        self.stages = list(stages)
        self.by_name = {s.name: s for s in self.stages}
        self.selected = [s for s in self.stages if not only or matches(s.name, only)]
        self.force = tuple(force)

    def forced(self, stage: Stage) -> bool:
        return matches(stage.name, self.force)

    def waits_for(self, stage: Stage) -> list[Stage]:
        """The stages this one starts after: those it needs, or, for a stage that runs
        after all (the tables), every stage planned before it."""
        if stage.after_all:
            return self.stages[:self.stages.index(stage)]
        return [self.by_name[n] for n in stage.needs]

    def context(self, stage: Stage, base: Context) -> Context:
        """``base`` with the outputs of the finished stages ``stage`` needs."""
        outputs = {n: out for n in stage.needs
                   if (out := finished_outputs(self.by_name[n].dir)) is not None}
        return replace(base, outputs=outputs)

    def decide(self, stage: Stage, ctx: Context, force: bool) -> Decision:
        """What to do with ``stage`` now (``ctx``: from :meth:`context`)."""
        missing = [n for n in stage.needs if n not in ctx.outputs]
        if missing:
            return Decision('blocked', f'needs {", ".join(missing)}')
        try:
            signature = stage.signature(ctx)
        except OSError as e:   # an earlier stage's output was deleted since it finished
            return Decision('blocked', f'input missing: {e}')
        state = read_state(stage.dir)
        if not force and is_up_to_date(state, signature):
            return Decision('skip', 'up to date', signature)
        if not force and can_resume(state, signature):
            return Decision('resume', state['status'], signature)
        return Decision('run', '', signature)


def plan_stages(spec: PipelineSpec, published: Path) -> list[Stage]:
    """All stages of the study, in an order that runs each after the stages it needs.

    Raises:
        PipelineConfigError: a per-stage pattern of the slurm executor matches no stage.
    """
    study = Study(spec.work_root.resolve())
    stages: list[Stage] = []
    prepare: tuple[str, ...] = ()
    if spec.tiny_datasets:
        stages.append(PrepareTinyDatasets('prepare', study.stage_dir('prepare'), 'prepare',
                                          **spec.tiny_datasets))
        prepare = ('prepare',)
    for method in spec.methods:
        stages += method_stages(spec, study, method, prepare)
    measured = tuple(s.dir for s in stages if s.name != 'prepare')
    pretrained = tuple(m for m in spec.methods if m.pretrains)
    if pretrained:   # methods given as weights have no training step to time
        stages.append(CostStage('cost', study.stage_dir('cost'), 'cost', pipeline=spec.path,
                                work_root=study.root, methods=pretrained, settings=spec.cost))
    stages.append(TabulateStage('tabulate', study.stage_dir('tabulate'), 'tabulate',
                                root=study.root, published=published,
                                baseline=spec.baseline, bootstrap=spec.bootstrap,
                                measured=measured))
    stages.append(ReportStage('report', study.stage_dir('report'), 'report', ('tabulate',),
                              root=study.root, published=published, baseline=spec.baseline,
                              bootstrap=spec.bootstrap, methods=spec.methods))
    check_stage_patterns(spec, stages)
    return stages


def method_stages(spec: PipelineSpec, study: Study, method: Method,
                  prepare: tuple[str, ...]) -> list[Stage]:
    """pretrain -> convert -> the transfer runs of one method (no pre-training for given
    weights: the convert stage reads that file; neither for random initialisation); with
    pre-training seeds, that chain once per seed (``<method>/<stage>/seed_<s>``)."""
    if not method.seeds:
        return method_chain(spec, study, method, prepare)
    return [stage for seed in method.seeds
            for stage in method_chain(spec, study, method, prepare, seed)]


def seeded(name: str, folder: Path, seed: Optional[int]) -> tuple[str, Path]:
    """A stage's name and folder, with its seed's ``seed_<s>`` part if it has one."""
    if seed is None:
        return name, folder
    return f'{name}/{seed_folder(seed)}', folder / seed_folder(seed)


def method_chain(spec: PipelineSpec, study: Study, method: Method, prepare: tuple[str, ...],
                 seed: Optional[int] = None) -> list[Stage]:
    """pretrain -> convert -> transfer runs of one method (pre-trained with ``seed``)."""
    name = method.name
    pretrain = [TrainStage(*seeded(f'{name}/pretrain', study.task_dir(name, 'pretrain'), seed),
                           'pretrain', prepare, config=method.config.resolve(),
                           cfg_options={**method.cfg_options, **(
                               {} if seed is None else {'randomness.seed': seed})},
                           env=spec.env)
                ] if method.pretrains else []
    if not spec.tasks:
        return pretrain
    convert = [] if method.kind == 'scratch' else [ConvertStage(
        *seeded(f'{name}/convert', study.task_dir(name, 'convert'), seed), 'convert',
        tuple(s.name for s in pretrain), source=pretrain[0].name if pretrain else '',
        source_file=method.checkpoint and method.checkpoint.resolve(),
        supervised=method.supervised,
        targets=tuple(sorted({t.convert_to for t in spec.tasks})))]
    return [*pretrain, *convert, *(stage for task in spec.tasks
                                   for stage in transfer_stages(spec, study, method, task,
                                                                convert, seed))]


def transfer_stages(spec: PipelineSpec, study: Study, method: Method, task: TaskSpec,
                    convert: list[ConvertStage], pretrain_seed: Optional[int] = None
                    ) -> list[TrainStage]:
    """One transfer run of a method, or one per seed (``<method>/<task>/seed_<s>``, the
    config's ``randomness.seed`` set to s); after a seeded pre-training, one run of that
    pre-training's seed."""
    options = {**task.cfg_options, **spec.stage_options(method.name, task.name)}
    if convert:
        weights = (convert[0].name, task.convert_to, task.checkpoint_key)
    else:   # random initialisation: no pre-trained weights to load
        weights = None
        options[task.checkpoint_key.rsplit('.', 1)[0]] = None
    name, folder = f'{method.name}/{task.name}', study.task_dir(method.name, task.name)
    seeds = task.seeds or ((pretrain_seed,) if pretrain_seed is not None else ())
    runs = [(*seeded(name, folder, s), {'randomness.seed': s}) for s in seeds] or \
        [(name, folder, {})]
    return [TrainStage(name, folder, task.name, tuple(s.name for s in convert),
                       config=task.config.resolve(), cfg_options={**options, **seed},
                       checkpoint_from=weights, test=task.test, env=spec.env)
            for name, folder, seed in runs]


def check_stage_patterns(spec: PipelineSpec, stages: Sequence[Stage]) -> None:
    """Every per-stage pattern of the slurm executor matches a stage."""
    names = [s.name for s in stages]
    for pattern, _ in spec.slurm.stages if spec.slurm else ():
        if not any(matches(name, [pattern]) for name in names):
            raise PipelineConfigError(f'{spec.path}: executor.stages.{pattern}: matches no '
                                      f'stage; stages: {", ".join(names)}')
