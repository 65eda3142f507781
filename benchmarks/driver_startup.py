"""CPU time of the study driver's light commands, each in a fresh Python.

    python benchmarks/driver_startup.py [--repeats 5] [--compare OTHER_CHECKOUT]

Runs ``tools/run_pipeline.py configs/pipelines/demo.py --dry-run`` and ``--status`` and
``tools/tabulate.py --help`` (a fresh process each, user + system CPU seconds of the child
from ``getrusage``), interleaved over the repeats, and prints the medians and, with
``--compare``, the same commands of another checkout of the project (e.g. the commit
before a change, made with ``git worktree add /tmp/before <commit>``) with the ratios.
Also lists the heavy libraries (torch, mmcv, mmpretrain, mmdet, mmseg, submitit) each
command imported.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ('torch', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg', 'submitit')
COMMANDS = {
    'run_pipeline --dry-run': ['tools/run_pipeline.py', 'configs/pipelines/demo.py',
                               '--dry-run'],
    'run_pipeline --status': ['tools/run_pipeline.py', 'configs/pipelines/demo.py',
                              '--status'],
    'tabulate --help': ['tools/tabulate.py', '--help'],
}
# runs a tool as a script, then reports the heavy modules it imported
PROBE = ('import json, runpy, sys\n'
         'sys.argv = sys.argv[1:]\n'
         'try:\n'
         '    runpy.run_path(sys.argv[0], run_name="__main__")\n'
         'except SystemExit:\n'
         '    pass\n'
         'sys.stderr.write("\\nHEAVY " + json.dumps(sorted(m for m in {heavy!r} '
         'if m in sys.modules)) + "\\n")\n')


def cpu_seconds(root: Path, argv: list[str]) -> tuple[float, list[str]]:
    """CPU seconds (user + system) of one fresh Python running ``argv`` in ``root``, and
    the heavy modules it imported."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, 'PYTHONPATH': str(root)}
    result = subprocess.run([sys.executable, '-c', PROBE.format(heavy=HEAVY), *argv],
                            cwd=root, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    heavy = json.loads(result.stderr.rsplit('HEAVY ', 1)[1]) if 'HEAVY ' in result.stderr \
        else ['(did not finish: ' + result.stderr.strip().splitlines()[-1] + ')']
    seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--compare', type=Path, help='another checkout of the project')
    args = parser.parse_args()
    roots = {'this': ROOT, **({'other': args.compare.resolve()} if args.compare else {})}
    times = {(r, c): [] for r in roots for c in COMMANDS}
    heavy = {}
    for _ in range(args.repeats):   # interleaved: the machine's load hits all alike
        for name, argv in COMMANDS.items():
            for label, root in roots.items():
                seconds, imported = cpu_seconds(root, argv)
                times[label, name].append(seconds)
                heavy[label, name] = imported
    print(f'CPU seconds of a fresh process, median of {args.repeats} interleaved runs')
    for name in COMMANDS:
        this = statistics.median(times['this', name])
        line = f'{name:26s} this {this:6.2f} s  imports {heavy["this", name] or "none"}'
        if args.compare:
            other = statistics.median(times['other', name])
            line += (f'\n{"":26s} other {other:5.2f} s  imports '
                     f'{heavy["other", name] or "none"}  (this/other {this / other:.2f})')
        print(line)


if __name__ == '__main__':
    main()
