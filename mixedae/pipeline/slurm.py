"""The slurm executor: every stage one SLURM job.

Each selected stage is queued as one job that starts once the jobs of the stages it needs
have succeeded (``afterok``; the tables wait for all, ``afterany``), so independent stages
run side by side and the study takes its critical path. In its job a stage runs as the
local executor runs it (:func:`.execute.run_stage`: lock, state file, log, skip or
resume); a stage of more than one task runs its command under ``srun`` with ``--launcher
slurm``. Near its time limit, or when preempted, a job gets SIGUSR2 and submitit requeues
it; a requeued job (also by ``scontrol requeue``) resumes its stage from the last
checkpoint. ``<stage dir>/slurm/`` holds submitit's files, the job's log and
``job.json``, the job id by which a re-run attaches to a job still queued or running
instead of submitting it again. Jobs are submitted held and released together, so a job
SLURM refuses leaves none of them run.

The decisions (attach, submit, skip, block) are this module's; talking to SLURM is a
:class:`Scheduler`'s: :class:`SubmititScheduler` (sbatch through submitit, squeue,
scontrol, scancel), or a fake one in the tests.
"""
import io
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from contextlib import redirect_stderr
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Protocol, Sequence, TextIO

from ..study import finished_outputs, read_state
from .execute import Outcome, run_stage
from .executor import (Executor, ExecutorError, StageStatus, recorded_status,
                       report_outcome)
from .plan import Plan
from .progress import Progress, format_seconds
from .stages import Context, Stage

SIGNAL = 'USR2'           # submitit's JobEnvironment.USR_SIG: its handler requeues the job
SIGNAL_DELAY_S = 120      # sent this long before the time limit
NEVER = 'DependencyNeverSatisfied'
RUNNING = {'RUNNING', 'COMPLETING', 'CONFIGURING', 'SIGNALING', 'STAGE_OUT'}
WAITING = {'PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'SUSPENDED', 'RESIZING'}


class SlurmError(ExecutorError):
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


@dataclass(frozen=True)
class JobRequest:
    """A stage's job as the executor asks for it."""
    stage: Stage
    folder: Path            # submitit's files and the job's log
    name: str
    resources: dict
    dependency: Optional[str]   # e.g. 'afterok:12:13'
    job: 'StageJob'
    max_requeues: int


class Scheduler(Protocol):
    """What the executor needs of SLURM."""

    def query(self, job_ids: Sequence[str]) -> dict[str, JobInfo]: ...

    def submit(self, request: JobRequest) -> tuple[str, Path]:
        """Queue the job held; returns its id and log file. Raises SlurmError."""

    def release(self, job_ids: Sequence[str]) -> None: ...

    def cancel(self, job_ids: Sequence[str]) -> None: ...


def seconds(elapsed: str) -> int:
    """Seconds of squeue's ``[days-][hours:]minutes:seconds``."""
    days, _, clock = elapsed.rpartition('-')
    total = 0
    for part in clock.split(':'):
        total = total * 60 + int(part or 0)
    return total + int(days or 0) * 86400


def import_submitit():
    """submitit configures logging when imported (``logging.config.dictConfig``), which
    closes every open log handler of the process, an mmengine Runner's log file among them:
    import it without that, and give its logger a handler of its own."""
    if 'submitit' in sys.modules:
        return sys.modules['submitit']
    previous = os.environ.get('SUBMITIT_LOG_LEVEL')
    os.environ['SUBMITIT_LOG_LEVEL'] = 'NOCONFIG'
    try:
        import submitit
    finally:
        if previous is None:
            os.environ.pop('SUBMITIT_LOG_LEVEL')
        else:
            os.environ['SUBMITIT_LOG_LEVEL'] = previous
    level = (previous or 'INFO').upper()
    if level != 'NOCONFIG':
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter('%(name)s %(levelname)s (%(asctime)s) - '
                                               '%(message)s'))
        logger = logging.getLogger('submitit')
        logger.addHandler(handler)
        logger.setLevel(int(level) if level.isdigit() else level)
    return submitit


