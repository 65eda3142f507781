"""Where every stage of a study stands (``tools/run_pipeline.py CONFIG --status``).

From the stages' state files, their locks and, for the stages run as SLURM jobs, what
``squeue`` says about their last job: done / failed / running / interrupted (stopped,
resumes when run again) / queued / requeued / blocked (waits for a failed stage) / not
run, with the job id, the elapsed time and the log; a failure with its error lines.
"""
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, TextIO

from .lock import holders
from .process import error_excerpt
from .progress import format_seconds
from .runner import Outcome
from .slurm import RUNNING, WAITING, JobInfo, query, read_record
from .stages import Stage
from .state import read_state


@dataclass
class StageStatus:
    stage: Stage
    state: str
    job: str = '-'
    elapsed: str = ''
    error: str = ''
    job_log: Optional[Path] = None   # the SLURM job's own log (submitit's wrapper)


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


def status_of(stage: Stage, record: Optional[dict], info: Optional[JobInfo]) -> StageStatus:
    """One stage's status from its state file, its job record and the job's SLURM info."""
    state = read_state(stage.dir) or {}
    job = record['job_id'] if record else '-'
    job_log = Path(record['log']) if record else None
    status = state.get('status')
    seconds = format_seconds(state['seconds']) if 'seconds' in state else ''
    if info is not None and info.state in RUNNING | WAITING:
        elapsed = format_seconds(info.seconds) if info.state in RUNNING else ''
        return StageStatus(stage, info.describe(), job, elapsed, job_log=job_log)
    if status in ('done', 'failed'):
        return StageStatus(stage, status, job, seconds, state.get('error', ''), job_log)
    if status == 'running':
        if record and state.get('job_id') == job:   # its job ended while it ran
            ended = info.state if info else 'gone from the queue'
            return StageStatus(stage, 'failed', job, '',
                               f'job {job} ended ({ended}) while the stage ran', job_log)
        running = alive(stage.dir)   # run by the local executor
        return StageStatus(stage, 'running' if running else 'interrupted', job,
                           format_seconds(time.time() - state.get('started', time.time())))
    if info is not None:   # the job ended before running the stage
        return StageStatus(stage, info.describe(), job, job_log=job_log)
    return StageStatus(stage, 'not run', job, job_log=job_log)


def study_status(stages: Sequence[Stage]) -> list[StageStatus]:
    records = {s.name: read_record(s) for s in stages}
    ids = [r['job_id'] for r in records.values() if r]
    infos = query(ids) if ids else {}
    return [status_of(s, records[s.name], infos.get((records[s.name] or {}).get('job_id')))
            for s in stages]


def as_outcome(status: StageStatus) -> Outcome:
    """The outcome of a stage whose job ended (for the summary of ``--wait``)."""
    if status.state in ('done', 'failed'):
        return Outcome(status.stage, status.state, message=status.error)
    return Outcome(status.stage, 'blocked',
                   message=f'job {status.job} ended without running it ({status.state})')


def print_status(stages: Sequence[Stage], out: TextIO = sys.stdout) -> list[StageStatus]:
    """A table of the stages' states; a failed stage's logs and error lines under it."""
    rows = study_status(stages)
    width = max(len(s.name) for s in stages)
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
    return rows
