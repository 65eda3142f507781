"""Runtime pieces for the mmengine Runner. Importing registers the hooks, the atomic
checkpoint hook under mmengine's ``CheckpointHook`` name, the ``local_atomic`` file
backend and the FSDP wrap policy in mmengine's registries, and the checkpoint loader that
works under torch >= 2.6 without unpickling code (:mod:`.checkpoint_loading`)."""
from ..atomic_write import FileWriteError, atomic_output, write_atomically
from .atomic_backend import AtomicLocalBackend
from .checkpoint_hook import AtomicCheckpointHook
from .checkpoint_loading import (CorruptCheckpointError, UnsafeCheckpointError,
                                 load_checkpoint_file, register_safe_checkpoint_loader)
from .cpu_distributed import setup_cpu_distributed
from .dataset_check_hook import DatasetCheckHook
from .fsdp import vit_block_wrap_policy
from .iteration_seed import PerIterationSeedHook, iteration_seed
from .nonfinite import NonFiniteLossError, NonFiniteLossHook
from .plain_param_groups import PlainParamGroupsHook, plain_param_groups
from .recipe_batch import hold_recipe_batch, launcher_world_size
from .run_info import RunInfoHook
from .stored_config import StoredConfigError, config_from_text
from .tensor_digest import add_tensor_digest

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'CorruptCheckpointError',
    'DatasetCheckHook', 'FileWriteError',
    'NonFiniteLossError', 'NonFiniteLossHook', 'PerIterationSeedHook',
    'PlainParamGroupsHook', 'RunInfoHook',
    'StoredConfigError', 'UnsafeCheckpointError', 'add_tensor_digest', 'atomic_output',
    'config_from_text', 'hold_recipe_batch', 'iteration_seed', 'launcher_world_size',
    'load_checkpoint_file', 'plain_param_groups', 'register_safe_checkpoint_loader',
    'setup_cpu_distributed', 'vit_block_wrap_policy', 'write_atomically'
]

register_safe_checkpoint_loader()
