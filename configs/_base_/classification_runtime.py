# What the ImageNet fine-tuning and linear-probing configs add to mmpretrain's MAE
# protocol: the project's modules, its reliability hooks, and mmpretrain's pipelines with
# a loader that names unreadable files (pipeline.0.skip_bad=True: skip them with a
# counted warning instead of stopping). Everything else is mmpretrain's, inherited.
custom_imports = dict(imports=['mixedae'], allow_failed_imports=False)

custom_hooks = [
    dict(type='DatasetCheckHook'),                 # every listed image exists
    dict(type='PerIterationSeedHook'),             # exact resume
    dict(type='NonFiniteLossHook', action='stop'),
]

# mmpretrain mae/benchmarks fine-tuning (configs/_base_/datasets/imagenet_bs64_swin_224.py
# as overridden there): RandAugment, RandomErasing; 256 -> 224 centre crop for testing
checked_finetune_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=[103.53, 116.28, 123.675],
         fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackInputs')
]
checked_finetune_test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs')
]

# mmpretrain linear probing (configs/_base_/datasets/imagenet_bs32_pil_resize.py)
checked_linear_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')
]
checked_linear_test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs')
]
