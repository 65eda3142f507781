"""One command for a whole study: data -> pre-train -> convert -> transfer -> tabulate.

``tools/run_pipeline.py configs/pipelines/demo.py`` reads a pipeline config
(:mod:`.spec`) and plans its stages (:mod:`.plan`, the stage kinds in :mod:`.stages`);
the plan says, once for every executor, which stages are selected, forced, up to date,
to resume or blocked. An executor (:mod:`.executor`) starts the stages, attaches to
running ones, waits for them and reports them: :mod:`.local` runs them on this machine
(one after another, or a few at once), :mod:`.slurm` makes every stage a SLURM job.
Either runs a stage the same way (:mod:`.execute`): training and testing as subprocesses
of ``tools/train.py`` / ``tools/test.py`` with their output in the stage's ``stage.log``,
progress parsed from mmengine's log lines (:mod:`.progress`), a ``stage.json`` state so
that a re-run skips what is done and resumes what was interrupted, a lock per stage
shared with its command (:mod:`.lock`). Nothing here imports torch or an OpenMMLab model
library: only the stages that convert weights or draw the report do, when they run.
"""
from .execute import Outcome
from .executor import Executor, StageStatus, print_status, summarize
from .plan import Decision, Plan, plan_stages
from .spec import PipelineConfigError, PipelineSpec, load_spec
from .stages import Context


def executor_for(spec: PipelineSpec, base: Context) -> Executor:
    """The executor the pipeline config asks for (``executor = dict(type=...)``); the
    slurm one is imported only for a study that runs on SLURM."""
    if spec.slurm is not None:
        from .slurm import SlurmExecutor
        return SlurmExecutor(spec, base)
    from .local import LocalExecutor
    return LocalExecutor(spec, base)


__all__ = ['Context', 'Decision', 'Executor', 'Outcome', 'PipelineConfigError',
           'PipelineSpec', 'Plan', 'StageStatus', 'executor_for', 'load_spec',
           'plan_stages', 'print_status', 'summarize']
