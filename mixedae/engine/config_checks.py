"""Checks a config must pass before a Runner is built from it."""
from typing import Optional

from mmengine.config import Config

from ..models.mixing import check_batch_size

# transforms that set the size of the images a pre-training step sees, and their key
SIZE_KEYS = {'RandomResizedCrop': 'scale', 'Resize': 'scale', 'CenterCrop': 'crop_size',
             'RandomCrop': 'crop_size'}
DEFAULT_IMG_SIZE = {'MAEViT': 224, 'MixedAEViT': 224}   # mmpretrain's default


def check_pretrain_config(cfg: Config) -> None:
    """Fail early, with a ``ValueError``, on a pre-training config that cannot train.

    The images the pipeline makes must have the backbone's ``img_size`` (its position
    embedding has one slot per patch of such an image). For MixedAE the per-device batch
    must be a multiple of the mix ratio r (groups are formed inside each device's batch);
    the model's own arguments are checked when it is built.
    """
    backbone = cfg.get('model', {}).get('backbone', {})
    loader = cfg.get('train_dataloader')
    if not loader:
        return
    check_crop_size(backbone, loader)
    mix_ratio = backbone.get('mix_ratio')
    if mix_ratio is None:
        return
    check_batch_size(loader['batch_size'], mix_ratio)
    if not loader.get('drop_last', False):
        raise ValueError('train_dataloader.drop_last must be True for MixedAE: a ragged '
                         f'last batch cannot be cut into groups of mix_ratio={mix_ratio}')


def square(size) -> Optional[int]:
    """The side of a square size (an int or an equal pair), else None."""
    if isinstance(size, int):
        return size
    if isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1]:
        return int(size[0])
    return None


def check_crop_size(backbone: dict, loader: dict) -> None:
    """The last transform of the training pipeline that sets the image size makes images
    of the backbone's ``img_size``; the error names both settings."""
    img_size = square(backbone.get('img_size', DEFAULT_IMG_SIZE.get(backbone.get('type'))))
    dataset = loader.get('dataset', {})
    pipeline = dataset.get('pipeline') or dataset.get('dataset', {}).get('pipeline') or []
    sized = [(i, t) for i, t in enumerate(pipeline)
             if isinstance(t, dict) and SIZE_KEYS.get(t.get('type')) in t]
    if img_size is None or not sized:
        return
    index, transform = sized[-1]
    key = SIZE_KEYS[transform['type']]
    size = square(transform[key])
    if size is not None and size != img_size:
        raise ValueError(
            f'train_dataloader.dataset.pipeline[{index}] ({transform["type"]}) makes '
            f'{size}x{size} images but model.backbone.img_size is {img_size}: set '
            f'{transform["type"]}.{key} and model.backbone.img_size to the same size (the '
            'position embedding has one slot per patch of an img_size image)')
