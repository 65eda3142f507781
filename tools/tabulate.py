"""Tabulate MixedAE studies against MAE and the published numbers.

Usage: python tools/tabulate.py [WORK_DIR ...] [--run METHOD:TASK=PATH ...]
                                [--baseline mae] [--out-dir DIR]
                                [--resamples 1000] [--confidence 0.95]

Each WORK_DIR is a study root `ROOT/<method>/<task>/<timestamp>/` (see mixedae.tabulate).
`--run` adds a run made with any tool (e.g. mmseg's tools/train.py:
`--run mae:seg_ade20k=work_dirs/<cfg>/<timestamp>`, or its work_dir for the newest run) to
the first WORK_DIR's study, or to a study of its own without WORK_DIR.
Beside each study stand only the published references of the same protocol, backbone and
pre-training length, and only for tasks whose run matched the protocol's recipe (batch,
finished schedule, precision, evaluation resize); a row's note names each difference.
Every measured value carries its bootstrap confidence interval and every delta its paired
interval, from the per-sample results each evaluation keeps (`--resamples`, `--confidence`).
Prints the table, writes results.{md,csv,tex} and two PNG plots, and prints their paths.
"""
import argparse
import importlib
import sys
from pathlib import Path

# Any script in tools/ puts tools/ first on sys.path, so `import tabulate` (PyPI's table
# printer, imported by torch's dynamo, flop counter, ...) finds this file: drop tools/
# from the path and, when imported rather than run, hand the import over to PyPI's module.
TOOLS = Path(__file__).parent.resolve()
sys.path[:] = [p for p in sys.path if Path(p or '.').resolve() != TOOLS]
if __name__ == 'tabulate':
    del sys.modules['tabulate']
    sys.modules['tabulate'] = importlib.import_module('tabulate')  # or ImportError, as if
    # this file were not there
else:
    from mixedae.tabulate import Bootstrap, TabulateError, tabulate  # noqa: E402

PUBLISHED = Path(__file__).resolve().parents[1] / 'benchmarks' / 'published_results.json'


def parse_run(text: str) -> tuple[str, str, Path]:
    """'METHOD:TASK=PATH' -> (method, task, path)."""
    name, sep, path = text.partition('=')
    method, colon, task = name.partition(':')
    if not (sep and colon and method and task and path):
        raise argparse.ArgumentTypeError(f'{text!r} is not METHOD:TASK=PATH')
    return method, task, Path(path)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='*', type=Path, metavar='WORK_DIR',
                        help='study root laid out as <method>/<task>/<timestamp>/')
    parser.add_argument('--run', action='append', type=parse_run, default=[],
                        metavar='METHOD:TASK=PATH',
                        help='one task of a method from a run folder or work_dir made with '
                             'any tool (repeatable)')
    parser.add_argument('--baseline', default='mae',
                        help='method folder the deltas and the cost ratio refer to')
    parser.add_argument('--out-dir', type=Path,
                        help='where tables and plots go (default: <first WORK_DIR>/tables, '
                             'or ./tables with --run only)')
    parser.add_argument('--published', type=Path, default=PUBLISHED,
                        help='published reference numbers (JSON)')
    parser.add_argument('--resamples', type=int, default=1000,
                        help='bootstrap resamples of the confidence intervals')
    parser.add_argument('--confidence', type=float, default=0.95,
                        help='confidence level of the intervals')
    args = parser.parse_args(argv)
    if args.resamples < 100 or not 0 < args.confidence < 1:
        parser.error('--resamples must be >= 100 and --confidence in (0, 1)')
    if not args.work_dirs and not args.run:
        parser.error('give a WORK_DIR or --run')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    out_dir = args.out_dir or (args.work_dirs[0] if args.work_dirs else Path()) / 'tables'
    runs: dict[str, dict[str, Path]] = {}
    for method, task, path in args.run:
        runs.setdefault(method, {})[task] = path
    try:
        text, written = tabulate(args.work_dirs, args.published, out_dir, args.baseline,
                                 runs, Bootstrap(args.confidence, args.resamples))
    except TabulateError as e:
        sys.exit(f'error: {e}')
    print(text)
    for path in written:
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
