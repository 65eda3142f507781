"""Is the study's cost column a property of the methods, not of the machine's load?

    python benchmarks/cost_stage_check.py load  [--pipeline configs/pipelines/demo.py]
        [--hogs 1] [--tolerance 0.05]
    python benchmarks/cost_stage_check.py vit-b [--batch 16] [--repeats 5]

``load``: runs the pipeline's cost stage twice (``tools/run_pipeline.py PIPELINE --only
cost`` in two scratch study roots), the second time with ``--hogs`` processes spinning on
the CPU beside it, and prints every method's ratio from both runs and their relative
difference; exit status 1 if one differs by more than ``--tolerance`` (5 %).

``vit-b``: the cost stage of the ViT-B/16 study (``configs/pipelines/imagenet_vit-base.py``
with the per-device batch set to ``--batch``, on this CPU) against
``benchmarks/pretrain_step_cpu.py`` at the same shapes; both call
``mixedae.benchmark.measure_costs``. Exit status 1 if a stage ratio lies outside the
benchmark's interquartile range.
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_PIPELINE = ROOT / 'tools' / 'run_pipeline.py'


def run_cost_stage(pipeline: Path, work_root: Path, cwd: Path) -> dict:
    """``tools/run_pipeline.py PIPELINE --only cost``; the record it wrote."""
    subprocess.run([sys.executable, str(RUN_PIPELINE), str(pipeline), '--work-root',
                    str(work_root), '--only', 'cost', '--force-stage', 'cost'], cwd=cwd,
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads((work_root / 'cost' / 'step_time.json').read_text())


def check_load(args: argparse.Namespace) -> int:
    scratch = Path(tempfile.mkdtemp(prefix='cost_check_'))
    quiet = run_cost_stage(args.pipeline.resolve(), scratch / 'quiet', ROOT)
    hogs = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(args.hogs)]
    try:
        loaded = run_cost_stage(args.pipeline.resolve(), scratch / 'loaded', ROOT)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    print(f'{quiet["device_name"]}; {quiet["repeats"]} rounds of {quiet["steps"]} steps; '
          f'second run beside {args.hogs} CPU hog(s)')
    print(f"{'method':<12} {'run 1':>22} {'run 2 (hog)':>22} {'difference':>11}")
    worst = 0.
    for name, first in quiet['ratios'].items():
        second = loaded['ratios'][name]
        diff = second['median'] / first['median'] - 1
        worst = max(worst, abs(diff))
        print(f"{name:<12} {first['median']:7.3f} [{first['low']:.3f}, {first['high']:.3f}] "
              f"{second['median']:7.3f} [{second['low']:.3f}, {second['high']:.3f}] "
              f'{diff:+10.1%}')
    print(f'largest difference {worst:.1%} (tolerance {args.tolerance:.0%}): '
          f'{"ok" if worst <= args.tolerance else "FAILED"}')
    return 0 if worst <= args.tolerance else 1


def benchmark_ratios(batch: int, repeats: int) -> dict[str, tuple[float, float, float]]:
    """benchmarks/pretrain_step_cpu.py's ratio and interquartile range per variant."""
    out = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / 'pretrain_step_cpu.py'),
                          '--batch', str(batch), '--repeats', str(repeats), '--variants',
                          'mae', 'naive_mix', 'mixedae'], check=True, capture_output=True,
                         text=True).stdout
    print(out)
    rows = {}
    for line in out.splitlines():
        match = re.match(r'(\w+)\s+\S+\s+\S+\s+(\S+)\s+(\S+)-(\S+)\s', line)
        if match and match[1] in ('mae', 'naive_mix', 'mixedae'):
            rows[match[1]] = tuple(float(match[i]) for i in (2, 3, 4))
    return rows


def check_vit_b(args: argparse.Namespace) -> int:
    from mmengine.config import Config
    scratch = Path(tempfile.mkdtemp(prefix='cost_check_vitb_'))
    cfg = Config.fromfile(str(ROOT / 'configs' / 'pipelines' / 'imagenet_vit-base.py'))
    cfg.cost = dict(batch=args.batch, repeats=args.repeats, steps=1, warmup=1)
    pipeline = scratch / 'vit-b_cpu.py'
    cfg.dump(str(pipeline))
    stage = run_cost_stage(pipeline, scratch / 'study', ROOT)
    print(f'cost stage: {stage["device_name"]}, batch {args.batch}, {args.repeats} rounds')
    bench = benchmark_ratios(args.batch, args.repeats)
    ok = True
    for name, (median, low, high) in bench.items():
        r = stage['ratios'][name]
        inside = low <= r['median'] <= high
        ok &= inside
        print(f"{name:<10} stage {r['median']:.3f} [{r['low']:.3f}, {r['high']:.3f}]  "
              f'benchmark {median:.3f} [{low:.3f}, {high:.3f}]  '
              f'{"within" if inside else "OUTSIDE"} the benchmark\'s spread')
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='check', required=True)
    load = sub.add_parser('load', help='two runs of the cost stage, one beside CPU hogs')
    load.add_argument('--pipeline', type=Path,
                      default=ROOT / 'configs' / 'pipelines' / 'demo.py')
    load.add_argument('--hogs', type=int, default=1)
    load.add_argument('--tolerance', type=float, default=0.05)
    vit = sub.add_parser('vit-b', help='the stage at ViT-B CPU shapes vs the CPU benchmark')
    vit.add_argument('--batch', type=int, default=16)
    vit.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    return check_load(args) if args.check == 'load' else check_vit_b(args)


if __name__ == '__main__':
    sys.exit(main())
