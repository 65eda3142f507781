"""One pre-training optimizer step of MixedAE vs mmpretrain's MAE on the CPU.

Both models come from the project's ViT-B/16 configs (224 px, the same per-image batch).
Time: forward + backward + AdamW step, the variants interleaved in one process after a
warm-up, median of the repeats. Memory: each variant in its own subprocess; the peak
resident set (VmHWM, reset through /proc/self/clear_refs once the model and the AdamW
state exist) above that baseline is the step's peak, reported with the whole-process peak.

    python benchmarks/pretrain_step_cpu.py [--batch 16] [--repeats 5] [--threads 2]
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    'mae': 'configs/mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py',
    'naive_mix': 'configs/naive_mix/naive-mix_vit-base-p16_8xb512-amp-coslr-800e_in1k.py',
    'mixedae': 'configs/mixedae/mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py',
}


def build(name: str):
    """Model (train mode) and AdamW with its state allocated."""
    import mixedae  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(ROOT / CONFIGS[name]))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95))
    for p in model.parameters():                       # allocate exp_avg / exp_avg_sq
        p.grad = torch.zeros_like(p)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return model, optimizer


def step(model, optimizer, images: torch.Tensor) -> None:
    losses = model(images, mode='loss')
    loss, _ = model.parse_losses(losses)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def kib(field: str) -> int:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def measure_memory(name: str, batch: int) -> dict:
    """Run in a subprocess: peak RSS of two steps, total and above the baseline."""
    model, optimizer = build(name)
    images = torch.randn(batch, 3, 224, 224)
    baseline = kib('VmRSS:')
    Path('/proc/self/clear_refs').write_text('5')     # reset VmHWM to the current RSS
    for _ in range(2):
        step(model, optimizer, images)
    peak = kib('VmHWM:')
    return dict(step_peak_mib=(peak - baseline) / 1024, total_peak_mib=peak / 1024)


def time_interleaved(names, batch: int, repeats: int) -> dict:
    torch.manual_seed(0)
    built = {n: build(n) for n in names}
    images = torch.randn(batch, 3, 224, 224)
    for n in names:                                    # warm-up
        step(*built[n], images)
    times = {n: [] for n in names}
    for _ in range(repeats):
        for n in names:
            start = time.perf_counter()
            step(*built[n], images)
            times[n].append(time.perf_counter() - start)
    return {n: statistics.median(t) for n, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=16, help='images per step')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--variants', nargs='+', default=['mae', 'mixedae'],
                        choices=list(CONFIGS))
    parser.add_argument('--memory-of', help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_of:
        print(json.dumps(measure_memory(args.memory_of, args.batch)))
        return

    print(f'ViT-B/16, 224 px, batch {args.batch}, fp32, {args.threads} threads, '
          f'torch {torch.__version__}')
    memory = {}
    for name in args.variants:
        out = subprocess.run([sys.executable, __file__, '--memory-of', name, '--batch',
                              str(args.batch), '--threads', str(args.threads)],
                             check=True, capture_output=True, text=True)
        memory[name] = json.loads(out.stdout.strip().splitlines()[-1])
    times = time_interleaved(args.variants, args.batch, args.repeats)
    base = args.variants[0]
    print(f"{'variant':<10} {'s/step':>8} {'ratio':>6} {'step peak MiB':>14} {'ratio':>6} "
          f"{'process peak MiB':>17} {'ratio':>6}")
    for name in args.variants:
        m, b = memory[name], memory[base]
        print(f'{name:<10} {times[name]:8.3f} {times[name] / times[base]:6.3f} '
              f"{m['step_peak_mib']:14.0f} {m['step_peak_mib'] / b['step_peak_mib']:6.3f} "
              f"{m['total_peak_mib']:17.0f} {m['total_peak_mib'] / b['total_peak_mib']:6.3f}")


if __name__ == '__main__':
    main()
