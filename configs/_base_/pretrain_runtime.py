# What every pre-training config (MAE, naive mixing, MixedAE) adds to mmpretrain's MAE
# recipe, so the three methods differ only in the model.
custom_imports = dict(imports=['mixedae'], allow_failed_imports=False)

# Resume continues exactly (model randomness follows the iteration); a NaN/Inf loss
# stops the run before the optimizer step and before any checkpoint of that iteration;
# `compile=True` (or a dict of torch.compile options) can trace the optimizer step.
custom_hooks = [
    dict(type='PerIterationSeedHook'),
    dict(type='NonFiniteLossHook', action='stop'),
    dict(type='PlainParamGroupsHook'),
    dict(type='RunInfoHook'),   # run_info.json: backbone and epochs, for the tables
]

# MAE's pipeline with a loader that names unreadable files (pipeline.0.skip_bad=True:
# skip them with a counted warning instead of stopping).
checked_pretrain_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    # no per-image meta (file name, index): with `compile=True` the compiled train_step
    # would be specialised to each batch's values and recompiled every iteration
    dict(type='PackInputs', meta_keys=())
]

# Scalars to vis_data/scalars.json (LocalVisBackend: what tools/tabulate.py reads) and to
# TensorBoard event files (`tensorboard --logdir WORK_DIR`), as mmdet's ViTDet configs log.
# The configs set `visualizer = dict(vis_backends=...)` to this list (the upstream base they
# also inherit defines `visualizer`, which a sibling base may not restate).
local_and_tensorboard = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