def sbatch_parameters(res: dict, name: str, dependency: Optional[str]) -> dict:
    """submitit ``SlurmExecutor`` parameters of a stage's job.

    The job's Python replaces the batch shell (``exec``), so that SIGUSR2 sent to the
    batch shell (``B:``) reaches submitit's handler, which requeues the job.
    """
    params = dict(job_name=name, nodes=res['nodes'], ntasks_per_node=res['tasks_per_node'],
                  time=res['timeout_min'], use_srun=False, stderr_to_stdout=True,
                  additional_parameters={'signal': f'B:{SIGNAL}@{SIGNAL_DELAY_S}',
                                         'kill-on-invalid-dep': 'yes', 'hold': True,
                                         **res['sbatch']})
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


class SubmititScheduler:
    """SLURM through submitit (sbatch) and its own commands (squeue, scontrol, scancel)."""

    def __init__(self, python: str) -> None:
        self.python = python

    def query(self, job_ids: Sequence[str]) -> dict[str, JobInfo]:
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

    def submit(self, request: JobRequest) -> tuple[str, Path]:
        submitit = import_submitit()
        try:
            executor = submitit.SlurmExecutor(request.folder,
                                              max_num_timeout=request.max_requeues,
                                              python=f'exec {shlex.quote(self.python)}')
            executor.update_parameters(**sbatch_parameters(request.resources, request.name,
                                                           request.dependency))
            with redirect_stderr(io.StringIO()):   # submitit prints sbatch's error
                job = executor.submit(request.job)
        except (submitit.core.utils.FailedJobError, RuntimeError, ValueError) as e:
            raise SlurmError(f'{request.stage.name}: SLURM refused the job: {e}') from None
        return job.job_id, Path(job.paths.stdout)

    def release(self, job_ids: Sequence[str]) -> None:
        result = subprocess.run(['scontrol', 'release', ','.join(job_ids)],
                                capture_output=True, text=True)
        if result.returncode:
            raise SlurmError(f'scontrol release {",".join(job_ids)}: {result.stderr.strip()}')

    def cancel(self, job_ids: Sequence[str]) -> None:
        if job_ids:
            subprocess.run(['scancel', *job_ids], capture_output=True)


class StageJob:
    """What a stage's job runs: the stage, as the local executor runs it (the outputs of
    the stages it needs come from their state files). Requeued, the job runs it again,
    which resumes it (``force`` holds for the first start only)."""

    def __init__(self, plan: Plan, stage: Stage, ctx: Context, force: bool) -> None:
        self.plan, self.stage, self.ctx, self.force = plan, stage, ctx, force

    def __call__(self) -> str:
        job_id = os.environ.get('SLURM_JOB_ID', '0')
        ctx = self.ctx
        if ctx.srun:   # a port of its own for each job's process group
            ctx = replace(ctx, env={**ctx.env, 'MASTER_PORT': str(20000 + int(job_id) % 20000)})
        restarts = int(os.environ.get('SLURM_RESTART_COUNT', '0'))
        print(f'{self.stage.name}: job {job_id}' + (f', restart {restarts}' if restarts
                                                    else ''), flush=True)
        outcome = run_stage(self.plan, self.stage, ctx, Progress(1, sys.stdout).update,
                            self.force and not restarts)
        report_outcome(outcome, sys.stdout)
        if outcome.status in ('failed', 'blocked'):
            raise StageFailed(f'{self.stage.name} {outcome.status}: {outcome.message}')
        return outcome.status

    def checkpoint(self, *args, **kwargs):
        """Called by submitit on the time-limit or preemption signal: requeue this job
        (the stage resumes from its last checkpoint)."""
        return import_submitit().helpers.DelayedSubmission(self, *args, **kwargs)


