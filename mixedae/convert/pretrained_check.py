"""Stop a transfer run whose pre-trained checkpoint does not fill the backbone.

Backbones load their ``Pretrained`` checkpoint with ``strict=False``: mmengine's init
(mmpretrain / mmdet / mmseg ``MixedAEViT``) only asserts that some key has the prefix,
and mmseg's ``MAE`` loads the file as it is, ignoring ``prefix``. A file in another
layout (the official MAE release, timm names, a ``backbone.``-prefixed file given to
mmseg's ``MAE``) then loads nothing, and the run fine-tunes a randomly initialised
encoder without a word.

``PretrainedLoadCheckHook`` wraps the backbone's ``init_weights`` before the Runner
initialises the model. While it runs, a load_state_dict pre-hook on every submodule
records which of its tensors the loaded state dict holds (at the right shape): this sees
every way of loading, mmengine's and torch's. Afterwards every plain-ViT encoder tensor
of the backbone (``mixedae.convert.is_encoder_key``: patch and position embedding,
[CLS], blocks, final norm — what a pre-training provides) must have been filled, else
the run stops with the file, what the file is, the missing keys and the converter
command. Layer scales, relative position bias and heads are left to fine-tuning.
"""
import re
from contextlib import contextmanager
from itertools import chain
from typing import Iterator, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn


class PretrainedLoadError(RuntimeError):
    """A backbone checkpoint that did not load, or left out pre-trained encoder weights."""


def pretrained_checkpoint(backbone: nn.Module) -> Optional[str]:
    """The file of the backbone's ``Pretrained`` init_cfg (None if it has none)."""
    init_cfg = getattr(backbone, 'init_cfg', None)
    for cfg in init_cfg if isinstance(init_cfg, list) else [init_cfg]:
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained' and cfg.get('checkpoint'):
            return str(cfg['checkpoint'])
    return None


@contextmanager
def recorded_loads(module: nn.Module) -> Iterator[set[str]]:
    """Names (relative to ``module``) of the tensors that state dict loads hand a value of
    the right shape while the context is open."""
    loaded: set[str] = set()

    def record(name: str):
        def hook(sub, state_dict, prefix, *args) -> None:
            own = chain(sub._parameters.items(),
                        ((k, v) for k, v in sub._buffers.items()
                         if k not in sub._non_persistent_buffers_set))
            for key, tensor in own:
                value = state_dict.get(prefix + key)
                if (tensor is not None and isinstance(value, torch.Tensor)
                        and value.shape == tensor.shape):
                    loaded.add(f'{name}.{key}' if name else key)
        return hook

    handles = [sub.register_load_state_dict_pre_hook(record(name))
               for name, sub in module.named_modules()]
    try:
        yield loaded
    finally:
        for handle in handles:
            handle.remove()


def summarize_keys(keys: list[str]) -> str:
    """'layers.*.attn.qkv.weight (12 blocks), pos_embed, ...' for an error message."""
    groups: dict[str, int] = {}
    for key in keys:
        pattern = re.sub(r'^layers\.\d+\.', 'layers.*.', key)
        groups[pattern] = groups.get(pattern, 0) + 1
    parts = [f'{p} ({n} blocks)' if p.startswith('layers.*') else p
             for p, n in sorted(groups.items())]
    return ', '.join(parts[:10]) + (f' and {len(parts) - 10} more' if len(parts) > 10 else '')


def converter_target(backbone: nn.Module, scope: Optional[str]) -> str:
    """The ``--to`` of tools/convert_checkpoint.py that fits the backbone."""
    if type(backbone).__module__.startswith('mmseg.'):
        return 'mmseg'
    return 'mmdet' if scope == 'mmdet' else 'mmpretrain'


def check_coverage(backbone: nn.Module, loaded: set[str], checkpoint: str,
                   target: str) -> None:
    """Raise unless ``loaded`` covers every pre-trainable encoder tensor of the backbone."""
    from .encoder import is_encoder_key
    required = [k for k in backbone.state_dict() if is_encoder_key(k)]
    missing = [k for k in required if k not in loaded]
    if not missing:
        return
    filled = len(required) - len(missing)
    raise PretrainedLoadError(
        f'{checkpoint}: the pre-trained checkpoint filled {filled} of the '
        f'{len(required)} encoder tensors of the backbone ({type(backbone).__name__}); '
        f'missing: {summarize_keys(missing)}. {hint(checkpoint, target)}')


def hint(checkpoint: str, target: str) -> str:
    """What the file is and how to convert it."""
    from .sources import describe_file
    return (f'The file is: {describe_file(checkpoint)}. Convert it for this config with '
            f'`python tools/convert_checkpoint.py {checkpoint} --to {target} OUT.pth` and '
            'pass OUT.pth as the checkpoint.')


@HOOKS.register_module()
class PretrainedLoadCheckHook(Hook):
    """Make the backbone's ``init_weights`` stop the run when its ``Pretrained``
    checkpoint cannot be read or does not fill the encoder (see the module docstring).
    Runs without a ``Pretrained`` init_cfg (training from scratch) are not checked."""

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        backbone = getattr(model, 'backbone', None)
        checkpoint = pretrained_checkpoint(backbone) if backbone is not None else None
        if checkpoint is None or 'init_weights' in vars(backbone):   # already wrapped
            return
        init_weights = backbone.init_weights
        target = converter_target(backbone, runner.cfg.get('default_scope'))

        def checked_init_weights() -> None:
            with recorded_loads(backbone) as loaded:
                try:
                    init_weights()
                except Exception as e:
                    raise PretrainedLoadError(
                        f'{checkpoint}: loading the pre-trained checkpoint into the backbone '
                        f'failed ({type(e).__name__}: {e}). {hint(checkpoint, target)}'
                    ) from e
            check_coverage(backbone, loaded, checkpoint, target)

        backbone.init_weights = checked_init_weights
