"""Image and label loaders that name the file whenever it cannot be used.

mmcv's ``LoadImageFromFile`` raises on a bad file, but not always with its name: an empty
file gives OpenCV's ``!buf.empty()`` assertion, the pillow backend "cannot identify image
file <_io.BytesIO ...>", and ``ignore_empty=True`` skips silently. mmseg's
``LoadAnnotations`` crashes on an undecodable label map (``'NoneType' object has no
attribute 'squeeze'``) and never compares the label map's size with the image's.

The checked versions raise :class:`BadImageError` with the path and the reason; with
``skip_bad=True`` they return ``None`` instead, which mmengine's ``BaseDataset`` answers by
drawing another sample (training sets only), and log a warning with a running count.
Importing this module registers them: the image loader in mmengine's root ``TRANSFORMS``
(seen from every codebase's scope) and in mmpretrain's, mmdet's and mmseg's under the same
name, so that prefixed names (``mmdet.CheckedLoadImageFromFile``) build from any scope, as
upstream's ``mmdet.LoadAnnotations`` do; the label loader in mmseg's
(``CheckedLoadAnnotations``, ``mmseg.CheckedLoadAnnotations``). Both pass their other
arguments (``backend_args``, ``reduce_zero_label``, ...) on to upstream's loader.
"""
import logging
import os.path as osp
from typing import Optional

import cv2
from mmcv.transforms import LoadImageFromFile
from mmdet.registry import TRANSFORMS as DET_TRANSFORMS
from mmengine.logging import print_log
from mmengine.registry import TRANSFORMS
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS

# what reading/decoding raises in mmcv/mmseg for a missing, empty or corrupt file
DECODE_ERRORS = (OSError, ValueError, AssertionError, AttributeError, cv2.error)


class BadImageError(ValueError):
    """An image or label map is missing, empty, undecodable or of the wrong size."""


def read_failure(path: str, err: Exception) -> str:
    """Why ``path`` could not be read, in words."""
    if isinstance(err, FileNotFoundError):
        return 'no such file'
    if osp.isfile(path) and osp.getsize(path) == 0:
        return 'empty file (0 bytes)'
    return f'cannot decode it ({type(err).__name__}: {str(err).splitlines()[0]})'


class SkipBadFiles:
    """Raise on a bad file, or with ``skip_bad`` warn, count it and return ``None``."""

    skip_bad = False
    num_skipped = 0

    def bad_file(self, path: str, reason: str) -> None:
        if not self.skip_bad:
            raise BadImageError(f'{path}: {reason}')
        self.num_skipped += 1
        print_log(f'skipped {path}: {reason} ({self.num_skipped} file(s) skipped by '
                  f'this data-loading process)', logger='current', level=logging.WARNING)


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(SkipBadFiles, LoadImageFromFile):
    """``LoadImageFromFile`` that names the file on failure (``skip_bad``: skip it)."""

    def __init__(self, skip_bad: bool = False, **kwargs) -> None:
        if kwargs.get('ignore_empty'):
            raise ValueError('CheckedLoadImageFromFile: use skip_bad=True (warns and '
                             'counts) instead of ignore_empty=True (skips silently)')
        super().__init__(**kwargs)
        self.skip_bad = skip_bad

    def transform(self, results: dict) -> Optional[dict]:
        try:
            return super().transform(results)
        except DECODE_ERRORS as err:
            path = results['img_path']
            return self.bad_file(path, read_failure(path, err))


# mmengine looks a prefixed name up in that codebase's registry alone when the current
# scope is that codebase ('mmdet.X' from mmdet's scope does not reach the root registry),
# so the root registration above is not enough for 'mmdet.CheckedLoadImageFromFile'
for _registry in (PRETRAIN_TRANSFORMS, DET_TRANSFORMS, SEG_TRANSFORMS):
    _registry.register_module(module=CheckedLoadImageFromFile)


@SEG_TRANSFORMS.register_module()
class CheckedLoadAnnotations(SkipBadFiles, LoadAnnotations):
    """mmseg ``LoadAnnotations`` that names an unreadable label map and checks that it
    is single-channel and as large as its image (``skip_bad``: skip the sample).

    Put it after the image loader: it compares with ``results['ori_shape']``.
    """

    def __init__(self, skip_bad: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.skip_bad = skip_bad

    def transform(self, results: dict) -> Optional[dict]:
        if 'ori_shape' not in results:
            raise ValueError('CheckedLoadAnnotations compares the label map with its '
                             'image: put it after the image loader in the pipeline')
        path = results['seg_map_path']
        try:
            results = super().transform(results)
        except DECODE_ERRORS as err:
            if isinstance(err, AssertionError) and 'reduce_zero_label' in str(err):
                raise
            return self.bad_file(path, read_failure(path, err))
        mismatch = self.shape_mismatch(results)
        return self.bad_file(path, mismatch) if mismatch else results

    @staticmethod
    def shape_mismatch(results: dict) -> str:
        """Why the label map does not fit its image ('' if it does)."""
        seg, image = results['gt_seg_map'].shape, tuple(results['ori_shape'][:2])
        if len(seg) != 2:
            return f'label map has shape {seg}, expected a single-channel (H, W) map'
        if seg != image:
            return (f'label map is {seg[1]}x{seg[0]} (WxH) but its image '
                    f'{results["img_path"]} is {image[1]}x{image[0]}')
        return ''
