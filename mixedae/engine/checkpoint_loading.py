"""Load mmengine checkpoints under torch >= 2.6 without turning unpickling safety off.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; torch >= 2.6 then refuses
the non-tensor state mmengine stores (``HistoryBuffer``, numpy arrays in the message
hub), which breaks ``--resume`` and ``load_from``. We replace mmengine's local-file loader
by one that loads with ``weights_only=True`` and an explicit allow-list of those types,
scoped to the call. Anything else in a checkpoint is refused with a clear error.
"""
import os.path as osp
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds a pickled object outside the allow-list."""


def _numpy_globals() -> list:
    """numpy types needed to rebuild arrays and scalars saved by the message hub."""
    core = np._core if hasattr(np, '_core') else np.core
    dtype_classes = [type(np.dtype(t)) for t in
                     (np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_)]
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype,
            *dtype_classes]


def _history_buffer_getattr(obj, name: str):
    """Stand-in for ``getattr`` while unpickling: only ``HistoryBuffer``'s statistics
    methods, which its ``__getstate__`` stores as ``getattr(HistoryBuffer, 'min')``."""
    allowed = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'getattr({obj!r}, {name!r}) is not allowed')


SAFE_GLOBALS = [HistoryBuffer, *_numpy_globals(),
                (_history_buffer_getattr, 'builtins.getattr')]


def load_checkpoint_file(filename: str, map_location=None) -> dict:
    """``torch.load`` a checkpoint with ``weights_only=True`` and mmengine's allow-list.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: it holds a pickled object that is not allowed.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'refused to load checkpoint {filename}: it contains a pickled object that is '
            f'not on mixedae\'s allow-list of mmengine checkpoint types. Only load '
            f'checkpoints you trust; the unpickler said: {_unpickler_reason(err)}') from err


def _unpickler_reason(err: Exception) -> str:
    """The part of torch's long weights-only message that names the refused object."""
    text = str(err)
    if 'WeightsUnpickler error:' not in text:
        return text.splitlines()[0]
    reason = text.split('WeightsUnpickler error:', 1)[1]
    reason = reason.split('Check the documentation')[0].split('Please use')[0]
    return ' '.join(reason.split())



def load_from_local(filename: str, map_location=None) -> dict:
    """mmengine ``CheckpointLoader`` scheme for local paths (name kept for its log line)."""
    return load_checkpoint_file(filename, map_location)


def register_safe_checkpoint_loader() -> None:
    """Make every mmengine load of a local file (resume, load_from, Pretrained init,
    mmseg/mmdet loaders) go through :func:`load_checkpoint_file`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
