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

# The recipe's images per optimizer step: mmpretrain's MAE configs (ViT-B/L, 300-1600
# epochs) train 8 GPUs x 512 = 4096 with lr 1.5e-4 x 4096 / 256 (their
# auto_scale_lr.base_batch_size). tools/train.py (dist_train.sh, slurm_train.sh) holds it:
# another world size x batch_size x accumulative_counts stops with an error naming both
# numbers unless --cfg-options protocol.batch_mismatch=scale (lr x batch / 4096, epochs
# kept) or =accumulate (mixedae/engine/recipe_batch.py).
protocol = dict(name='mae-pretrain', total_batch=4096, batch_mismatch='error')

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
