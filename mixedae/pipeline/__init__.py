"""One command for a whole study: data -> pre-train -> convert -> transfer -> tabulate.

``tools/run_pipeline.py configs/pipelines/demo.py`` reads a pipeline config
(:mod:`.spec`), plans its stages (:mod:`.plan`, :mod:`.stages`) and runs them
(:mod:`.runner`): training and testing as subprocesses of ``tools/train.py`` /
``tools/test.py`` with their output in ``ROOT/<method>/<task>/stage.log``, progress parsed
from mmengine's log lines (:mod:`.progress`), a ``stage.json`` state per stage so a re-run
skips what is done and resumes what was interrupted (:mod:`.state`), a lock per stage
shared with its command (:mod:`.lock`). With ``executor = dict(type='slurm', ...)`` every
stage is a SLURM job instead (:mod:`.slurm`); :mod:`.status` tells where each stage stands.
"""
from .plan import plan_stages
from .runner import Outcome, list_stages, run_stages, summarize
from .spec import PipelineConfigError, PipelineSpec, load_spec
from .stages import Context

__all__ = ['Context', 'Outcome', 'PipelineConfigError', 'PipelineSpec', 'list_stages',
           'load_spec', 'plan_stages', 'run_stages', 'summarize']
