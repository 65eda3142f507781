"""Run the stages in order: skip the up-to-date ones, resume interrupted ones, and keep
going past failures (a failed stage blocks only the stages that need it)."""
import os
import sys
import time
import traceback
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Callable, Optional, Sequence, TextIO

from .lock import StageBusy, stage_lock
from .process import StageError, error_excerpt
from .progress import Progress, format_seconds
from .stages import Context, Stage
from .state import can_resume, is_up_to_date, read_state, write_state


@dataclass
class Outcome:
    """What happened to one stage: done, skipped (up to date), failed or blocked."""
    stage: Stage
    status: str
    seconds: float = 0.
    message: str = ''


def matches(name: str, patterns: Sequence[str]) -> bool:
    """``mixedae/det_coco`` matches ``mixedae``, ``det_coco``, ``*/det_*`` or itself."""
    return any(fnmatch(name, p) or p in name.split('/') for p in patterns)


def load_finished(stages: Sequence[Stage], ctx: Context) -> None:
    """Outputs of stages that finished in an earlier run (for stages not selected now)."""
    for stage in stages:
        state = read_state(stage.dir)
        if state and state.get('status') == 'done':
            ctx.outputs[stage.name] = state['outputs']


def execute(stage: Stage, ctx: Context, progress: Progress, signature: dict,
            resume_from: Optional[str] = None) -> Outcome:
    """Run one stage, writing its state before and after and its log; ``resume_from``:
    the status (``running``: interrupted, or ``failed``) of an earlier attempt with the
    same signature, to continue it (its log is kept, the new one appended). The caller
    holds the stage's lock (``ctx.lock``)."""
    resume = resume_from is not None
    job = {'job_id': os.environ['SLURM_JOB_ID']} if 'SLURM_JOB_ID' in os.environ else {}
    started = {'started': time.time(), **job}
    write_state(stage.dir, {'stage': stage.name, 'status': 'running', 'signature': signature,
                            **started})
    start = time.perf_counter()
    with open(stage.log, 'a' if resume else 'w') as log:
        if resume:
            was = 'interrupted' if resume_from == 'running' else resume_from
            log.write(f'\n=== resuming the {was} attempt '
                      f'({time.strftime("%Y-%m-%d %H:%M:%S")}) ===\n')
        try:
            outputs = stage.run(ctx, log, progress.update, resume)
        except StageError as e:
            message = str(e)
        except Exception as e:  # an in-process stage's bug or bad input: keep going
            traceback.print_exc(file=log)
            message = f'{type(e).__name__}: {e}'
        else:
            message = None
    seconds = time.perf_counter() - start
    state = {'stage': stage.name, 'signature': signature, 'seconds': round(seconds, 1),
             'finished': time.strftime('%Y-%m-%d %H:%M:%S'), **started}
    if message is not None:
        write_state(stage.dir, {**state, 'status': 'failed', 'error': message})
        return Outcome(stage, 'failed', seconds, message)
    write_state(stage.dir, {**state, 'status': 'done', 'outputs': outputs})
    ctx.outputs[stage.name] = outputs
    return Outcome(stage, 'done', seconds)


def run_one(stage: Stage, ctx: Context, progress: Progress, force: bool) -> Outcome:
    """Skip, block, or run a stage (blocked too while another process holds its lock)."""
    missing = [n for n in stage.needs if n not in ctx.outputs]
    if missing:
        return Outcome(stage, 'blocked', message=f'needs {", ".join(missing)}')
    try:
        signature = stage.signature(ctx)
    except OSError as e:  # an earlier stage's output was deleted since it finished
        return Outcome(stage, 'blocked', message=f'input missing: {e}')
    state = read_state(stage.dir)
    if not force and is_up_to_date(state, signature):
        ctx.outputs[stage.name] = state['outputs']
        return Outcome(stage, 'skipped', message='up to date')
    try:
        with stage_lock(stage.dir) as lock:
            ctx.lock = lock
            state = read_state(stage.dir)   # as the last holder of the lock left it
            resume_from = state['status'] if not force and can_resume(state, signature) \
                else None
            return execute(stage, ctx, progress, signature, resume_from)
    except StageBusy as e:
        return Outcome(stage, 'blocked', message=str(e))
    finally:
        ctx.lock = None


