"""Writing per-sample files (format: :mod:`mixedae.stats.per_sample_files`), atomically."""
import glob
import os
import os.path as osp
from typing import Callable, Optional

import numpy as np

from ..atomic_write import atomic_output, partial_name
from ..stats.per_sample_files import file_sha256


def file_entry(path: str) -> dict:
    """A manifest's ``files`` entry: the name beside the manifest and its sha256."""
    return {'name': osp.basename(path), 'sha256': file_sha256(path)}


def save_npz(path: str, arrays: dict) -> dict:
    """Write ``arrays`` (no object arrays: they would need pickle to load) to ``path``."""
    for key, value in arrays.items():
        if value.dtype.hasobject:
            raise TypeError(f'per-sample array {key!r} holds Python objects')
    with atomic_output(path) as f:
        np.savez(f, **arrays)
    return file_entry(path)


def save_with(writer: Callable[[str], dict], directory: str, stem: str) -> dict:
    """Let ``writer(prefix)`` write its files (it returns role -> path, each path
    ``prefix + suffix``) under a temporary prefix, then rename each to ``stem + suffix``;
    on failure nothing of it is left."""
    prefix = partial_name(osp.join(directory, stem))
    try:
        entries = {}
        for role, path in writer(prefix).items():
            final = osp.join(directory, stem + path[len(prefix):])
            os.replace(path, final)
            entries[role] = file_entry(final)
        return entries
    finally:
        for leftover in glob.glob(glob.escape(prefix) + '*'):
            os.unlink(leftover)


RELATIVE_IDS = 'image path relative to the data root (else as the dataset gives it)'


def image_id(path: str, data_root: Optional[str]) -> str:
    """An image's id: its path relative to the data root (else as given)."""
    if data_root and osp.abspath(path).startswith(osp.abspath(data_root) + os.sep):
        return osp.relpath(osp.abspath(path), osp.abspath(data_root))
    return path


def logged_keys(prefix: Optional[str], names) -> list:
    """The keys mmengine's ``BaseMetric.evaluate`` logs ``names`` under."""
    return [f'{prefix}/{name}' if prefix else name for name in names]


def dump_arrays(kept: Optional[dict], kind: str, directory: str, stem: str,
                data_root: Optional[str], class_names: list, settings: dict) -> Optional[dict]:
    """Write what a metric kept of one evaluation (``keys``, ``image_ids`` and per-image
    arrays) as ``<stem>.npz``; return the manifest's fields (None: nothing kept)."""
    if kept is None:
        return None
    keys = kept.pop('keys')
    ids = np.array([image_id(path, data_root) for path in kept.pop('image_ids')])
    files = {'arrays': save_npz(osp.join(directory, f'{stem}.npz'), dict(image_ids=ids, **kept))}
    return dict(kind=kind, files=files, num_images=len(ids),
                ids=dict(where='arrays:image_ids', meaning=RELATIVE_IDS), metric_keys=keys,
                class_names=class_names, settings=settings)
