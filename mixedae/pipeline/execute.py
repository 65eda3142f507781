"""Run one stage in this process, as every executor does (the local one in the driver, the
slurm one in the stage's job): decide, take the stage's lock, decide again as the last
holder left it, then write its state before and after and its log."""
import os
import time
import traceback
from dataclasses import dataclass

from ..study import write_state
from .lock import StageBusy, StageLock, stage_lock
from .plan import Decision, Plan
from .process import StageError
from .stages import Attempt, Context, Stage
from .stages.base import LineSink


@dataclass
class Outcome:
    """What became of one stage: done, skipped (up to date), failed or blocked."""
    stage: Stage
    status: str
    seconds: float = 0.
    message: str = ''


def run_stage(plan: Plan, stage: Stage, base: Context, on_line: LineSink,
              force: bool) -> Outcome:
    """Skip, block or run ``stage`` (blocked too while another process holds its lock);
    ``on_line``: every output line of its commands (the progress)."""
    ctx = plan.context(stage, base)
    decision = plan.decide(stage, ctx, force)
    if decision.action in ('skip', 'blocked'):
        return Outcome(stage, 'skipped' if decision.action == 'skip' else 'blocked',
                       message=decision.reason)
    try:
        with stage_lock(stage.dir) as lock:
            decision = plan.decide(stage, ctx, force)
            if decision.action == 'skip':   # another process finished it meanwhile
                return Outcome(stage, 'skipped', message=decision.reason)
            return attempt(stage, ctx, decision, on_line, lock)
    except StageBusy as e:
        return Outcome(stage, 'blocked', message=str(e))


def attempt(stage: Stage, ctx: Context, decision: Decision, on_line: LineSink,
            lock: StageLock) -> Outcome:
    """Run the stage, its state ``running`` while it runs, then ``done`` with its outputs
    or ``failed`` with the error; a resumed attempt appends to the log of the one it
    continues."""
    job = {'job_id': os.environ['SLURM_JOB_ID']} if 'SLURM_JOB_ID' in os.environ else {}
    started = {'started': time.time(), **job}
    write_state(stage.dir, {'stage': stage.name, 'status': 'running',
                            'signature': decision.signature, **started})
    start = time.perf_counter()
    resume = decision.action == 'resume'
    with open(stage.log, 'a' if resume else 'w') as log:
        if resume:
            was = 'interrupted' if decision.reason == 'running' else decision.reason
            log.write(f'\n=== resuming the {was} attempt '
                      f'({time.strftime("%Y-%m-%d %H:%M:%S")}) ===\n')
        try:
            outputs = stage.run(ctx, Attempt(log, on_line, resume, lock))
        except StageError as e:
            message = str(e)
        except Exception as e:  # an in-process stage's bug or bad input: keep going
            traceback.print_exc(file=log)
            message = f'{type(e).__name__}: {e}'
        else:
            message = None
    seconds = time.perf_counter() - start
    state = {'stage': stage.name, 'signature': decision.signature,
             'seconds': round(seconds, 1), 'finished': time.strftime('%Y-%m-%d %H:%M:%S'),
             **started}
    if message is not None:
        write_state(stage.dir, {**state, 'status': 'failed', 'error': message})
        return Outcome(stage, 'failed', seconds, message)
    write_state(stage.dir, {**state, 'status': 'done', 'outputs': outputs})
    return Outcome(stage, 'done', seconds)