def report(outcome: Outcome, out: TextIO) -> None:
    """One line per stage outcome; a failure names the log and its last error lines."""
    if outcome.status == 'failed':
        print(f'    FAILED {outcome.stage.name}: {outcome.message}\n'
              f'    log: {outcome.stage.log}', file=out)
        for line in error_excerpt(outcome.stage.log):
            print(f'      | {line}', file=out)
    elif outcome.status in ('blocked', 'skipped'):
        print(f'    {outcome.status}: {outcome.message}', file=out)
    out.flush()


def run_stages(stages: Sequence[Stage], ctx: Context, only: Sequence[str] = (),
               force: Sequence[str] = (), out: TextIO = sys.stdout) -> list[Outcome]:
    """Run the selected stages (``only``: name patterns, all if empty); ``force``: run
    those even if up to date. Returns one outcome per selected stage."""
    selected = [s for s in stages if not only or matches(s.name, only)]
    load_finished([s for s in stages if s not in selected], ctx)
    progress = Progress(len(selected), out)
    states = {s.name: read_state(s.dir) or {} for s in selected}
    for stage in stages:  # durations of earlier runs, for the ETA
        state = states.get(stage.name) or read_state(stage.dir) or {}
        if state.get('status') == 'done' and 'seconds' in state:
            progress.record(stage.task, state['seconds'], stage.trains)
    outcomes = []
    for index, stage in enumerate(selected, 1):
        forced = matches(stage.name, force)
        pending = [(s.task, s.trains) for s in selected[index:]
                   if states[s.name].get('status') != 'done' or matches(s.name, force)]
        current = [(stage.task, stage.trains)] if (
            states[stage.name].get('status') != 'done' or forced) else []
        progress.start(index, stage.name, current + pending)
        outcome = run_one(stage, ctx, progress, forced)
        if outcome.status in ('done', 'failed'):
            progress.finish(stage.task, outcome.status, outcome.seconds, stage.trains)
        report(outcome, out)
        outcomes.append(outcome)
    return outcomes


def summarize(outcomes: Sequence[Outcome], seconds: float, out: TextIO) -> bool:
    """Print the summary, the table and the plot paths; True if nothing failed."""
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
    tables = table_outputs(outcomes)
    if tables:
        print('\n' + Path(tables['results.txt']).read_text(), file=out)
        for name, path in tables.items():
            print(f'wrote {path}', file=out)
    report_page = table_outputs(outcomes, 'report')
    if report_page:
        print(f'\nstudy report: {report_page["report.html"]}', file=out)
    out.flush()
    return not (counts['failed'] or counts['blocked'])


def table_outputs(outcomes: Sequence[Outcome], task: str = 'tabulate') -> Optional[dict]:
    """Outputs of the tabulate (or report) stage if it finished now or earlier."""
    for o in outcomes:
        if o.stage.task == task and o.status in ('done', 'skipped'):
            state = read_state(o.stage.dir)
            return state['outputs'] if state else None
    return None


def stage_status(stage: Stage, ctx: Context) -> str:
    """'up to date', 'to run' or 'to resume' (for ``--dry-run``)."""
    try:
        signature = stage.signature(ctx)
    except OSError:  # an input that does not exist yet
        return 'to run'
    state = read_state(stage.dir)
    if is_up_to_date(state, signature):
        return 'up to date'
    return 'to resume' if can_resume(state, signature) else 'to run'


def list_stages(stages: Sequence[Stage], ctx: Context, only: Sequence[str] = (),
                out: TextIO = sys.stdout,
                job: Optional[Callable[[Stage], tuple[Context, str]]] = None) -> None:
    """Print the selected stages, their commands and whether they would run; ``job``:
    a stage's context and job line (for an executor that runs stages as jobs)."""
    load_finished(stages, ctx)
    selected = [s for s in stages if not only or matches(s.name, only)]
    for index, stage in enumerate(selected, 1):
        stage_ctx, line = job(stage) if job else (ctx, '')
        print(f'[{index}/{len(selected)}] {stage.name}  ({stage_status(stage, stage_ctx)})'
              + (f'\n      {line}' if line else '')
              + f'\n      {stage.describe(stage_ctx)}', file=out)
