# MixedAE on the embedded tiny dataset (tools/make_tiny_datasets.py): a 4-block ViT with
# 8-px patches on 32-px images, 300 iterations on the CPU. The ImageNet config with a
# tiny model, tiny data and an iteration-based schedule; same algorithm and defaults.
_base_ = '../mixedae/mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'

img_size = 32
patch_size = 8
num_patches = (img_size // patch_size)**2
tiny_arch = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256)
data_root = 'data/tiny/imagenet/'
max_iters = 300

model = dict(
    backbone=dict(arch=dict(_delete_=True, **tiny_arch), img_size=img_size,
                  patch_size=patch_size),
    neck=dict(num_patches=num_patches, patch_size=patch_size, embed_dim=64,
              decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4),
    head=dict(patch_size=patch_size))

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.5, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    # no per-image meta (file name, index): with `compile=True` the compiled train_step
    # would be specialised to each batch's values and recompiled every iteration
    dict(type='PackInputs', meta_keys=())
]
train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True, drop_last=True,
    # iteration-based: an infinite sampler avoids mmengine's 2-s pause at epoch ends
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                 data_prefix='train', with_label=False, pipeline=train_pipeline))

optim_wrapper = dict(type='OptimWrapper', _delete_=True,
                     optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.95),
                                    weight_decay=0.05),
                     paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters,
         eta_min=1e-5)
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100,
                    max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, diff_rank_seed=True)
resume = False
env_cfg = dict(dist_cfg=dict(backend='gloo'))
protocol = dict(name='tiny-demo', total_batch=None)   # toy schedule: no recipe batch to hold
