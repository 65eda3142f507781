"""Dataset checks with errors that name the config key and the file.

Two stages, because mmengine builds datasets inside ``Runner.train()``/``test()``:

* :func:`check_data_config`, before the Runner is built: every dataset of the config is
  built with ``lazy_init=True`` (paths joined, nothing parsed) and its root, annotation
  file and folders are checked. This catches what upstream reports obscurely or not at
  all: an image given as annotation file (``UnicodeDecodeError``), images and label maps
  swapped or in the wrong folder (``need at least one array to concatenate``).
* :func:`check_dataset_files`, on a built dataset (``DatasetCheckHook``): every file a
  sample refers to exists, e.g. a COCO json entry whose image is missing, which upstream
  only reports when a data worker happens to load that image.
* :func:`check_dataset_annotations`, on a built dataset (``DatasetCheckHook``): the faults
  of a COCO json that mmdet drops silently (:mod:`mixedae.data.coco_annotations`); and it
  tells the checked label loaders of a segmentation dataset its number of classes, so
  that they refuse label values outside them.
"""
import logging
import os
import os.path as osp
from typing import Iterator, List, Sequence, Tuple

from mmengine import fileio
from mmengine.config import Config
from mmengine.dataset import ClassBalancedDataset, ConcatDataset, RepeatDataset
from mmengine.logging import print_log
from mmengine.registry import DATASETS, DefaultScope

from .coco_annotations import coco_annotation_faults, describe_faults

LOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
PATH_KEYS = ('img_path', 'seg_map_path')  # sample keys naming a file to load
HEAD_BYTES = 4096


class DataLayoutError(ValueError):
    """A dataset root, annotation file or folder is missing or has the wrong content."""


def dataset_configs(dataset_cfg: dict, key: str) -> Iterator[Tuple[dict, str]]:
    """The leaf dataset configs below dataset wrappers, with their config keys."""
    if 'datasets' in dataset_cfg:
        for i, sub in enumerate(dataset_cfg['datasets']):
            yield from dataset_configs(sub, f'{key}.datasets.{i}')
    elif 'dataset' in dataset_cfg:
        yield from dataset_configs(dataset_cfg['dataset'], f'{key}.dataset')
    else:
        yield dataset_cfg, key


def check_data_config(cfg: Config, loader_keys: Sequence[str] = LOADER_KEYS) -> None:
    """Check the layout of the datasets of ``cfg``'s ``loader_keys`` dataloaders before
    a Runner builds them (training: train and val; testing: test).

    Raises:
        DataLayoutError: naming the config key and the path at fault.
    """
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        for loader_key in loader_keys:
            loader = cfg.get(loader_key)
            if not loader:
                continue
            for dataset_cfg, key in dataset_configs(loader['dataset'], f'{loader_key}.dataset'):
                check_dataset_layout(DATASETS.build({**dataset_cfg, 'lazy_init': True}), key)


def check_dataset_layout(dataset, key: str) -> None:
    """Root, annotation file and data folders of a (lazily) built dataset."""
    root = getattr(dataset, 'data_root', None)
    if root and not osp.isdir(root):
        raise DataLayoutError(f'{key}.data_root: directory {root} does not exist')
    if getattr(dataset, 'ann_file', ''):
        check_annotation_file(dataset.ann_file, f'{key}.ann_file')
    prefixes = {name: path for name, path in dataset.data_prefix.items() if path}
    for name, path in prefixes.items():
        if not osp.isdir(path):
            raise DataLayoutError(f'{key}.data_prefix.{name}: directory {path} does not exist')
    for name, suffix in (('img_path', 'img_suffix'), ('seg_map_path', 'seg_map_suffix')):
        if name in prefixes and hasattr(dataset, suffix):
            check_folder_holds(prefixes[name], getattr(dataset, suffix),
                               f'{key}.data_prefix.{name}')


def check_annotation_file(path: str, key: str) -> None:
    """The annotation file exists and is text (JSON if it is named ``*.json``)."""
    if not osp.isfile(path):
        raise DataLayoutError(f'{key}: file {path} does not exist')
    with open(path, 'rb') as f:
        head = f.read(HEAD_BYTES)
    if b'\0' in head:
        raise DataLayoutError(f'{key}: {path} is a binary file (an image?), expected a '
                              'text annotation file')
    if path.endswith('.json') and not head.lstrip(b'\xef\xbb\xbf \t\r\n')[:1] in (b'{', b'['):
        raise DataLayoutError(f'{key}: {path} is not a JSON file')


