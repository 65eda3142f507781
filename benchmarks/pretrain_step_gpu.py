"""Pre-training step on a GPU: MAE vs naive mixing vs MixedAE, eager and compiled (issue 6).

The project's real modules from its ViT-B/16 configs (mmpretrain's MAE; MixedAE's mixing,
unmixing, decoder and losses), bf16 autocast, a fused AdamW step, 256 images per step by
default. For every variant and mode it prints ms/step and img/s (median over interleaved
repeats after a warm-up), the ratio to MAE in the same mode, peak memory
(``torch.cuda.max_memory_allocated`` during a step, plus the variant's own parameters and
AdamW state), and the model-FLOPs utilisation: FLOPs of one forward + backward counted by
``torch.utils.flop_counter.FlopCounterMode`` (Top-K attention as the reference computes
it, each logit once), per second, over ``--peak-tflops`` (default: H100 SXM bf16 dense,
989 TFLOP/s). ``mixedae:<attn_impl>`` rows compare the Top-K kernels.

    python benchmarks/pretrain_step_gpu.py [--batch 256] [--modes eager compiled]
        [--attn-impls auto sdpa_mask flex topk_softmax reference] [--peak-tflops 989]
    python benchmarks/pretrain_step_gpu.py --device cpu --tiny      # smoke test, seconds
"""
import argparse
import statistics
import time
from typing import Callable, Dict, List, NamedTuple

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from mixedae.models import HomologousAttention
from pretrain_step_cpu import quiet_mmengine, variant_config

H100_SXM_BF16_TFLOPS = 989.


class Case(NamedTuple):
    variant: str
    mode: str
    forward: Callable           # images -> losses dict
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    resident_bytes: int         # parameters + AdamW state on the device


