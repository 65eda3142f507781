"""The ``slurm`` executor: every stage one SLURM job, submitted with submitit.

:func:`submit` queues each selected stage as one job (submitit's ``SlurmExecutor`` writes
the sbatch script and pickles a :class:`StageJob`) that starts once the jobs of the stages
it needs have succeeded (``afterok``; the tables wait for all, ``afterany``), so
independent stages run side by side and the study takes its critical path. In its job a
stage runs as the local executor runs it (:func:`.runner.run_one`: lock, state file, log,
skip or resume); a stage of more than one task runs its command under ``srun`` with
``--launcher slurm``. Near its time limit, or when preempted, a job gets SIGUSR2 and
submitit requeues it; a requeued job (also by ``scontrol requeue``) resumes its stage from
the last checkpoint. ``<stage dir>/slurm/`` holds submitit's files, the job's log and
``job.json``, the job id by which a re-run attaches to a job still queued or running
instead of submitting it again.
"""
import io
import json
import os
import shlex
import subprocess
import sys
import time
from contextlib import redirect_stderr
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence, TextIO

import submitit
from submitit.core.utils import FailedJobError

from .progress import Progress
from .runner import load_finished, matches, report, run_one
from .spec import SlurmSpec
from .stages import Context, Stage
from .state import is_up_to_date, read_state