def check_folder_holds(folder: str, suffix: str, key: str) -> None:
    """``folder`` (searched recursively) holds at least one ``*suffix`` file."""
    extensions = set()
    for _, _, files in os.walk(folder):
        if any(name.endswith(suffix) for name in files):
            return
        extensions.update(osp.splitext(name)[1] for name in files)
    found = ', '.join(f"'*{ext}'" for ext in sorted(extensions)) or 'no files'
    raise DataLayoutError(
        f"{key}: no '*{suffix}' file under {folder} (found {found}); are images and "
        'label maps in the wrong folders (e.g. swapped) or is the suffix wrong?')


def leaf_datasets(dataset) -> Iterator:
    """The datasets below mmengine's dataset wrappers."""
    if isinstance(dataset, ConcatDataset):
        for sub in dataset.datasets:
            yield from leaf_datasets(sub)
    elif isinstance(dataset, (RepeatDataset, ClassBalancedDataset)):
        yield from leaf_datasets(dataset.dataset)
    else:
        yield dataset


def missing_files(dataset) -> Tuple[int, List[str]]:
    """(number of files referenced, those that do not exist) of a built dataset."""
    paths = [info[key] for i in range(len(dataset))
             for info in (dataset.get_data_info(i),) for key in PATH_KEYS if info.get(key)]
    return len(paths), [path for path in paths if not osp.isfile(path)]


def check_dataset_files(dataset, key: str) -> None:
    """Every image / label map a sample of ``dataset`` refers to exists.

    Raises:
        DataLayoutError: naming the dataset's annotation file (or folder), how many
            files are missing and the first few of them.
    """
    for leaf in leaf_datasets(dataset):
        total, missing = missing_files(leaf)
        if missing:
            source = leaf.ann_file or ', '.join(v for v in leaf.data_prefix.values() if v)
            shown = ', '.join(missing[:5]) + (', ...' if len(missing) > 5 else '')
            raise DataLayoutError(f'{key} ({source}): {len(missing)} of {total} referenced '
                                  f'files do not exist: {shown}')


def check_dataset_annotations(dataset, key: str, skip_bad: bool = False) -> int:
    """Check the annotations of the leaf datasets of ``dataset``: a COCO json (mmdet
    ``CocoDataset`` and subclasses) for the faults mmdet drops silently; a segmentation
    dataset's checked label loaders get its class count (:func:`bind_label_classes`).

    Returns:
        The number of faulty annotations (only with ``skip_bad``; logged as a warning).

    Raises:
        DataLayoutError: naming ``key``, the annotation file, the faults and their
            annotation / image ids (without ``skip_bad``).
    """
    from mmdet.datasets import CocoDataset
    skipped = 0
    for leaf in leaf_datasets(dataset):
        bind_label_classes(leaf)
        if not isinstance(leaf, CocoDataset):
            continue
        with_mask = any(getattr(t, 'with_mask', False) for t in pipeline_steps(leaf))
        faults = coco_annotation_faults(
            fileio.load(leaf.ann_file, file_format='json',
                        backend_args=getattr(leaf, 'backend_args', None)),
            with_mask)
        if not faults:
            continue
        message = f'{key} ({leaf.ann_file}): {describe_faults(faults)}'
        if not skip_bad:
            raise DataLayoutError(message)
        skipped += sum(map(len, faults.values()))
        print_log(f'{message} (skip_bad=True: training goes on without them)',
                  logger='current', level=logging.WARNING)
    return skipped


def pipeline_steps(dataset) -> list:
    """The transforms of a dataset's pipeline (mmengine ``Compose``)."""
    return list(getattr(dataset.pipeline, 'transforms', []))


def bind_label_classes(dataset) -> None:
    """Give the checked label loaders of ``dataset``'s pipeline (those without an explicit
    ``num_classes``) the number of classes of the dataset."""
    from .loading import CheckedLoadAnnotations
    classes = dataset.metainfo.get('classes') if hasattr(dataset, 'metainfo') else None
    for step in pipeline_steps(dataset):
        if isinstance(step, CheckedLoadAnnotations) and classes and step.num_classes is None:
            step.num_classes = len(classes)
