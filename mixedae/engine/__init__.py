"""Runtime pieces for the mmengine Runner."""
from .checkpoint_loading import (UnsafeCheckpointError, load_checkpoint_file,
                                 register_safe_checkpoint_loader)

__all__ = ['UnsafeCheckpointError', 'load_checkpoint_file', 'register_safe_checkpoint_loader']
