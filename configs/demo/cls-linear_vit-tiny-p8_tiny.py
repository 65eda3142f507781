# ImageNet linear-probing protocol (configs/benchmarks/classification, ViT-B) with the
# tiny MixedAE ViT on the tiny ImageNet set: frozen encoder, [CLS] after the final norm,
# BatchNorm + linear head, LARS; an iteration schedule for a few CPU seconds (16 classes,
# 1024 train / 512 val images).
#   tools/train.py THIS --cfg-options model.backbone.init_cfg.checkpoint=<checkpoint>
_base_ = '../benchmarks/classification/mixedae-vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'

img_size = 32
data_root = 'data/tiny/imagenet/'
num_classes = 16
max_iters = 200

data_preprocessor = dict(num_classes=num_classes)
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=4, num_heads=4,
                  feedforward_channels=256),
        img_size=img_size, patch_size=8, frozen_stages=4,
        init_cfg=dict(checkpoint='work_dirs/mixedae_vit-tiny-p8_1xb32-300i_tiny/'
                      'iter_300.pth')),
    neck=dict(input_features=64),
    head=dict(num_classes=num_classes, in_channels=64))

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')
]
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size * 256 // 224, edge='short', backend='pillow'),
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

# fp32 LARS on the CPU. LARS steps each layer by lr x |w| / |grad|, and the head starts at
# std 0.01: the recipe's lr (6.4 at batch 16384; 0.006 scaled to batch 16) hardly moves it in 200
# iterations. Measured on the demo's checkpoints (n=512, top-1 random init / MAE): lr 0.1
# 13 / 17 % (loss still ln 16), 1.0 37 / 49 %, 4.0 54 / 72 %, 16 56 / 76 %.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=16.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=10),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=10, end=max_iters, eta_min=0.)
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
