# What the ImageNet fine-tuning and linear-probing configs add to mmpretrain's MAE
# protocol: the project's modules, its reliability hooks, and a loader that names
# unreadable files (pipeline.0.skip_bad=True: skip them with a counted warning instead of
# stopping). Everything else is mmpretrain's, inherited.
custom_imports = dict(imports=['mixedae'], allow_failed_imports=False)

custom_hooks = [
    dict(type='DatasetCheckHook'),                 # every listed image exists
    dict(type='PerIterationSeedHook'),             # exact resume
    dict(type='NonFiniteLossHook', action='stop'),
    dict(type='RunInfoHook'),                      # run_info.json for the tables
    dict(type='PretrainedLoadCheckHook'),          # the checkpoint fills the encoder
]

# the checked version of mmpretrain's image loader: the configs map their inherited
# pipelines through this (same transforms, same order, same arguments)
checked_loaders = dict(LoadImageFromFile='CheckedLoadImageFromFile')

# Scalars to vis_data/scalars.json (LocalVisBackend: what tools/tabulate.py reads) and to
# TensorBoard event files (`tensorboard --logdir WORK_DIR`), as mmdet's ViTDet configs log.
# The configs set `visualizer = dict(vis_backends=...)` to this list (the upstream base they
# also inherit defines `visualizer`, which a sibling base may not restate).
local_and_tensorboard = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
