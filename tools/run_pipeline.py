"""Run a MixedAE study end to end: data -> pre-train -> convert -> transfer -> tabulate.

    python tools/run_pipeline.py PIPELINE_CONFIG [--work-root DIR] [--dry-run | --status]
        [--only PATTERN ...] [--force-stage PATTERN ...] [--wait]

Each stage works in ``ROOT/<method>/<task>/`` and logs to ``stage.log`` there; a stage that
finished with the same command, config files and inputs is skipped, and one interrupted
(or failed) resumes from its last checkpoint, so re-running an interrupted study continues
it. PATTERN: a stage name (``mixedae/det_coco``), a method, a task, or a glob
(``*/pretrain``). With ``executor = dict(type='slurm', ...)`` in the config every stage is
a SLURM job: the command queues them (attaching to the jobs of an earlier run that are
still queued or running) and returns, or with ``--wait`` follows them to the end;
``--status`` lists every stage's job, state, elapsed time and log. Exit status: 0 all
stages fine (or queued), 1 a stage failed or was blocked, 2 the pipeline config is invalid
or SLURM refused a job, 3 another run is using the same study root, 130 interrupted
(Ctrl-C or SIGTERM; the next run resumes the stage).
"""
import argparse
import fcntl
import signal
import sys
import time
from pathlib import Path

# Run as a script, this file's folder is sys.path[0]: drop it, so that no script of tools/
# (tools/tabulate.py) stands in for an installed module of the same name.
sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != Path(__file__).parent.resolve()]

from mixedae.pipeline import (Context, PipelineConfigError, list_stages,  # noqa: E402
                              load_spec, plan_stages, run_stages, summarize)
from mixedae.pipeline import slurm  # noqa: E402
from mixedae.pipeline.status import as_outcome, print_status, study_status  # noqa: E402

TOOLS = Path(__file__).resolve().parent
PUBLISHED = TOOLS.parent / 'benchmarks' / 'published_results.json'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='pipeline config, e.g. configs/pipelines/demo.py')
    parser.add_argument('--work-root', help='study root (overrides the config\'s work_root)')
    parser.add_argument('--dry-run', action='store_true',
                        help='list the stages, their commands and state; run nothing')
    parser.add_argument('--status', action='store_true',
                        help='list every stage\'s job, state, elapsed time and log')
    parser.add_argument('--wait', action='store_true',
                        help='slurm executor: follow the jobs until they end, then print '
                        'the summary and the table')
    parser.add_argument('--only', nargs='+', default=[], metavar='PATTERN',
                        help='run only these stages (the others\' earlier outputs are used)')
    parser.add_argument('--force-stage', nargs='+', default=[], metavar='PATTERN',
                        help='run these stages again even if up to date')
    return parser.parse_args()


def interrupt(signum, frame):
    raise KeyboardInterrupt(f'signal {signum}')


def main() -> int:
    args = parse_args()
    try:
        spec = load_spec(args.config, args.work_root)
    except PipelineConfigError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    stages = plan_stages(spec, PUBLISHED)
    ctx = Context(TOOLS, nproc_per_node=spec.nproc_per_node, env=spec.env)
    root = spec.work_root.resolve()
    print(f'study {spec.path} -> {root}')
    try:   # every command can be built (e.g. the total batch divides among the processes)
        for stage in (s for s in stages if s.trains):
            stage.describe(stage_context(spec, ctx, stage))
    except ValueError as e:
        print(f'error: {stage.name}: {e}', file=sys.stderr)
        return 2
    if args.status:
        return status(stages)
    if args.dry_run:
        job = None
        if spec.slurm:
            def job(stage):
                res = slurm.resources(spec.slurm, stage)
                return stage_context(spec, ctx, stage), 'sbatch ' + slurm.sbatch_flags(res)
        list_stages(stages, ctx, args.only, job=job)
        return 0
    root.mkdir(parents=True, exist_ok=True)
    lock = open(root / '.run_pipeline.lock', 'w')   # held until this process exits
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f'error: another tools/run_pipeline.py is running on {root}', file=sys.stderr)
        return 3
    start = time.perf_counter()
    # `kill PID` stops the running stage's command as Ctrl-C does; the state of an
    # interrupted stage stays `running`, and the next run resumes it. Handling SIGINT here
    # (not just inheriting it) also un-ignores it for the stages' commands: a shell starts
    # background jobs with SIGINT ignored, and the commands would never see the interrupt.
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        if spec.slurm:
            return run_on_slurm(args, spec, stages, ctx, lock, start)
        outcomes = run_stages(stages, ctx, args.only, args.force_stage)
    except KeyboardInterrupt:
        print('\ninterrupted: run the same command again to continue where it stopped',
              file=sys.stderr)
        return 130
    return 0 if summarize(outcomes, time.perf_counter() - start, sys.stdout) else 1


def stage_context(spec, ctx: Context, stage) -> Context:
    """The context a stage runs in (its SLURM job's, with the slurm executor)."""
    if spec.slurm is None:
        return ctx
    return slurm.stage_context(ctx, slurm.resources(spec.slurm, stage))


def status(stages) -> int:
    try:
        rows = print_status(stages)
    except slurm.SlurmError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 1 if any(row.state in ('failed', 'blocked') for row in rows) else 0


def run_on_slurm(args, spec, stages, ctx, lock, start) -> int:
    """Queue the stages as SLURM jobs; with --wait, follow them and summarize."""
    try:
        jobs = slurm.submit(stages, ctx, spec.slurm, spec.work_root.resolve().name,
                            args.only, args.force_stage)
    except slurm.SlurmError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    lock.close()   # the jobs are queued: a re-run may attach to them
    follow = ' '.join(['python tools/run_pipeline.py', args.config, '--status']
                      + (['--work-root', args.work_root] if args.work_root else []))
    if not args.wait:
        print(f'{len(jobs)} job(s) queued or running; follow them with\n  {follow}')
        return 0
    try:
        slurm.wait(jobs)
    except KeyboardInterrupt:
        print(f'\nstopped following the jobs; they go on: {follow}', file=sys.stderr)
        return 130
    selected = [s for s in stages if s.name in jobs]
    outcomes = [as_outcome(row) for row in study_status(selected)]
    return 0 if summarize(outcomes, time.perf_counter() - start, sys.stdout) else 1


if __name__ == '__main__':
    sys.exit(main())
