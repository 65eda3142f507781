"""The per-sample files a transfer evaluation leaves in its run folder, and their reader.

Layout (``<work_dir>/<timestamp>/per_sample/``)::

    val.json                 manifest of the latest validation (replaced at each one)
    val-iter_5000.npz        its per-image arrays (classification, segmentation), or
    val-iter_5000.bbox.json  its detections, COCO results format (detection; + .segm.json)
    test.json, test.npz ...  the same for tools/test.py

The manifest (JSON) says ``format``, ``kind`` (classification / segmentation /
detection), ``mode`` (val / test), ``step`` (iter / epoch, or the tested checkpoint),
``metrics`` (the values the run logged), ``metric_keys`` (the logged keys the files
recompute), ``class_names``, ``num_images``, ``ids`` (where the image ids are and what
they are), ``files`` (role -> name and sha256) and what the kind needs (``settings``).
Data files are written first under their own names, the manifest last: a manifest only
ever names complete files. Nothing here unpickles: arrays load with
``allow_pickle=False``.
"""
import hashlib
import json
import os.path as osp
import zipfile
from typing import Mapping

import numpy as np

FORMAT = 'mixedae-per-sample/1'
KINDS = ('classification', 'segmentation', 'detection')
MANIFEST_KEYS = ('format', 'kind', 'mode', 'step', 'metrics', 'metric_keys', 'class_names',
                 'num_images', 'ids', 'files', 'settings')


class PerSampleFileError(ValueError):
    """A per-sample file is missing, truncated or inconsistent (the message names it)."""


def file_sha256(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            sha.update(block)
    return sha.hexdigest()


def read_json(path: str, what: str = 'per-sample file'):
    """A JSON file's content; a missing or unparsable file is named."""
    if not osp.isfile(path):
        raise PerSampleFileError(f'{what} {path} does not exist')
    try:
        with open(path, 'rb') as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PerSampleFileError(f'{what} {path} is not valid JSON (truncated?): {err}') \
            from None


def read_manifest(path: str) -> dict:
    """Read and check a manifest (``per_sample/val.json`` or ``test.json``)."""
    manifest = read_json(path, 'per-sample manifest')
    if not isinstance(manifest, dict):
        raise PerSampleFileError(f'per-sample manifest {path} is not a JSON object')
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise PerSampleFileError(f'per-sample manifest {path} lacks the key(s) {missing}')
    if manifest['format'] != FORMAT:
        raise PerSampleFileError(f'per-sample manifest {path}: format '
                                 f'{manifest["format"]!r}, expected {FORMAT!r}')
    if manifest['kind'] not in KINDS:
        raise PerSampleFileError(f'per-sample manifest {path}: kind {manifest["kind"]!r} '
                                 f'is not one of {KINDS}')
    return manifest


def setting(manifest_path: str, manifest: dict, key: str):
    """``manifest['settings'][key]``, named when absent."""
    if key not in manifest['settings']:
        raise PerSampleFileError(f'per-sample manifest {manifest_path} lacks settings.{key}')
    return manifest['settings'][key]


def data_file(manifest_path: str, manifest: dict, role: str) -> str:
    """The path of the manifest's file ``role``, checked against its recorded sha256."""
    entry = manifest['files'].get(role)
    if not isinstance(entry, dict) or not {'name', 'sha256'} <= set(entry):
        raise PerSampleFileError(f'per-sample manifest {manifest_path} lacks files.{role} '
                                 '(name, sha256)')
    return checked_file(osp.join(osp.dirname(manifest_path), entry['name']),
                        entry['sha256'], f'files.{role}', manifest_path, 'per-sample file')


def checked_file(path: str, sha256: str, key: str, manifest_path: str, what: str) -> str:
    """``path``, a file the manifest names under ``key`` with its ``sha256``; a missing or
    changed file (truncated, replaced) is named."""
    if not osp.isfile(path):
        raise PerSampleFileError(f'{what} {path} ({key} of {manifest_path}) does not exist')
    if file_sha256(path) != sha256:
        raise PerSampleFileError(f'{what} {path} does not match the sha256 that '
                                 f'{manifest_path} records (truncated or replaced)')
    return path


def load_arrays(path: str, shapes: Mapping[str, tuple]) -> dict:
    """The arrays ``shapes`` names from an ``.npz``, each checked against its shape
    (``None``: any length on that axis)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in shapes if key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise PerSampleFileError(f'per-sample file {path} cannot be read: {err}') from None
    for key, shape in shapes.items():
        if key not in arrays:
            raise PerSampleFileError(f'per-sample file {path} has no array {key!r}')
        actual = arrays[key].shape
        if len(actual) != len(shape) or any(s not in (None, a) for s, a in zip(shape, actual)):
            raise PerSampleFileError(f'per-sample file {path}: array {key!r} has shape '
                                     f'{actual}, expected {shape}')
    return arrays
