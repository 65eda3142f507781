"""One pre-training optimizer step of MixedAE vs mmpretrain's MAE on the CPU (issue 3).

The models come from the project's ViT-B/16 configs (224 px, the same per-image batch,
fp32); a step is forward + backward + AdamW step. Time: the variants interleaved in one
process after a warm-up step each, median over the repeats of the wall-clock time and of
the process CPU time (the CPU time is the steadier figure when other jobs share the
cores). Memory: each variant in its own subprocess; the peak resident set (VmHWM, reset
through /proc/self/clear_refs once the model and the AdamW state exist) above that
baseline is the step's peak, printed with the whole-process peak.

A variant ``mixedae:<attn_impl>`` runs MixedAE with that Top-K attention kernel.

    python benchmarks/pretrain_step_cpu.py [--batch 16] [--repeats 7] [--threads 2]
        [--variants mae mixedae mixedae:reference naive_mix] [--tiny]
"""
import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import torch

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


def build(variant: str, tiny: bool = False,
          device: str = 'cpu') -> Tuple[torch.nn.Module, torch.optim.Optimizer]:
    """Model of ``variant`` (``name`` or ``mixedae:<attn_impl>``) in train mode on
    ``device``, and an AdamW (fused on CUDA) whose state is already allocated."""
    import mixedae  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    name, _, attn_impl = variant.partition(':')
    cfg = Config.fromfile(str(ROOT / 'configs' / (TINY_CONFIGS if tiny else CONFIGS)[name]))
    if attn_impl:
        cfg.model.backbone.attn_impl = attn_impl
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95),
                                  fused=device.startswith('cuda') or None)
    for p in model.parameters():                       # allocate exp_avg / exp_avg_sq
        p.grad = torch.zeros_like(p)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return model, optimizer


def image_size(tiny: bool) -> int:
    return 32 if tiny else 224


def step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         images: torch.Tensor) -> None:
    """Forward, backward and AdamW step."""
    loss, _ = model.parse_losses(model(images, mode='loss'))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


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
    """(Run in a subprocess.) Peak RSS of two steps, total and above the baseline."""
    model, optimizer = build(variant, tiny)
    size = image_size(tiny)
    images = torch.randn(batch, 3, size, size)
    baseline = status_kib('VmRSS:')
    Path('/proc/self/clear_refs').write_text('5')     # reset VmHWM to the current RSS
    for _ in range(2):
        step(model, optimizer, images)
    peak = status_kib('VmHWM:')
    return dict(step_peak_mib=(peak - baseline) / 1024, total_peak_mib=peak / 1024)


def time_interleaved(variants: List[str], batch: int, repeats: int,
                     tiny: bool) -> Dict[str, Dict[str, float]]:
    """Median wall and CPU seconds per step, variants interleaved after a warm-up."""
    torch.manual_seed(0)
    built = {v: build(v, tiny) for v in variants}
    size = image_size(tiny)
    images = torch.randn(batch, 3, size, size)
    for v in variants:
        step(*built[v], images)
    wall = {v: [] for v in variants}
    cpu = {v: [] for v in variants}
    for _ in range(repeats):
        for v in variants:
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            step(*built[v], images)
            wall[v].append(time.perf_counter() - start_wall)
            cpu[v].append(time.process_time() - start_cpu)
    return {v: dict(wall=statistics.median(wall[v]), cpu=statistics.median(cpu[v]))
            for v in variants}


def memory_in_subprocess(variant: str, args: argparse.Namespace) -> Dict[str, float]:
    command = [sys.executable, __file__, '--memory-of', variant, '--batch', str(args.batch),
               '--threads', str(args.threads)] + (['--tiny'] if args.tiny else [])
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(variants: List[str], times: dict, memory: dict) -> None:
    base = variants[0]
    print(f"{'variant':<22} {'wall s':>7} {'ratio':>6} {'cpu s':>7} {'ratio':>6} "
          f"{'step peak MiB':>14} {'ratio':>6} {'process peak MiB':>17} {'ratio':>6}")
    for v in variants:
        t, m = times[v], memory[v]
        print(f"{v:<22} {t['wall']:7.3f} {t['wall'] / times[base]['wall']:6.3f} "
              f"{t['cpu']:7.3f} {t['cpu'] / times[base]['cpu']:6.3f} "
              f"{m['step_peak_mib']:14.0f} "
              f"{m['step_peak_mib'] / memory[base]['step_peak_mib']:6.3f} "
              f"{m['total_peak_mib']:17.0f} "
              f"{m['total_peak_mib'] / memory[base]['total_peak_mib']:6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=16, help='images per step')
    parser.add_argument('--repeats', type=int, default=7)
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
          f'fp32, {args.threads} threads, {args.repeats} interleaved repeats, '
          f'torch {torch.__version__}; ratios to {args.variants[0]}')
    memory = {v: memory_in_subprocess(v, args) for v in args.variants}
    times = time_interleaved(args.variants, args.batch, args.repeats, args.tiny)
    print_table(args.variants, times, memory)


if __name__ == '__main__':
    main()
