"""Image and label loaders that name the file whenever it cannot be used.

mmcv's ``LoadImageFromFile`` raises on a bad file, but not always with its name: an empty
file gives OpenCV's ``!buf.empty()`` assertion, the pillow backend "cannot identify image
file <_io.BytesIO ...>", and ``ignore_empty=True`` skips silently. mmseg's
``LoadAnnotations`` crashes on an undecodable label map (``'NoneType' object has no
attribute 'squeeze'``) and never compares the label map's size with the image's.

Nor do they bound what they decode: a small file whose header claims 20000x20000 pixels
is decoded into gigabytes, and a JPEG cut short (even with an end marker appended) is
filled with grey without an error (:mod:`mixedae.data.image_checks`). mmseg reads a 16-bit
label map as 8 bits (values wrap) and leaves label values outside the classes to the loss
(``IndexError``) or the metric (ignored); mmdet's ``LoadAnnotations`` fails on an instance
without segmentation with a bare ``KeyError: 'mask'``.

The checked versions raise :class:`BadImageError` with the path and the reason; with
``skip_bad=True`` they return ``None`` instead, which mmengine's ``BaseDataset`` answers by
drawing another sample (training sets only), and log a warning with a running count.
Importing this module registers them: the image loader in mmengine's root ``TRANSFORMS``
(seen from every codebase's scope) and in mmpretrain's, mmdet's and mmseg's under the same
name, so that prefixed names (``mmdet.CheckedLoadImageFromFile``) build from any scope, as
upstream's ``mmdet.LoadAnnotations`` do; the label loaders as ``CheckedLoadAnnotations``
in mmseg's registry (semantic label maps) and in mmdet's (COCO boxes and masks), each
the checked version of that codebase's ``LoadAnnotations``. All pass their other
arguments (``backend_args``, ``reduce_zero_label``, ``with_mask``...) on to upstream's.
"""
import logging
import os.path as osp
from typing import Optional

import cv2
import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets.transforms import LoadAnnotations as DetLoadAnnotations
from mmdet.registry import TRANSFORMS as DET_TRANSFORMS
from mmengine import fileio
from mmengine.logging import print_log
from mmengine.registry import TRANSFORMS
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS

from .image_checks import DEFAULT_MAX_PIXELS, jpeg_data_problem, size_problem

IGNORE_LABEL = 255    # mmseg's ignore value (reduce_zero_label, IoUMetric, the losses)
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'

# what reading/decoding raises in mmcv/mmseg for a missing, empty or corrupt file
DECODE_ERRORS = (OSError, ValueError, AssertionError, AttributeError, cv2.error)


class BadImageError(ValueError):
    """An image or label map is missing, empty, undecodable, too large, truncated or of
    the wrong size, or holds values / annotations the task cannot use."""


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
    """``LoadImageFromFile`` that names the file on failure (``skip_bad``: skip it),
    refuses images whose header claims more than ``max_pixels`` pixels before decoding
    them, and (``check_jpeg_data``) JPEGs whose data ends early.

    The JPEG check decodes the file a second time at 1/8 scale with libjpeg-turbo
    (simplejpeg); ``check_jpeg_data=False`` saves that time on data known to be intact.
    """

    def __init__(self, skip_bad: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS,
                 check_jpeg_data: bool = True, **kwargs) -> None:
        if kwargs.get('ignore_empty'):
            raise ValueError('CheckedLoadImageFromFile: use skip_bad=True (warns and '
                             'counts) instead of ignore_empty=True (skips silently)')
        super().__init__(**kwargs)
        self.skip_bad = skip_bad
        self.max_pixels = max_pixels
        self.check_jpeg_data = check_jpeg_data

    def transform(self, results: dict) -> Optional[dict]:
        """Upstream's read, decode and fields, with the checks between read and decode."""
        path = results['img_path']
        try:
            data = self.read_bytes(path)
        except DECODE_ERRORS as err:
            return self.bad_file(path, read_failure(path, err))
        problem = size_problem(data, self.max_pixels) or (
            self.check_jpeg_data and jpeg_data_problem(data))
        if problem:
            return self.bad_file(path, problem)
        try:
            img = mmcv.imfrombytes(data, flag=self.color_type, backend=self.imdecode_backend)
            if img is None:
                raise ValueError('the decoder returned no image')
        except DECODE_ERRORS as err:
            return self.bad_file(path, read_failure(path, err))
        if self.to_float32:
            img = img.astype(np.float32)
        results.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return results

    def read_bytes(self, path: str) -> bytes:
        """The file's bytes, through the backend the arguments choose (as upstream)."""
        if self.file_client_args is not None:
            return fileio.FileClient.infer_client(self.file_client_args, path).get(path)
        return fileio.get(path, backend_args=self.backend_args)


