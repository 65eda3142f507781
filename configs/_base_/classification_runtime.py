# What the ImageNet fine-tuning and linear-probing configs add to mmpretrain's MAE
# protocol: the project's modules, its reliability hooks, and a loader that names
# unreadable files (pipeline.0.skip_bad=True: skip them with a counted warning instead of
# stopping). Everything else is mmpretrain's, inherited.
_base_ = ['./vis_backends.py']   # local_and_tensorboard
custom_imports = dict(imports=['mixedae.modules'], allow_failed_imports=False)

custom_hooks = [
    dict(type='DatasetCheckHook'),                 # every listed image exists
    dict(type='PerIterationSeedHook'),             # exact resume
    dict(type='NonFiniteLossHook', action='stop'),
    dict(type='RunInfoHook'),                      # run_info.json for the tables
    dict(type='PretrainedLoadCheckHook'),          # the checkpoint fills the encoder
    # per_sample/{val,test}.json + files: per-image results of each evaluation (the
    # evaluator must keep them: PerSampleAccuracy), for bootstrap intervals (mixedae.stats)
    dict(type='PerSampleHook'),
]

# the checked version of mmpretrain's image loader: the configs map their inherited
# pipelines through this (same transforms, same order, same arguments)
checked_loaders = dict(LoadImageFromFile='CheckedLoadImageFromFile')
