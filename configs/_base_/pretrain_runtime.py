# What every pre-training config (MAE, naive mixing, MixedAE) adds to mmpretrain's MAE
# recipe, so the three methods differ only in the model.
_base_ = ['./vis_backends.py']   # local_and_tensorboard
custom_imports = dict(imports=['mixedae.modules'], allow_failed_imports=False)

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
