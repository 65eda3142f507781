"""Runtime pieces for the mmengine Runner (importing registers the hooks and the FSDP
wrap policy in mmengine's registries)."""
from .checkpoint_loading import (UnsafeCheckpointError, load_checkpoint_file,
                                 register_safe_checkpoint_loader)
from .cpu_distributed import setup_cpu_distributed
from .dataset_check_hook import DatasetCheckHook
from .fsdp import vit_block_wrap_policy
from .iteration_seed import PerIterationSeedHook, iteration_seed
from .nonfinite import NonFiniteLossError, NonFiniteLossHook
from .plain_param_groups import PlainParamGroupsHook, plain_param_groups
from .recipe_batch import hold_recipe_batch, launcher_world_size
from .run_info import RunInfoHook

__all__ = [
    'DatasetCheckHook', 'NonFiniteLossError', 'NonFiniteLossHook', 'PerIterationSeedHook',
    'PlainParamGroupsHook', 'RunInfoHook', 'hold_recipe_batch', 'launcher_world_size',
    'plain_param_groups',
    'UnsafeCheckpointError', 'iteration_seed', 'load_checkpoint_file',
    'register_safe_checkpoint_loader', 'setup_cpu_distributed', 'vit_block_wrap_policy'
]
