"""Checks a config must pass before a Runner is built from it."""
from mmengine.config import Config

from ..models.mixing import check_batch_size


def check_pretrain_config(cfg: Config) -> None:
    """Fail early, with a ``ValueError``, on a MixedAE config that cannot train.

    The per-device batch must be a multiple of the mix ratio r (groups are formed inside
    each device's batch); the model's own arguments are checked when it is built.
    """
    backbone = cfg.get('model', {}).get('backbone', {})
    mix_ratio = backbone.get('mix_ratio')
    loader = cfg.get('train_dataloader')
    if mix_ratio is None or not loader:
        return
    check_batch_size(loader['batch_size'], mix_ratio)
    if not loader.get('drop_last', False):
        raise ValueError('train_dataloader.drop_last must be True for MixedAE: a ragged '
                         f'last batch cannot be cut into groups of mix_ratio={mix_ratio}')
