"""A SHA-256 digest of the tensors in a checkpoint, stored in it and checked on load.

torch does not check the CRCs of the zip records it reads, so a flipped byte inside a
tensor loads silently. Every checkpoint the project writes carries, in
``meta['tensor_sha256']``, one digest per top-level entry that holds tensors
(``state_dict``, ``optimizer``, ...): names, dtypes, shapes and bytes of its tensors and
numpy arrays, in order. The loader (:mod:`mixedae.engine.checkpoint_loading`) recomputes
the digest of each entry still present (a tool may drop ``optimizer``, say) and refuses a
file that does not match. Checkpoints without the key (official MAE, timm, older runs)
load unchecked.
"""
import hashlib
from typing import Any, Iterator, Tuple

import numpy as np
import torch

DIGEST_KEY = 'tensor_sha256'


def _arrays(obj: Any, path: str) -> Iterator[Tuple[str, Any]]:
    """(path, tensor or array) below ``obj``, through dicts, lists and tuples."""
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        yield path, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _arrays(value, f'{path}.{key}')
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _arrays(value, f'{path}.{i}')


def _array_bytes(array) -> memoryview:
    """The bytes of a tensor (any dtype, any device) or numpy array, in C order."""
    if isinstance(array, torch.Tensor):
        flat = array.detach().reshape(-1).cpu().contiguous()
        return memoryview(flat.view(torch.uint8).numpy()) if flat.numel() else memoryview(b'')
    return memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


def entry_digest(entry: Any, name: str) -> str | None:
    """SHA-256 of the tensors below one top-level entry; ``None`` if it holds none."""
    sha, found = hashlib.sha256(), False
    for path, array in _arrays(entry, name):
        found = True
        sha.update(f'{path}|{array.dtype}|{tuple(array.shape)}|'.encode())
        sha.update(_array_bytes(array))
    return sha.hexdigest() if found else None


def tensor_digests(checkpoint: dict) -> dict:
    """``{entry: digest}`` for every top-level entry except ``meta`` that holds tensors."""
    digests = {name: entry_digest(value, name) for name, value in checkpoint.items()
               if name != 'meta'}
    return {name: digest for name, digest in digests.items() if digest is not None}


def add_tensor_digest(checkpoint: dict) -> dict:
    """Store the digests in ``checkpoint['meta']`` (created if missing); returns it."""
    checkpoint.setdefault('meta', {})[DIGEST_KEY] = tensor_digests(checkpoint)
    return checkpoint


def digest_mismatches(checkpoint: Any) -> list:
    """The entries whose tensors differ from the digest stored in the checkpoint (none
    without a stored digest, or for entries no longer in it)."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    stored = meta.get(DIGEST_KEY) if isinstance(meta, dict) else None
    if not isinstance(stored, dict):
        return []
    return [name for name, digest in stored.items()
            if name in checkpoint and entry_digest(checkpoint[name], name) != digest]
