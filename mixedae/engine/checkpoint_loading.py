"""Load checkpoints as data: no pickled code, no stored config executed, corruption named.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; torch >= 2.6 then refuses
the non-tensor state mmengine stores (``HistoryBuffer``, numpy arrays in the message
hub), which breaks ``--resume`` and ``load_from``. :func:`load_checkpoint_file` loads with
``weights_only=True`` and an explicit allow-list of those types, scoped to the call, and:

* refuses any other pickled object with :class:`UnsafeCheckpointError` naming it;
* names the file when it is empty, truncated, not a checkpoint at all, or when its tensors
  fail the digest it was written with (:class:`CorruptCheckpointError`,
  :mod:`mixedae.engine.tensor_digest`).

:func:`register_safe_checkpoint_loader` puts it under every load mmengine makes: local
paths (resume, ``load_from``, ``Pretrained`` init, mmdet/mmseg loaders) and downloads
(``http(s)://``, ``torchvision://``, ``open-mmlab://``, ``mmcls://`` all go through
``mmengine.runner.checkpoint.load_url``, torch.hub's loader, which passes
``weights_only=False``). On that path the config texts a checkpoint carries are dropped:
mmengine runs ``meta['config']`` through ``Config.fromstring`` on resume, and its
inferencers run ``meta['cfg']`` when given no config. The project reads ``meta['cfg']``
as data only (:mod:`mixedae.engine.stored_config`).
"""
import logging
import os
import os.path as osp
import pickle
import re
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from .tensor_digest import DIGEST_KEY, digest_mismatches

ZIP_MAGIC = b'PK\x03\x04'                              # torch.save since torch 1.6
LEGACY_MAGIC = b'\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19'   # torch.save's older format


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds a pickled object outside the allow-list."""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is empty, truncated, not a checkpoint, or fails its digest."""


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
    """``torch.load`` a checkpoint with ``weights_only=True`` and mmengine's allow-list,
    then check its tensor digest if it has one.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: it holds a pickled object that is not allowed.
        CorruptCheckpointError: it is empty, truncated, not a checkpoint, or its tensors
            differ from its digest.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found')
    check_file_format(filename)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        refused = refused_global(err)
        if refused is None:
            raise CorruptCheckpointError(f'{filename}: corrupt checkpoint (its pickled data '
                                         f'does not decode: {_unpickler_reason(err)})') from None
        raise UnsafeCheckpointError(
            f'refused to load checkpoint {filename}: it contains a pickled {refused}, which '
            'is not a tensor, a plain container or one of the mmengine checkpoint types '
            'on mixedae\'s allow-list; unpickling it could run code. Only tensors, numbers, '
            'strings and containers are read from checkpoint files.') from None
    except (RuntimeError, EOFError, ValueError, KeyError, OSError) as err:
        if isinstance(err, RuntimeError) and not _is_archive_error(err):
            raise                          # e.g. map_location='cuda' without a GPU
        raise CorruptCheckpointError(f'{filename}: truncated or corrupt checkpoint '
                                     f'({type(err).__name__}: {_first_sentence(err)})') from None
    bad = digest_mismatches(checkpoint)
    if bad:
        raise CorruptCheckpointError(
            f'{filename}: the tensors of {", ".join(bad)} do not match the SHA-256 digest '
            f'stored when the file was written (meta.{DIGEST_KEY}): the file is corrupt '
            '(e.g. a flipped byte on disk or in transfer), or it was edited without '
            f'updating the digest (then delete meta["{DIGEST_KEY}"] to load it unchecked)')
    return checkpoint


def check_file_format(filename: str) -> None:
    """Name an empty file, or one in neither of torch.save's formats (before the
    unpickler calls random bytes an unsafe object)."""
    with open(filename, 'rb') as f:
        head = f.read(len(LEGACY_MAGIC))
    if not head:
        raise CorruptCheckpointError(f'{filename}: empty file (0 bytes), not a checkpoint')
    if not (head.startswith(ZIP_MAGIC) or head == LEGACY_MAGIC):
        raise CorruptCheckpointError(
            f'{filename}: not a PyTorch checkpoint (starts with {head[:8]!r}, neither the '
            'zip format of torch.save nor its legacy format)')


def refused_global(err: Exception) -> str | None:
    """What the weights-only unpickler refused: a global's module.name, or a ``getattr``
    outside :func:`_history_buffer_getattr`'s allow-list; ``None`` for other failures."""
    # torch words it 'Unsupported global: GLOBAL x.y was not an allowed global' or, for a
    # blocked module (os, posix, subprocess...), 'unsupported GLOBAL x.y whose module ...'
    match = re.search(r'unsupported (?:global: )?GLOBAL (\S+) (?:was not|whose module)',
                      str(err), re.IGNORECASE)
    if match:
        name = match.group(1)
        return name if '.' in name else f'builtins.{name}'
    match = re.search(r'(getattr\(.*\)) is not allowed', str(err))
    return match.group(1) if match else None


def _is_archive_error(err: RuntimeError) -> bool:
    """torch's zip reader failing (truncated file, damaged headers)."""
    return 'PytorchStreamReader' in str(err) or 'zip archive' in str(err)


def _first_sentence(err: Exception) -> str:
    text = str(err).strip()
    return text.split('. ')[0].splitlines()[0] if text else 'no message'


def _unpickler_reason(err: Exception) -> str:
    """The part of torch's long weights-only message that says what went wrong."""
    text = str(err)
    if 'WeightsUnpickler error:' not in text:
        # never pass on torch's advice to load with weights_only=False
        lines = [line for line in text.splitlines()
                 if line.strip() and 'weights_only' not in line]
        return lines[0] if lines else type(err).__name__
    reason = text.split('WeightsUnpickler error:', 1)[1]
    reason = reason.split('Check the documentation')[0].split('Please use')[0]
    return ' '.join(reason.split())


def without_config_texts(checkpoint, filename: str):
    """Drop the config texts mmengine would execute (``meta.config`` on resume,
    ``meta.cfg`` in inferencers given no config); warn about ``meta.config``, which
    mmengine's own Runner never writes."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if isinstance(meta, dict):
        if meta.pop('config', None) is not None:
            print_log(f'{filename}: ignored meta.config (a Python config that mmengine '
                      'would execute on resume; configs in checkpoints are never run)',
                      logger='current', level=logging.WARNING)
        meta.pop('cfg', None)
    return checkpoint


def load_from_local(filename: str, map_location=None) -> dict:
    """mmengine ``CheckpointLoader`` scheme for local paths (name kept for its log line)."""
    return without_config_texts(load_checkpoint_file(filename, map_location), filename)


def load_url(url: str, model_dir: str | None = None, map_location=None,
             progress: bool = True, check_hash: bool = False,
             file_name: str | None = None) -> dict:
    """torch.hub's download into its cache (``<torch hub dir>/checkpoints``, the file kept
    across runs), then :func:`load_checkpoint_file` in place of torch.hub's
    ``weights_only=False`` load. Same arguments as ``torch.hub.load_state_dict_from_url``."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, file_name or osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        match = torch.hub.HASH_REGEX.search(osp.basename(cached)) if check_hash else None
        torch.hub.download_url_to_file(url, cached, match.group(1) if match else None,
                                       progress=progress)
    return without_config_texts(load_checkpoint_file(cached, map_location), cached)


def register_safe_checkpoint_loader() -> None:
    """Make every mmengine checkpoint load go through :func:`load_checkpoint_file`:
    the scheme of local paths, and the download function its remote schemes call."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    mmengine_checkpoint.load_url = load_url
