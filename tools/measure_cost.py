"""Measure a study's pre-training cost: every method's training step, side by side.

    python tools/measure_cost.py PIPELINE_CONFIG [--work-root DIR] [--out JSON]
        [--batch N] [--repeats N] [--steps N] [--warmup N] [--device cpu|cuda]

Builds each method's pre-training config with the study's overrides (the model,
resolution and per-device batch it trains with: the recipe's total batch over the
processes of the study's pre-training stages, as those stages set it), times their
training steps interleaved in this one process on the device training uses
(``mixedae.benchmark.measure_costs``) and writes ``ROOT/cost/step_time.json``, which the table's cost column reads. The pipeline
config's ``cost = dict(repeats=..., steps=..., warmup=..., batch=...)`` sets the
measurement; the options here override it. A method given as a checkpoint has no
pre-training config and is not measured.
"""
import argparse
import json
import logging
import sys
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from mixedae.atomic_write import write_atomically
from mixedae.benchmark import measure_costs
from mixedae.pipeline.spec import PipelineConfigError, load_spec
from mixedae.pipeline.stages import total_batch_options
from mixedae.study import Study


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='pipeline config, e.g. configs/pipelines/demo.py')
    parser.add_argument('--work-root', help="study root (overrides the config's work_root)")
    parser.add_argument('--out', type=Path, help='JSON to write (default: ROOT/cost/step_time.json)')
    parser.add_argument('--device', help='cpu, cuda or cuda:N (default: where training runs)')
    for name, help_text in (('batch', "images per step (default: each config's per-device "
                                      'batch)'),
                            ('repeats', 'interleaved rounds'),
                            ('steps', 'steps per method and round'),
                            ('warmup', 'untimed steps per method first')):
        parser.add_argument(f'--{name}', type=int, help=help_text)
    return parser.parse_args()


def method_configs(spec) -> dict[str, Config]:
    """Each pre-trained method's config with the study's overrides, at the per-device
    batch of its pre-training stage (the recipe's total batch over that stage's
    processes)."""
    configs = {}
    for method in spec.methods:
        if not method.pretrains:
            print(f'{method.name}: {method.kind}, no pre-training step to time')
            continue
        cfg = method.load_config()
        cfg.merge_from_dict(total_batch_options(method.config, method.cfg_options,
                                                spec.world_size(f'{method.name}/pretrain')))
        configs[method.name] = cfg
    return configs


def print_record(record: dict) -> None:
    print(f"{record['device_name']}; {record['clock']} time, median of {record['repeats']} "
          f"interleaved rounds of {record['steps']} step(s) after {record['warmup']} warm-up")
    print(f"{'method':<16} {'batch':>5} {'px':>4} {'ms/step':>9}  "
          f"vs {record['baseline']} [interquartile range]")
    for name, m in record['methods'].items():
        r = record['ratios'].get(name)
        ratio = f"{r['median']:.3f} [{r['low']:.3f}, {r['high']:.3f}]" if r else ''
        print(f"{name:<16} {m['batch']:>5} {m['img_size']:>4} {m['seconds'] * 1e3:9.1f}  "
              f'{ratio}')
    for name, error in record['failed'].items():
        print(f'{name:<16} not measured: {error}')


def main() -> int:
    args = parse_args()
    try:
        spec = load_spec(args.config, args.work_root)
    except PipelineConfigError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # no init report
    settings = dict(spec.cost)
    settings.update({k: getattr(args, k) for k in ('batch', 'repeats', 'steps', 'warmup')
                     if getattr(args, k) is not None})
    configs = method_configs(spec)
    if not configs:
        print('error: no method has a pre-training config to time', file=sys.stderr)
        return 1
    device = torch.device(args.device) if args.device else None
    try:
        record = measure_costs(configs, spec.baseline, device, **settings)
    except ValueError as e:   # e.g. a batch the mix ratio does not divide
        print(f'error: {e}', file=sys.stderr)
        return 1
    out = args.out or Study(spec.work_root).cost_file
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, json.dumps(record, indent=1) + '\n')
    print_record(record)
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
