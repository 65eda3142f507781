"""Pre-training cost of several methods: their training steps timed side by side.

:func:`measure_costs` is the one measurement behind the study's cost stage
(``tools/measure_cost.py``) and ``benchmarks/pretrain_step_cpu.py``; it returns a
JSON-able record::

    {"device": "cpu", "device_name": "cpu: <model>, 1 thread", "clock": "cpu",
     "baseline": "mae", "repeats": 20, "warmup": 2, "steps": 5, "torch": "2.14.1",
     "methods": {"mae": {"batch": 32, "img_size": 32, "precision": "fp32",
                         "seconds": 0.031, "wall_s": [...], "cpu_s": [...]}, ...},
     "ratios": {"mixedae": {"median": 1.21, "low": 1.19, "high": 1.23}, ...},
     "failed": {}}

``seconds`` is the median step time on ``clock``; ``ratios`` (empty without the
baseline) are per-round ratios to the baseline: median and interquartile range. A config
that cannot be built or stepped (say, a batch its mix ratio does not divide) is left out
of the timing and named under ``failed`` with its error; the others are still measured.
"""
from typing import Optional

import torch
from mmengine.config import Config

from .step_time import (StepCase, build_train_step, clock_for, default_device,
                        device_description, image_size, paired_ratios, time_interleaved)


def precision(cfg: Config, device: torch.device) -> str:
    """How the step computes: the config's AMP on an accelerator, else fp32."""
    amp = cfg.optim_wrapper.get('type') == 'AmpOptimWrapper'
    if device.type != 'cpu' and amp:
        return f'amp ({cfg.optim_wrapper.get("dtype") or "float16"})'
    return 'fp32'


def measure_costs(configs: dict[str, Config], baseline: str,
                  device: Optional[torch.device] = None, batch: Optional[int] = None,
                  repeats: int = 5, warmup: int = 1, steps: int = 1) -> dict:
    """Build every config's training step on ``device`` (default: where a Runner would
    train), time them interleaved and return the record described above.

    ``batch`` overrides the configs' per-device batch (e.g. a GPU study's at CPU shapes).
    """
    device = device or default_device()
    torch.manual_seed(0)
    cases, methods, failed = [], {}, {}
    for name, cfg in configs.items():
        try:
            _, _, step = build_train_step(cfg, device, batch)
            for _ in range(warmup):
                step()
        except Exception as e:  # one unusable config must not cost the others' column
            failed[name] = f'{type(e).__name__}: {e}'
            continue
        cases.append(StepCase(name, step))
        methods[name] = dict(batch=batch or cfg.train_dataloader.batch_size,
                             img_size=image_size(cfg), precision=precision(cfg, device))
    if not cases:
        raise ValueError('no config could be stepped: ' + '; '.join(
            f'{name}: {error}' for name, error in failed.items()))
    times = time_interleaved(cases, repeats, 0, steps, device)
    clock = clock_for(device)
    for name, timed in times.items():
        methods[name].update(seconds=timed.median(clock), wall_s=timed.wall, cpu_s=timed.cpu)
    ratios = paired_ratios(times, baseline, clock) if baseline in times else {}
    return dict(device=str(device), device_name=device_description(device), clock=clock,
                baseline=baseline, repeats=repeats, warmup=warmup, steps=steps,
                torch=torch.__version__, methods=methods,
                ratios={name: vars(r) for name, r in ratios.items()}, failed=failed)