def record_path(stage: Stage) -> Path:
    return stage.dir / 'slurm' / 'job.json'


def read_record(stage: Stage) -> Optional[dict]:
    """The stage's last job: ``{'job_id', 'submitted', 'log'}``, or None."""
    try:
        return json.loads(record_path(stage).read_text())
    except (OSError, ValueError):
        return None


class SlurmExecutor(Executor):
    """Queues the stages as jobs, follows them, and tells where they stand."""

    def __init__(self, spec, base: Context, scheduler: Optional[Scheduler] = None) -> None:
        super().__init__(spec, base)
        self.scheduler = scheduler or SubmititScheduler(base.python)

    def resources(self, stage: Stage) -> dict:
        return self.spec.slurm.stage_resources(stage.name, stage.trains)

    def context(self, stage: Stage) -> Context:
        """Several tasks run the stage's command under srun; one runs it plainly."""
        res = self.resources(stage)
        nodes, tasks = res['nodes'], res['tasks_per_node']
        if nodes * tasks == 1:
            return replace(self.base, nproc_per_node=None, srun=None)
        srun = dict(nodes=nodes, ntasks_per_node=tasks, ntasks=nodes * tasks)
        if 'cpus_per_task' in res:
            srun['cpus_per_task'] = res['cpus_per_task']
        return replace(self.base, nproc_per_node=None, srun=srun)

    def job_line(self, stage: Stage) -> str:
        return 'sbatch ' + sbatch_flags(self.resources(stage))

    def run(self, plan: Plan, out: TextIO, wait: bool,
            on_started: Callable[[], None] = lambda: None) -> Optional[list[Outcome]]:
        jobs = self.submit(plan, out)
        on_started()   # the jobs are queued: a re-run may attach to them
        print(f'{len(jobs)} job(s) queued or running', file=out, flush=True)
        if not wait:
            return None
        self.follow(jobs, out)
        return [job_outcome(row) for row in self.status([s for s in plan.selected
                                                         if s.name in jobs])]

    def submit(self, plan: Plan, out: TextIO) -> dict[str, str]:
        """Queue the selected stages: attach to their jobs still queued or running, skip
        the up-to-date ones, submit the others. Returns stage name -> job id of every
        stage that has a job. A job refused cancels those this call submitted.

        Raises:
            SlurmError: SLURM refused a job.
        """
        records = {s.name: read_record(s) for s in plan.selected}
        infos = self.scheduler.query([r['job_id'] for r in records.values() if r])
        selected = {s.name for s in plan.selected}
        ready = {s.name for s in plan.stages if s.name not in selected
                 and finished_outputs(s.dir) is not None}   # outputs usable as they are
        jobs: dict[str, str] = {}
        fresh: list[str] = []
        study = self.spec.work_root.resolve().name
        for stage in plan.selected:
            forced = plan.forced(stage)
            waits_for = [s.name for s in plan.waits_for(stage)]
            record = records[stage.name]
            info = infos.get(record['job_id']) if record else None
            if info is not None and info.active and not forced \
                    and not (info.state == 'PENDING' and set(fresh) & set(waits_for)):
                jobs[stage.name] = info.job_id
                print(f'{stage.name}: attached to job {info.job_id} ({info.describe()})',
                      file=out)
                continue
            if info is not None and info.state in RUNNING | WAITING:
                self.scheduler.cancel([info.job_id])   # forced, or its inputs change now
            missing = [n for n in stage.needs if n not in jobs and n not in ready]
            if missing:
                print(f'{stage.name}: blocked: needs {", ".join(missing)}', file=out)
                continue
            waits = [jobs[n] for n in waits_for if n in jobs]
            ctx = self.context(stage)
            if not waits and not forced and plan.decide(
                    stage, plan.context(stage, ctx), False).action == 'skip':
                ready.add(stage.name)
                print(f'{stage.name}: up to date', file=out)
                continue
            kind = 'afterany' if stage.after_all else 'afterok'
            request = JobRequest(stage, stage.dir / 'slurm', f'{study}/{stage.name}',
                                 self.resources(stage),
                                 f'{kind}:{":".join(waits)}' if waits else None,
                                 StageJob(plan, stage, ctx, forced),
                                 self.spec.slurm.max_requeues)
            try:
                job_id, log = self.scheduler.submit(request)
            except SlurmError as e:
                self.scheduler.cancel([jobs[n] for n in fresh])
                raise SlurmError(f'{e}\n(the {len(fresh)} job(s) submitted before it were '
                                 'held and are now cancelled: none ran)') from None
            record_path(stage).parent.mkdir(parents=True, exist_ok=True)
            record_path(stage).write_text(json.dumps(
                {'job_id': job_id, 'submitted': time.strftime('%Y-%m-%d %H:%M:%S'),
                 'log': str(log)}, indent=1))
            jobs[stage.name] = job_id
            fresh.append(stage.name)
            print(f'{stage.name}: submitted job {job_id}'
                  + (f' ({kind} {", ".join(waits)})' if waits else ''), file=out)
        held = [jobs[n] for n in fresh] + [i.job_id for i in infos.values()
                                           if i.reason == 'JobHeldUser'
                                           and i.job_id in jobs.values()]
        if held:
            try:
                self.scheduler.release(held)
            except SlurmError:
                self.scheduler.cancel([jobs[n] for n in fresh])
                raise
        out.flush()
        return jobs

    def follow(self, jobs: dict[str, str], out: TextIO) -> None:
        """Until no job is queued or running; prints every change of a stage's job state."""
        seen: dict[str, str] = {}
        start = time.monotonic()
        while True:
            infos = self.scheduler.query(list(jobs.values()))
            for name, job_id in jobs.items():
                info = infos.get(job_id)
                state = info.describe() if info else 'ended'
                if seen.get(name) != state:
                    seen[name] = state
                    print(f'  {name}: {state} (job {job_id})', file=out, flush=True)
            if not any(info.active for info in infos.values()):
                return
            time.sleep(min(30., 1. + (time.monotonic() - start) / 20))

    def status(self, stages: Sequence[Stage]) -> list[StageStatus]:
        """Each stage's state file and lock, with what ``squeue`` says of its last job."""
        records = {s.name: read_record(s) for s in stages}
        infos = self.scheduler.query([r['job_id'] for r in records.values() if r])
        return [job_status(s, records[s.name],
                           infos.get((records[s.name] or {}).get('job_id')))
                for s in stages]


