"""``run_info.json``: what a run measured, for the results table.

``tools/tabulate.py`` puts a published number beside a measured one only where both come
from the same protocol, backbone and pre-training length. mmengine's logs hold none of
these, and the config it dumps is Python (which the toolkit never executes), so
:class:`RunInfoHook` writes them as JSON into the run's log dir
(``<work_dir>/<timestamp>/run_info.json``) when a Runner starts training or testing::

    {"protocol": "vitdet-mask-rcnn",            # the config's protocol.name
     "arch": "vit-base-p16",                     # model.backbone
     "schedule": {"max_iters": 184375},          # or {"max_epochs": 800}
     "batch": {"recipe_total_batch": 64, ...},   # protocol.applied (recipe_batch.py)
     "weights": "work_dirs/.../mmdet.pth"}       # the backbone's checkpoint, or null
"""
import json
import os
from pathlib import Path
from typing import Optional

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

ARCH_NAMES = {'s': 'small', 'small': 'small', 'b': 'base', 'base': 'base', 'l': 'large',
              'large': 'large', 'h': 'huge', 'huge': 'huge'}
SIZES = {(384, 12): 'small', (768, 12): 'base', (1024, 24): 'large', (1280, 32): 'huge'}


def vit_arch(backbone: dict) -> Optional[str]:
    """``vit-base-p16`` for a ViT-B/16 backbone config (mmpretrain's ``arch`` names, or
    ``embed_dims`` / ``num_layers`` as mmseg's ``MAE`` takes them), ``vit-64x4-p8`` for
    another width x depth; None when the config gives neither."""
    arch, patch = backbone.get('arch'), backbone.get('patch_size', 16)
    if isinstance(arch, str) and arch.lower() in ARCH_NAMES:
        return f'vit-{ARCH_NAMES[arch.lower()]}-p{patch}'
    spec = arch if isinstance(arch, dict) else backbone
    size = spec.get('embed_dims'), spec.get('num_layers')
    if None in size:
        return None
    return f'vit-{SIZES[size]}-p{patch}' if size in SIZES else f'vit-{size[0]}x{size[1]}-p{patch}'


def schedule(train_cfg: Optional[dict]) -> dict:
    """``{'max_epochs': N}`` or ``{'max_iters': N}`` of the training loop ({} if none)."""
    train_cfg = train_cfg or {}
    for key in ('max_epochs', 'max_iters'):
        if key in train_cfg:
            return {key: train_cfg[key]}
    return {}


def backbone_weights(model: dict) -> Optional[str]:
    """The checkpoint the backbone starts from (``init_cfg`` of type ``Pretrained``, or
    the model's ``pretrained``), None for random initialisation."""
    init = (model.get('backbone') or {}).get('init_cfg')
    for cfg in init if isinstance(init, list) else [init]:
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained' and cfg.get('checkpoint'):
            return str(cfg['checkpoint'])
    return model.get('pretrained') or None


def run_info(cfg: Config) -> dict:
    """The facts of ``run_info.json`` for a (merged) config."""
    protocol = cfg.get('protocol') or {}
    model = cfg.get('model') or {}
    return {'protocol': protocol.get('name'), 'arch': vit_arch(model.get('backbone') or {}),
            'schedule': schedule(cfg.get('train_cfg')),
            'batch': dict(protocol.get('applied') or {}),
            'weights': backbone_weights(model)}


@HOOKS.register_module()
class RunInfoHook(Hook):
    """Write ``<log_dir>/run_info.json`` (rank 0) before training or testing starts."""

    priority = 'VERY_LOW'

    def before_run(self, runner) -> None:
        if not is_main_process():
            return
        path = Path(runner.log_dir) / 'run_info.json'
        tmp = path.with_suffix('.json.tmp')
        tmp.write_text(json.dumps(run_info(runner.cfg), indent=1) + '\n')
        os.replace(tmp, path)   # never half-written
