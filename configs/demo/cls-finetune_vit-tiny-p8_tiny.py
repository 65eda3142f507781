# ImageNet fine-tuning protocol (configs/benchmarks/classification, ViT-B) with the tiny
# MixedAE ViT (width 64, 4 blocks, 4 heads, 8-px patches, 32 px) on the tiny ImageNet set
# (tools/make_tiny_datasets.py: 16 classes, 1024 train / 512 val images): same augmentation,
# Mixup/CutMix, label smoothing, layer decay; an iteration schedule for a CPU quarter minute.
# 150 iterations (2.3 epochs) at lr 4e-3 leave room above and below: measured on the demo's
# checkpoints, random initialisation reaches 62.5 % top-1 and MAE 74.4 % (n=512); 100
# iterations at lr 1e-3 give every row about 50 %, 60 iterations on 4 classes 98-100 %.
#   tools/train.py THIS --cfg-options model.backbone.init_cfg.checkpoint=<checkpoint>
# (the converter's mmpretrain output, or a pre-training checkpoint: same backbone.* keys)
_base_ = '../benchmarks/classification/mixedae-vit-base-p16_8xb128-coslr-100e_in1k.py'

img_size = 32
data_root = 'data/tiny/imagenet/'
num_classes = 16
max_iters = 150

data_preprocessor = dict(num_classes=num_classes)
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=4, num_heads=4,
                  feedforward_channels=256),
        img_size=img_size, patch_size=8,
        init_cfg=dict(checkpoint='work_dirs/mixedae_vit-tiny-p8_1xb32-300i_tiny/'
                      'iter_300.pth')),
    head=dict(num_classes=num_classes, in_channels=64))

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=[103.53, 116.28, 123.675],
         fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackInputs')
]
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size * 256 // 224, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs')
]
tiny_dataset = dict(_delete_=True, type='CustomDataset', data_root=data_root)
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(tiny_dataset, ann_file='meta/train.txt', data_prefix='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(tiny_dataset, ann_file='meta/val.txt', data_prefix='val',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmpretrain.PerSampleAccuracy', topk=(1, ))   # top-1: the table's column
test_evaluator = val_evaluator

# fp32 on the CPU (AmpOptimWrapper needs a GPU); the layer-decay recipe as inherited
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=4e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=10),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=10, end=max_iters, eta_min=1e-6)
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, diff_rank_seed=True)
env_cfg = dict(dist_cfg=dict(backend='gloo'))           # CPU runs, also under torchrun
# A toy schedule: no published reference, and no recipe batch to hold (any number of
# processes trains the same iterations, e.g. the 2-rank DDP tests).
protocol = dict(name='tiny-demo', total_batch=None)