SIGNAL_DELAY_S = 120      # SIGUSR2 this long before the time limit: stop and requeue
NEVER = 'DependencyNeverSatisfied'
RUNNING = {'RUNNING', 'COMPLETING', 'CONFIGURING', 'SIGNALING', 'STAGE_OUT'}
WAITING = {'PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'SUSPENDED', 'RESIZING'}


class SlurmError(RuntimeError):
    """SLURM refused a job (the message names the stage and gives SLURM's words), or its
    queue could not be read."""


class StageFailed(RuntimeError):
    """Raised in a job whose stage failed, so that SLURM records the job as failed."""


@dataclass(frozen=True)
class JobInfo:
    """What ``squeue`` says about a job."""
    job_id: str
    state: str          # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
    reason: str = ''
    restarts: int = 0
    seconds: int = 0    # run time (of this start)

    @property
    def active(self) -> bool:
        """Queued or running (a job waiting on a failed job never runs: not active)."""
        return self.state in RUNNING or (self.state in WAITING and self.reason != NEVER)

    def describe(self) -> str:
        """queued / requeued / running / blocked, or SLURM's state of an ended job."""
        if self.state in RUNNING:
            return 'running'
        if self.reason == NEVER:
            return 'blocked'
        if self.state in WAITING:
            return 'requeued' if self.restarts or self.state.startswith('REQUEUE') \
                else 'queued'
        return self.state.lower()


def query(job_ids: Sequence[str]) -> dict[str, JobInfo]:
    """``squeue``'s view of these jobs (those SLURM still remembers)."""
    if not job_ids:
        return {}
    try:
        result = subprocess.run(
            ['squeue', '--noheader', '--states=all', f'--jobs={",".join(job_ids)}',
             '--Format=JobID:|,State:|,Reason:|,RestartCnt:|,TimeUsed:|'],
            capture_output=True, text=True)
    except OSError as e:
        raise SlurmError(f'squeue: {e}') from None
    if result.returncode and 'Invalid job id' not in result.stderr:
        raise SlurmError(f'squeue failed: {result.stderr.strip()}')
    infos = {}
    for line in result.stdout.splitlines():
        job, state, reason, restarts, elapsed = (f.strip() for f in line.split('|')[:5])
        infos[job] = JobInfo(job, state, reason, int(restarts or 0), seconds(elapsed))
    return infos


def seconds(elapsed: str) -> int:
    """Seconds of squeue's ``[days-][hours:]minutes:seconds``."""
    days, _, clock = elapsed.rpartition('-')
    total = 0
    for part in clock.split(':'):
        total = total * 60 + int(part or 0)
    return total + int(days or 0) * 86400


def cancel(job_ids: Sequence[str]) -> None:
    if job_ids:
        subprocess.run(['scancel', *job_ids], capture_output=True)


def record_path(stage: Stage) -> Path:
    return stage.dir / 'slurm' / 'job.json'


def read_record(stage: Stage) -> Optional[dict]:
    """The stage's last job: ``{'job_id', 'submitted', 'log'}``, or None."""
    try:
        return json.loads(record_path(stage).read_text())
    except (OSError, ValueError):
        return None


def resources(slurm: SlurmSpec, stage: Stage) -> dict:
    """The stage's job resources: the executor's, one task without GPU for the stages
    that do not train, then the matching per-stage overrides in order."""
    res = dict(slurm.resources)
    if not stage.trains:
        res.update(nodes=1, gpus_per_node=0, tasks_per_node=1)
    for pattern, given in slurm.stages:
        if matches(stage.name, [pattern]):
            res.update(given)
    res.setdefault('tasks_per_node', max(1, res['gpus_per_node']))
    return res


def stage_context(ctx: Context, res: dict) -> Context:
    """The context of a stage's job: several tasks run the stage's command under srun."""
    nodes, tasks = res['nodes'], res['tasks_per_node']
    if nodes * tasks == 1:
        return replace(ctx, nproc_per_node=None, srun=None)
    srun = dict(nodes=nodes, ntasks_per_node=tasks, ntasks=nodes * tasks)
    if 'cpus_per_task' in res:
        srun['cpus_per_task'] = res['cpus_per_task']
    return replace(ctx, nproc_per_node=None, srun=srun)


def sbatch_parameters(res: dict, name: str, dependency: Optional[str]) -> dict:
    """submitit ``SlurmExecutor`` parameters of a stage's job.

    The job's Python replaces the batch shell (``exec``), so that SIGUSR2 sent to the
    batch shell (``B:``) reaches submitit's handler, which requeues the job.
    """
    signal = f'B:{submitit.JobEnvironment.USR_SIG}@{SIGNAL_DELAY_S}'
    params = dict(job_name=name, nodes=res['nodes'], ntasks_per_node=res['tasks_per_node'],
                  time=res['timeout_min'], use_srun=False, stderr_to_stdout=True,
                  additional_parameters={'signal': signal, 'kill-on-invalid-dep': 'yes',
                                         'hold': True, **res['sbatch']})
    optional = dict(partition=res.get('partition'), account=res.get('account'),
                    qos=res.get('qos'), cpus_per_task=res.get('cpus_per_task'),
                    gpus_per_node=res['gpus_per_node'] or None, setup=res['setup'] or None,
                    mem=f'{round(res["mem_gb"] * 1024)}M' if 'mem_gb' in res else None,
                    dependency=dependency)
    return {**params, **{k: v for k, v in optional.items() if v is not None}}


def sbatch_flags(res: dict) -> str:
    """The job's main sbatch options, as ``--dry-run`` shows them."""
    params = sbatch_parameters(res, '', None)
    flags = {k: v for k, v in params.items()
             if k not in ('job_name', 'use_srun', 'stderr_to_stdout', 'setup',
                          'additional_parameters', 'dependency')}
    flags.update(res['sbatch'])
    return ' '.join(f'--{k.replace("_", "-")}={v}' for k, v in flags.items())


class StageJob(submitit.helpers.Checkpointable):
    """What a stage's job runs: the stage, as the local executor would run it, after
    reading the outputs of the stages it needs from their state files. Requeued, the job
    runs it again, which resumes it (``force`` holds for the first start only)."""

    def __init__(self, stage: Stage, ctx: Context, needs: Sequence[Stage],
                 force: bool) -> None:
        self.stage, self.ctx, self.needs, self.force = stage, ctx, list(needs), force

    def __call__(self) -> str:
        job_id = os.environ.get('SLURM_JOB_ID', '0')
        if self.ctx.srun:   # a port of its own for each job's process group
            self.ctx.env = {**self.ctx.env, 'MASTER_PORT': str(20000 + int(job_id) % 20000)}
        load_finished(self.needs, self.ctx)
        restarts = int(os.environ.get('SLURM_RESTART_COUNT', '0'))
        print(f'{self.stage.name}: job {job_id}' + (f', restart {restarts}' if restarts
                                                    else ''), flush=True)
        outcome = run_one(self.stage, self.ctx, Progress(1, sys.stdout),
                          self.force and not restarts)
        report(outcome, sys.stdout)
        if outcome.status in ('failed', 'blocked'):
            raise StageFailed(f'{self.stage.name} {outcome.status}: {outcome.message}')
        return outcome.status


def submit_one(stage: Stage, ctx: Context, slurm: SlurmSpec, res: dict, name: str,
               dependency: Optional[str], needs: Sequence[Stage], force: bool) -> str:
    """Submit the stage's job; returns its id.

    Raises:
        SlurmError: sbatch refused the job (SLURM's message included).
    """
    folder = stage.dir / 'slurm'
    try:
        executor = submitit.SlurmExecutor(folder, max_num_timeout=slurm.max_requeues,
                                          python=f'exec {shlex.quote(ctx.python)}')
        executor.update_parameters(**sbatch_parameters(res, name, dependency))
        with redirect_stderr(io.StringIO()):   # submitit prints sbatch's error, we raise it
            job = executor.submit(StageJob(stage, replace(ctx, outputs={}), needs, force))
    except (FailedJobError, RuntimeError, ValueError) as e:
        raise SlurmError(f'{stage.name}: SLURM refused the job: {e}') from None
    record = {'job_id': job.job_id, 'submitted': time.strftime('%Y-%m-%d %H:%M:%S'),
              'log': str(job.paths.stdout)}
    record_path(stage).write_text(json.dumps(record, indent=1))
    return job.job_id


def up_to_date(stage: Stage, ctx: Context) -> bool:
    """Done with the current inputs (which must all exist already)."""
    try:
        signature = stage.signature(ctx)
    except OSError:
        return False
    state = read_state(stage.dir)
    if not is_up_to_date(state, signature):
        return False
    ctx.outputs[stage.name] = state['outputs']
    return True


def submit(stages: Sequence[Stage], ctx: Context, slurm: SlurmSpec, study: str,
           only: Sequence[str] = (), force: Sequence[str] = (),
           out: TextIO = sys.stdout) -> dict[str, str]:
    """Queue the selected stages: attach to their jobs still queued or running, skip the
    up-to-date ones, submit the others. Returns stage name -> job id of every stage that
    has a job. A job refused cancels those this call submitted.

    Raises:
        SlurmError: sbatch refused a job.
    """
    selected = [s for s in stages if not only or matches(s.name, only)]
    load_finished([s for s in stages if s not in selected], ctx)
    records = {s.name: read_record(s) for s in selected}
    infos = query([r['job_id'] for r in records.values() if r])
    jobs: dict[str, str] = {}
    fresh: set[str] = set()
    for stage in selected:
        res = resources(slurm, stage)
        job_ctx = stage_context(ctx, res)
        forced = matches(stage.name, force)
        needs = tuple(jobs) if stage.task == 'tabulate' else stage.needs
        record = records[stage.name]
        info = infos.get(record['job_id']) if record else None
        if info is not None and info.active and not forced \
                and not (info.state == 'PENDING' and fresh & set(needs)):
            jobs[stage.name] = info.job_id
            print(f'{stage.name}: attached to job {info.job_id} ({info.describe()})',
                  file=out)
            continue
        if info is not None and info.state in RUNNING | WAITING:
            cancel([info.job_id])   # forced, or waiting for a failed job or one replaced now
        missing = [n for n in stage.needs if n not in jobs and n not in ctx.outputs]
        if missing:
            print(f'{stage.name}: blocked: needs {", ".join(missing)}', file=out)
            continue
        waits = [jobs[n] for n in needs if n in jobs]
        if not waits and not forced and up_to_date(stage, job_ctx):
            print(f'{stage.name}: up to date', file=out)
            continue
        kind = 'afterany' if stage.task == 'tabulate' else 'afterok'
        try:
            jobs[stage.name] = submit_one(
                stage, job_ctx, slurm, res, f'{study}/{stage.name}',
                f'{kind}:{":".join(waits)}' if waits else None,
                [s for s in stages if s.name in stage.needs], forced)
        except SlurmError as e:
            cancel([jobs[n] for n in fresh])
            raise SlurmError(f'{e}\n(the {len(fresh)} job(s) submitted before it were held '
                             'and are now cancelled: none ran)') from None
        fresh.add(stage.name)
        print(f'{stage.name}: submitted job {jobs[stage.name]}'
              + (f' ({kind} {", ".join(waits)})' if waits else ''), file=out)
    # submitted held, released together: a refused job leaves none of them run
    held = [jobs[n] for n in fresh] + [info.job_id for info in infos.values()
                                       if info.reason == 'JobHeldUser' and info.job_id in
                                       jobs.values()]
    if held:
        result = subprocess.run(['scontrol', 'release', ','.join(held)], capture_output=True,
                                text=True)
        if result.returncode:
            cancel([jobs[n] for n in fresh])
            raise SlurmError(f'scontrol release {",".join(held)}: {result.stderr.strip()}')
    out.flush()
    return jobs


def wait(jobs: dict[str, str], out: TextIO = sys.stdout) -> None:
    """Until no job is queued or running; prints every change of a stage's job state."""
    seen: dict[str, str] = {}
    start = time.monotonic()
    while True:
        infos = query(list(jobs.values()))
        for name, job_id in jobs.items():
            info = infos.get(job_id)
            state = info.describe() if info else 'ended'
            if seen.get(name) != state:
                seen[name] = state
                print(f'  {name}: {state} (job {job_id})', file=out, flush=True)
        if not any(info.active for info in infos.values()):
            return
        time.sleep(min(30., 1. + (time.monotonic() - start) / 20))
