"""One pre-training step of MixedAE vs mmpretrain's MAE on the CPU (issue 3).

The models come from the project's ViT-B/16 configs (224 px, fp32: the configs' AMP is
for accelerators); a step is the Runner's ``train_step`` (preprocessing, forward, loss,
backward, the config's AdamW) on a synthetic batch. Time: ``mixedae.benchmark.
measure_costs``, the measurement of the study's cost stage: the variants interleaved in
one process after warm-up steps, medians over the rounds of the wall-clock and the process
CPU time; the ratio is the median of the per-round CPU-time ratios (the steadier figure
when other jobs share the cores) with their interquartile range. Memory: each variant in
its own subprocess; the peak resident set (VmHWM, reset through /proc/self/clear_refs once
the model and the AdamW state exist) above that baseline is the step's peak, printed with
the whole-process peak.

A variant ``mixedae:<attn_impl>`` runs MixedAE with that Top-K attention kernel.

    python benchmarks/pretrain_step_cpu.py [--batch 16] [--repeats 7] [--warmup 1]
        [--threads 2] [--variants mae mixedae mixedae:reference naive_mix] [--tiny]
"""
import argparse
import json
import logging
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import torch
from mmengine.config import Config

from mixedae.benchmark import build_train_step, measure_costs

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    'mae': 'mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py',
    'naive_mix': 'naive_mix/naive-mix_vit-base-p16_8xb512-amp-coslr-800e_in1k.py',
    'mixedae': 'mixedae/mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py',
}
TINY_CONFIGS = {
    'mae': 'demo/mae_vit-tiny-p8_1xb32-300i_tiny.py',
    'naive_mix': 'demo/naive-mix_vit-tiny-p8_1xb32-300i_tiny.py',
    'mixedae': 'demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py',
}


def variant_config(variant: str, tiny: bool = False) -> Config:
    """The pre-training config of ``variant`` (``name`` or ``mixedae:<attn_impl>``)."""
    name, _, attn_impl = variant.partition(':')
    cfg = Config.fromfile(str(ROOT / 'configs' / (TINY_CONFIGS if tiny else CONFIGS)[name]))
    if attn_impl:
        cfg.model.backbone.attn_impl = attn_impl
    return cfg


def quiet_mmengine() -> None:
    """Keep mmengine's per-parameter ``init_weights`` report off the output."""
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.WARNING)


def status_kib(field: str) -> int:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def measure_memory(variant: str, batch: int, tiny: bool) -> Dict[str, float]:
    """(Run in a subprocess.) Peak RSS of two steps, total and above the baseline (the
    model and its AdamW state, allocated by a first step)."""
    _, _, step = build_train_step(variant_config(variant, tiny), torch.device('cpu'), batch)
    step()
    baseline = status_kib('VmRSS:')
    Path('/proc/self/clear_refs').write_text('5')     # reset VmHWM to the current RSS
    for _ in range(2):
        step()
    peak = status_kib('VmHWM:')
    return dict(step_peak_mib=(peak - baseline) / 1024, total_peak_mib=peak / 1024)


def memory_in_subprocess(variant: str, args: argparse.Namespace) -> Dict[str, float]:
    command = [sys.executable, __file__, '--memory-of', variant, '--batch', str(args.batch),
               '--threads', str(args.threads)] + (['--tiny'] if args.tiny else [])
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(variants: List[str], record: dict, memory: dict) -> None:
    base = variants[0]
    print(f"{'variant':<22} {'wall s':>7} {'cpu s':>7} {'ratio':>6} {'IQR':>13} "
          f"{'step peak MiB':>14} {'ratio':>6} {'process peak MiB':>17} {'ratio':>6}")
    for v in variants:
        t, r, m = record['methods'][v], record['ratios'][v], memory[v]
        print(f"{v:<22} {statistics.median(t['wall_s']):7.3f} "
              f"{statistics.median(t['cpu_s']):7.3f} {r['median']:6.3f} "
              f"{r['low']:6.3f}-{r['high']:<6.3f} {m['step_peak_mib']:14.0f} "
              f"{m['step_peak_mib'] / memory[base]['step_peak_mib']:6.3f} "
              f"{m['total_peak_mib']:17.0f} "
              f"{m['total_peak_mib'] / memory[base]['total_peak_mib']:6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=16, help='images per step')
    parser.add_argument('--repeats', type=int, default=7, help='interleaved rounds')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps per variant')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--variants', nargs='+', default=['mae', 'mixedae'],
                        help=f'{list(CONFIGS)} or mixedae:<attn_impl>; the first is '
                        'the baseline of the ratios')
    parser.add_argument('--tiny', action='store_true',
                        help='the configs/demo models at 32 px (a smoke test)')
    parser.add_argument('--memory-of', help=argparse.SUPPRESS)
    args = parser.parse_args()
    for v in args.variants:
        if v.partition(':')[0] not in CONFIGS:
            parser.error(f'unknown variant {v!r}; choose from {list(CONFIGS)}')
    torch.set_num_threads(args.threads)
    quiet_mmengine()
    if args.memory_of:
        print(json.dumps(measure_memory(args.memory_of, args.batch, args.tiny)))
        return

    print(f"{'tiny ViT, 32' if args.tiny else 'ViT-B/16, 224'} px, batch {args.batch}, "
          f'fp32, {args.threads} threads, {args.repeats} interleaved rounds, '
          f'torch {torch.__version__}; ratios to {args.variants[0]}')
    memory = {v: memory_in_subprocess(v, args) for v in args.variants}
    record = measure_costs({v: variant_config(v, args.tiny) for v in args.variants},
                           args.variants[0], torch.device('cpu'), args.batch, args.repeats,
                           args.warmup)
    print_table(args.variants, record, memory)


if __name__ == '__main__':
    main()
