"""DDP on CPUs (gloo) with mmengine's ``launcher='pytorch'`` or ``launcher='slurm'``.

mmengine 0.10.7's pytorch and slurm launchers call ``torch.cuda.set_device``
unconditionally, and its default DDP wrapper passes ``device_ids=[LOCAL_RANK]``, which DDP
refuses for a CPU module. On a machine without GPUs we start the process group ourselves
(the Runner then skips its own ``init_dist``) and let DDP pick the module's device.
"""
import os
import subprocess

import torch
import torch.distributed as dist
from mmengine.config import Config


def slurm_to_torch_env() -> None:
    """RANK, WORLD_SIZE, LOCAL_RANK and the master address of an srun task, as mmengine's
    slurm launcher sets them (MASTER_PORT from the environment, else 29500)."""
    nodes = subprocess.check_output(['scontrol', 'show', 'hostnames',
                                     os.environ['SLURM_NODELIST']], text=True).split()
    os.environ.setdefault('MASTER_ADDR', nodes[0])
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ.update(RANK=os.environ['SLURM_PROCID'], WORLD_SIZE=os.environ['SLURM_NTASKS'],
                      LOCAL_RANK=os.environ['SLURM_LOCALID'])


def setup_cpu_distributed(cfg: Config) -> None:
    """Prepare a ``launcher='pytorch'`` or ``'slurm'`` config to run on CPUs; no-op when
    GPUs exist.

    Raises:
        ValueError: the config asks for a GPU-only backend (NCCL) on a machine without
            GPUs.
    """
    if cfg.get('launcher') not in ('pytorch', 'slurm') or torch.cuda.is_available():
        return
    backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'nccl')
    if backend != 'gloo':
        raise ValueError(f"env_cfg.dist_cfg.backend={backend!r} needs GPUs and none is "
                         "visible; set env_cfg.dist_cfg.backend='gloo' to train on CPUs")
    if cfg.launcher == 'slurm':
        slurm_to_torch_env()
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(type='MMDistributedDataParallel', **(cfg.get('model_wrapper_cfg') or {}))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
