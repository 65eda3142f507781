"""Bad data gives an error naming the file (or, opted in, a counted skip), never a crash
without a file name deep in a data worker and never a silently wrong sample."""
import logging
import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets import CocoDataset
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import TRANSFORMS, DefaultScope
from mmengine.runner import Runner
from mmpretrain.datasets import CustomDataset
from mmseg.datasets import ADE20KDataset
from torch.utils.data import DataLoader

from conftest import striped_image, tiny_pretrain_config
from mixedae.data import COCO_CLASSES, make_tiny_ade20k, make_tiny_coco, make_tiny_imagenet
from mixedae.data.checks import DataLayoutError, check_data_config, check_dataset_files
from mixedae.data.loading import (BadImageError, CheckedLoadAnnotations,
                                  CheckedLoadImageFromFile)

TINY = 'mixedae_vit-tiny-p8_1xb32-300i_tiny.py'
ADE_TRAIN = dict(img_path='images/training', seg_map_path='annotations/training')


class Records(logging.Handler):
    """Collects the messages logged to the current MMLogger."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def imagenet_with_bad_jpegs(tmp_path) -> tuple:
    """Tiny ImageNet layout where one JPEG is empty and one is cut in half."""
    make_tiny_imagenet(tmp_path, seed=0, num_classes=2, train_per_class=4, val_per_class=1)
    empty, cut = sorted((tmp_path / 'train').rglob('*.JPEG'))[1:3]
    empty.write_bytes(b'')
    cut.write_bytes(cut.read_bytes()[:cut.stat().st_size // 2])
    return tmp_path, empty, cut


def pretrain_dataset(root: Path, **loader_args) -> CustomDataset:
    return CustomDataset(data_root=str(root), data_prefix='train', with_label=False,
                         pipeline=[CheckedLoadImageFromFile(**loader_args)])


def index_of(dataset, path: Path) -> int:
    return next(i for i in range(len(dataset))
                if dataset.get_data_info(i)['img_path'] == str(path))


def test_checked_loaders_build_from_configs_of_each_codebase():
    for scope in ('mmpretrain', 'mmdet', 'mmseg'):
        with DefaultScope.overwrite_default_scope(scope):
            loader = TRANSFORMS.build(dict(type='CheckedLoadImageFromFile', skip_bad=True))
        assert isinstance(loader, CheckedLoadImageFromFile) and loader.skip_bad
    with DefaultScope.overwrite_default_scope('mmseg'):
        labels = TRANSFORMS.build(dict(type='CheckedLoadAnnotations', reduce_zero_label=True))
    assert isinstance(labels, CheckedLoadAnnotations)


def test_empty_and_truncated_jpeg_are_named(imagenet_with_bad_jpegs):
    root, empty, cut = imagenet_with_bad_jpegs
    dataset = pretrain_dataset(root)
    with pytest.raises(BadImageError, match=f'{empty}: empty file'):
        dataset[index_of(dataset, empty)]
    with pytest.raises(BadImageError, match=f'{cut}: truncated JPEG: the image data ends'):
        dataset[index_of(dataset, cut)]
    loader = DataLoader(dataset, batch_size=8, num_workers=1, collate_fn=list)
    with pytest.raises(BadImageError, match=str(empty.parent)):   # raised in a worker
        next(iter(loader))


def test_skip_bad_resamples_and_counts(imagenet_with_bad_jpegs):
    root, empty, cut = imagenet_with_bad_jpegs
    dataset = pretrain_dataset(root, skip_bad=True)
    records = Records()
    MMLogger.get_current_instance().addHandler(records)
    try:
        samples = [dataset[i] for i in range(len(dataset))]
    finally:
        MMLogger.get_current_instance().removeHandler(records)
    assert all(sample['img'].shape == (32, 32, 3) for sample in samples)
    assert all(sample['img_path'] not in (str(empty), str(cut)) for sample in samples)
    skipped = [m for m in records.messages if m.startswith('skipped ')]
    assert len(skipped) == dataset.pipeline.transforms[0].num_skipped >= 2
    assert any(str(empty) in m for m in skipped) and any(str(cut) in m for m in skipped)
    assert skipped[-1].endswith(f'({len(skipped)} file(s) skipped by this data-loading '
                                'process)')
    with pytest.raises(ValueError, match='skip_bad=True'):
        CheckedLoadImageFromFile(ignore_empty=True)


def test_coco_json_with_a_missing_image(tmp_path):
    make_tiny_coco(tmp_path, seed=0, num_train=6, num_val=1, size=64)
    missing = sorted((tmp_path / 'train2017').glob('*.jpg'))[2]
    missing.unlink()
    dataset = CocoDataset(data_root=str(tmp_path),
                          ann_file='annotations/instances_train2017.json',
                          data_prefix=dict(img='train2017/'),
                          metainfo=dict(classes=COCO_CLASSES), pipeline=[])
    with pytest.raises(DataLayoutError, match=f'instances_train2017.json\\): 1 of 6 '
                                              f'referenced files do not exist: {missing}'):
        check_dataset_files(dataset, 'train_dataloader.dataset')
    info = next(dataset.get_data_info(i) for i in range(len(dataset))
                if dataset.get_data_info(i)['img_path'] == str(missing))
    with pytest.raises(BadImageError, match=f'{missing}: no such file'):
        CheckedLoadImageFromFile()(info)


def test_dataset_check_hook_stops_a_run_before_the_first_iteration(pretrain_data_root,
                                                                    tmp_path):
    names = sorted(p.name for p in (pretrain_data_root / 'train').iterdir())
    (tmp_path / 'list.txt').write_text('\n'.join(names[:40] + ['gone.png']) + '\n')
    cfg = tiny_pretrain_config(
        TINY, pretrain_data_root, tmp_path / 'work',
        **{'train_dataloader.dataset.ann_file': str(tmp_path / 'list.txt'),
           'custom_hooks': [dict(type='DatasetCheckHook')]})
    runner = Runner.from_cfg(cfg)
    with pytest.raises(DataLayoutError, match='1 of 41 referenced files do not exist: '
                                              f'{pretrain_data_root}/train/gone.png'):
        runner.train()
    assert runner.iter == 0 and not list((tmp_path / 'work').glob('*.pth'))


def test_ade20k_label_map_of_another_size(tmp_path):
    make_tiny_ade20k(tmp_path, seed=0, num_train=3, num_val=1, size=64)
    base = tmp_path / 'ADEChallengeData2016'
    label = sorted((base / 'annotations/training').glob('*.png'))[1]
    cv2.imwrite(str(label), cv2.resize(cv2.imread(str(label), 0), (48, 64),
                                       interpolation=cv2.INTER_NEAREST))
    dataset = ADE20KDataset(data_root=str(base), data_prefix=ADE_TRAIN, pipeline=[
        CheckedLoadImageFromFile(), CheckedLoadAnnotations()])
    assert dataset[0]['gt_seg_map'].shape == (64, 64)
    image = str(label).replace('annotations', 'images').replace('.png', '.jpg')
    with pytest.raises(BadImageError, match=f'{label}: label map is 48x64 \\(WxH\\) but its '
                                            f'image {image} is 64x64'):
        dataset[1]
    cv2.imwrite(str(label), cv2.imread(image))                       # 3 channels
    with pytest.raises(BadImageError, match='expected a single-channel'):
        dataset[1]


def test_missing_dataset_root(pretrain_data_root, tmp_path):
    cfg = tiny_pretrain_config(TINY, tmp_path / 'nowhere', tmp_path / 'work')
    with pytest.raises(DataLayoutError, match=f'train_dataloader.dataset.data_root: '
                                              f'directory {tmp_path}/nowhere does not exist'):
        check_data_config(cfg)
    check_data_config(tiny_pretrain_config(TINY, pretrain_data_root, tmp_path / 'work'))


def test_wrong_layouts(tmp_path):
    make_tiny_ade20k(tmp_path / 'ade', seed=0, num_train=2, num_val=1, size=32)
    swapped = dict(img_path='annotations/training', seg_map_path='images/training')
    ade = dict(type='RepeatDataset', times=2, dataset=dict(
        type='ADE20KDataset', data_root=str(tmp_path / 'ade/ADEChallengeData2016'),
        data_prefix=swapped, pipeline=[]))
    cfg = Config(dict(default_scope='mmseg', train_dataloader=dict(dataset=ade)))
    with pytest.raises(DataLayoutError, match=r"train_dataloader.dataset.dataset.data_prefix"
                                              r".img_path: no '\*.jpg' file under .*annotations"
                                              r"/training \(found '\*.png'\); are images and "
                                              r'label maps in the wrong folders'):
        check_data_config(cfg)
    cfg.train_dataloader.dataset.dataset.data_prefix = ADE_TRAIN
    check_data_config(cfg)

    make_tiny_coco(tmp_path / 'coco', seed=0, num_train=2, num_val=1, size=32)
    coco = dict(type='CocoDataset', data_root=str(tmp_path / 'coco'),
                ann_file='train2017/000000000001.jpg', data_prefix=dict(img='train2017/'),
                metainfo=dict(classes=COCO_CLASSES), pipeline=[])
    cfg = Config(dict(default_scope='mmdet', val_dataloader=dict(dataset=coco)))
    with pytest.raises(DataLayoutError, match='val_dataloader.dataset.ann_file: .*000001.jpg '
                                              r'is a binary file \(an image\?\)'):
        check_data_config(cfg)


# ---------------------------------------------------------------- bounded decoding


def jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny JPEG whose frame header (SOF0) claims ``width`` x ``height``."""
    data = bytearray(cv2.imencode('.jpg', np.full((8, 8, 3), 128, np.uint8))[1].tobytes())
    sof = data.index(b'\xff\xc0')
    data[sof + 5:sof + 9] = struct.pack('>HH', height, width)
    return bytes(data)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR (CRC fixed up) claims ``width`` x ``height``."""
    data = bytearray(cv2.imencode('.png', np.zeros((8, 8), np.uint8))[1].tobytes())
    data[16:24] = struct.pack('>II', width, height)
    data[29:33] = struct.pack('>I', zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_oversized_image_headers_are_refused_before_decoding(tmp_path):
    """Upstream decodes the 20000x20000 JPEG as a grey 1.2-GB image (seconds)."""
    for name, data in (('bomb.jpg', jpeg_claiming(20000, 20000)),
                       ('bomb.png', png_claiming(20000, 20000))):
        path = tmp_path / name
        path.write_bytes(data)
        assert len(data) < 1000
        with pytest.raises(BadImageError, match=f'{path}: image') as error:
            CheckedLoadImageFromFile()(dict(img_path=str(path)))
        assert '20000x20000' in str(error.value) or 'exceeds limit' in str(error.value)
    path = tmp_path / 'wide.jpg'
    path.write_bytes(jpeg_claiming(12000, 9000))        # 1.08e8 px: above the 1e8 default
    with pytest.raises(BadImageError, match=re.escape(
            f'{path}: image header claims 12000x9000 = 108,000,000 pixels, more than '
            'max_pixels=100,000,000; not decoded')):
        CheckedLoadImageFromFile()(dict(img_path=str(path)))

    path = tmp_path / 'small.png'
    cv2.imwrite(str(path), np.zeros((40, 50, 3), np.uint8))
    assert CheckedLoadImageFromFile()(dict(img_path=str(path)))['img'].shape == (40, 50, 3)
    with pytest.raises(BadImageError, match='50x40 = 2,000 pixels, more than '
                                            'max_pixels=1,000'):
        CheckedLoadImageFromFile(max_pixels=1000)(dict(img_path=str(path)))


def test_jpeg_cut_short_with_an_end_marker_is_named(tmp_path):
    """Upstream decodes it without an error, the missing half grey."""
    image = striped_image(np.random.default_rng(0), 96)
    data = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    path = tmp_path / 'cut.jpg'
    path.write_bytes(data[:len(data) // 2] + b'\xff\xd9')
    assert LoadImageFromFile()(dict(img_path=str(path)))['img'].shape == (96, 96, 3)
    with pytest.raises(BadImageError, match=f'{path}: truncated JPEG: the image data ends '
                                            'early'):
        CheckedLoadImageFromFile()(dict(img_path=str(path)))
    loader = CheckedLoadImageFromFile(skip_bad=True)
    assert loader(dict(img_path=str(path))) is None and loader.num_skipped == 1
    path.write_bytes(data)
    assert np.array_equal(CheckedLoadImageFromFile()(dict(img_path=str(path)))['img'],
                          LoadImageFromFile()(dict(img_path=str(path)))['img'])
