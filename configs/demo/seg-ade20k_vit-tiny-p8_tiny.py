# UperNet with the tiny MixedAE ViT (configs/demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py:
# width 64, 4 blocks, 4 heads, 8-px patches) on the tiny ADE20K set
# (tools/make_tiny_datasets.py: 64 px, 128 train / 256 val scenes, the background and three
# shapes labelled): the ViT-B recipe scaled down for a CPU run of half a minute. What it
# takes for the model to learn more than one class in a few hundred iterations, measured:
# - its four classes, not ADE20K's 150: with 150 outputs the cross-entropy starts at
#   ln 150 and AdamW had not even reached the class prior after 160 iterations (one class
#   predicted everywhere, on training images too); four outputs also cut a 128-px step
#   from 0.5 to 0.12 s. The ADE20K ids stay (labels 1..4); mmseg maps the others to 255.
# - lr 3e-2 (not 1e-3): at 1e-3 and 4e-3 every object was still one class after 400
#   iterations; at 1.2e-2 two of three shapes, at 3e-2 all three (random init).
# - the generator's scenes: the background labelled (ignored, it left the loss, which
#   mmseg averages over all pixels, a few % of labelled ones) and a hue band per shape
#   (with random hues the shapes were still one class after 2000 iterations).
# - 64 px with objects of 10-19 px radius (as the tiny ImageNet's 8-13 px): a 0.035-s step.
#   tools/train.py THIS --cfg-options model.backbone.init_cfg.checkpoint=<pre-training ckpt>
# Loaders and hooks (checked image and label loaders, DatasetCheckHook, ...) as in the
# ViT-B config.
_base_ = '../benchmarks/segmentation/upernet_mixedae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py'

crop_size = (64, 64)
data_root = 'data/tiny/ade/ADEChallengeData2016'
max_iters = 12                      # the demo runs 400 (configs/pipelines/demo.py)
# the tiny set's classes: its background and three shapes carry ADE20K labels 1..4
metainfo = dict(classes=('wall', 'building', 'sky', 'floor'))
num_classes = len(metainfo['classes'])
norm_cfg = dict(type='BN', requires_grad=True)   # SyncBN needs a distributed GPU run

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=4, num_heads=4,
                  feedforward_channels=256),
        img_size=crop_size[0],
        patch_size=8,
        out_indices=[0, 1, 2, 3],
        init_cfg=dict(checkpoint='work_dirs/mixedae_vit-tiny-p8_1xb32-300i_tiny/'
                      'iter_300.pth')),
    # 8-px patches: strides 4, 8, 16, 32 come from (2, 1, 0.5, 0.25)
    neck=dict(embed_dim=64, rescales=[2, 1, 0.5, 0.25]),
    decode_head=dict(in_channels=[64] * 4, channels=32, num_classes=num_classes,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=64, channels=32, num_classes=num_classes,
                        norm_cfg=norm_cfg),
    test_cfg=dict(_delete_=True, mode='whole'))

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='mmseg.CheckedLoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(256, 64), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='mmseg.PackSegInputs')
]
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='mmseg.Resize', scale=(256, 64), keep_ratio=True),
    dict(type='mmseg.CheckedLoadAnnotations', reduce_zero_label=True),
    dict(type='mmseg.PackSegInputs')
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader

# fp32: AmpOptimWrapper needs a GPU
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='BackboneLayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=3e-2, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=3, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=4),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
# A toy schedule: no published reference, and no recipe batch to hold (any number of
# processes trains the same iterations, e.g. the 2-rank DDP tests).
protocol = dict(name='tiny-demo', total_batch=None)
