"""Tabulate MixedAE studies against MAE and the published numbers.

Usage: python tools/tabulate.py WORK_DIR [WORK_DIR ...] [--baseline mae] [--out-dir DIR]

Each WORK_DIR is a study root `ROOT/<method>/<task>/<timestamp>/` (see mixedae.tabulate).
Beside each study stand only the published references of the same protocol, backbone and
pre-training length. Prints the table, writes results.{md,csv,tex} and two PNG plots, and
prints their paths.
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
    from mixedae.tabulate import TabulateError, tabulate  # noqa: E402

PUBLISHED = Path(__file__).resolve().parents[1] / 'benchmarks' / 'published_results.json'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+', type=Path, metavar='WORK_DIR',
                        help='study root laid out as <method>/<task>/<timestamp>/')
    parser.add_argument('--baseline', default='mae',
                        help='method folder the deltas and the cost ratio refer to')
    parser.add_argument('--out-dir', type=Path,
                        help='where tables and plots go (default: <first WORK_DIR>/tables)')
    parser.add_argument('--published', type=Path, default=PUBLISHED,
                        help='published reference numbers (JSON)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    out_dir = args.out_dir or args.work_dirs[0] / 'tables'
    try:
        text, written = tabulate(args.work_dirs, args.published, out_dir, args.baseline)
    except TabulateError as e:
        sys.exit(f'error: {e}')
    print(text)
    for path in written:
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
