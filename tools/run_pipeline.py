"""Run a MixedAE study end to end: data -> pre-train -> convert -> transfer -> tabulate.

    python tools/run_pipeline.py PIPELINE_CONFIG [--work-root DIR] [--dry-run | --status]
        [--only PATTERN ...] [--force-stage PATTERN ...] [--wait]

Each stage works in ``ROOT/<method>/<task>/`` and logs to ``stage.log`` there; a stage that
finished with the same command, config files and inputs is skipped, and one interrupted
(or failed) resumes from its last checkpoint, so re-running an interrupted study continues
it. PATTERN: a stage name (``mixedae/det_coco``), a method, a task, a seed (``seed_1``)
or a glob (``*/pretrain``); ``--only`` and ``--force-stage`` take several, and may be
repeated. With ``executor = dict(type='slurm', ...)`` in the config every stage is a SLURM
job: the command queues them (attaching to the jobs of an earlier run that are still
queued or running) and returns, or with ``--wait`` follows them to the end; ``--status``
lists every stage's job, state, elapsed time and log. Exit status: 0 all stages fine (or
queued), 1 a stage failed or was blocked, 2 the pipeline config is invalid or SLURM
refused a job, 3 another run is using the same study root, 130 interrupted (Ctrl-C or
SIGTERM; the next run resumes the stage).
"""
import argparse
import fcntl
import signal
import sys
import time
from pathlib import Path

from mixedae.pipeline import (Context, PipelineConfigError, Plan, executor_for, load_spec,
                              plan_stages, print_status, summarize)
from mixedae.pipeline.executor import ExecutorError

TOOLS = Path(__file__).resolve().parent
PUBLISHED = TOOLS.parent / 'benchmarks' / 'published_results.json'


def parse_args(argv=None) -> argparse.Namespace:
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
    parser.add_argument('--only', nargs='+', action='extend', default=[], metavar='PATTERN',
                        help='run only these stages (the others\' earlier outputs are used)')
    parser.add_argument('--force-stage', nargs='+', action='extend', default=[],
                        metavar='PATTERN', help='run these stages again even if up to date')
    return parser.parse_args(argv)


def interrupt(signum, frame):
    raise KeyboardInterrupt(f'signal {signum}')


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        spec = load_spec(args.config, args.work_root)
        plan = Plan(plan_stages(spec, PUBLISHED), args.only, args.force_stage)
    except PipelineConfigError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    unmatched = [p for p in args.only + args.force_stage
                 if not Plan(plan.stages, [p]).selected]
    if unmatched:
        print(f'error: no stage matches {", ".join(unmatched)}; stages: '
              f'{", ".join(s.name for s in plan.stages)}', file=sys.stderr)
        return 2
    executor = executor_for(spec, Context(TOOLS, env=spec.env,
                                          nproc_per_node=spec.nproc_per_node))
    root = spec.work_root.resolve()
    print(f'study {spec.path} -> {root}')
    try:
        executor.check(plan)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if args.status:
        return status(executor, plan)
    if args.dry_run:
        executor.list_plan(plan)
        return 0
    root.mkdir(parents=True, exist_ok=True)
    lock = open(root / '.run_pipeline.lock', 'w')   # held until the stages are started
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
    follow = ' '.join(['python tools/run_pipeline.py', args.config, '--status']
                      + (['--work-root', args.work_root] if args.work_root else []))
    try:
        outcomes = executor.run(plan, sys.stdout, args.wait, on_started=lock.close)
    except ExecutorError as e:   # SLURM refused a job, or its queue could not be read
        print(f'error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('\ninterrupted: run the same command again to continue where it stopped'
              if spec.slurm is None else
              f'\nstopped following the jobs; they go on: {follow}', file=sys.stderr)
        return 130
    if outcomes is None:
        print(f'follow them with\n  {follow}')
        return 0
    return 0 if summarize(outcomes, time.perf_counter() - start, sys.stdout) else 1


def status(executor, plan: Plan) -> int:
    try:
        rows = executor.status(plan.stages)
    except ExecutorError as e:   # the SLURM queue could not be read
        print(f'error: {e}', file=sys.stderr)
        return 2
    print_status(rows)
    return 1 if any(row.state in ('failed', 'blocked') for row in rows) else 0


if __name__ == '__main__':
    sys.exit(main())
