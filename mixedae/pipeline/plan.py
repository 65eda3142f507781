"""Turn a :class:`PipelineSpec` into the ordered list of stages.

::

    prepare                                  (if the config asks for tiny datasets)
    <method>/pretrain -> <method>/convert -> <method>/<task> ...     for every method
                         <method>/convert -> <method>/<task> ...     (given as a checkpoint)
    cost                                     (the methods' training steps side by side,
                                              if any method has a pre-training config)
    tabulate                                 (always, with whatever finished)
    report                                   (report.html: tables, costs, curves, mixes)

Folders: ``ROOT/<method>/<task>/`` (the tabulate layout), ``ROOT/<method>/convert/``,
``ROOT/prepare/``, ``ROOT/cost/``, ``ROOT/tables/``, ``ROOT/report/``.
"""
from pathlib import Path

from .report_stages import CostStage, MethodConfig, ReportStage
from .spec import MethodSpec, PipelineSpec
from .stages import ConvertStage, PrepareTinyDatasets, Stage, TabulateStage, TrainStage


def plan_stages(spec: PipelineSpec, published: Path) -> list[Stage]:
    """All stages of the study, in the order they run."""
    root = spec.work_root.resolve()
    stages: list[Stage] = []
    prepare: tuple[str, ...] = ()
    if spec.tiny_datasets:
        stages.append(PrepareTinyDatasets('prepare', root / 'prepare', 'prepare',
                                          out=spec.tiny_datasets['out'],
                                          seed=spec.tiny_datasets['seed']))
        prepare = ('prepare',)
    for method in spec.methods:
        stages += method_stages(spec, method, root / method.name, prepare)
    configs = tuple(MethodConfig(m.name, m.config and m.config.resolve(),
                                 {**m.cfg_options, **spec.stage_options(m.name, 'pretrain')})
                    for m in spec.methods)
    if any(m.config for m in configs):   # methods given as weights have no step to time
        stages.append(CostStage('cost', root / 'cost', 'cost', pipeline=spec.path,
                                work_root=root, methods=configs, settings=spec.cost))
    stages.append(TabulateStage('tabulate', root / 'tables', 'tabulate', root=root,
                                published=published, baseline=spec.baseline))
    stages.append(ReportStage('report', root / 'report', 'report', ('tabulate',), root=root,
                              published=published, baseline=spec.baseline, methods=configs))
    return stages


def method_stages(spec: PipelineSpec, method: MethodSpec, method_dir: Path,
                  prepare: tuple[str, ...]) -> list[Stage]:
    """pretrain -> convert -> one stage per task, for one method (no pretrain for a method
    given as a checkpoint: the convert stage reads that file)."""
    name = method.name
    pretrain = [] if method.checkpoint else [TrainStage(
        f'{name}/pretrain', method_dir / 'pretrain', 'pretrain', prepare,
        config=method.config.resolve(),
        cfg_options={**method.cfg_options, **spec.stage_options(name, 'pretrain')})]
    if not spec.tasks:
        return pretrain
    convert = ConvertStage(f'{name}/convert', method_dir / 'convert', 'convert',
                           tuple(s.name for s in pretrain),
                           source=pretrain[0].name if pretrain else '',
                           source_file=method.checkpoint.resolve() if method.checkpoint else None,
                           targets=tuple(sorted({t.convert_to for t in spec.tasks})))
    tasks = [TrainStage(f'{name}/{task.name}', method_dir / task.name, task.name,
                        (convert.name,), config=task.config.resolve(),
                        cfg_options={**task.cfg_options,
                                     **spec.stage_options(name, task.name)},
                        checkpoint_from=(convert.name, task.convert_to, task.checkpoint_key),
                        test=task.test)
             for task in spec.tasks]
    return [*pretrain, convert, *tasks]