def build(variant: str, tiny: bool,
          device: torch.device) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """Model of ``variant`` in train mode on ``device``, and a fused AdamW (on CUDA) whose
    state is already allocated."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(variant_config(variant, tiny).model)
    model.init_weights()
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95),
                                  fused=device.type == 'cuda' or None)
    for p in model.parameters():                       # allocate exp_avg / exp_avg_sq
        p.grad = torch.zeros_like(p)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return model, optimizer


def train_step(case: Case, images: torch.Tensor) -> None:
    """bf16-autocast forward, backward, AdamW step."""
    with torch.autocast(images.device.type, dtype=torch.bfloat16):
        losses = case.forward(images, mode='loss')
    loss, _ = case.model.parse_losses(losses)
    loss.backward()
    case.optimizer.step()
    case.optimizer.zero_grad(set_to_none=True)


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def allocated(device: torch.device) -> int:
    return torch.cuda.memory_allocated(device) if device.type == 'cuda' else 0


def float_drop_probs(model: torch.nn.Module) -> None:
    """mmpretrain's ViT keeps each block's drop-path rate as a numpy scalar, which
    torch.compile lifts to a graph input and branches on (a graph break per block);
    Python floats of the same value keep MAE's graph whole, as MixedAEViT's already are."""
    for module in model.modules():
        if isinstance(getattr(module, 'drop_prob', None), np.floating):
            module.drop_prob = float(module.drop_prob)


def build_cases(variants: List[str], modes: List[str], args: argparse.Namespace,
                device: torch.device) -> List[Case]:
    """One model per variant, shared by its eager and compiled modes."""
    cases = []
    for variant in variants:
        before = allocated(device)
        model, optimizer = build(variant, args.tiny, device)
        resident = allocated(device) - before
        float_drop_probs(model)
        for mode in modes:
            forward = model if mode == 'eager' else \
                torch.compile(model, backend=args.compile_backend)
            cases.append(Case(variant, mode, forward, model, optimizer, resident))
    return cases


def count_model_flops(case: Case, images: torch.Tensor) -> int:
    """FLOPs of one eager forward + backward (the optimizer step is not model FLOPs),
    Top-K attention counted as the reference computes it: each logit once, so every
    MixedAE kernel gets the same model FLOPs (a fused kernel's recomputation is not)."""
    attentions = [m for m in case.model.modules() if isinstance(m, HomologousAttention)]
    impls = [m.attn_impl for m in attentions]
    for m in attentions:
        m.attn_impl = 'reference'
    with FlopCounterMode(display=False) as counter:
        with torch.autocast(images.device.type, dtype=torch.bfloat16):
            losses = case.model(images, mode='loss')
        case.model.parse_losses(losses)[0].backward()
    case.optimizer.zero_grad(set_to_none=True)
    for m, impl in zip(attentions, impls):
        m.attn_impl = impl
    return counter.get_total_flops()


def step_peak_bytes(case: Case, images: torch.Tensor) -> float:
    """Peak memory of one step: the step's own peak plus the variant's resident state."""
    device = images.device
    if device.type != 'cuda':
        return float('nan')
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    train_step(case, images)
    synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before + case.resident_bytes


def time_interleaved(cases: List[Case], images: torch.Tensor, steps: int,
                     repeats: int) -> Dict[Case, float]:
    """Median seconds per step over ``repeats`` rounds of ``steps`` steps per case."""
    seconds = {case: [] for case in cases}
    for _ in range(repeats):
        for case in cases:
            synchronize(images.device)
            start = time.perf_counter()
            for _ in range(steps):
                train_step(case, images)
            synchronize(images.device)
            seconds[case].append((time.perf_counter() - start) / steps)
    return {case: statistics.median(s) for case, s in seconds.items()}


def print_table(cases: List[Case], seconds: Dict[Case, float], flops: Dict[str, int],
                peaks: Dict[Case, float], batch: int, peak_tflops: float) -> None:
    mae = {case.mode: case for case in cases if case.variant == 'mae'}
    print(f"{'variant':<22} {'mode':<9} {'ms/step':>8} {'img/s':>8} {'vs MAE':>7} "
          f"{'peak GiB':>9} {'vs MAE':>7} {'GFLOP':>10} {'MFU %':>6}")
    for case in cases:
        base = mae.get(case.mode)
        ratio = seconds[case] / seconds[base] if base else float('nan')
        mem_ratio = peaks[case] / peaks[base] if base else float('nan')
        mfu = flops[case.variant] / seconds[case] / (peak_tflops * 1e12) * 100
        print(f'{case.variant:<22} {case.mode:<9} {seconds[case] * 1e3:8.1f} '
              f'{batch / seconds[case]:8.0f} {ratio:7.3f} {peaks[case] / 2**30:9.2f} '
              f'{mem_ratio:7.3f} {flops[case.variant] / 1e9:10.5g} {mfu:6.1f}')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--tiny', action='store_true',
                        help='the configs/demo models at 32 px, batch 8 (smoke test)')
    parser.add_argument('--batch', type=int, help='images per step (256; --tiny: 8)')
    parser.add_argument('--steps', type=int, help='steps per timed round (10; --tiny: 1)')
    parser.add_argument('--repeats', type=int, help='interleaved rounds (5; --tiny: 1)')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps per case')
    parser.add_argument('--modes', nargs='+', default=['eager', 'compiled'],
                        choices=['eager', 'compiled'])
    parser.add_argument('--compile-backend', default='inductor')
    parser.add_argument('--attn-impls', nargs='+', default=['auto'],
                        help="MixedAE Top-K kernels to run ('auto' is the default)")
    parser.add_argument('--peak-tflops', type=float, default=H100_SXM_BF16_TFLOPS,
                        help='accelerator peak for MFU, TFLOP/s (H100 SXM bf16 dense)')
    args = parser.parse_args()
    tiny_defaults, gpu_defaults = dict(batch=8, steps=1, repeats=1), \
        dict(batch=256, steps=10, repeats=5)
    for key, value in (tiny_defaults if args.tiny else gpu_defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main() -> None:
    args = parse_args()
    quiet_mmengine()
    device = torch.device(args.device)
    torch.manual_seed(0)
    variants = ['mae', 'naive_mix'] + [
        'mixedae' if impl == 'auto' else f'mixedae:{impl}' for impl in args.attn_impls]
    size = 32 if args.tiny else 224
    images = torch.randn(args.batch, 3, size, size, device=device)
    on = f'fused AdamW on {torch.cuda.get_device_name(device)}' if device.type == 'cuda' \
        else 'AdamW on the CPU (no memory figures)'
    print(f"{'tiny ViT, 32' if args.tiny else 'ViT-B/16, 224'} px, batch {args.batch}, "
          f'bf16 autocast, {on}, torch {torch.__version__}; median of '
          f'{args.repeats} interleaved rounds of {args.steps} steps; MFU against '
          f'{args.peak_tflops:g} TFLOP/s')
    cases = build_cases(variants, args.modes, args, device)
    for case in cases:
        for _ in range(args.warmup):
            train_step(case, images)
    flops = {case.variant: count_model_flops(case, images)
             for case in cases if case.mode == args.modes[0]}
    peaks = {case: step_peak_bytes(case, images) for case in cases}
    seconds = time_interleaved(cases, images, args.steps, args.repeats)
    print_table(cases, seconds, flops, peaks, args.batch, args.peak_tflops)


if __name__ == '__main__':
    main()