def job_status(stage: Stage, record: Optional[dict], info: Optional[JobInfo]) -> StageStatus:
    """A stage's status from its state file, its job record and the job's SLURM info."""
    recorded = recorded_status(stage)
    if record is None:
        return recorded
    job, job_log = record['job_id'], Path(record['log'])
    if info is not None and info.state in RUNNING | WAITING:
        elapsed = format_seconds(info.seconds) if info.state in RUNNING else ''
        return StageStatus(stage, info.describe(), job, elapsed, job_log=job_log)
    if recorded.state in ('running', 'interrupted') and \
            (read_state(stage.dir) or {}).get('job_id') == job:   # it ended while running
        ended = info.state if info else 'gone from the queue'
        return StageStatus(stage, 'failed', job, '',
                           f'job {job} ended ({ended}) while the stage ran', job_log)
    if recorded.state == 'not run' and info is not None:   # ended before running the stage
        return StageStatus(stage, info.describe(), job, job_log=job_log)
    return replace(recorded, job=job, job_log=job_log)


def job_outcome(status: StageStatus) -> Outcome:
    """The outcome of a stage whose job ended (for the summary of ``--wait``)."""
    if status.state in ('done', 'failed'):
        return Outcome(status.stage, status.state, message=status.error)
    return Outcome(status.stage, 'blocked',
                   message=f'job {status.job} ended without running it ({status.state})')