# mmengine looks a prefixed name up in that codebase's registry alone when the current
# scope is that codebase ('mmdet.X' from mmdet's scope does not reach the root registry),
# so the root registration above is not enough for 'mmdet.CheckedLoadImageFromFile'
for _registry in (PRETRAIN_TRANSFORMS, DET_TRANSFORMS, SEG_TRANSFORMS):
    _registry.register_module(module=CheckedLoadImageFromFile)


@SEG_TRANSFORMS.register_module()
class CheckedLoadAnnotations(SkipBadFiles, LoadAnnotations):
    """mmseg ``LoadAnnotations`` that names an unreadable label map and checks that it
    is an 8-bit, single-channel map as large as its image, whose values are classes of
    the dataset or the ignore value 255 (``skip_bad``: skip the sample).

    ``num_classes``: the dataset's class count; ``DatasetCheckHook`` fills it in from the
    dataset's ``metainfo`` when it is not given (without either, values are not checked).
    Put it after the image loader: it compares with ``results['ori_shape']``.
    """

    def __init__(self, skip_bad: bool = False, num_classes: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.skip_bad = skip_bad
        self.num_classes = num_classes

    def transform(self, results: dict) -> Optional[dict]:
        if 'ori_shape' not in results:
            raise ValueError('CheckedLoadAnnotations compares the label map with its '
                             'image: put it after the image loader in the pipeline')
        path = results['seg_map_path']
        try:
            problem = self.bit_depth_problem(path)
            if not problem:
                results = super().transform(results)
        except DECODE_ERRORS as err:
            if isinstance(err, AssertionError) and 'reduce_zero_label' in str(err):
                raise
            problem = read_failure(path, err)
        problem = problem or self.shape_mismatch(results) or self.label_value_problem(results)
        return self.bad_file(path, problem) if problem else results

    def bit_depth_problem(self, path: str) -> str:
        """A 16-bit PNG, which mmseg would cut to 8 bits ('' if it is not one)."""
        head = fileio.get(path, backend_args=self.backend_args)[:25]
        if head.startswith(PNG_MAGIC) and len(head) == 25 and head[24] == 16:
            return ('16-bit label map: mmseg reads label maps as 8-bit and would wrap '
                    'values above 255; save it as an 8-bit PNG')
        return ''

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

    def label_value_problem(self, results: dict) -> str:
        """Label values that are neither a class nor the ignore value ('' if none),
        reported as they are in the file.

        With a ``label_map`` (``metainfo`` chose some of the dataset class's classes, e.g.
        the demo's four of ADE20K's 150) mmseg has mapped the chosen ids to 0..n-1 and the
        dataset's other ids to 255: what is left is no id of the dataset at all."""
        seg, classes = results['gt_seg_map'], self.num_classes
        if classes is None or int(seg.max()) < classes:
            return ''
        bad = np.unique(seg[(seg >= classes) & (seg != IGNORE_LABEL)])
        if not bad.size:
            return ''
        shift = 1 if self.reduce_zero_label else 0   # mmseg reduces before it maps
        label_map = results.get('label_map')
        ids = len(label_map) if label_map else classes
        valid = (f'0..{ids}, 0 and 255 ignored (reduce_zero_label)' if shift
                 else f'0..{ids - 1}, 255 ignored')
        if label_map:
            valid += f'; the ids of classes outside the {classes} of metainfo are ignored'
        shown = ', '.join(str(int(v) + shift) for v in bad[:10])
        return (f'label values {shown}{", ..." if bad.size > 10 else ""} are not among the '
                f'{ids} classes (valid: {valid})')


@DET_TRANSFORMS.register_module(name='CheckedLoadAnnotations')
class CheckedLoadDetAnnotations(SkipBadFiles, DetLoadAnnotations):
    """mmdet ``LoadAnnotations`` that, loading masks, names the image whose instances
    have no segmentation instead of failing with ``KeyError: 'mask'`` (``skip_bad``:
    skip the sample). ``DatasetCheckHook`` names their annotation ids before training."""

    def __init__(self, skip_bad: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.skip_bad = skip_bad

    def transform(self, results: dict) -> Optional[dict]:
        if self.with_mask:
            missing = [i for i, instance in enumerate(results.get('instances', []))
                       if 'mask' not in instance]
            if missing:
                return self.bad_file(results['img_path'], (
                    f'instance(s) {missing} of image id {results.get("img_id")} have no '
                    'segmentation, but the pipeline loads masks (with_mask=True)'))
        return super().transform(results)
