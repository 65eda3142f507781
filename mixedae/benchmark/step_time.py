"""Time the training steps of several pre-training configs side by side, in one process.

Each config's model and optim wrapper are built as the Runner builds them; a step is
``model.train_step(batch, optim_wrapper)`` (data preprocessor, forward, loss, backward,
optimizer step: everything of a Runner iteration but data loading) on a synthetic batch
of the config's per-device batch size and image size. Every case runs ``warmup`` untimed
steps, then ``repeats`` rounds in which the cases take turns running ``steps`` steps each,
so a change of the machine's load hits every case alike. A case's time is its median over
the rounds; its ratio to the baseline is the median of the per-round ratios (each round's
cases ran moments apart), with the interquartile range of those ratios as its spread.

On the CPU the clock is the process CPU time (wall-clock time is recorded too): other
jobs on the cores stretch the wall time of a step, not the work it does. On CUDA it is
the wall time between device synchronisations.
"""
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import DefaultScope

from ..engine.plain_param_groups import plain_param_groups


@dataclass
class StepCase:
    """One thing to time: ``step()`` runs one training step."""
    name: str
    step: Callable[[], None]


@dataclass
class StepTimes:
    """Seconds per step of one case, one entry per round."""
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def median(self, clock: str) -> float:
        return statistics.median(getattr(self, clock))


@dataclass(frozen=True)
class Ratio:
    """Median of the per-round time ratios and their interquartile range."""
    median: float
    low: float
    high: float


def synchronizer(device: torch.device) -> Callable[[], None]:
    """Wait for the device's queued work (no-op on the CPU)."""
    if device.type == 'cuda':
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def clock_for(device: torch.device) -> str:
    """'cpu' (process CPU time) on the CPU, 'wall' on an accelerator."""
    return 'cpu' if device.type == 'cpu' else 'wall'


def time_interleaved(cases: Sequence[StepCase], repeats: int, warmup: int = 1,
                     steps: int = 1, device: torch.device = torch.device('cpu')
                     ) -> dict[str, StepTimes]:
    """Warm every case up, then time ``repeats`` rounds of ``steps`` steps per case."""
    if repeats < 1 or steps < 1 or warmup < 0:
        raise ValueError(f'need repeats >= 1, steps >= 1, warmup >= 0; got {repeats}, '
                         f'{steps}, {warmup}')
    sync = synchronizer(device)
    for case in cases:
        for _ in range(warmup):
            case.step()
    times = {case.name: StepTimes() for case in cases}
    for _ in range(repeats):
        for case in cases:
            sync()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                case.step()
            sync()
            times[case.name].wall.append((time.perf_counter() - wall) / steps)
            times[case.name].cpu.append((time.process_time() - cpu) / steps)
    return times


def paired_ratios(times: dict[str, StepTimes], baseline: str, clock: str) -> dict[str, Ratio]:
    """Each case's time over the baseline's, round by round: median and quartiles."""
    base = getattr(times[baseline], clock)
    ratios = {}
    for name, case in times.items():
        per_round = [t / b for t, b in zip(getattr(case, clock), base)]
        if len(per_round) > 1:
            low, _, high = statistics.quantiles(per_round, n=4, method='inclusive')
        else:
            low = high = per_round[0]
        ratios[name] = Ratio(statistics.median(per_round), low, high)
    return ratios


def image_size(cfg: Config) -> int:
    """The square input size of a pre-training config's backbone."""
    size = cfg.model.backbone.get('img_size', 224)
    if isinstance(size, (tuple, list)):
        if len(set(size)) != 1:
            raise ValueError(f'non-square img_size {size} in the backbone config')
        size = size[0]
    return int(size)


def synthetic_batch(batch: int, size: int, device: torch.device) -> dict:
    """What the pre-training dataloader yields: uint8 BGR images and data samples."""
    from mmpretrain.structures import DataSample
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8,
                           generator=generator)
    return {'inputs': images.to(device), 'data_samples': [DataSample() for _ in range(batch)]}


def build_train_step(cfg: Config, device: torch.device,
                     batch: Optional[int] = None) -> tuple[torch.nn.Module, OptimWrapper,
                                                           Callable[[], None]]:
    """Model and optim wrapper of a pre-training config, and its training step.

    ``batch``: images per step (default: the config's per-device batch). On the CPU an
    ``AmpOptimWrapper`` becomes a plain fp32 ``OptimWrapper`` (AMP is for accelerators);
    ``compile`` in the config compiles ``train_step`` as the Runner does.
    """
    from mmpretrain.registry import MODELS
    batch = batch or cfg.train_dataloader.batch_size
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        model = MODELS.build(cfg.model)
        model.init_weights()
        model.to(device).train()
        optim_cfg = cfg.optim_wrapper.copy()
        if device.type == 'cpu' and optim_cfg.get('type') == 'AmpOptimWrapper':
            optim_cfg = {k: v for k, v in optim_cfg.items()
                         if k not in ('loss_scale', 'dtype', 'use_fsdp')}
            optim_cfg['type'] = 'OptimWrapper'
        optim_wrapper = build_optim_wrapper(model, optim_cfg)
    data = synthetic_batch(batch, image_size(cfg), device)
    train_step = model.train_step
    compile_cfg = cfg.get('compile')
    if compile_cfg:
        plain_param_groups(optim_wrapper.optimizer)
        train_step = torch.compile(train_step,
                                   **(compile_cfg if isinstance(compile_cfg, dict) else {}))
    return model, optim_wrapper, lambda: train_step(data, optim_wrapper)


def device_description(device: torch.device) -> str:
    """'NVIDIA H100 80GB HBM3' or 'cpu: <model name>, 2 threads'."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            name = next(line.split(':', 1)[1].strip() for line in f
                        if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    threads = torch.get_num_threads()
    return f'cpu: {name}, {threads} thread{"s" if threads != 1 else ""}'


def default_device() -> torch.device:
    """The device a Runner would train on here: the current CUDA device, else the CPU."""
    if torch.cuda.is_available():
        return torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
    return torch.device('cpu')
