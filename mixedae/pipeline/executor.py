"""The executor seam: an executor starts the selected stages of a :class:`~.plan.Plan`,
attaches to stages already running, waits for them and reports where each stands. What
to run, and whether a stage is up to date, is the plan's; where and how a stage's work
runs is the executor's: :mod:`.local` (one after another or a few at once, in this
process and its subprocesses) or :mod:`.slurm` (every stage a SLURM job);
``mixedae.pipeline.executor_for`` picks the one the pipeline config names.
"""
import os
import re
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, TextIO

from ..study import finished_outputs, read_state
from .execute import Outcome
from .lock import holders
from .plan import Plan
from .process import error_excerpt
from .progress import format_seconds
from .spec import PipelineSpec
from .stages import Context, Stage


class ExecutorError(RuntimeError):
    """The executor could not start or read its stages (e.g. SLURM refused a job); the
    message names the stage."""


@dataclass
class StageStatus:
    """Where a stage stands (``--status``): done, failed, running, interrupted (resumes
    when run again), not run, or a SLURM job's queued / requeued / blocked."""
    stage: Stage
    state: str
    job: str = '-'
    elapsed: str = ''
    error: str = ''
    job_log: Optional[Path] = None   # a SLURM job's own log


def alive(stage_dir: Path) -> bool:
    """A process named in the stage's lock file still runs (on this machine)."""
    for pid in re.findall(r'pid (\d+)', holders(stage_dir)):
        try:
            os.kill(int(pid), 0)
            return True
        except ProcessLookupError:
            continue
        except PermissionError:
            return True
    return False


def recorded_status(stage: Stage) -> StageStatus:
    """A stage's status from its state file (and, while ``running``, its lock)."""
    state = read_state(stage.dir) or {}
    status = state.get('status')
    if status in ('done', 'failed'):
        seconds = format_seconds(state['seconds']) if 'seconds' in state else ''
        return StageStatus(stage, status, elapsed=seconds, error=state.get('error', ''))
    if status == 'running':
        elapsed = format_seconds(time.time() - state.get('started', time.time()))
        return StageStatus(stage, 'running' if alive(stage.dir) else 'interrupted',
                           elapsed=elapsed)
    return StageStatus(stage, 'not run')


class Executor(ABC):
    """Runs a study's stages somewhere; ``base``: how commands start and their
    environment (the tools folder, the Python, torchrun)."""

    def __init__(self, spec: PipelineSpec, base: Context) -> None:
        self.spec = spec
        self.base = base

    def context(self, stage: Stage) -> Context:
        """How the stage's commands start where this executor runs it."""
        return self.base

    def job_line(self, stage: Stage) -> str:
        """What runs the stage, for ``--dry-run`` ('' where it runs in the driver)."""
        return ''

    def check(self, plan: Plan) -> None:
        """Every training command can be built (e.g. the recipe's total batch divides
        among the stage's processes).

        Raises:
            ValueError: names the stage.
        """
        for stage in plan.stages:
            if stage.trains:
                try:
                    stage.describe(self.context(stage))
                except ValueError as e:
                    raise ValueError(f'{stage.name}: {e}') from None

    @abstractmethod
    def run(self, plan: Plan, out: TextIO, wait: bool,
            on_started: Callable[[], None] = lambda: None) -> Optional[list[Outcome]]:
        """Start the selected stages (``on_started`` is called once they are all started
        elsewhere, so that the driver may let another run attach to them); with ``wait``
        (always, for an executor that runs them itself) follow them to the end and return
        one outcome per selected stage, else return None once they are started.

        Raises:
            ExecutorError: the stages could not be started.
        """

    def status(self, stages: Sequence[Stage]) -> list[StageStatus]:
        """Where every stage stands."""
        return [recorded_status(stage) for stage in stages]

    def list_plan(self, plan: Plan, out: TextIO = sys.stdout) -> None:
        """``--dry-run``: the selected stages, what runs them and whether they would run."""
        for index, stage in enumerate(plan.selected, 1):
            ctx = plan.context(stage, self.context(stage))
            decision = plan.decide(stage, ctx, plan.forced(stage))
            state = {'skip': 'up to date', 'resume': 'to resume'}.get(decision.action,
                                                                     'to run')
            line = self.job_line(stage)
            print(f'[{index}/{len(plan.selected)}] {stage.name}  ({state})'
                  + (f'\n      {line}' if line else '')
                  + f'\n      {stage.describe(ctx)}', file=out)


def report_outcome(outcome: Outcome, out: TextIO, named: bool = False) -> None:
    """One line per stage outcome; a failure names the log and its last error lines.
    ``named``: a skipped or blocked stage's line names it (several run at once)."""
    if outcome.status == 'failed':
        print(f'    FAILED {outcome.stage.name}: {outcome.message}\n'
              f'    log: {outcome.stage.log}', file=out)
        for line in error_excerpt(outcome.stage.log):
            print(f'      | {line}', file=out)
    elif outcome.status in ('blocked', 'skipped'):
        name = f'{outcome.stage.name}: ' if named else ''
        print(f'    {name}{outcome.status}: {outcome.message}', file=out)
    out.flush()


def summarize(outcomes: Sequence[Outcome], seconds: float, out: TextIO) -> bool:
    """Print the summary, the table and the paths of the tables and the report; True if
    nothing failed or was blocked."""
    counts = {s: sum(o.status == s for o in outcomes)
              for s in ('done', 'skipped', 'failed', 'blocked')}
    print(f'\n{", ".join(f"{n} {s}" for s, n in counts.items() if n)} '
          f'in {format_seconds(seconds)}', file=out)
    for o in outcomes:
        if o.status == 'failed':
            print(f'  FAILED  {o.stage.name}: {o.message}  (log: {o.stage.log})', file=out)
            for line in error_excerpt(o.stage.log)[-1:]:
                print(f'          {line}', file=out)
        elif o.status == 'blocked':
            print(f'  BLOCKED {o.stage.name}: {o.message}', file=out)
    finished = {o.stage.task: finished_outputs(o.stage.dir) for o in outcomes
                if o.stage.task in ('tabulate', 'report') and o.status in ('done', 'skipped')}
    if finished.get('tabulate'):
        tables = finished['tabulate']
        print('\n' + Path(tables['results.txt']).read_text(), file=out)
        for path in tables.values():
            print(f'wrote {path}', file=out)
    if finished.get('report'):
        print(f'\nstudy report: {finished["report"]["report.html"]}', file=out)
    out.flush()
    return not (counts['failed'] or counts['blocked'])


def print_status(rows: Sequence[StageStatus], out: TextIO = sys.stdout) -> None:
    """A table of the stages' states; a failed stage's logs and error lines under it."""
    width = max(len(r.stage.name) for r in rows)
    print(f'{"stage":{width}}  {"job":>8}  {"state":11}  {"elapsed":>9}  log', file=out)
    for row in rows:
        print(f'{row.stage.name:{width}}  {row.job:>8}  {row.state:11}  {row.elapsed:>9}  '
              f'{row.stage.log}', file=out)
        if row.state == 'failed':
            if row.error:
                print(f'    error: {row.error}', file=out)
            lines = error_excerpt(row.stage.log)
            if not lines and row.job_log:
                print(f'    job log: {row.job_log}', file=out)
                lines = error_excerpt(row.job_log)
            for line in lines:
                print(f'      | {line}', file=out)
    out.flush()

