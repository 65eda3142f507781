"""Importing this module registers every module of the project in the OpenMMLab
registries: the pre-training modules in mmpretrain's, the transfer backbone, necks and
optimizer constructor in mmdet's and mmseg's, the per-sample metrics and their hook
(:mod:`mixedae.evaluation`), the checked image / label loaders, the runtime hooks and the
checkpoint loader that works under torch >= 2.6 (mmengine's).

A config asks for it with ``custom_imports = dict(imports=['mixedae.modules'])``.
"""
from . import convert, engine, evaluation, models, transfer  # noqa: F401  (register modules)
from .data import loading  # noqa: F401  (registers the checked image/label loaders)
