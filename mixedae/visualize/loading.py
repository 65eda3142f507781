"""Load a pre-training model (mixing or masking) from its checkpoint, and images for it."""
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from torch import nn

from .. import models  # noqa: F401  (registers the pre-training modules it builds)
from ..engine import load_checkpoint_file
from ..engine.stored_config import config_from_text


def checkpoint_config(checkpoint: dict, path: str) -> Config:
    """The config mmengine stored in ``meta['cfg']`` when it saved the checkpoint, read
    as data (:func:`~mixedae.engine.stored_config.config_from_text`), never executed."""
    text = checkpoint.get('meta', {}).get('cfg')
    if not text:
        raise ValueError(f'{path}: the checkpoint stores no config (meta.cfg); '
                         'pass --config')
    return config_from_text(text, f'{path} (meta.cfg)')


def load_pretraining_model(path: str, config: Optional[str | Config] = None) -> nn.Module:
    """Build the pre-training model of ``config`` (a file or a loaded ``Config``; default:
    the checkpoint's own) and load the checkpoint's weights into it, strictly.

    Raises:
        ValueError: the checkpoint does not fit the config; the message names the file.
    """
    checkpoint = load_checkpoint_file(path, map_location='cpu')
    if isinstance(config, Config):
        cfg = config
    else:
        cfg = Config.fromfile(config) if config else checkpoint_config(checkpoint, path)
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') and 'data_preprocessor' not in model_cfg:
        model_cfg['data_preprocessor'] = cfg.data_preprocessor
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    try:
        model.load_state_dict(checkpoint.get('state_dict', checkpoint), strict=True)
    except RuntimeError as e:
        raise ValueError(f'{path}: weights do not fit the config: {e}') from None
    return model.eval()


def load_mixing_model(path: str, config: Optional[str | Config] = None) -> nn.Module:
    """:func:`load_pretraining_model` for a model that mixes images.

    Raises:
        ValueError: the model does not mix images (e.g. mmpretrain's MAE), or the
            checkpoint does not fit the config; the message names the file.
    """
    model = load_pretraining_model(path, config)
    if getattr(model.backbone, 'mix_ratio', None) is None:
        raise ValueError(f'{path}: {type(model).__name__} with {type(model.backbone).__name__}'
                         ' does not mix images; visualize needs a MixedAE or naive-mixing '
                         'checkpoint (backbone.mix_ratio set)')
    return model


def read_square_images(paths: Sequence[str | Path], size: int) -> torch.Tensor:
    """Centre-crop each image to a square and resize it to ``size``.

    Returns:
        (n, 3, size, size) uint8 tensor, BGR (what mmcv's loaders give the preprocessor).
    """
    images = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f'{path}: not a readable image')
        h, w = image.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        crop = image[top:top + side, left:left + side]
        images.append(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
