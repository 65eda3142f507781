"""MixedAE on OpenMMLab.

Importing this package (or ``custom_imports=dict(imports=['mixedae'])`` in a config)
registers the project's modules: the pre-training modules in mmpretrain's registries,
the transfer backbone/necks in mmdet's and mmseg's, the per-sample metrics and their
hook (:mod:`mixedae.evaluation`), and a checkpoint loader that works
under torch >= 2.6 (see :mod:`mixedae.engine.checkpoint_loading`).
"""
from . import evaluation, models, transfer  # noqa: F401  (registers modules)
from .data import loading  # noqa: F401  (registers the checked image/label loaders)
from .engine import register_safe_checkpoint_loader

__version__ = '0.1.0'

register_safe_checkpoint_loader()
